"""LIF against closed forms: firing rate, subthreshold exponential, convergence orders,
hand-derived surrogate gradients, finite-difference gradients, and input validation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.core import Normal, SynapticInput
from brainsim.core._spike import SURROGATE_KINDS, surrogate_derivative
from brainsim.neurons import LIF

V_REST, V_TH, V_RESET, TAU_M = -60.0, -50.0, -65.0, 20.0


def _period(i_eff, tau_ref):
    """Closed-form period (ms) of `tau dv/dt = -(v - v_rest) + I` from reset to threshold.

    v(t) = v_rest + I + (v_reset - v_rest - I) exp(-t / tau) reaches v_th at
    T = tau ln((I - (v_reset - v_rest)) / (I - (v_th - v_rest))).
    """
    return tau_ref + TAU_M * np.log((i_eff - (V_RESET - V_REST)) / (i_eff - (V_TH - V_REST)))


def test_rate_matches_closed_form(x64):
    # currents giving about 5, 50 and 200 Hz, without and with a 2 ms refractory period
    # (periods that are not multiples of dt, so the spike times are not grid-aligned)
    currents = np.array([10.0007, 18.7, 62.8, 10.0008, 20.3, 102.7])
    tau_ref = np.repeat([0.0, 2.0], 3)
    expected = 1000.0 / _period(currents, tau_ref)
    np.testing.assert_allclose(expected, np.tile([5.0, 50.0, 200.0], 2), rtol=0.05)
    dt, n_steps = 0.01, 65_000
    model = LIF(
        6,
        tau_m=TAU_M,
        v_rest=V_REST,
        v_th=V_TH,
        v_reset=V_RESET,
        tau_ref=tau_ref,
        i_bias=currents,
        v_init=V_RESET,
        method="exp_euler",
    )
    sol = eqx.filter_jit(bs.integrate)(
        model, model.init_state(key=jr.key(0)), dt=dt, n_steps=n_steps, save=(bs.SpikeMonitor(),)
    )
    spikes = np.asarray(sol.traces["spikes"])
    for j in range(6):
        steps = np.nonzero(spikes[:, j])[0]
        assert len(steps) >= 3
        measured = 1000.0 / (np.mean(np.diff(steps)) * dt)
        assert abs(measured / expected[j] - 1) < 0.01, (j, measured, expected[j])


def _subthreshold(method, dt, t_end):
    i_bias, v0 = 8.0, -65.0
    model = LIF(1, tau_m=TAU_M, v_rest=V_REST, v_th=V_TH, i_bias=i_bias, v_init=v0, method=method)
    n_steps = int(round(t_end / dt))
    sol = bs.integrate(
        model, model.init_state(key=jr.key(0)), dt=dt, n_steps=n_steps, save=(bs.StateMonitor("v"),)
    )
    t = dt * np.arange(1, n_steps + 1)
    exact = V_REST + i_bias + (v0 - V_REST - i_bias) * np.exp(-t / TAU_M)
    return np.asarray(sol.traces["v"][:, 0]), exact


def test_subthreshold_exact_with_exp_euler(x64):
    v, exact = _subthreshold("exp_euler", 0.1, 100.0)
    assert np.max(np.abs(v - exact) / np.abs(exact)) < 1e-9


@pytest.mark.parametrize("method, order", [("euler", 1), ("rk4", 4)])
def test_convergence_order(x64, method, order):
    errors = []
    for dt in (1.0, 0.5, 0.25):
        v, exact = _subthreshold(method, dt, 20.0)
        errors.append(abs(v[-1] - exact[-1]))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0**order, rtol=0.2)


def _hand_surrogate(kind, alpha, x):
    """The surrogate derivatives written out again, independently of the library."""
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-alpha * x))
        return alpha * s * (1.0 - s)
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + alpha * abs(x)) ** 2
    if kind == "arctan":
        return alpha / (2.0 * (1.0 + (np.pi * alpha * x / 2.0) ** 2))
    if kind == "triangle":
        return alpha * max(0.0, 1.0 - alpha * abs(x))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", SURROGATE_KINDS)
@pytest.mark.parametrize("v0", [-50.1, -50.02])  # ends below / above threshold
def test_surrogate_gradient_hand_derived(x64, kind, v0):
    alpha, dt, current = 8.0, 0.1, 20.0
    model = LIF(
        1, tau_m=TAU_M, v_rest=V_REST, v_th=V_TH, v_init=v0, spike_fn=bs.Surrogate(kind, alpha)
    )
    state = model.init_state(key=jr.key(0))

    def spike(i):
        return model.step(state, i, 0.0, dt)[1][0]

    grad = jax.grad(spike)(jnp.array([current]))[0]
    dv1_di = 1.0 - np.exp(-dt / TAU_M)  # exp_euler: v1 = v0 + (v_rest + I - v0)(1 - e^{-dt/tau})
    x = v0 + (V_REST + current - v0) * dv1_di - V_TH
    assert abs(x) < 0.1  # inside the support of the triangle
    assert float(spike(jnp.array([current]))) == float(x > 0)
    expected = _hand_surrogate(kind, alpha, x) * dv1_di
    np.testing.assert_allclose(
        float(surrogate_derivative(kind, alpha, jnp.array(x))),
        _hand_surrogate(kind, alpha, x),
        rtol=1e-12,
    )
    np.testing.assert_allclose(float(grad), expected, rtol=1e-10)


def test_smooth_gradient_matches_finite_differences(x64):
    model = LIF(
        3,
        tau_m=jnp.array([10.0, 20.0, 15.0]),
        i_bias=jnp.array([8.0, 12.0, 15.0]),
        v_init=-58.0,
        spike_fn=bs.Surrogate("sigmoid", 2.0, smooth=True),
        detach_reset=False,
    )
    state0 = model.init_state(key=jr.key(0))

    def loss(tau_m, i_bias):
        m = eqx.tree_at(lambda m: (m.tau_m, m.i_bias), model, (tau_m, i_bias))

        def body(state, t):
            state, s = m.step(state, None, t, 0.5)
            return state, s

        state, spikes = jax.lax.scan(body, state0, 0.5 * jnp.arange(50.0))
        return jnp.sum(spikes) + 0.1 * jnp.sum(state.v)

    loss = jax.jit(loss)
    params = (model.tau_m, model.i_bias)
    grads = jax.grad(loss, argnums=(0, 1))(*params)
    for which in range(2):
        for j in range(3):
            h = 1e-5 * float(jnp.abs(params[which][j]))
            e = jnp.zeros(3).at[j].set(h)
            up = [p + e if k == which else p for k, p in enumerate(params)]
            down = [p - e if k == which else p for k, p in enumerate(params)]
            fd = (loss(*up) - loss(*down)) / (2 * h)
            g = grads[which][j]
            assert abs(float(g)) > 1e-6
            np.testing.assert_allclose(float(g), float(fd), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(tau_m=0.0), "tau_m"),
        (dict(tau_m=-5.0), "tau_m"),
        (dict(tau_m=jnp.ones(4)), "tau_m"),
        (dict(v_th=np.full(2, -50.0)), "v_th"),
        (dict(tau_ref=-1.0), "tau_ref"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LIF(3, **kwargs)


def test_same_key_same_initial_state(getkey):
    model = LIF(6, v_init=Normal(-60.0, 3.0))
    key = getkey()
    a = model.init_state(key=key)
    b = model.init_state(key=key)
    c = model.init_state(key=getkey())
    np.testing.assert_array_equal(np.asarray(a.v), np.asarray(b.v))
    assert not np.array_equal(np.asarray(a.v), np.asarray(c.v))
    assert np.std(np.asarray(a.v)) > 0


def test_conductance_input_is_drive(x64):
    """`SynapticInput(g E, g, 0)` acts as `g (E - v)`: the steady state is closed-form."""
    g, e_syn = 0.5, 0.0
    model = LIF(1, tau_m=TAU_M, v_th=100.0)
    n_steps = 2000
    syn = SynapticInput(
        jnp.full((n_steps, 1), g * e_syn), jnp.full((n_steps, 1), g), jnp.zeros((n_steps, 1))
    )
    state = bs.integrate(model, model.init_state(key=jr.key(0)), syn, dt=0.5, n_steps=n_steps).state
    # 0 = -(v - v_rest) + g (E - v)  ->  v = (v_rest + g E) / (1 + g)
    np.testing.assert_allclose(float(state.v[0]), (V_REST + g * e_syn) / (1 + g), rtol=1e-10)
