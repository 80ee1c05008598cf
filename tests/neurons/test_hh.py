"""Hodgkin-Huxley (COBAHH cell) against scipy: rate functions, spike times from LSODA,
the resting state, and gradients against finite differences."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import exprel

import brainsim as bs
from brainsim.neurons import HH, traub_miles_rates

# Brian2 examples/COBAHH.py on 20000 um^2, in pF, nS, mV, ms, pA.
C, G_L, G_NA, G_KD = 200.0, 10.0, 20000.0, 6000.0
E_L, E_NA, E_K, V_T = -60.0, 50.0, -90.0, -63.0


def _rates_np(v):
    """Brian2's COBAHH rates, written with scipy's exprel as Brian evaluates them."""
    return (
        0.32 * 4.0 / exprel((13.0 - v + V_T) / 4.0),
        0.28 * 5.0 / exprel((v - V_T - 40.0) / 5.0),
        0.128 * np.exp((17.0 - v + V_T) / 18.0),
        4.0 / (1.0 + np.exp((40.0 - v + V_T) / 5.0)),
        0.032 * 5.0 / exprel((15.0 - v + V_T) / 5.0),
        0.5 * np.exp((10.0 - v + V_T) / 40.0),
    )


def _x_over_expm1(x):
    return 1.0 - x / 2.0 if abs(x) < 1e-8 else x / math.expm1(x)


def _field(t, y, current):
    """The COBAHH vector field in plain floats (fast for scipy's scalar calls)."""
    v, m, h, n = y
    u = v - V_T
    am = 0.32 * 4.0 * _x_over_expm1((13.0 - u) / 4.0)
    bm = 0.28 * 5.0 * _x_over_expm1((u - 40.0) / 5.0)
    ah = 0.128 * math.exp((17.0 - u) / 18.0)
    bh = 4.0 / (1.0 + math.exp((40.0 - u) / 5.0))
    an = 0.032 * 5.0 * _x_over_expm1((15.0 - u) / 5.0)
    bn = 0.5 * math.exp((10.0 - u) / 40.0)
    i_ion = G_L * (E_L - v) - G_NA * m**3 * h * (v - E_NA) - G_KD * n**4 * (v - E_K)
    return [
        (i_ion + current) / C,
        am * (1 - m) - bm * m,
        ah * (1 - h) - bh * h,
        an * (1 - n) - bn * n,
    ]


def _steady_gates(v):
    am, bm, ah, bh, an, bn = _rates_np(v)
    return am / (am + bm), ah / (ah + bh), an / (an + bn)


def _steady_current(v, current):
    """Net membrane current (pA, inward positive) with every gate at its steady state."""
    m, h, n = _steady_gates(v)
    return G_L * (E_L - v) - G_NA * m**3 * h * (v - E_NA) - G_KD * n**4 * (v - E_K) + current


def _upward(t, y, current):
    return y[0] + 20.0


_upward.direction = 1  # type: ignore[attr-defined]


def _reference_spikes(current, t_end):
    y0 = [E_L, *_steady_gates(E_L)]
    sol = solve_ivp(
        _field,
        (0.0, t_end),
        y0,
        method="LSODA",
        rtol=1e-9,
        atol=1e-12,
        events=_upward,
        args=(current,),
    )
    return sol.t_events[0]


_integrate = eqx.filter_jit(bs.integrate)


def _our_spikes(method, current, dt, t_end):
    """Spike times (ms) of one HH neuron per entry of `current` (pA)."""
    model = HH(len(current), i_bias=jnp.asarray(current), method=method)
    sol = _integrate(
        model,
        model.init_state(key=jr.key(0)),
        dt=dt,
        n_steps=int(round(t_end / dt)),
        save=(bs.SpikeMonitor(),),
    )
    spikes = np.asarray(sol.traces["spikes"])
    return [dt * (np.nonzero(spikes[:, j])[0] + 1) for j in range(len(current))]


@functools.cache
def _rk4_spikes():
    """RK4 at dt = 0.01 ms over 200 ms, for 500 pA and for no input (one run)."""
    with jax.enable_x64(True):
        return _our_spikes("rk4", [500.0, 0.0], 0.01, 200.0)


def test_rates_match_brian_formulas(x64):
    # a grid plus the removable singularities of alpha_m, alpha_n and beta_m
    v = np.concatenate([np.linspace(-100.0, 60.0, 321), [V_T + 13, V_T + 15, V_T + 40]])
    ours = traub_miles_rates(jnp.asarray(v), jnp.asarray(V_T))
    for got, want in zip(ours, _rates_np(v)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    grads = jax.vmap(jax.grad(lambda x: sum(traub_miles_rates(x, jnp.asarray(V_T)))))(
        jnp.asarray([V_T + 13, V_T + 15, V_T + 40, V_T + 13 + 1e-5])
    )
    assert np.all(np.isfinite(np.asarray(grads)))
    np.testing.assert_allclose(np.asarray(grads[0]), np.asarray(grads[3]), rtol=1e-4)


def test_initial_state_is_steady(x64):
    state = HH(2).init_state(key=jr.key(0))
    np.testing.assert_allclose(np.asarray(state.v), E_L)
    for got, want in zip((state.m, state.h, state.n), _steady_gates(E_L)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_spike_times_match_lsoda(x64):
    """RK4 at dt = 0.01 ms over 200 ms of 500 pA (17 regular spikes)."""
    dt = 0.01
    ref = _reference_spikes(500.0, 200.0)
    ours = _rk4_spikes()[0]
    assert len(ref) == 17 and len(ours) == len(ref)
    # A spike is reported at the end of the step in which v crosses -20 mV.
    np.testing.assert_allclose(ours[0], ref[0], atol=dt)
    assert np.all(ours - ref > -1e-3) and np.all(ours - ref < dt + 1e-3)
    assert np.max(np.abs(ours - ref)) < 0.05
    # The default exponential Euler is first order: good to a fraction of a ms early on.
    first = _our_spikes("exp_euler", [500.0], dt, 20.0)[0]
    assert abs(first[0] - ref[0]) < 0.1 and len(first) == np.sum(ref < 20.0)


def test_fires_at_zero_input_and_rests_when_held(x64):
    """The isolated COBAHH cell has no rest at zero input: its steady-state I-V curve is
    depolarizing up to about -33 mV, so it fires on its own (about 14 Hz). A -50 pA
    holding current gives a stable rest, the root of that curve."""
    v = np.linspace(-90.0, -35.0, 221)
    assert np.all(_steady_current(v, 0.0) > 0)
    ref = _reference_spikes(0.0, 200.0)
    ours = _rk4_spikes()[1]
    assert len(ref) == 3 and len(ours) == 3
    assert np.all(ours - ref > -1e-3) and np.all(ours - ref < 0.01 + 1e-3)

    v_rest = brentq(_steady_current, -80.0, -60.0, args=(-50.0,), xtol=1e-13)
    model = HH(1, i_bias=-50.0, v_init=-64.0, method="rk4")
    sol = _integrate(model, model.init_state(key=jr.key(0)), dt=0.05, n_steps=8000)
    np.testing.assert_allclose(float(sol.state.v[0]), v_rest, atol=1e-6)
    m, h, n = _steady_gates(v_rest)
    np.testing.assert_allclose(
        [float(sol.state.m[0]), float(sol.state.h[0]), float(sol.state.n[0])], [m, h, n], rtol=1e-6
    )


def test_gradient_matches_finite_differences(x64):
    model = HH(1, i_bias=-50.0)
    state0 = model.init_state(key=jr.key(0))

    @jax.jit
    def loss(params):
        g_kd, i_bias = params
        m = eqx.tree_at(lambda m: (m.g_kd, m.i_bias), model, (g_kd, i_bias))
        sol = bs.integrate(m, state0, dt=0.05, n_steps=200, save=(bs.StateMonitor("v", every=10),))
        return jnp.mean(sol.traces["v"])

    params = jnp.array([G_KD, -50.0])
    # Forward mode: the same derivative rules as `jax.grad`, at a fraction of the XLA
    # compile time of the reversed scan (several seconds on CPU).
    grad = jax.jacfwd(loss)(params)
    for j in range(2):
        h = 1e-6 * abs(float(params[j]))
        e = jnp.zeros(2).at[j].set(h)
        fd = (loss(params + e) - loss(params - e)) / (2 * h)
        np.testing.assert_allclose(float(grad[j]), float(fd), rtol=1e-6)


def test_one_spike_per_crossing():
    """A long depolarization keeps v above threshold for several steps: one spike only."""
    model = HH(3, i_bias=jnp.array([0.0, 800.0, 3000.0]), method="exp_euler")
    sol = bs.integrate(
        model,
        model.init_state(key=jr.key(0)),
        dt=0.02,
        n_steps=5000,
        save=(bs.SpikeMonitor(), bs.StateMonitor("v")),
    )
    v = np.asarray(sol.traces["v"])
    above = v > -20.0
    crossings = (above[1:] & ~above[:-1]).sum(axis=0) + above[0]
    np.testing.assert_array_equal(np.asarray(sol.traces["spikes"]).sum(axis=0), crossings)
    assert np.all(crossings > 0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(c_m=0.0), "c_m"),
        (dict(g_na=-1.0), "g_na"),
        (dict(g_kd=np.ones(3)), "g_kd"),
        (dict(e_k=np.inf), "e_k"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HH(2, **kwargs)
