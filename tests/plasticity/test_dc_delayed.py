"""Per-synapse transmission delays on a dense STDP matrix, against a plain per-synapse loop."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from brainsim.plasticity import TripletSTDP
from brainsim.plasticity._dc_delayed import (
    delayed_stdp_step,
    delayed_transmit,
    empty_delay_line,
    init_delay_line,
)
from brainsim.plasticity._dc_dense import dense_stdp_step, spike_indices

DT = 0.5


def _rule(w_max=1.0):
    return TripletSTDP(
        a2_plus=0.002,
        a3_plus=0.01,
        a2_minus=0.003,
        a3_minus=0.001,
        tau_plus=20.0,
        tau_x=15.0,
        tau_minus=20.0,
        tau_y=40.0,
        w_min=0.0,
        w_max=w_max,
        pairing="nearest",
    )


def _reference(rule, w, delays, pre, post):
    """Every synapse on its own: its delayed spike train, its own traces, float64.

    Returns the weights after `n_steps` (every spike arrived) and the input per step."""
    w = np.array(w, np.float64)
    n_steps, n_pre = pre.shape
    n_post = post.shape[1]
    f = {
        name: np.exp(-DT / float(getattr(rule, name)))
        for name in ("tau_plus", "tau_x", "tau_minus", "tau_y")
    }
    r1 = np.zeros((n_pre, n_post))
    r2 = np.zeros((n_pre, n_post))
    o1 = np.zeros(n_post)
    o2 = np.zeros(n_post)
    size = int(delays.max()) + 1
    w_sent = np.zeros((n_steps, n_pre, n_post))  # the weight at emission
    pending = np.zeros((n_steps + size, n_pre, n_post))
    inputs = []
    for t in range(n_steps):
        r1 *= f["tau_plus"]
        r2 *= f["tau_x"]
        o1 *= f["tau_minus"]
        o2 *= f["tau_y"]
        w_sent[t] = w
        arrived = np.zeros((n_pre, n_post), bool)
        x = np.zeros(n_post)
        for i in range(n_pre):
            for j in range(n_post):
                te = t - delays[i, j]
                if te >= 0 and pre[te, i]:
                    arrived[i, j] = True
                    x[j] += w_sent[te, i, j]
        inputs.append(x)
        w = w + post[t][None, :] * r1 * (rule.a2_plus + rule.a3_plus * o2)[None, :]
        # Brian 1 applies a spike's depression once all its synapses have it, D - 1
        # steps after the emission, with the trace of each arrival
        for i in range(n_pre):
            for j in range(n_post):
                if arrived[i, j]:
                    te = t - delays[i, j]
                    loss = o1[j] * (rule.a2_minus + rule.a3_minus * r2[i, j])
                    pending[te + size - 1, i, j] += loss
        w = w - pending[t]
        r1 = np.where(arrived, 1.0, r1)
        r2 = np.where(arrived, 1.0, r2)
        o1 = np.where(post[t], 1.0, o1)
        o2 = np.where(post[t], 1.0, o2)
    return w, np.array(inputs)


def _run(rule, w, line, pre, post, k):
    from brainsim.plasticity import TripletSTDPState

    n_pre, n_post = w.shape
    z_pre, z_post = jnp.zeros(n_pre), jnp.zeros(n_post)
    state = TripletSTDPState(z_pre, z_pre, z_post, z_post)

    def step(carry, xs):
        state, w, line = carry
        s_pre, s_post = xs
        state, w, line, x = delayed_stdp_step(rule, state, w, line, s_pre, s_post, DT, k)
        return (state, w, line), x

    (state, w, line), xs = jax.lax.scan(step, (state, w, line), (pre, post))
    return state, w, line, xs


@pytest.mark.parametrize("k", [2, 16])
def test_delayed_step_equals_a_per_synapse_loop(getkey, k):
    """Spikes that arrive late learn late: weights and transmitted input match a loop
    over synapses with their own delayed trains (no clipping in reach)."""
    jax.config.update("jax_enable_x64", True)
    try:
        n_pre, n_post, n_steps, max_steps = 12, 5, 120, 6
        rule = _rule(w_max=10.0)
        line = init_delay_line(n_pre, n_post, max_steps, key=getkey(), dtype=jnp.float64)
        w = jr.uniform(getkey(), (n_pre, n_post), jnp.float64, 0.4, 0.6)
        pre = jr.bernoulli(getkey(), 0.15, (n_steps, n_pre))
        post = jr.bernoulli(getkey(), 0.08, (n_steps, n_post))
        post = post.at[40].set(True)  # more spiking columns than one pass takes
        # a quiet tail lets every spike arrive before the weights are compared
        quiet = np.arange(n_steps) >= n_steps - max_steps - 1
        pre = jnp.where(quiet[:, None], False, pre)
        _, w_got, _, x_got = _run(rule, w, line, pre, post, k)
        w_ref, x_ref = _reference(
            rule, w, np.asarray(line.delays), np.asarray(pre), np.asarray(post)
        )
        assert len(np.unique(np.asarray(line.delays))) == max_steps + 1
        np.testing.assert_allclose(np.asarray(x_got), x_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(w_got), w_ref, rtol=1e-12, atol=1e-12)
        assert np.abs(w_ref - np.asarray(w)).max() > 1e-3  # the rule did change them
    finally:
        jax.config.update("jax_enable_x64", False)


def test_zero_delays_equal_the_undelayed_step(getkey):
    """With every delay 0 (`D = 1`) the delayed step is `dense_stdp_step`."""
    n_pre, n_post, n_steps, k = 30, 5, 200, 8
    rule = _rule()
    line = empty_delay_line(jnp.zeros((n_pre, n_post), jnp.int32), 1, jnp.float32)
    w = jr.uniform(getkey(), (n_pre, n_post), jnp.float32, 0.2, 0.8)
    pre = jr.bernoulli(getkey(), 0.1, (n_steps, n_pre))
    post = jr.bernoulli(getkey(), 0.05, (n_steps, n_post))
    state_got, w_got, _, x_got = _run(rule, w, line, pre, post, k)

    from brainsim.plasticity import TripletSTDPState

    z_pre, z_post = jnp.zeros(n_pre), jnp.zeros(n_post)
    state = TripletSTDPState(z_pre, z_pre, z_post, z_post)

    def step(carry, xs):
        state, w = carry
        s_pre, s_post = xs
        state, w, x = dense_stdp_step(rule, state, w, spike_indices(s_pre, k), s_pre, s_post, DT)
        return (state, w), x

    (state, w), xs = jax.lax.scan(step, (state, w), (pre, post))
    np.testing.assert_allclose(np.asarray(x_got), np.asarray(xs), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(w_got), np.asarray(w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(state_got.r1), np.asarray(state.r1), rtol=1e-6)


def test_transmission_only_and_weights_stay_in_bounds(getkey):
    """`delayed_transmit` delivers each spike's weight after its synapse's delay; under a
    strong rule the weights stay in their bounds."""
    delays = jnp.array([[0, 3], [2, 1]], jnp.int32)
    line = empty_delay_line(delays, 4, jnp.float32)
    w = jnp.array([[1.0, 10.0], [100.0, 1000.0]])
    got = []
    for t in range(6):
        pre = jnp.array([t == 0, t == 1])
        line, x = delayed_transmit(w, line, pre, 1)
        got.append(np.asarray(x))
    want = [[1, 0], [0, 0], [0, 1000], [100, 10], [0, 0], [0, 0]]
    np.testing.assert_array_equal(np.stack(got), np.array(want, np.float32))

    rule = TripletSTDP(
        a2_plus=0.5, a3_plus=0.5, a2_minus=0.5, a3_minus=0.5, w_min=0.1, w_max=0.9, pairing="all"
    )
    line = init_delay_line(20, 6, 5, key=getkey())
    w0 = jr.uniform(getkey(), (20, 6), minval=0.1, maxval=0.9)
    pre = jr.bernoulli(getkey(), 0.3, (100, 20))
    post = jr.bernoulli(getkey(), 0.3, (100, 6))
    _, w, _, _ = _run(rule, w0, line, pre, post, 4)
    assert float(w.min()) >= 0.1 - 1e-7 and float(w.max()) <= 0.9 + 1e-7


def test_bad_max_steps():
    with pytest.raises(ValueError, match="max_steps"):
        init_delay_line(3, 3, -1, key=jr.key(0))
