"""Encoders and binning against closed forms."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from brainsim.data import (
    bernoulli_encode,
    bin_events,
    delta_encode,
    downsample_channels,
    latency_encode,
    poisson_encode,
)


def test_poisson_mean_and_variance(getkey):
    rates = jnp.array([5.0, 50.0, 200.0])  # Hz
    counts = np.asarray(poisson_encode(rates, 20000, dt=1.0, key=getkey()))
    lam = np.array([0.005, 0.05, 0.2])  # rate * dt
    sem = np.sqrt(lam / 20000)
    assert np.all(np.abs(counts.mean(0) - lam) < 5 * sem)
    np.testing.assert_allclose(counts.var(0), lam, rtol=0.1)  # Poisson: variance = mean
    assert float(counts.max()) >= 2  # counts, not just 0/1, at 0.2 per step


def test_bernoulli_rate_and_determinism(getkey):
    key = getkey()
    p = jnp.array([[0.0, 0.1], [0.5, 1.0]])
    s = bernoulli_encode(p, 10000, key=key)
    assert s.shape == (10000, 2, 2)
    np.testing.assert_allclose(s.mean(0), p, atol=0.02)
    assert set(np.unique(s).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(s, bernoulli_encode(p, 10000, key=key))


def test_latency_monotone_and_closed_form():
    x = jnp.linspace(0.0, 1.0, 11)
    s = latency_encode(x, 21)
    assert s.sum(0).tolist() == [0.0] + [1.0] * 10  # zero intensity never spikes
    first = np.argmax(np.asarray(s), axis=0)[1:]
    np.testing.assert_array_equal(first, np.round((1 - np.asarray(x[1:])) * 20))
    assert np.all(np.diff(first) <= 0)  # stronger input, earlier spike
    # RC latency: t = tau * log(x / (x - threshold))
    rc = latency_encode(jnp.array([0.3, 0.6, 1.0, 0.2]), 100, tau=10.0, threshold=0.2)
    expected = np.round(10.0 * np.log(np.array([0.3, 0.6, 1.0]) / np.array([0.1, 0.4, 0.8])))
    np.testing.assert_array_equal(np.argmax(np.asarray(rc), axis=0)[:3], expected)
    assert float(rc[:, 3].sum()) == 0.0  # at the threshold: no spike


def test_delta_ramp():
    t = jnp.arange(100.0)
    signal = jnp.stack([0.25 * t, -0.25 * t], axis=1)  # exact in binary floating point
    s = delta_encode(signal, 1.0)
    # a ramp of 0.25 per step crosses a threshold of 1 every 4 steps: 99 / 4 -> 24 spikes
    assert float(s[:, 0].sum()) == 24.0 and float(s[:, 1].sum()) == -24.0
    np.testing.assert_array_equal(np.nonzero(np.asarray(s[:, 0]))[0], np.arange(4, 100, 4))
    assert float(jnp.abs(delta_encode(signal, 1.0, off_spikes=False)[:, 1]).sum()) == 0.0
    with pytest.raises(ValueError, match="threshold"):
        delta_encode(signal, 0.0)


def test_bin_events_counts():
    rng = np.random.default_rng(0)
    times = rng.uniform(0, 1.0, 5000)  # seconds, as in SHD
    units = rng.integers(0, 700, 5000)
    counts = bin_events(times, units, n_channels=700, bin_size=0.01, n_bins=100)
    assert counts.shape == (100, 700) and counts.sum() == 5000
    for i in (0, 17, 4999):
        b = int(times[i] // 0.01)
        assert counts[b, units[i]] >= 1
    expected = np.histogram2d(times, units, bins=[np.linspace(0, 1, 101), np.arange(701)])[0]
    np.testing.assert_array_equal(counts, expected)
    small = bin_events(times, units, n_channels=700, bin_size=0.01, n_bins=50)
    assert small.sum() == np.sum(times < 0.5)  # events past the last bin are dropped
    pooled = downsample_channels(counts, 5)  # SHD 700 -> 140
    assert pooled.shape == (100, 140)
    np.testing.assert_array_equal(pooled[:, 3], counts[:, 15:20].sum(1))
    with pytest.raises(ValueError, match="factor"):
        downsample_channels(counts, 3)
    with pytest.raises(ValueError, match="channels"):
        bin_events(times, units + 1, n_channels=700, bin_size=0.01, n_bins=1)


def test_random_shift_moves_each_image_within_the_bound():
    from brainsim.data import random_shift

    rng = np.random.default_rng(0)
    images = np.zeros((64, 10, 12), np.float32)
    images[:, 3:7, 4:8] = rng.uniform(0.5, 1.0, (64, 4, 4))  # content away from the edges
    out = np.asarray(random_shift(images.reshape(64, -1), 2, key=jr.key(1), shape=(10, 12)))
    out = out.reshape(64, 10, 12)
    seen = set()
    for a, b in zip(images, out):
        # b is a with its 4x4 block moved by (dy, dx), |dy|, |dx| <= 2, nothing lost
        (ys, xs) = np.nonzero(b)
        dy, dx = ys.min() - 3, xs.min() - 4
        assert abs(dy) <= 2 and abs(dx) <= 2
        np.testing.assert_array_equal(b[3 + dy : 7 + dy, 4 + dx : 8 + dx], a[3:7, 4:8])
        assert np.count_nonzero(b) == 16
        seen.add((dy, dx))
    assert len(seen) > 12  # of the 25 possible shifts
    # pixels moved past the border are dropped, and the dtype and shape stay
    edge = np.zeros((1, 28 * 28), np.float32)
    edge[0, 0] = 1.0
    moved = random_shift(edge, 3, key=jr.key(0))
    assert moved.shape == edge.shape and moved.dtype == edge.dtype
    np.testing.assert_array_equal(random_shift(edge, 0, key=jr.key(0)), edge)
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(edge, -1, key=jr.key(0))
    with pytest.raises(ValueError, match="images"):
        random_shift(edge[:, :100], 1, key=jr.key(0))
