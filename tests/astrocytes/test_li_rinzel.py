"""Li-Rinzel calcium dynamics: its regimes, checked against scipy's ODE solver."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

import brainsim as bs
from brainsim.astrocytes import LiRinzel

# Li & Rinzel (1994) parameters, written out again for the independent scipy reference.
C0, C1, V1, V2, V3, K3 = 2.0, 0.185, 6.0, 0.11, 0.9, 0.1
D1, D2, D3, D5, A2 = 0.13, 1.049, 0.9434, 0.08234, 0.2
DT, N_STEPS = 10.0, 6000  # ms: 60 s of simulated time
run = eqx.filter_jit(bs.integrate)


def reference_rhs(t, y, ip3):
    """Li-Rinzel in the variables of the 1994 paper, per ms (the paper's rates are per s)."""
    c, h = y
    c_er = (C0 - c) / C1
    m, n = ip3 / (ip3 + D1), c / (c + D5)
    j_channel = C1 * V1 * m**3 * n**3 * h**3 * (c - c_er)
    j_leak = C1 * V2 * (c - c_er)
    j_pump = V3 * c**2 / (c**2 + K3**2)
    dc = -j_channel - j_pump - j_leak
    dh = A2 * (D2 * (ip3 + D1) / (ip3 + D3) * (1 - h) - c * h)
    return [dc * 1e-3, dh * 1e-3]


def simulate_both(ip3):
    model = LiRinzel(1, ip3=ip3, c_init=0.1, h_init=0.7)
    sol = run(
        model,
        model.init_state(key=jr.key(0)),
        dt=DT,
        n_steps=N_STEPS,
        save=(bs.StateMonitor("c"), bs.StateMonitor("h")),
    )
    ts = DT * np.arange(1, N_STEPS + 1)
    ref = solve_ivp(
        reference_rhs,
        (0.0, ts[-1]),
        [0.1, 0.7],
        args=(ip3,),
        t_eval=ts,
        method="DOP853",
        rtol=1e-9,
        atol=1e-12,
    )
    assert ref.success
    ours = np.stack([np.asarray(sol.traces["c"])[:, 0], np.asarray(sol.traces["h"])[:, 0]])
    return ts, ours, ref.y


def steady_calcium(ip3):
    """The fixed point: h = q2 / (q2 + c) substituted into dc/dt = 0, solved for c."""

    def dc(c):
        q2 = D2 * (ip3 + D1) / (ip3 + D3)
        return reference_rhs(0.0, [c, q2 / (q2 + c)], ip3)[0]

    return brentq(dc, 1e-6, C0 / (1 + C1) - 1e-9, xtol=1e-14)


def crossing_times(ts, x, level):
    """Upward crossings of `level`, linearly interpolated."""
    i = np.nonzero((x[:-1] < level) & (x[1:] >= level))[0]
    return ts[i] + (level - x[i]) / (x[i + 1] - x[i]) * (ts[i + 1] - ts[i])


@pytest.mark.parametrize("ip3", [0.2, 1.0])
def test_steady_state_outside_the_oscillatory_band(x64, ip3):
    ts, ours, ref = simulate_both(ip3)
    np.testing.assert_allclose(ours, ref, atol=1e-7)
    # a stable fixed point: the distance to it shrinks geometrically, window by window
    c_star = steady_calcium(ip3)
    edges = [20_000, 30_000, 40_000, 50_000, 60_000]
    dist = [np.abs(ours[0, (ts > a) & (ts <= b)] - c_star).max() for a, b in zip(edges, edges[1:])]
    assert all(later < earlier / 2.5 for earlier, later in zip(dist, dist[1:]))
    assert dist[-1] < 1e-4


def test_oscillations_inside_the_band(x64):
    ts, ours, ref = simulate_both(0.5)
    # trajectory agreement over the whole 60 s window (five periods)
    np.testing.assert_allclose(ours, ref, atol=1e-7)
    late = ts > 20_000
    assert np.ptp(ours[0, late]) > 0.3  # a sustained calcium oscillation, ~0.1-0.45 uM
    level = 0.25
    ours_up = crossing_times(ts[late], ours[0, late], level)
    ref_up = crossing_times(ts[late], ref[0, late], level)
    assert len(ours_up) >= 3 and len(ours_up) == len(ref_up)
    period, ref_period = np.diff(ours_up).mean(), np.diff(ref_up).mean()
    np.testing.assert_allclose(period, ref_period, rtol=1e-6)
    assert 10_000 < period < 13_000  # ms; about 11.5 s at ip3 = 0.5 uM
    # the fixed point exists but is unstable: the orbit does not settle on it
    assert np.abs(ours[0, late] - steady_calcium(0.5)).max() > 0.1


@pytest.mark.parametrize("method", ["euler", "exp_euler", "rk4"])
def test_every_integrator_settles_on_the_fixed_point(x64, method):
    """A fixed point of the ODE is a fixed point of each one-step map too."""
    model = LiRinzel(1, ip3=0.2, method=method)
    sol = run(model, model.init_state(key=jr.key(0)), dt=DT, n_steps=N_STEPS)
    np.testing.assert_allclose(sol.state.c, [steady_calcium(0.2)], atol=2e-4)


def test_ip3_input_overrides_the_parameter(x64, getkey):
    model = LiRinzel(3, ip3=0.2)
    state = model.init_state(key=getkey())
    given, _ = model.step(state, np.array([0.5, 0.5, 0.5]), 0.0, 10.0)
    other = LiRinzel(3, ip3=0.5)
    expected, _ = other.step(state, None, 0.0, 10.0)
    np.testing.assert_array_equal(given.c, expected.c)


def test_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        LiRinzel(-1)
    with pytest.raises(ValueError, match="ip3"):
        LiRinzel(2, ip3=-0.1)
    with pytest.raises(ValueError, match="k_er"):
        LiRinzel(2, k_er=0.0)
    with pytest.raises(ValueError, match="d2"):
        LiRinzel(2, d2=np.ones(3))
    with pytest.raises(ValueError, match="dt"):
        model = LiRinzel(1)
        bs.integrate(model, model.init_state(key=jr.key(0)), dt=500.0, n_steps=2)


def test_gradient_matches_finite_differences(x64):
    """d c(2 s) / d ip3 through the scan, against central differences."""

    def final_calcium(ip3):
        model = LiRinzel(1, ip3=0.5)
        model = eqx.tree_at(lambda m: m.ip3, model, ip3)
        sol = bs.integrate(model, model.init_state(key=jr.key(0)), dt=10.0, n_steps=200)
        return sol.state.c[0]

    grad = eqx.filter_grad(final_calcium)(jnp.asarray(0.5))
    f = eqx.filter_jit(final_calcium)
    eps = 1e-6
    fd = (f(jnp.asarray(0.5 + eps)) - f(jnp.asarray(0.5 - eps))) / (2 * eps)
    assert abs(float(grad)) > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
