"""Three-factor STDP: the modulator gates the eligibility trace."""

import jax.numpy as jnp
import numpy as np

from brainsim.plasticity import ThreeFactorSTDP

DT, N_STEPS, I_PRE, I_POST = 1.0, 300, 20, 30


def trains():
    pre = np.zeros((N_STEPS, 1))
    post = np.zeros((N_STEPS, 1))
    pre[I_PRE, 0] = 1.0
    post[I_POST, 0] = 1.0
    return pre, post


def rule():
    return ThreeFactorSTDP(
        eta=0.01,
        a_plus=1.0,
        a_minus=1.0,
        tau_plus=20.0,
        tau_minus=20.0,
        tau_e=200.0,
        w_min=-10.0,
        w_max=10.0,
    )


def test_no_modulator_no_change(x64, driver):
    one = jnp.zeros((1,), jnp.int32)
    pre, post = trains()
    state, w, _ = driver(rule(), jnp.full((1,), 0.5), one, one, pre, post, DT)
    assert float(w[0]) == 0.5
    zero = driver(rule(), jnp.full((1,), 0.5), one, one, pre, post, DT, np.zeros(N_STEPS))[1]
    assert float(zero[0]) == 0.5
    # the eligibility trace still recorded the pairing: exp(-10/20) decayed since
    e_expected = np.exp(-10 / 20) * np.exp(-(N_STEPS - 1 - I_POST) * DT / 200.0)
    np.testing.assert_allclose(float(state.eligibility[0]), e_expected, rtol=1e-12)


def test_change_proportional_to_modulator(x64, driver):
    one = jnp.zeros((1,), jnp.int32)
    pre, post = trains()
    changes = []
    for m in (0.5, 1.0, 2.0, -1.0):
        w = driver(rule(), jnp.zeros((1,)), one, one, pre, post, DT, np.full(N_STEPS, m))[1]
        changes.append(float(w[0]))
    # closed form: e = e0 q^k for k = 0.. after the post spike; dw = eta m dt sum_k e
    e0, q = np.exp(-10 / 20), np.exp(-DT / 200.0)
    n = N_STEPS - I_POST
    expected_unit = 0.01 * DT * e0 * (1 - q**n) / (1 - q)
    np.testing.assert_allclose(changes, np.array([0.5, 1.0, 2.0, -1.0]) * expected_unit, rtol=1e-10)


def test_reward_after_the_pairing_only(x64, driver):
    """A modulator pulse `delay` steps after the pairing sees the decayed eligibility."""
    one = jnp.zeros((1,), jnp.int32)
    pre, post = trains()
    for delay in (0, 50, 150):
        m = np.zeros(N_STEPS)
        m[I_POST + delay] = 1.0
        w = driver(rule(), jnp.zeros((1,)), one, one, pre, post, DT, m)[1]
        expected = 0.01 * DT * np.exp(-10 / 20) * np.exp(-delay * DT / 200.0)
        np.testing.assert_allclose(float(w[0]), expected, rtol=1e-12)
