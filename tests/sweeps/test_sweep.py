"""`sweep`: equals a loop of single runs, summaries against NumPy, resume, bad input, CLI."""

import argparse
import csv
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.analysis import cv_isi, firing_rates
from brainsim.core import Normal
from brainsim.neurons import LIF
from brainsim.sweeps import (
    CVISI,
    MeanRate,
    OrderParameter,
    Synchrony,
    _cli,
    _sweep as sweep_module,
    golomb_synchrony,
    grid,
    latin_hypercube,
    mean_cv_isi,
    parse_range,
    point_list,
    random_samples,
    sweep,
)

DT, DURATION = 0.1, 40.0


def _neuron():
    return LIF(24, tau_m=10.0, tau_ref=2.0, i_bias=15.0, v_init=Normal(-55.0, 4.0))


SUMMARIES = {"rate": MeanRate(), "cv": CVISI(), "sync": Synchrony(bin_ms=2.0)}


def _single_run(tau_m, i_bias, key):
    model = eqx.tree_at(lambda m: (m.tau_m, m.i_bias), _neuron(), (tau_m, i_bias))
    sol = bs.integrate(
        model, model.init_state(key=key), dt=DT, n_steps=400, save=(bs.SpikeMonitor(),)
    )
    return sol.traces["spikes"]


def test_sweep_equals_a_loop_of_single_runs_scored_by_numpy():
    params = {"tau_m": [8.0, 16.0], "i_bias": [12.0, 20.0, 30.0]}
    run_single = eqx.filter_jit(_single_run)
    result = sweep(_neuron(), params, duration=DURATION, dt=DT, seeds=[3, 5], summaries=SUMMARIES)
    assert result.point.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert result.seed.tolist() == [3, 5] * 6
    assert np.all(result.result == 0)
    for run, (p, seed) in enumerate(zip(result.point, result.seed)):
        tau_m, i_bias = result.points.values[p]
        raster = np.asarray(run_single(jnp.asarray(tau_m), jnp.asarray(i_bias), jr.key(int(seed))))
        steps, idx = np.nonzero(raster)
        times = steps * DT
        rate = firing_rates(times, idx, n=24, t_start=0.0, t_stop=DURATION).mean()
        np.testing.assert_allclose(result.summaries["rate"][run], rate, rtol=1e-5)
        cv = cv_isi(times, idx, n=24)
        expected = np.nanmean(cv) if np.any(np.isfinite(cv)) else np.nan
        np.testing.assert_allclose(result.summaries["cv"][run], expected, rtol=1e-4, atol=1e-6)
    # more drive, more spikes; the grid view has the grid's shape
    mean = result.mean("rate")
    assert mean.shape == (2, 3) and np.all(np.diff(mean, axis=1) > 0)
    assert result.by_seed("rate").shape == (2, 3, 2)


def test_build_function_form_equals_path_form():
    def build(values, key):
        model = LIF(24, tau_m=values["tau"], tau_ref=2.0, i_bias=15.0, v_init=Normal(-55.0, 4.0))
        return model, model.init_state(key=key)

    a = sweep(build, {"tau": [8.0, 12.0]}, duration=DURATION, dt=DT, summaries=SUMMARIES, seeds=2)
    b = sweep(
        _neuron(), {"tau_m": [8.0, 12.0]}, duration=DURATION, dt=DT, summaries=SUMMARIES, seeds=2
    )
    for name in SUMMARIES:
        np.testing.assert_array_equal(a.summaries[name], b.summaries[name])


def test_summaries_against_closed_forms():
    rng = np.random.default_rng(0)
    raster = rng.random((1000, 50)) < 0.03
    steps, idx = np.nonzero(raster)
    expected = np.nanmean(cv_isi(steps * 0.5, idx, n=50))
    cv_fn = jax.jit(mean_cv_isi, static_argnums=1)
    np.testing.assert_allclose(cv_fn(jnp.asarray(raster), 0.5), expected, rtol=1e-5)
    # independent trains: chi^2 about 1/n; identical trains: exactly 1
    sync_fn = jax.jit(golomb_synchrony, static_argnums=1)
    chi2 = float(sync_fn(jnp.asarray(raster), 10))
    assert 0.3 / 50 < chi2 < 3.0 / 50
    same = np.repeat(raster[:, :1], 50, axis=1)
    np.testing.assert_allclose(sync_fn(jnp.asarray(same), 10), 1.0, rtol=1e-6)
    assert math.isnan(float(sync_fn(jnp.zeros((100, 5), bool), 10)))
    regular = np.zeros((100, 3), bool)
    regular[::10] = True  # period 10 steps: CV 0
    np.testing.assert_allclose(cv_fn(jnp.asarray(regular), 1.0), 0.0, atol=1e-7)

    @jax.jit
    def order_fn(theta):
        sol = bs.Solution(None, {"theta": theta}, bs.RESULTS.successful, {})
        return OrderParameter("theta")(sol, 0.1)

    def order(theta):
        return float(order_fn(jnp.asarray(theta, jnp.float32)))

    assert order(np.full((5, 8), 1.3)) == pytest.approx(1.0, abs=1e-6)
    spread = np.tile(2 * np.pi * np.arange(8) / 8, (5, 1))
    assert order(spread) == pytest.approx(0.0, abs=1e-6)
    # records at t = 0.1, 0.2, ...: from t_min = 0.6 ms on, only the spread half counts
    both = np.concatenate([np.full((5, 8), 1.3), spread])
    sol = bs.Solution(None, {"theta": jnp.asarray(both, jnp.float32)}, bs.RESULTS.successful, {})
    assert float(OrderParameter("theta", t_min=0.6)(sol, 0.1)) == pytest.approx(0.0, abs=1e-6)
    assert float(OrderParameter("theta", t_min=0.5)(sol, 0.1)) == pytest.approx(1 / 6, abs=1e-6)


def test_points():
    g = grid({"a": [1.0, 2.0], "b": [5.0, 6.0, 7.0]})
    assert g.shape == (2, 3) and g.values[:, 0].tolist() == [1, 1, 1, 2, 2, 2]
    assert g.values[:4, 1].tolist() == [5, 6, 7, 5]
    lhs = latin_hypercube({"x": (0.0, 1.0), "y": (-2.0, 2.0)}, 10, seed=1)
    for col, (lo, hi) in zip(lhs.values.T, [(0.0, 1.0), (-2.0, 2.0)]):
        strata = np.floor((col - lo) / (hi - lo) * 10).astype(int)
        assert sorted(strata.tolist()) == list(range(10))  # one point per stratum
    r = random_samples({"x": (1.0, 2.0)}, 50, seed=0)
    assert np.all((r.values >= 1.0) & (r.values < 2.0))
    assert len(point_list({"x": [1, 2, 3], "y": [4, 5, 6]})) == 3
    np.testing.assert_allclose(parse_range("k", "0.2:1.2:11"), np.linspace(0.2, 1.2, 11))
    assert parse_range("k", "1,2.5").tolist() == [1.0, 2.5]
    for bad in ("1:2:0", "", "1:2", "a,b"):
        with pytest.raises(ValueError, match="^k: "):
            parse_range("k", bad)
    with pytest.raises(ValueError, match="x: empty range"):
        grid({"x": []})
    with pytest.raises(ValueError, match="one value per point"):
        point_list({"x": [1, 2], "y": [1]})


def test_bad_input_raises_before_anything_runs(tmp_path):
    out = tmp_path / "never"
    kw = dict(duration=DURATION, dt=DT, summaries=SUMMARIES, out=out)
    with pytest.raises(ValueError, match="tau_x: the model has no 'tau_x'"):
        sweep(_neuron(), {"tau_x": [1.0]}, **kw)
    with pytest.raises(ValueError, match="tau_m: empty range"):
        sweep(_neuron(), {"tau_m": []}, **kw)
    with pytest.raises(ValueError, match="memory_budget_mb: .* smaller than one run"):
        sweep(_neuron(), {"tau_m": [5.0]}, memory_budget_mb=1e-3, **kw)
    with pytest.raises(ValueError, match="spike_fn: .* not a floating-point array"):
        sweep(_neuron(), {"spike_fn": [5.0]}, **kw)
    assert not out.exists()


class _Killed(Exception):
    pass


def test_killed_sweep_resumes_and_loses_at_most_one_chunk(tmp_path, monkeypatch):
    params = {"i_bias": [12.0, 16.0, 20.0, 24.0]}
    kw = dict(duration=20.0, dt=DT, summaries=SUMMARIES, seeds=2, chunk=2)
    full = sweep(_neuron(), params, **kw)
    real_write = sweep_module.write_chunk
    calls = []

    def dying_write(*args):
        calls.append(args[-1])
        if len(calls) == 3:  # killed while the third chunk finishes
            raise _Killed
        real_write(*args)

    monkeypatch.setattr(sweep_module, "write_chunk", dying_write)
    with pytest.raises(_Killed):
        sweep(_neuron(), params, out=tmp_path, **kw)
    with open(tmp_path / "results.csv") as f:
        assert len(list(csv.reader(f))) == 1 + 4  # header and two chunks of two runs
    calls.clear()
    monkeypatch.setattr(
        sweep_module, "write_chunk", lambda *a: (calls.append(a[-1]), real_write(*a))
    )
    resumed = sweep(_neuron(), params, out=tmp_path, **kw)
    assert calls == [6, 8]  # only the two missing chunks ran
    for name in SUMMARIES:
        np.testing.assert_array_equal(resumed.summaries[name], full.summaries[name])
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["run"]) for r in rows] == list(range(8))
    np.testing.assert_array_equal([float(r["rate"]) for r in rows], full.summaries["rate"])
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(_neuron(), {"i_bias": [13.0]}, out=tmp_path, **kw)


CONFIG = """
name: tiny
dt: 0.1
duration: 30.0
populations:
  E: &lif
    model: lif
    n: 40
    params: {tau_m: 20.0, v_th: -50.0, v_reset: -60.0, v_rest: -60.0, tau_ref: 5.0, i_bias: 20.0}
    v_init: {normal: [-55.0, 5.0]}
  I:
    <<: *lif
    n: 10
projections:
  EE:
    pre: E
    post: E
    connect: {rule: fixed_probability, p: 0.2}
    weight: 0.6
    synapse: {model: exponential, tau: 5.0}
    output: {model: coba, E: 0.0}
  IE:
    pre: I
    post: E
    connect: {rule: fixed_probability, p: 0.2}
    weight: 6.7
    synapse: {model: exponential, tau: 10.0}
    output: {model: coba, E: -80.0}
monitors: {spikes: [E]}
"""


def _cli_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *argv])


def test_cli_writes_table_and_figures(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    grid_args = [
        "--grid",
        "projections.EE.weight=0.2:1.0:2",
        "--grid",
        "populations.E.params.tau_m=10,20",
    ]
    assert _cli.run(_cli_args(str(config), *grid_args, "--seeds", "1", "--out", str(out))) == 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2
    weights = sorted({float(r["projections.EE.weight"]) for r in rows})
    np.testing.assert_allclose(weights, [0.2, 1.0])
    for name in ("rate_E", "cv_E", "synchrony_E"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert "4 rows" in capsys.readouterr().out
    for argv, message in [
        (["--grid", "projections.XY.weight=1:2:2"], "projections.XY.weight: the model has no 'XY'"),
        (["--grid", "dt=1:2:2"], "dt: not a sweepable key"),
        (["--grid", "projections.EE.weight=1:2:0"], "projections.EE.weight: empty range"),
        (["--grid", "projections.EE.weight=1", "--memory-budget", "0.0001"], "memory_budget_mb"),
        ([], "--grid: at least one"),
    ]:
        with pytest.raises(ValueError, match=message):
            _cli.run(_cli_args(str(config), *argv, "--out", str(tmp_path / "bad")))
    assert not (tmp_path / "bad").exists()


def test_kuramoto_coupling_sweep_matches_the_stationary_order_parameter():
    from brainsim.oscillators import Kuramoto, stationary_order_parameter

    n, gamma = 1000, 0.05  # Lorentzian frequencies (half width gamma, rad/ms) by quantiles
    omega = gamma * np.tan(np.pi * (np.arange(n) + 0.5) / n - np.pi / 2)
    coupling = np.array([0.05, 0.2, 0.3, 0.5])  # critical coupling 2 gamma = 0.1
    result = sweep(
        Kuramoto(n, omega=omega, coupling=0.0),
        {"coupling": coupling},
        duration=300.0,
        dt=0.25,
        summaries={"r": OrderParameter("theta", every=8, t_min=150.0)},
    )
    r = result.summaries["r"]
    expected = np.asarray(stationary_order_parameter(coupling, gamma))  # Kuramoto (1975)
    assert r[0] < 0.1  # incoherent below 2 gamma (finite-n fluctuations ~ 1/sqrt(n))
    np.testing.assert_allclose(r[1:], expected[1:], atol=0.03)
