"""Pair STDP against the closed-form exponential window and its variants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.plasticity import PairSTDP

A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS = 0.01, 0.012, 16.8, 33.7


def window(delta):
    """The STDP window: `A+ exp(-d/tau+)` for post after pre (d > 0), else `-A- exp(d/tau-)`."""
    delta = np.asarray(delta, dtype=np.float64)
    return np.where(
        delta > 0,
        A_PLUS * np.exp(-delta / TAU_PLUS),
        np.where(delta < 0, -A_MINUS * np.exp(delta / TAU_MINUS), 0.0),
    )


def pair_trains(deltas_ms, dt, n_steps, t_pre_ms):
    """One pre spike at `t_pre_ms` and one post spike `delta` later, one row per delta."""
    pre = np.zeros((len(deltas_ms), n_steps, 1))
    post = np.zeros_like(pre)
    i_pre = round(t_pre_ms / dt)
    for k, d in enumerate(deltas_ms):
        pre[k, i_pre, 0] = 1.0
        post[k, i_pre + round(d / dt), 0] = 1.0
    return pre, post


@pytest.mark.parametrize("pairing, same_step", [("all", False), ("nearest", False), ("all", True)])
def test_window_matches_closed_form(x64, driver, pairing, same_step):
    dt = 0.5
    deltas = np.arange(-50, 51, 1.0)
    pre, post = pair_trains(deltas, dt, n_steps=260, t_pre_ms=60.0)
    rule = PairSTDP(
        a_plus=A_PLUS,
        a_minus=A_MINUS,
        tau_plus=TAU_PLUS,
        tau_minus=TAU_MINUS,
        w_min=-10.0,
        w_max=10.0,
        pairing=pairing,
        same_step_pairs=same_step,
    )
    one = jnp.zeros((1,), jnp.int32)

    def run(p, q):
        return driver(rule, jnp.zeros((1,)), one, one, p, q, dt)[1][0]

    dw = np.asarray(jax.vmap(run)(jnp.asarray(pre), jnp.asarray(post)))
    expected = window(deltas)
    if same_step:  # a pre and a post spike in one step both potentiate and depress
        expected = np.where(deltas == 0, A_PLUS - A_MINUS, expected)
    np.testing.assert_allclose(dw, expected, rtol=1e-6, atol=1e-15)
    assert np.all(dw[deltas > 0] > 0) and np.all(dw[deltas < 0] < 0)


def test_all_to_all_versus_nearest(x64, driver):
    dt, tau = 1.0, 20.0
    pre = np.zeros((40, 1))
    post = np.zeros((40, 1))
    pre[[0, 10], 0] = 1.0
    post[[20, 30], 0] = 1.0
    one = jnp.zeros((1,), jnp.int32)
    e = lambda d: np.exp(-d / tau)  # noqa: E731
    expected = {
        "all": (e(20) + e(10)) + (e(30) + e(20)),
        "nearest": e(10) + e(20),
    }
    for pairing, value in expected.items():
        rule = PairSTDP(
            a_plus=1.0, a_minus=0.0, tau_plus=tau, w_min=-100.0, w_max=100.0, pairing=pairing
        )
        _, w, _ = driver(rule, jnp.zeros((1,)), one, one, pre, post, dt)
        np.testing.assert_allclose(float(w[0]), value, rtol=1e-12)


def test_soft_bounds_scale_with_distance_to_bound(x64, driver):
    dt, w0, w_min, w_max = 1.0, 0.3, -0.5, 1.0
    rule = PairSTDP(
        a_plus=A_PLUS,
        a_minus=A_MINUS,
        tau_plus=TAU_PLUS,
        tau_minus=TAU_MINUS,
        w_min=w_min,
        w_max=w_max,
        weight_dependence="soft",
    )
    one = jnp.zeros((1,), jnp.int32)
    pre, post = pair_trains([10.0, -10.0], dt, n_steps=40, t_pre_ms=15.0)
    ltp = driver(rule, jnp.full((1,), w0), one, one, pre[0], post[0], dt)[1][0]
    ltd = driver(rule, jnp.full((1,), w0), one, one, pre[1], post[1], dt)[1][0]
    np.testing.assert_allclose(float(ltp) - w0, (w_max - w0) * window(10.0), rtol=1e-12)
    np.testing.assert_allclose(float(ltd) - w0, (w0 - w_min) * window(-10.0), rtol=1e-12)


def test_modulated_depression_and_inhibitory_mirror(x64, driver):
    """NALSM: `dw = a+ x_pre S_post - A(t) x_post S_pre`, mirrored for inhibitory pre."""
    dt, eta = 1.0, 0.15
    n_steps = 60
    a_t = 0.1 + 0.002 * np.arange(n_steps)  # a time-varying astrocyte depression rate
    pre = np.zeros((n_steps, 2))
    post = np.zeros((n_steps, 1))
    pre[[10, 40], 0] = 1.0  # excitatory pre 0: pre-post at +10, post-pre at -10
    pre[[10, 40], 1] = 1.0  # inhibitory pre 1: same timing
    post[[20, 30], 0] = 1.0
    rule = PairSTDP(
        a_plus=eta,
        a_minus=0.0,
        tau_plus=10.0,
        tau_minus=10.0,
        w_min=-3.0,
        w_max=3.0,
        inhibitory_pre=[False, True],
    )
    pre_ids, post_ids = jnp.array([0, 1]), jnp.array([0, 0])
    _, w, _ = driver(rule, jnp.array([1.0, -1.0]), pre_ids, post_ids, pre, post, dt, a_t)
    x = lambda d: np.exp(-d / 10.0)  # noqa: E731
    ltp = x(10) + x(20)  # pre trace at the post spikes (steps 20, 30)
    ltd = x(10) + x(20)  # post trace at the pre spike of step 40
    np.testing.assert_allclose(float(w[0]) - 1.0, eta * ltp - a_t[40] * ltd, rtol=1e-12)
    np.testing.assert_allclose(
        float(w[1]) + 1.0, -(a_t[20] * x(10) + a_t[30] * x(20)) + eta * ltd, rtol=1e-12
    )


def test_unmodulated_rule_equals_constant_modulation(x64, driver, getkey):
    rng = np.random.default_rng(0)
    pre = rng.random((200, 6)) < 0.1
    post = rng.random((200, 4)) < 0.1
    pre_ids = jnp.asarray(np.repeat(np.arange(6), 4))
    post_ids = jnp.asarray(np.tile(np.arange(4), 6))
    rule = PairSTDP(a_plus=0.01, a_minus=0.02, w_min=-5.0, w_max=5.0)
    w0 = jnp.zeros((24,))
    plain = driver(rule, w0, pre_ids, post_ids, pre, post, 1.0)[1]
    hooked = driver(rule, w0, pre_ids, post_ids, pre, post, 1.0, np.full(200, 0.02))[1]
    np.testing.assert_allclose(np.asarray(plain), np.asarray(hooked), rtol=1e-12)
    # an all-to-all oracle over spike times (pairs in the same step do not count)
    tp, tq = np.nonzero(pre), np.nonzero(post)
    expected = np.zeros((6, 4))
    for ti, i in zip(*tp):
        for tj, j in zip(*tq):
            if tj > ti:
                expected[i, j] += 0.01 * np.exp(-(tj - ti) / 20.0)
            elif tj < ti:
                expected[i, j] -= 0.02 * np.exp(-(ti - tj) / 20.0)
    np.testing.assert_allclose(np.asarray(plain).reshape(6, 4), expected, rtol=1e-9, atol=1e-15)


def test_per_synapse_bounds(x64, driver):
    """NALSM's per-type clip ranges in one projection: each synapse stops at its own bound."""
    w_min = np.array([0.0, -3.0, -3.0])
    w_max = np.array([3.0, 0.0, 3.0])
    rule = PairSTDP(a_plus=10.0, a_minus=10.0, w_min=w_min, w_max=w_max)
    pre = np.zeros((30, 3))
    post = np.zeros((30, 1))
    pre[5] = 1.0
    post[10] = 1.0  # pre before post: strong potentiation on every synapse
    pre_ids, post_ids = jnp.arange(3), jnp.zeros((3,), jnp.int32)
    _, w, _ = driver(rule, jnp.array([1.0, -1.0, 0.0]), pre_ids, post_ids, pre, post, 1.0)
    np.testing.assert_array_equal(np.asarray(w), [3.0, 0.0, 3.0])
