"""AdEx against scipy.integrate.solve_ivp: the subthreshold trajectory, and spike times
from an event-detecting solve with the reset done by hand; adaptation; presets."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.neurons import NAUD_2008_PRESETS, AdEx

# Brette & Gerstner (2005): pF, nS, mV, ms, pA.
C, G_L, E_L, V_T, D_T = 281.0, 30.0, -70.6, -50.4, 2.0
TAU_W, A, B, V_RESET, V_PEAK = 144.0, 4.0, 80.5, -70.6, 20.0
V_SWITCH = -40.0  # above this, integrate in v instead of t (the upswing is monotonic)


def _field(t, y, current):
    v, w = y
    dv = (-G_L * (v - E_L) + G_L * D_T * math.exp((v - V_T) / D_T) - w + current) / C
    return [dv, (A * (v - E_L) - w) / TAU_W]


def _jacobian(t, y, current):
    v, _ = y
    return [[G_L * (math.exp((v - V_T) / D_T) - 1.0) / C, -1.0 / C], [A / TAU_W, -1.0 / TAU_W]]


def _upswing(v, y, current):
    """d(t, w)/dv on the upswing, where dv/dt > 0: the runaway becomes a smooth problem."""
    dv, dw = _field(y[0], [v, y[1]], current)
    return [1.0 / dv, dw / dv]


def _crosses_switch(t, y, current):
    return y[0] - V_SWITCH


_crosses_switch.terminal = True  # type: ignore[attr-defined]
_crosses_switch.direction = 1  # type: ignore[attr-defined]


def _reference_spike_times(current, t_end):
    """Spike times of the continuous AdEx, reset by hand after each spike.

    `t` runs with LSODA (rtol 1e-10) until `v` crosses `V_SWITCH` upwards (event
    detection); from there the exponential runaway is integrated in `v` up to `V_PEAK`,
    giving the spike time and `w` exactly; then `v <- V_RESET`, `w <- w + b`.
    """
    t0, y, out = 0.0, [E_L, 0.0], []
    while True:
        sol = solve_ivp(
            _field,
            (t0, t_end),
            y,
            method="LSODA",
            rtol=1e-10,
            atol=1e-10,
            events=_crosses_switch,
            args=(current,),
            jac=_jacobian,
        )
        if sol.status != 1:
            return np.array(out)
        t_x, w_x = sol.t_events[0][0], sol.y_events[0][0][1]
        assert _field(t_x, [V_SWITCH, w_x], current)[0] > 0
        up = solve_ivp(
            _upswing,
            (V_SWITCH, V_PEAK),
            [t_x, w_x],
            method="DOP853",
            rtol=1e-12,
            atol=1e-12,
            args=(current,),
        )
        t_spike, w = up.y[:, -1]
        out.append(t_spike)
        t0, y = t_spike, [V_RESET, w + B]


def _run(model, dt, n_steps, save):
    run = eqx.filter_jit(bs.integrate)
    return run(model, model.init_state(key=jr.key(0)), dt=dt, n_steps=n_steps, save=save)


def test_subthreshold_matches_solve_ivp(x64):
    current, dt, n_steps, every = 400.0, 0.01, 20_000, 100
    sol = _run(
        AdEx(1, i_bias=current, method="rk4"),
        dt,
        n_steps,
        (bs.StateMonitor("v", every=every), bs.StateMonitor("w", every=every)),
    )
    t_eval = dt * every * np.arange(1, n_steps // every + 1)
    ref = solve_ivp(
        _field,
        (0.0, t_eval[-1]),
        [E_L, 0.0],
        method="LSODA",
        rtol=1e-10,
        atol=1e-10,
        t_eval=t_eval,
        args=(current,),
        jac=_jacobian,
    )
    v, w = np.asarray(sol.traces["v"][:, 0]), np.asarray(sol.traces["w"][:, 0])
    assert np.max(v) < -50.0 and np.ptp(v) > 10.0  # subthreshold, but far from flat
    assert np.max(np.abs(v - ref.y[0])) < 1e-4
    assert np.max(np.abs(w - ref.y[1])) < 1e-4


def test_spike_times_match_solve_ivp_with_reset(x64):
    current, dt, t_end = 1000.0, 0.01, 150.0
    ref = _reference_spike_times(current, t_end)
    sol = _run(
        AdEx(1, i_bias=current, method="rk4"), dt, int(round(t_end / dt)), (bs.SpikeMonitor(),)
    )
    ours = dt * (np.nonzero(np.asarray(sol.traces["spikes"][:, 0]))[0] + 1)
    assert len(ref) == 7 and len(ours) == len(ref)
    # The spike is reported at the end of its step and the reset happens there, so each
    # spike adds up to about one step of delay to the following ones.
    assert np.all(ours >= ref)
    assert np.max(np.abs(ours[:4] - ref[:4])) < 0.05
    np.testing.assert_allclose(np.diff(ours), np.diff(ref), atol=2 * dt)


def test_adaptation_lengthens_isis():
    sol = _run(AdEx(1, i_bias=1000.0), 0.05, 6000, (bs.SpikeMonitor(),))
    isi = np.diff(np.nonzero(np.asarray(sol.traces["spikes"][:, 0]))[0])
    assert len(isi) >= 5
    assert np.all(np.diff(isi[:5]) > 0)
    assert isi[-1] > 1.5 * isi[0]
    no_b = _run(AdEx(1, i_bias=1000.0, a=0.0, b=0.0), 0.05, 6000, (bs.SpikeMonitor(),))
    isi0 = np.diff(np.nonzero(np.asarray(no_b.traces["spikes"][:, 0]))[0])
    assert np.ptp(isi0) <= 1  # without adaptation the ISIs are constant (to one step)


def _isis_ms(spikes, dt):
    return np.diff(np.nonzero(spikes)[0]) * dt


def test_naud_presets_show_their_patterns():
    """The patterns of Naud et al. (2008), Fig. 4, with Brian2's example settings
    (Euler, dt = 0.1 ms, cut-off at 0 mV)."""
    names = sorted(NAUD_2008_PRESETS)
    dt, n_steps = 0.1, 6000
    stacked = {
        k: np.array([NAUD_2008_PRESETS[p][k] for p in names]) for k in NAUD_2008_PRESETS["tonic"]
    }
    model = AdEx(len(names), v_t=-50.0, delta_t=2.0, v_peak=0.0, **stacked)
    sol = _run(model, dt, n_steps, (bs.SpikeMonitor(), bs.StateMonitor("v")))
    assert np.all(np.isfinite(np.asarray(sol.traces["v"])))
    spikes = {p: np.asarray(sol.traces["spikes"][:, j]) for j, p in enumerate(names)}
    isi = {p: _isis_ms(s, dt) for p, s in spikes.items()}
    first = {p: np.argmax(s) * dt for p, s in spikes.items()}
    # tonic: regular spiking after a short transient.
    assert len(isi["tonic"]) > 40 and np.ptp(isi["tonic"][-30:]) <= dt + 1e-9
    assert abs(isi["tonic"][0] / isi["tonic"][-1] - 1) < 0.1
    # adapting: ISIs grow, then settle.
    assert np.all(np.diff(isi["adapting"][:6]) > 0) and isi["adapting"][-1] > 4 * isi["adapting"][0]
    # initial burst: short ISIs first, then regular long ones.
    assert isi["initial_burst"][0] < 0.1 * isi["initial_burst"][-1]
    assert np.ptp(isi["initial_burst"][-5:]) <= dt + 1e-9
    # regular and delayed bursting: two ISI populations (within and between bursts).
    for p in ("bursting", "delayed_bursting"):
        assert np.max(isi[p]) > 5 * np.min(isi[p])
    assert first["delayed_bursting"] > 3 * first["bursting"]
    # delayed accelerating: the ISIs shrink.
    assert np.all(np.diff(isi["delayed_accelerating"]) <= dt + 1e-9)
    assert isi["delayed_accelerating"][-1] < 0.7 * isi["delayed_accelerating"][0]
    # irregular: no periodic pattern settles.
    late = isi["irregular"][5:]
    assert np.std(late) / np.mean(late) > 0.3
    # transient: a few spikes, then silence.
    assert 0 < spikes["transient"].sum() < 5 and not spikes["transient"][n_steps // 2 :].any()


@pytest.mark.parametrize("method", ["euler", "exp_euler", "rk4"])
def test_runaway_stays_finite(method):
    """A huge input drives the exponential far past v_peak within one step (float32)."""
    model = AdEx(2, i_bias=jnp.array([5e4, 1e6]), method=method, tau_ref=0.5)
    sol = _run(model, 0.1, 500, (bs.SpikeMonitor(), bs.StateMonitor("v"), bs.StateMonitor("w")))
    assert np.all(np.isfinite(np.asarray(sol.traces["v"])))
    assert np.all(np.isfinite(np.asarray(sol.traces["w"])))
    assert np.all(np.asarray(sol.traces["v"]) <= 20.0)
    assert np.asarray(sol.traces["spikes"]).sum(axis=0).min() > 10


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_gradient_through_spikes_is_finite(method):
    model = AdEx(3, i_bias=jnp.array([700.0, 1000.0, 2000.0]), method=method)
    state0 = model.init_state(key=jr.key(0))

    @jax.jit
    def loss(i_bias):
        m = eqx.tree_at(lambda m: m.i_bias, model, i_bias)
        sol = bs.integrate(m, state0, dt=0.1, n_steps=1000, save=(bs.StateMonitor("w"),))
        return jnp.sum(sol.traces["w"][-1])

    grad = jax.grad(loss)(model.i_bias)
    assert np.all(np.isfinite(np.asarray(grad))) and np.all(np.asarray(grad) != 0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(delta_t=0.0), "delta_t"),
        (dict(c_m=-1.0), "c_m"),
        (dict(tau_w=np.ones(5)), "tau_w"),
        (dict(b=np.nan), "b"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AdEx(3, **kwargs)


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset"):
        AdEx.preset("chattering", 2)
    assert float(AdEx.preset("tonic", 2, b=5.0).b[()]) == 5.0
