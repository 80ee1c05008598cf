"""Izhikevich neuron: Brian2 spike times, firing patterns, validation, vmap, gradients."""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.integrate

import brainsim as bs
from brainsim.neurons import IZHIKEVICH_PRESETS, Izhikevich, IzhikevichState

FIXTURE = Path(__file__).parents[1] / "fixtures" / "izhikevich_brian2.npz"
PRESETS = tuple(IZHIKEVICH_PRESETS)


def _protocol(data, name: str, dt: float, n_steps: int) -> np.ndarray:
    """The fixture's piecewise-constant current, one value per step (step k at t = k dt)."""
    starts = np.round(data[f"{name}_edges"] / dt).astype(int)
    index = np.searchsorted(starts, np.arange(n_steps), side="right") - 1
    return data[f"{name}_amps"][index]


def _run(model, current, dt, v0=None):
    """Integrate `model` under `current` `(n_steps, n)`: spikes (bool) and `v` after each step."""
    state = model.init_state(key=jr.key(0))
    if v0 is not None:
        v = jnp.asarray(v0, state.v.dtype)
        state = IzhikevichState(v=v, u=model.b * v)
    sol = bs.integrate(
        model,
        state,
        jnp.asarray(current),
        dt=dt,
        n_steps=current.shape[0],
        save=(bs.SpikeMonitor(), bs.StateMonitor("v")),
    )
    return np.asarray(sol.traces["spikes"]), np.asarray(sol.traces["v"])


@pytest.fixture(scope="module")
def brian2():
    """The Brian2 fixture and our runs of the same protocols (float64), per preset."""
    data = np.load(FIXTURE)
    dt = float(data["dt_ms"])
    n_steps = int(round(float(data["duration_ms"]) / dt))
    ours = {}
    with jax.enable_x64(True):
        for name in PRESETS:
            model = Izhikevich.from_preset(name, 1, v_init=float(data[f"{name}_v0"]))
            current = _protocol(data, name, dt, n_steps)[:, None]
            spikes, v = _run(model, current, dt)
            ours[name] = {"times": np.nonzero(spikes[:, 0])[0] * dt, "v": v[:, 0], "I": current}
    return data, dt, ours


def test_fixture_provenance(brian2):
    data, dt, _ = brian2
    assert str(data["brian2_version"]) == "2.11.0"
    assert str(data["method"]) == "euler"
    assert dt == 0.1
    for name in PRESETS:
        np.testing.assert_array_equal(data[f"{name}_params"], IZHIKEVICH_PRESETS[name])


@pytest.mark.parametrize("name", PRESETS)
def test_spike_times_match_brian2(brian2, name):
    data, dt, ours = brian2
    ref = data[f"{name}_spikes"]
    got = ours[name]["times"]
    assert len(ref) >= 7
    assert len(got) == len(ref), (got, ref)
    # Required: the first 10 spikes within 0.1 ms; in fact every spike falls on the same step.
    np.testing.assert_allclose(got[:10], ref[:10], rtol=0, atol=0.1)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    # v every 1 ms: Brian2 records at the start of step 10 j, i.e. after our step 10 j - 1.
    v_ref = data[f"{name}_v"][1:]
    v_got = ours[name]["v"][9::10]
    np.testing.assert_allclose(v_got, v_ref, rtol=0, atol=1e-5)


def _isis(times):
    return np.diff(times)


def _bursts(times, within=10.0):
    """Groups of spikes whose ISIs are below `within` ms (singletons included)."""
    groups = np.split(times, np.nonzero(_isis(times) >= within)[0] + 1)
    return [g for g in groups if len(g)]


def _separated_bursts(times):
    """Bursts (>= 2 spikes, ISIs < 10 ms) followed by a pause > 3x their longest ISI."""
    groups = _bursts(times)
    found = []
    for group, following in zip(groups[:-1], groups[1:]):
        if len(group) >= 2 and following[0] - group[-1] > 3 * _isis(group).max():
            found.append(group)
    return found


def test_rs_adapts(brian2):
    t = brian2[2]["RS"]["times"]
    isi = _isis(t)
    assert np.all(isi[1:] > isi[0])  # no ISI as short as the first
    assert isi[-1] > 2 * isi[0]
    assert not _separated_bursts(t)


def test_fs_does_not_adapt(brian2):
    t = brian2[2]["FS"]["times"]
    isi = _isis(t)
    assert len(t) >= 10
    assert 1 / 1.2 <= isi[-1] / isi[0] <= 1.2
    rs = _isis(brian2[2]["RS"]["times"])
    assert rs[-1] / rs[0] > 2.0  # the criterion does separate RS from FS


def test_ib_bursts_then_spikes_tonically(brian2):
    t = brian2[2]["IB"]["times"]
    bursts = _separated_bursts(t)
    assert len(bursts) == 1 and bursts[0][0] == t[0]  # one initial burst
    assert np.all(_isis(t[len(bursts[0]) :]) > 10.0)  # then single spikes


def test_ch_bursts_repeatedly(brian2):
    t = brian2[2]["CH"]["times"]
    bursts = _separated_bursts(t)
    assert len(bursts) >= 3
    assert all(len(b) >= 3 for b in bursts)


def test_lts_fast_onset_adaptation_and_low_threshold(brian2, x64):
    t = brian2[2]["LTS"]["times"]
    isi = _isis(t)
    assert isi[0] < 5.0 and isi[-1] > 2 * isi[0]
    # Rheobase (where rest and saddle merge): I = (5 - b)^2 / 0.16 - 140, i.e. about 1.02
    # for LTS (b = 0.25) and 4 for RS (b = 0.2). At I = 2 only LTS fires.
    current = np.full((2500, 2), 2.0)
    model = Izhikevich(2, a=0.02, b=jnp.array([0.25, 0.2]), c=-65.0, d=jnp.array([2.0, 8.0]))
    spikes, _ = _run(model, current, 0.1)
    assert spikes[:, 0].sum() >= 3 and spikes[:, 1].sum() == 0


def test_tc_rebound_burst_and_tonic_firing(brian2):
    run = brian2[2]["TC"]
    t = run["times"]
    assert np.all(run["I"][1500:2000] == 0.0) and np.all(run["I"][500:1500] < 0)
    assert not np.any(t < 150.0)  # silent at rest and while hyperpolarised
    rebound = t[(t >= 150.0) & (t < 200.0)]  # after release, with no input
    assert len(rebound) >= 2 and np.all(_isis(rebound) < 15.0)
    tonic = t[t >= 200.0]
    assert len(tonic) >= 10 and _isis(tonic).max() < 3 * _isis(tonic).min()


def test_rz_rebound_spike(brian2, x64):
    data, dt, ours = brian2
    run = ours["RZ"]
    t = run["times"]
    assert np.all(run["I"][550:1500] == 0.0) and np.all(run["I"][500:550] < 0)
    assert not np.any(t < 55.0)  # silent at rest and during the pulse
    assert len(t[(t >= 55.0) & (t < 150.0)]) == 1  # one rebound spike, no positive input
    # Control: without the pulse, the neuron at rest stays silent.
    model = Izhikevich.from_preset("RZ", 1, v_init=float(data["RZ_v0"]))
    spikes, _ = _run(model, np.zeros((1500, 1)), dt)
    assert not spikes.any()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"a": -0.02}, "a"),
        ({"a": 0.0}, "a"),
        ({"a": float("nan")}, "a"),
        ({"b": float("nan")}, "b"),
        ({"c": float("inf")}, "c"),
        ({"d": float("-inf")}, "d"),
        ({"v_peak": float("nan")}, "v_peak"),
        ({"i_bias": float("inf")}, "i_bias"),
        ({"v_init": float("nan")}, "v_init"),
        ({"c": 40.0}, "c"),
        ({"b": jnp.zeros(3)}, "b"),
        ({"method": "heun"}, "method"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Izhikevich(2, **kwargs)


def test_bad_preset_raises():
    with pytest.raises(ValueError, match="'XX'") as info:
        Izhikevich.from_preset("XX", 3)
    assert all(p in str(info.value) for p in PRESETS)
    with pytest.raises(ValueError, match="a must be positive"):
        Izhikevich.from_preset("RS", 3, a=-0.1)


def test_from_preset_and_time_constant():
    m = Izhikevich.from_preset("FS", 4, d=3.0)
    np.testing.assert_allclose([m.a, m.b, m.c, m.d], [0.1, 0.2, -65.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(m.min_time_constant(), 10.0, rtol=1e-6)
    state = m.init_state(key=jr.key(0))
    np.testing.assert_allclose(state.u, 0.2 * state.v, rtol=1e-6)
    with pytest.raises(ValueError, match="smallest time constant"):
        bs.integrate(m, state, None, dt=12.0, n_steps=2)


def test_population_equals_single_neuron_runs(brian2, x64):
    """Seven presets as one population with per-neuron parameters = seven single runs."""
    data, dt, ours = brian2
    params = np.array([IZHIKEVICH_PRESETS[p] for p in PRESETS])
    a, b, c, d = (jnp.asarray(col) for col in params.T)
    model = Izhikevich(len(PRESETS), a=a, b=b, c=c, d=d)
    current = np.concatenate([ours[p]["I"] for p in PRESETS], axis=1)
    v0 = np.array([float(data[f"{p}_v0"]) for p in PRESETS])
    spikes, v = _run(model, current, dt, v0=v0)
    for k, name in enumerate(PRESETS):
        np.testing.assert_array_equal(np.nonzero(spikes[:, k])[0] * dt, ours[name]["times"])
        np.testing.assert_allclose(v[:, k], ours[name]["v"], rtol=0, atol=1e-9)


def test_vmap_over_inputs_and_parameters(x64):
    dt, n_steps = 0.1, 600

    def run(a, amp):
        model = Izhikevich(1, a=a, b=0.2, c=-65.0, d=8.0)
        current = jnp.full((n_steps, 1), amp)
        sol = bs.integrate(
            model,
            model.init_state(key=jr.key(0)),
            current,
            dt=dt,
            n_steps=n_steps,
            save=(bs.SpikeMonitor(),),
        )
        return sol.traces["spikes"][:, 0], sol.state.v[0], sol.state.u[0]

    a_values = jnp.array([0.02, 0.05, 0.1, 0.02])
    amps = jnp.array([10.0, 10.0, 6.0, 2.0])
    batched = eqx.filter_vmap(run)(a_values, amps)
    for k in range(len(amps)):
        single = run(a_values[k], amps[k])
        for got, want in zip(batched, single):
            np.testing.assert_allclose(np.asarray(got[k]), np.asarray(want), rtol=0, atol=1e-9)
    assert int(batched[0][0].sum()) > 0 and int(batched[0][3].sum()) == 0


def test_no_retrace_across_presets():
    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model, current):
        sol = bs.integrate(model, model.init_state(key=jr.key(0)), current, dt=0.1, n_steps=200)
        return sol.state.v

    current = jnp.full((200, 2), 10.0)
    for name in ("RS", "FS", "CH"):
        run(Izhikevich.from_preset(name, 2), current)


@pytest.mark.parametrize("method", ["euler", "exp_euler", "rk4"])
def test_gradient_matches_finite_differences(method, x64):
    """d(loss of the final v)/dI for a subthreshold input (no spikes), against central FD."""
    n_steps, dt = 500, 0.1
    model = Izhikevich.from_preset("RS", 1, method=method)

    def loss(amp):
        current = jnp.full((n_steps, 1), 1.0) * amp
        sol = bs.integrate(
            model,
            model.init_state(key=jr.key(0)),
            current,
            dt=dt,
            n_steps=n_steps,
            save=(bs.SpikeMonitor(),),
        )
        return jnp.sum((sol.state.v + 60.0) ** 2), sol.traces["spikes"]

    amp = jnp.asarray(2.0)
    (_, spikes), grad = jax.value_and_grad(loss, has_aux=True)(amp)
    assert not spikes.any()
    eps = 1e-4
    fd = (loss(amp + eps)[0] - loss(amp - eps)[0]) / (2 * eps)
    assert abs(float(grad)) > 1.0
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


@pytest.mark.parametrize("method, order", [("euler", 1), ("exp_euler", 1), ("rk4", 4)])
def test_subthreshold_convergence_against_solve_ivp(method, order, x64):
    """The three integrators converge to scipy's solution at their orders."""
    a, b, amp, v0, t_end = 0.02, 0.2, 2.0, -60.0, 20.0

    def rhs(t, y):
        v, u = y
        return [0.04 * v * v + 5 * v + 140 - u + amp, a * (b * v - u)]

    ref = scipy.integrate.solve_ivp(rhs, (0, t_end), [v0, b * v0], rtol=1e-12, atol=1e-12)
    v_ref = ref.y[0, -1]
    assert abs(v_ref - v0) > 5.0
    errors = []
    for dt in (0.2, 0.1):
        n_steps = int(round(t_end / dt))
        model = Izhikevich.from_preset("RS", 1, method=method, i_bias=amp, v_init=v0)
        sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps)
        errors.append(abs(float(sol.state.v[0]) - v_ref))
    assert errors[1] < (1e-2 if order == 1 else 1e-8)
    observed = np.log2(errors[0] / errors[1])
    assert abs(observed - order) < 0.3, (errors, observed)


def test_threshold_is_inclusive_and_keeps_surrogate_gradient(x64):
    """`v == v_peak` after a step is a spike (Brian2's `v >= 30*mV`), with a surrogate slope."""
    probe = Izhikevich(1, v_peak=1e3)
    state = probe.init_state(key=jr.key(0))
    v1 = probe.method.step(
        probe.vector_field, 0.0, state, bs.SynapticInput.zeros(1, jnp.float64), 0.1
    ).v
    model = Izhikevich(1, v_peak=v1, c=-80.0, detach_reset=False)

    def spike(v):
        _, s = model.step(IzhikevichState(v=v, u=state.u), None, 0.0, 0.1)
        return s[0]

    assert float(spike(state.v)) == 1.0
    assert float(jax.grad(lambda v: spike(v[None]))(state.v[0])) != 0.0
    below = Izhikevich(1, v_peak=v1 + 1e-9, c=-80.0)
    assert float(below.step(state, None, 0.0, 0.1)[1][0]) == 0.0


def test_synaptic_input_jump_and_conductance(x64):
    model = Izhikevich.from_preset("RS", 3)
    state = model.init_state(key=jr.key(0))
    g, e, jump = 0.5, 0.0, jnp.array([0.0, 1.0, -2.0])
    syn = bs.SynapticInput(jnp.full((3,), g * e), jnp.full((3,), g), jump)
    got, _ = model.step(state, syn, 0.0, 0.1)
    v = state.v + jump
    dv = 0.04 * v * v + 5 * v + 140 - state.u + g * (e - v)
    np.testing.assert_allclose(got.v, v + 0.1 * dv, rtol=1e-12)
    np.testing.assert_allclose(got.u, state.u + 0.1 * 0.02 * (0.2 * v - state.u), rtol=1e-12)
