"""The NALSM branching factor: a hand-built raster, a brute-force count, branching processes."""

import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR

from brainsim.analysis import branching_factor, branching_ratios

# 0 -> 1, 0 -> 2, 1 -> 2
CHAIN = np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]])


def hand_raster():
    x = np.zeros((10, 3), bool)
    x[[2, 6], 0] = True
    x[[0, 3, 9], 1] = True  # the spikes at 0 and 9 lie outside the counted steps 2..7
    x[[4, 7], 2] = True
    return x


def test_hand_built_raster():
    """window = 2, counted spikes at steps 2..7:
    - neuron 0 at 2: no sources; targets in 3..4: 1@3, 2@4 -> 2. At 6: 2@7 -> 1. Mean 1.5.
    - neuron 1 at 3: sources in 1..2: 0@2 -> 1; targets in 4..5: 2@4 -> 1. Ratio 1.
    - neuron 2 at 4: sources in 2..3: 0@2, 1@3 -> 2; no targets -> 0. At 7: 0. Mean 0.
    """
    ratios = branching_ratios(hand_raster(), CHAIN, window=2)
    np.testing.assert_allclose(ratios, [1.5, 1.0, 0.0])
    assert branching_factor(hand_raster(), CHAIN, window=2) == pytest.approx(2.5 / 3)
    # dropping one step at each end of a padded raster changes nothing
    padded = np.pad(hand_raster(), ((1, 1), (0, 0)))
    np.testing.assert_allclose(branching_ratios(padded, CHAIN, window=2, skip=1), ratios)
    # jax arrays, 0/1 floats and a CSR layout (weights ignored) give the same
    pre, post = np.nonzero(CHAIN)
    csr = CSR([0, 2, 3, 3], post, [0.3, -1.0, 2.0], n_pre=3, n_post=3, major="pre")
    as_jax = jnp.asarray(hand_raster(), jnp.float32)
    np.testing.assert_allclose(branching_ratios(as_jax, csr.to_major("post"), window=2), ratios)


def brute_force(x, conn, window):
    """The definition, spike by spike."""
    steps, n = x.shape
    ratios = [[] for _ in range(n)]
    for t in range(window, steps - window):
        for i in np.nonzero(x[t])[0]:
            sources, targets = np.nonzero(conn[:, i])[0], np.nonzero(conn[i])[0]
            ancestors = x[t - window : t][:, sources].sum()
            descendants = x[t + 1 : t + 1 + window][:, targets].sum()
            ratios[i].append(descendants / max(1, ancestors))
    return np.array([np.mean(r) if r else np.nan for r in ratios])


def test_matches_brute_force_and_batches():
    rng = np.random.default_rng(0)
    conn = rng.random((30, 30)) < 0.15
    samples = rng.random((3, 60, 30)) < 0.08
    ratios = branching_ratios(samples, conn, window=3, skip=5)
    for s, r in zip(samples, ratios):
        np.testing.assert_allclose(r, brute_force(s[5:-5], conn, 3), equal_nan=True)
    per_sample = [np.nanmean(r) for r in ratios]
    assert branching_factor(samples, conn, window=3, skip=5) == pytest.approx(np.mean(per_sample))


def branching_process(sigma, *, n=2000, k=20, steps=2000, rate=1e-3, seed=0):
    """Each spike makes each of its k targets spike at the next step with probability
    sigma / k; spontaneous spikes keep the mean rate at `rate` per neuron and step."""
    rng = np.random.default_rng(seed)
    targets = np.stack([rng.choice(n - 1, k, replace=False) for _ in range(n)])
    targets = targets + (targets >= np.arange(n)[:, None])  # no self-connections
    x = np.zeros((steps, n), bool)
    spontaneous = rate * (1 - sigma)
    x[0] = rng.random(n) < rate
    for t in range(1, steps):
        reached = targets[np.nonzero(x[t - 1])[0]].ravel()
        x[t, reached[rng.random(reached.size) < sigma / k]] = True
        x[t] |= rng.random(n) < spontaneous
    conn = np.zeros((n, n), bool)
    conn[np.repeat(np.arange(n), k), targets.ravel()] = True
    return x, conn


@pytest.mark.parametrize("sigma", [0.5, 0.9])
def test_recovers_sigma_of_a_branching_process(sigma):
    """About 4,000 counted spikes: a standard error near 0.015; the spontaneous spikes of
    the 20 targets add about 20 * 1e-3 = 0.02 (measured over seeds 0-2: within 0.036)."""
    x, conn = branching_process(sigma)
    assert branching_factor(x, conn, window=1) == pytest.approx(sigma, abs=0.06)


def test_bad_input():
    x = hand_raster()
    with pytest.raises(ValueError, match="raster must be"):
        branching_factor(x[0], CHAIN)
    with pytest.raises(ValueError, match="window"):
        branching_factor(x, CHAIN, window=0)
    with pytest.raises(ValueError, match="skip"):
        branching_factor(x, CHAIN, skip=-1)
    with pytest.raises(ValueError, match="at least 9 are needed"):
        branching_factor(x, CHAIN, window=4, skip=1)
    with pytest.raises(ValueError, match=r"\(3, 3\) matrix"):
        branching_factor(x, np.ones((4, 4)))
    with pytest.raises(ValueError, match="n_pre"):
        branching_factor(x, CSR([0, 1], [0], 1.0, n_pre=1, n_post=1, major="pre"))
    assert np.isnan(branching_factor(np.zeros((10, 3)), CHAIN, window=2))
