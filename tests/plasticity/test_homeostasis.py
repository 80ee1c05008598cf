"""Weight normalisation and adaptive thresholds."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from brainsim.kernels import CSR

from brainsim.neurons import LIF
from brainsim.plasticity import AdaptiveThreshold, normalize_incoming as _normalize_incoming

normalize_incoming = jax.jit(_normalize_incoming, static_argnums=2)


def random_csr(rng, n_pre, n_post, p):
    mask = rng.random((n_pre, n_post)) < p
    mask[0] = True  # every post neuron has at least one input
    pre, post = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n_pre))])
    w = rng.uniform(0.0, 0.3, pre.size)
    return CSR(indptr, post, w, n_pre=n_pre, n_post=n_post, major="pre"), pre, post, w


def test_normalisation_gives_target_sums(x64):
    rng = np.random.default_rng(1)
    conn, pre, post, w = random_csr(rng, 784, 30, 0.2)
    out = np.asarray(normalize_incoming(conn.synapse_weights(), conn.post_ids, 30, 78.4))
    sums = np.bincount(post, weights=out, minlength=30)
    np.testing.assert_allclose(sums, 78.4, rtol=1e-12)
    # a multiplicative scaling: ratios inside one neuron's inputs are kept
    col = post == 3
    np.testing.assert_allclose(out[col] / out[col].sum(), w[col] / w[col].sum(), rtol=1e-12)
    # per-neuron targets and an ELL layout (post-major dense)
    targets = np.linspace(1.0, 5.0, 30)
    w2 = jnp.asarray(rng.uniform(0.1, 1.0, (30, 784)))
    post_ids = jnp.broadcast_to(jnp.arange(30)[:, None], (30, 784))
    out2 = np.asarray(normalize_incoming(w2, post_ids, 30, targets))
    np.testing.assert_allclose(out2.sum(axis=1), targets, rtol=1e-12)


def test_silent_neuron_untouched(x64):
    w = jnp.array([0.0, 0.0, 2.0])
    out = normalize_incoming(w, jnp.array([0, 0, 1]), 2, 1.0)
    assert out.tolist() == [0.0, 0.0, 1.0]


def test_adaptive_threshold_spike_times(x64):
    """Constant drive, exact integration: each spike raises the threshold by theta_plus.

    From reset at `v_rest`, `v(n dt) = v_rest + I (1 - exp(-n dt / tau))`; the k-th spike
    comes at the first step where `v` exceeds `v_th + k theta_plus`.
    """
    dt, tau, i_drive, theta_plus = 0.1, 20.0, 20.0, 1.0
    lif = LIF(1, tau_m=tau, v_rest=-65.0, v_th=-55.0, v_reset=-65.0)
    neuron = AdaptiveThreshold(lif, theta_plus=theta_plus, tau_theta=1e9)
    state = neuron.init_state(key=jr.key(0))

    def body(s, _):
        s, spikes = neuron.step(s, jnp.full((1,), i_drive), 0.0, dt)
        return s, spikes[0]

    state, spikes = jax.lax.scan(body, state, None, length=3000)
    got = np.nonzero(np.asarray(spikes))[0]
    expected, start, k = [], -1, 0
    while True:
        n = np.arange(1, 3001)
        v = -65.0 + i_drive * (1 - np.exp(-n * dt / tau))
        above = np.nonzero(v > -55.0 + k * theta_plus)[0]
        if above.size == 0 or start + n[above[0]] >= 3000:
            break
        start += int(n[above[0]])
        expected.append(start)
        k += 1
    np.testing.assert_array_equal(got, expected)
    assert len(expected) >= 4
    # theta after k spikes with a (practically) infinite tau_theta
    np.testing.assert_allclose(float(state.theta[0]), len(expected) * theta_plus, rtol=1e-6)


def test_theta_decays_and_freezes(x64):
    lif = LIF(2, tau_m=10.0, v_rest=0.0, v_th=1.0, v_reset=0.0)
    neuron = AdaptiveThreshold(lif, theta_plus=0.5, tau_theta=50.0)
    state = neuron.init_state(key=jr.key(0))
    state = eqx.tree_at(lambda s: s.theta, state, jnp.array([2.0, 0.0]))

    def body(s, _):
        return neuron.step(s, jnp.zeros((2,)), 0.0, 1.0)[0], None

    state, _ = jax.lax.scan(body, state, None, length=10)
    np.testing.assert_allclose(np.asarray(state.theta), [2.0 * np.exp(-10 / 50.0), 0.0], rtol=1e-12)
    frozen = AdaptiveThreshold(lif, theta_plus=0.5, tau_theta=50.0, learning=False)
    s2, _ = eqx.filter_jit(frozen.step)(state, jnp.zeros((2,)), 0.0, 1.0)
    np.testing.assert_array_equal(np.asarray(s2.theta), np.asarray(state.theta))
    assert state.v.shape == (2,)
