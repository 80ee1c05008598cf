"""checkpointed_scan equals the plain scan (values and gradients); losses in closed form."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.neurons import LIF
from brainsim.train import (
    accuracy,
    checkpointed_scan,
    firing_rate_bounds,
    firing_rate_l2,
    max_membrane_cross_entropy,
    spike_count_cross_entropy,
    spike_count_mse,
    sum_membrane_cross_entropy,
)


def _rnn_loss(w, xs, scan):
    def f(h, x):
        h = jnp.tanh(h @ w + x)
        return h, jnp.sum(h**2)

    h, ys = scan(f, jnp.zeros(w.shape[0]), xs)
    return jnp.sum(ys) + jnp.sum(h)


def test_checkpointed_scan_matches_plain_scan(x64, getkey):
    w = jax.random.normal(getkey(), (8, 8)) * 0.4
    xs = jax.random.normal(getkey(), (50, 8))
    plain = jax.jit(jax.value_and_grad(lambda w: _rnn_loss(w, xs, jax.lax.scan)))(w)
    for chunk in (7, 64):  # with a remainder; longer than the sequence (exact: LIF test)
        scan = functools.partial(checkpointed_scan, chunk=chunk)
        ckpt = jax.jit(jax.value_and_grad(lambda w, scan=scan: _rnn_loss(w, xs, scan)))(w)
        np.testing.assert_allclose(ckpt[0], plain[0], rtol=1e-12)
        np.testing.assert_allclose(ckpt[1], plain[1], rtol=1e-10, atol=1e-12)
    carry, ys = checkpointed_scan(lambda c, x: (c + x, c), jnp.zeros(8), xs, 7)
    np.testing.assert_allclose(ys, jnp.cumsum(xs, 0) - xs, atol=1e-12)
    np.testing.assert_allclose(carry, jnp.sum(xs, 0), atol=1e-12)
    with pytest.raises(ValueError, match="chunk"):
        checkpointed_scan(lambda c, x: (c, x), jnp.zeros(8), xs, 0)


def test_checkpointed_scan_lif_surrogate_gradients(getkey):
    """BPTT through a spiking LIF layer: the same surrogate gradients, chunked or not."""
    lif = LIF(20, tau_m=10.0, v_rest=0.0, v_th=1.0, v_reset=0.0)
    inputs = jax.random.bernoulli(getkey(), 0.2, (40, 30)).astype(jnp.float32)
    w = jax.random.normal(getkey(), (30, 20))

    def loss(w, scan):
        def f(state, x):
            state, spikes = lif.step(state, x @ w, 0.0, 1.0)
            return state, spikes

        _, spikes = scan(f, lif.init_state(key=jax.random.key(0)), inputs)
        return jnp.sum(spikes * jnp.linspace(0.0, 1.0, 40)[:, None])

    plain = jax.jit(jax.value_and_grad(lambda w: loss(w, jax.lax.scan)))(w)
    scan = functools.partial(checkpointed_scan, chunk=10)  # 4 chunks
    chunked = jax.jit(jax.value_and_grad(lambda w: loss(w, scan)))(w)
    assert float(plain[0]) > 0  # it spikes
    assert float(chunked[0]) == float(plain[0])
    assert float(jnp.max(jnp.abs(plain[1]))) > 0
    np.testing.assert_allclose(chunked[1], plain[1], rtol=1e-5, atol=1e-6)


def test_checkpointed_scan_recomputes():
    """The backward pass saves only chunk-boundary carries: fewer residuals than plain."""
    w = jnp.eye(16) * 0.5
    xs = jnp.ones((64, 16))

    def n_residuals(scan):
        _, vjp = jax.vjp(lambda w: _rnn_loss(w, xs, scan), w)
        return sum(x.size for x in jax.tree_util.tree_leaves(vjp))

    inputs = xs.size + w.size  # kept by both
    plain = n_residuals(jax.lax.scan) - inputs
    chunked = n_residuals(lambda f, c, x: checkpointed_scan(f, c, x, 8)) - inputs
    assert chunked == 8 * 16  # one carry per chunk
    assert plain >= 64 * 16  # at least one hidden state per step


def test_cross_entropies_closed_form(x64):
    # outputs (batch 2, 3 steps, 2 classes)
    out = jnp.array([[[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]]])
    y = jnp.array([0, 1])
    # summed: logits [2, 1] and [0, 2]
    expected = 0.5 * (np.log1p(np.exp(-1.0)) + np.log1p(np.exp(-2.0)))
    np.testing.assert_allclose(spike_count_cross_entropy(out, y), expected, rtol=1e-12)
    # max: logits [1, 1] and [0, 1]
    expected = 0.5 * (np.log(2.0) + np.log1p(np.exp(-1.0)))
    np.testing.assert_allclose(max_membrane_cross_entropy(out, y), expected, rtol=1e-12)
    # mean over time: logits [2/3, 1/3] and [0, 2/3]
    expected = 0.5 * (np.log1p(np.exp(-1 / 3)) + np.log1p(np.exp(-2 / 3)))
    np.testing.assert_allclose(sum_membrane_cross_entropy(out, y), expected, rtol=1e-12)
    # counts [2, 1] vs target [3, 0]; [0, 2] vs [0, 3]
    np.testing.assert_allclose(
        spike_count_mse(out, y, correct_count=3.0), (1 + 1 + 0 + 1) / 4, rtol=1e-12
    )
    assert float(accuracy(jnp.sum(out, 1), y)) == 1.0


def test_rate_regularisers(x64):
    spikes = jnp.zeros((10, 4)).at[::2, 0].set(1.0).at[:, 1].set(1.0)  # rates 0.5, 1, 0, 0
    np.testing.assert_allclose(firing_rate_l2(spikes), (0.25 + 1.0) / 4, rtol=1e-12)
    np.testing.assert_allclose(firing_rate_l2(spikes, target=0.5), (0 + 0.25 * 3) / 4, rtol=1e-12)
    # counts 5, 10, 0, 0 with bounds [1, 6]: (10-6)^2 + 1 + 1 over 4 neurons
    np.testing.assert_allclose(firing_rate_bounds(spikes, lower=1.0, upper=6.0), 18 / 4)
    g = jax.grad(lambda s: firing_rate_bounds(s, upper=6.0))(spikes)
    np.testing.assert_allclose(g[0], [0.0, 2 * 4 / 4, 0.0, 0.0])  # d/ds of (count-6)^2 / 4


def test_labels_out_of_range():
    out = jnp.ones((2, 4, 3))
    with pytest.raises(Exception, match=r"labels: out of range 0\.\.2"):
        spike_count_cross_entropy(out, jnp.array([0, 3]))
    with pytest.raises(Exception, match=r"labels: out of range 0\.\.2"):
        jax.jit(lambda o, y: spike_count_mse(o, y, correct_count=3.0))(out, jnp.array([-1, 0]))
