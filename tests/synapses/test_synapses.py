"""Synapse traces against their closed forms, NMDA against solve_ivp, the Mg block formula.

Event-time convention under test: an event of weight `w` passed to the step with index
`k` acts at the end of that step, so the value after step `k + m` is the closed-form
response at time `m dt`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from brainsim.synapses import (
    NMDA,
    Alpha,
    DualExponential,
    Exponential,
    MgBlock,
)

DT = 0.1
N_STEPS = 1500
# (step index, weight) of an event train, for every neuron.
EVENTS = [(0, 1.0), (37, 0.5), (38, 2.0), (400, 1.3), (1020, 0.7)]


def _run(synapse, events, n_steps=N_STEPS, dt=DT):
    """The synapse value after every step, driven by `events` on every neuron."""
    n = synapse.n
    dtype = jnp.result_type(float)
    xs = np.zeros((n_steps, n))
    for k, w in events:
        xs[k] += w
    state0 = synapse.init_state(key=None)

    def body(state, x):
        state = synapse.step(state, x, 0.0, dt)
        return state, synapse.value(state)

    _, values = jax.lax.scan(body, state0, jnp.asarray(xs, dtype))
    return np.asarray(values)


def _superpose(kernel, events, n_steps=N_STEPS, dt=DT):
    """Sum of closed-form responses: value after step j = sum_k kernel(w_k, (j - k) dt)."""
    j = np.arange(n_steps)[:, None]
    out = 0.0
    for k, w in events:
        m = j - k
        t = np.maximum(m, 0) * dt
        out = out + np.where(m >= 0, kernel(w, t), 0.0)
    return out


def _rel_err(got, want):
    return np.max(np.abs(got - want)) / np.max(np.abs(want))


def test_exponential_closed_form(x64):
    tau = np.array([0.5, 5.0, 40.0])
    got = _run(Exponential(3, tau), EVENTS)
    want = _superpose(lambda w, t: w * np.exp(-t / tau), EVENTS)
    err = _rel_err(got, want)
    assert err < 1e-12, err
    assert got[0, 0] == 1.0  # the event's own step shows its full weight


def _dual_closed(tr, td):
    return lambda w, t: w * td / (td - tr) * (np.exp(-t / td) - np.exp(-t / tr))


def test_dual_exponential_closed_form(x64):
    tr = np.array([0.3, 1.0, 2.0, 9.99])
    td = np.array([3.0, 10.0, 50.0, 10.0])
    got = _run(DualExponential(4, tr, td), EVENTS)
    want = _superpose(_dual_closed(tr, td), EVENTS)
    err = _rel_err(got, want)
    # The near-equal pair (9.99, 10) costs the closed form itself ~1e-13 of cancellation.
    assert err < 1e-11, err
    assert np.all(got[0] == 0.0)  # g starts at 0 and rises


def test_dual_exponential_peak_normalised(x64):
    tr, td = np.array([0.5, 2.0]), np.array([5.0, 30.0])
    syn = DualExponential(2, tr, td, normalize_peak=True)
    dt = 0.001
    got = _run(syn, [(0, 1.7)], n_steps=int(40 / dt), dt=dt)
    # Peak time and value from calculus, independent of the module's formulas.
    t_peak = np.log(td / tr) * tr * td / (td - tr)
    peak = 1.7 * np.ones(2)
    np.testing.assert_allclose(got.max(axis=0), peak, rtol=1e-6)
    np.testing.assert_allclose(got.argmax(axis=0) * dt, t_peak, atol=dt)
    # The whole trace is the unnormalised closed form times one factor.
    unnorm = _superpose(_dual_closed(tr, td), [(0, 1.7)], n_steps=got.shape[0], dt=dt)
    factor = 1 / (td / (td - tr) * (np.exp(-t_peak / td) - np.exp(-t_peak / tr)))
    assert _rel_err(got, unnorm * factor) < 1e-11


def test_dual_exponential_fast_rise_limit(x64):
    # Unnormalised, tau_r -> 0 gives the single exponential of tau_d (up to tau_d/(tau_d - tau_r)).
    got = _run(DualExponential(1, 1e-3, 8.0), [(0, 2.0)], n_steps=500)[:, 0]
    expo = _run(Exponential(1, 8.0), [(0, 2.0)], n_steps=500)[:, 0]
    np.testing.assert_allclose(got[1:], expo[1:], rtol=2e-4)


def test_alpha_closed_form(x64):
    tau = np.array([0.7, 3.0, 12.0])
    got = _run(Alpha(3, tau), EVENTS)
    want = _superpose(lambda w, t: w * (t / tau) * np.exp(1 - t / tau), EVENTS)
    err = _rel_err(got, want)
    assert err < 1e-12, err
    single = _run(Alpha(1, 2.0), [(0, 1.0)], n_steps=100)[:, 0]
    assert single.argmax() * DT == pytest.approx(2.0) and single.max() == pytest.approx(1.0)


def test_exact_propagators_do_not_depend_on_dt(x64):
    # One event, sampled at t = 6 ms with three step sizes: identical up to rounding.
    for syn in (DualExponential(1, 1.5, 7.0), Alpha(1, 2.5)):
        vals = [
            _run(syn, [(0, 1.0)], n_steps=int(round(6.0 / dt)) + 1, dt=dt)[-1, 0]
            for dt in (0.05, 0.5, 1.0)
        ]
        np.testing.assert_allclose(vals, vals[0], rtol=1e-13)


def test_float32_close_to_float64():
    got = _run(DualExponential(2, [0.5, 2.0], [5.0, 30.0]), EVENTS)
    assert got.dtype == np.float32
    tr, td = np.array([0.5, 2.0]), np.array([5.0, 30.0])
    assert _rel_err(got, _superpose(_dual_closed(tr, td), EVENTS)) < 1e-5


def test_gradient_of_dual_exponential_matches_closed_form(x64):
    # d g(T) / d tau_decay against a central difference of the closed form.
    T, tr, td = 4.0, 1.0, 6.0
    n = int(round(T / DT))

    def g_at_T(tau_decay):
        syn = DualExponential(1, tr, tau_decay)
        s = syn.init_state(key=None)
        s = syn.step(s, jnp.ones((1,)), 0.0, DT)
        s = jax.lax.fori_loop(0, n, lambda _, s: syn.step(s, jnp.zeros((1,)), 0.0, DT), s)
        return syn.value(s)[0]

    grad = jax.jit(jax.grad(g_at_T))(jnp.asarray(td))
    h = 1e-6
    fd = (_dual_closed(tr, td + h)(1.0, T) - _dual_closed(tr, td - h)(1.0, T)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DualExponential(2, 5.0, 5.0), "tau_rise must be smaller"),
        (lambda: DualExponential(2, 6.0, 5.0), "tau_rise must be smaller"),
        (lambda: DualExponential(2, -1.0, 5.0), "tau_rise"),
        (lambda: DualExponential(2, 1.0, [5.0, 6.0, 7.0]), "tau_decay"),
        (lambda: DualExponential(2, [1.0, 2.0, 3.0], [5.0, 6.0]), "tau_rise"),
        (lambda: DualExponential(2, [1.0, 7.0], [5.0, 6.0]), "tau_rise must be smaller"),
        (lambda: Alpha(2, 0.0), "tau"),
        (lambda: NMDA(2, tau_rise=0.0), "tau_rise"),
        (lambda: NMDA(2, a=-1.0), "a"),
        (lambda: MgBlock(mg=-1.0), "mg"),
        (lambda: MgBlock(E=float("nan")), "E"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --- NMDA -------------------------------------------------------------------------------


def _nmda_reference(td, tr, a, events, n_steps, dt):
    """solve_ivp of the NMDA ODEs, events at the end of their steps, sampled after each step."""

    def rhs(t, y):
        g, x = y
        return [-g / td + a * x * (1 - g), -x / tr]

    y = np.zeros(2)
    times = (np.arange(n_steps) + 1) * dt  # the value after step j is at time (j + 1) dt
    out = np.zeros(n_steps)
    jumps = sorted(events)
    bounds = [0.0] + [(k + 1) * dt for k, _ in jumps] + [times[-1]]
    weights = [0.0] + [w for _, w in jumps] + [0.0]
    for i in range(len(bounds) - 1):
        y[1] += weights[i]
        t0, t1 = bounds[i], bounds[i + 1]
        mask = (times >= t0 - 1e-9) & (times <= t1 + 1e-9)
        if t1 > t0:
            sol = solve_ivp(
                rhs, (t0, t1), y, method="DOP853", rtol=1e-13, atol=1e-15, t_eval=times[mask]
            )
            out[mask] = sol.y[0]
            y = sol.y[:, -1].copy()
        elif mask.any():
            out[mask] = y[0]
    return out


@pytest.mark.parametrize("dt", [0.1, 0.5])
def test_nmda_matches_solve_ivp(x64, dt):
    params = [(100.0, 2.0, 0.5), (50.0, 5.0, 1.5)]  # (tau_decay, tau_rise, a)
    td, tr, a = (np.array(p) for p in zip(*params))
    t_events = [(0.0, 1.0), (5.0, 0.5), (5.5, 2.0), (60.0, 1.3), (140.0, 3.0)]
    events = [(int(round(t / dt)), w) for t, w in t_events]
    n_steps = int(round(300 / dt))
    got = _run(NMDA(2, tau_decay=td, tau_rise=tr, a=a), events, n_steps=n_steps, dt=dt)
    for i in range(2):
        want = _nmda_reference(td[i], tr[i], a[i], events, n_steps, dt)
        err = _rel_err(got[:, i], want)
        assert err < 1e-6, (i, err)
    assert np.all((got >= 0) & (got < 1))


def test_nmda_saturates_below_one(x64):
    got = _run(NMDA(1), [(k, 50.0) for k in range(0, 1000, 10)], n_steps=1000)
    assert 0.99 < got.max() < 1.0


def test_mg_block_formula_and_limits(x64):
    mg = MgBlock(E=0.0)
    v = np.array([-100.0, -80.0, -60.0, -40.0, -20.0, 0.0, 20.0, 40.0])
    want = 1 / (1 + 1.2 / 3.57 * np.exp(-0.062 * v))  # Jahr & Stevens with [Mg] = 1.2 mM
    np.testing.assert_allclose(mg.block(jnp.asarray(v)), want, rtol=1e-14)
    assert float(mg.block(jnp.asarray(0.0))) == pytest.approx(3.57 / (3.57 + 1.2), rel=1e-14)
    assert float(mg.block(jnp.asarray(300.0))) == pytest.approx(1.0, abs=1e-7)
    assert float(mg.block(jnp.asarray(-400.0))) < 1e-10
    assert np.all(np.diff(np.asarray(mg.block(jnp.asarray(v)))) > 0)  # unblocks with depolarisation
    no_mg = MgBlock(mg=0.0)
    np.testing.assert_array_equal(no_mg.block(jnp.asarray(v)), np.ones_like(v))


def test_mg_block_synaptic_input(x64):
    out = MgBlock(E=5.0, mg=2.0, g_max=3.0)
    g = jnp.asarray([0.2, 0.5, 0.9])
    v = jnp.asarray([-70.0, -30.0, 10.0])
    syn = out(g, v)
    b = 1 / (1 + 2.0 / 3.57 * np.exp(-0.062 * np.asarray(v)))
    np.testing.assert_allclose(
        syn.drive(v), 3.0 * np.asarray(g) * b * (5.0 - np.asarray(v)), rtol=1e-13
    )
    np.testing.assert_allclose(syn.conductance, 3.0 * np.asarray(g) * b, rtol=1e-13)
    np.testing.assert_array_equal(syn.jump, np.zeros(3))
