"""Projections in a tiny network: delays (homogeneous and per synapse) and COBA output.

Timing under test: a presynaptic spike emitted in step `k` reaches an undelayed
`Exponential` trace in that same step (the value after step `k` is `w`), and with a
delay of `d` ms exactly `d / dt` steps later. The trace drives the membrane from the
next step on.
"""

from typing import NamedTuple

import jax
import numpy as np
import pytest
from brainsim.kernels import CSR
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.inputs import SpikeGenerator
from brainsim.network import Delay, Network, Projection
from brainsim.neurons import LIF
from brainsim.synapses import COBA, CUBA, Exponential

DT = 0.1
TAU_S = 5.0


class _Train(NamedTuple):
    """Spikes given as step indices; `_run` turns them into a `SpikeGenerator` for its `dt`."""

    n_steps: int
    n: int
    steps: np.ndarray
    indices: np.ndarray


def _raster(n_steps, n, steps, indices) -> _Train:
    return _Train(n_steps, n, np.asarray(steps), np.asarray(indices))


def _run(proj, n_pre, n_post, train: _Train, paths, *, dt=DT, post=None):
    """Run `SpikeGenerator` -> `proj` -> LIF; a spike at step k is emitted at time k dt."""
    src = SpikeGenerator(n_pre, train.steps * dt, train.indices)
    post = LIF(n_post, v_th=1e6) if post is None else post
    net = Network({"src": src, "post": post}, {"proj": proj})
    sol = bs.integrate(
        net,
        net.init_state(key=jax.random.key(0)),
        dt=dt,
        n_steps=train.n_steps,
        save=tuple(bs.StateMonitor(p) for p in paths),
    )
    return {p: np.asarray(sol.traces[p]) for p in paths}


def _one_to_one(n, w=1.0):
    return CSR(np.arange(n + 1), np.arange(n), w, n_pre=n, n_post=n, major="pre")


@pytest.mark.parametrize("delay_ms", [0.1, 1.0, 3.2])
def test_homogeneous_delay_shifts_arrival_by_d_over_dt(x64, delay_ms):
    n_steps, k = 120, 20
    raster = _raster(n_steps, 1, [k], [0])

    def trace(delay):
        proj = Projection(
            "src", "post", _one_to_one(1, 0.8), Exponential(1, TAU_S), CUBA(), delay=delay
        )
        return _run(proj, 1, 1, raster, ["proj.synapse"])["proj.synapse"][:, 0]

    plain = trace(None)
    delayed = trace(Delay(delay_ms, dt=DT))
    shift = int(round(delay_ms / DT))
    assert np.flatnonzero(plain)[0] == k
    assert np.flatnonzero(delayed)[0] == k + shift
    np.testing.assert_array_equal(delayed[shift:], plain[: n_steps - shift])
    assert plain[k] == pytest.approx(0.8)


def test_zero_delay_equals_no_delay(x64):
    raster = _raster(60, 1, [5, 30], [0, 0])
    runs = [
        _run(
            Projection("src", "post", _one_to_one(1), Exponential(1, TAU_S), CUBA(), delay=d),
            1,
            1,
            raster,
            ["proj.synapse", "post.v"],
        )
        for d in (None, Delay(0.0, dt=DT))
    ]
    for path in ("proj.synapse", "post.v"):
        np.testing.assert_array_equal(runs[0][path], runs[1][path])


def test_per_synapse_delays_arrive_at_their_own_steps(x64):
    # 2 presynaptic -> 3 postsynaptic neurons, 4 synapses with their own delays and weights.
    pre = np.array([0, 0, 1, 1])
    post = np.array([0, 2, 1, 2])
    w = np.array([1.0, 0.5, 2.0, 0.25])
    delay_ms = np.array([0.0, 1.5, 0.7, 4.0])
    conn = CSR([0, 2, 4], post, w, n_pre=2, n_post=3, major="pre")
    spike_steps, spike_ids = [10, 40, 25], [0, 0, 1]
    n_steps = 120
    proj = Projection(
        "src", "post", conn, Exponential(3, TAU_S), CUBA(), delay=Delay(delay_ms, dt=DT)
    )
    got = _run(proj, 2, 3, _raster(n_steps, 2, spike_steps, spike_ids), ["proj.synapse"])[
        "proj.synapse"
    ]
    # Oracle: each spike of neuron i reaches synapse s at step k + round(d_s / dt), then decays.
    want = np.zeros((n_steps, 3))
    j = np.arange(n_steps)
    for k, i in zip(spike_steps, spike_ids):
        for s in np.flatnonzero(pre == i):
            a = k + int(round(delay_ms[s] / DT))
            want[:, post[s]] += np.where(j >= a, w[s] * np.exp(-(j - a) * DT / TAU_S), 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # first arrivals: post 0 at 10 (d = 0), post 1 at 25 + 7, post 2 at 10 + 15
    assert [int(np.flatnonzero(got[:, c])[0]) for c in range(3)] == [10, 32, 25]


def test_per_synapse_delays_with_a_post_major_layout(x64):
    conn = CSR([0, 2, 4], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], n_pre=2, n_post=2, major="post")
    delay_ms = np.array([0.2, 0.5, 1.0, 0.0])  # synapses (0<-0), (0<-1), (1<-0), (1<-1)
    proj = Projection(
        "src", "post", conn, Exponential(2, TAU_S), CUBA(), delay=Delay(delay_ms, dt=DT)
    )
    got = _run(proj, 2, 2, _raster(40, 2, [5, 5], [0, 1]), ["proj.synapse"])["proj.synapse"]
    first = {c: int(np.flatnonzero(got[:, c])[0]) for c in range(2)}
    assert first == {0: 7, 1: 5}
    assert got[7, 0] == pytest.approx(1.0)
    assert got[10, 0] == pytest.approx(1.0 * np.exp(-0.3 / TAU_S) + 2.0)
    assert got[15, 1] == pytest.approx(4.0 * np.exp(-1.0 / TAU_S) + 3.0)


def test_delay_beyond_max_raises():
    with pytest.raises(ValueError, match="exceeds the delay buffer"):
        Delay(5.0, dt=DT, max_ms=2.0)
    with pytest.raises(ValueError, match="exceeds the delay buffer"):
        Delay([0.5, 2.5], dt=DT, max_ms=2.0)
    Delay(2.0, dt=DT, max_ms=2.0)  # at the limit is fine


def test_per_synapse_delays_of_wrong_shape_raise():
    conn = CSR([0, 2, 3], [0, 1, 1], 1.0, n_pre=2, n_post=2, major="pre")
    for bad in ([1.0, 2.0], [1.0, 2.0, 3.0, 4.0], [[1.0, 2.0, 3.0]]):
        with pytest.raises(ValueError, match="per-synapse delays"):
            Projection("a", "b", conn, Exponential(2), CUBA(), delay=Delay(bad, dt=DT))


def test_delay_built_for_another_dt_raises():
    proj = Projection(
        "src", "post", _one_to_one(1), Exponential(1, TAU_S), CUBA(), delay=Delay(1.0, dt=0.1)
    )
    with pytest.raises(ValueError, match="differs from the dt"):
        _run(proj, 1, 1, _raster(10, 1, [2], [0]), ["post.v"], dt=0.2)


@pytest.mark.parametrize("E", [0.0, -80.0])
def test_coba_steady_state_approaches_reversal(x64, E):
    # A spike every step: g reaches w / (1 - exp(-dt/tau_s)) and v the exact fixed point
    # (v_rest + g E) / (1 + g) of tau_m dv/dt = -(v - v_rest) + g (E - v).
    n_steps = 6000
    ws = np.array([0.005, 0.05, 2.0])
    conn = _one_to_one(3, ws)
    proj = Projection("src", "post", conn, Exponential(3, TAU_S), COBA(E))
    every = np.arange(n_steps)
    raster = _raster(n_steps, 3, np.repeat(every, 3), np.tile(np.arange(3), n_steps))
    v = _run(proj, 3, 3, raster, ["post.v"])["post.v"]
    g = ws / -np.expm1(-DT / TAU_S)
    v_star = (-60.0 + g * E) / (1 + g)
    np.testing.assert_allclose(v[-1], v_star, rtol=1e-10)
    # monotone approach towards E, never beyond it, closer for larger conductance
    sign = np.sign(E + 60.0)
    assert np.all(sign * np.diff(v, axis=0) >= -1e-12)
    assert np.all(sign * (E - v) > 0)
    assert np.all(np.diff(np.abs(v[-1] - E)) < 0)
    assert abs(v[-1, 2] - E) < 0.02 * 60


def _psp(E, w, dt, t_end=40.0, tau_m=20.0):
    k = int(round(2.0 / dt))
    n_steps = int(round(t_end / dt))
    proj = Projection("src", "post", _one_to_one(1, w), Exponential(1, TAU_S), COBA(E))
    v = _run(
        proj,
        1,
        1,
        _raster(n_steps, 1, [k], [0]),
        ["post.v"],
        dt=dt,
        post=LIF(1, tau_m=tau_m, v_th=1e6),
    )["post.v"][:, 0]
    t = (np.arange(n_steps) + 1) * dt
    t_event = (k + 1) * dt  # the event acts at the end of its step

    def rhs(s, y):
        g = w * np.exp(-(s - t_event) / TAU_S) if s >= t_event else 0.0
        return [(-(y[0] + 60.0) + g * (E - y[0])) / tau_m]

    ref = solve_ivp(
        rhs,
        (t_event, t[-1]),
        [-60.0],
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
        t_eval=t[t >= t_event - 1e-12],
    ).y[0]
    return v[t >= t_event - 1e-12], ref


@pytest.mark.parametrize("E", [0.0, -80.0])
def test_coba_psp_matches_solve_ivp(x64, E):
    # The trace is held at its value at the start of each step: first order in dt.
    errs = []
    for dt in (0.02, 0.01):
        v, ref = _psp(E, 0.5, dt)
        errs.append(np.max(np.abs(v - ref)))
        amp = np.max(np.abs(ref + 60.0))
        assert np.all(np.sign(E + 60.0) * (v + 60.0) >= 0)
    assert errs[1] < 2e-3 * amp, (errs, amp)
    assert 1.8 < errs[0] / errs[1] < 2.2, errs
