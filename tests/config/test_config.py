"""The config layer: schema checking, overrides, error paths, and what `build_network` builds.

The benchmark configs are checked against the peers' scripts they copy
(/work/shared/anchors/perf/coba_brian2.py and Brian2's examples/COBAHH.py); the numbers
below are transcribed from those scripts, not from the YAML files.
"""

import copy
import dataclasses
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.config import (
    Config,
    ConfigError,
    Distribution,
    InitialTrace,
    build_network,
    config_to_dict,
    connect_seed,
    load_config,
)
from brainsim.config._load import parse_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def tiny() -> dict:
    """A small COBA-like E/I network as a plain dict."""
    lif = {
        "model": "lif",
        "n": 40,
        "params": {"tau_m": 20.0, "i_bias": 20.0, "tau_ref": 5.0},
        "v_init": {"normal": [-55.0, 5.0]},
    }
    proj = {
        "connect": {"rule": "fixed_probability", "p": 0.2},
        "weight": 0.6,
        "synapse": {"model": "exponential", "tau": 5.0},
        "output": {"model": "coba", "E": 0.0},
    }
    return {
        "name": "tiny",
        "dt": 0.1,
        "duration": 20.0,
        "seed": 3,
        "populations": {"E": lif, "I": {**lif, "n": 10}},
        "projections": {
            "EE": {"pre": "E", "post": "E", **proj},
            "IE": {**copy.deepcopy(proj), "pre": "I", "post": "E", "weight": 6.7},
        },
    }


def error_of(raw: dict, overrides=(), build: bool = False) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config = load_config(raw, overrides)
        if build:
            build_network(config)
    return info.value


def test_load_converts_types_and_fills_defaults():
    config = load_config(tiny())
    assert isinstance(config, Config)
    assert config.populations["E"].v_init == Distribution(normal=(-55.0, 5.0))
    assert config.projections["EE"].connect.allow_self is True
    assert config.projections["EE"].delay is None
    assert config.monitors.spikes is None and config.outputs.raster is True
    assert config.device is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.dt = 1.0  # type: ignore[misc]


def test_overrides_parse_yaml_scalars_and_leave_the_input_alone():
    raw = tiny()
    before = copy.deepcopy(raw)
    config = load_config(
        raw,
        [
            "populations.E.n=12",
            "dt=0.05",
            "outputs.raster=false",
            "projections.EE.delay=1.5",
            "monitors.spikes=[I]",
            "populations.E.params.v_th=-51",
            "projections.EE.weight=1e-1",
        ],
    )
    assert raw == before
    assert config.populations["E"].n == 12 and isinstance(config.populations["E"].n, int)
    assert config.dt == 0.05 and config.outputs.raster is False
    assert config.projections["EE"].delay == 1.5
    assert config.monitors.spikes == ("I",)
    assert config.populations["E"].params["v_th"] == -51
    assert config.projections["EE"].weight == pytest.approx(0.1)  # PyYAML reads 1e-1 as a string


@pytest.mark.parametrize(
    "overrides, path, words",
    [
        (["bogus=1"], "bogus", "unknown key"),
        (["populations.E.bogus=1"], "populations.E.bogus", "unknown key"),
        (["projections.EE.synapse.bogus=1"], "projections.EE.synapse.bogus", "unknown key"),
        (["populations.E.params.bogus=1"], "populations.E.params.bogus", "unknown parameter"),
        (["populations.E.n=many"], "populations.E.n", "must be an integer"),
        (["populations.E.n=40.0"], "populations.E.n", "must be an integer"),
        (["dt=fast"], "dt", "must be a number"),
        (["outputs.raster=3"], "outputs.raster", "true or false"),
        (["populations.E.params.tau_m=slow"], "populations.E.params.tau_m", "must be a number"),
        (["populations.E.model=hopfield"], "populations.E.model", "unknown model"),
        (["populations.E.v_init={gamma: [1, 2]}"], "populations.E.v_init.gamma", "unknown key"),
        (["populations.E.v_init.uniform=[0, 1]"], "populations.E.v_init", "exactly one"),
        (["projections.EE.pre=X"], "projections.EE.pre", "unknown population 'X'"),
        (["projections.EE.post=Y"], "projections.EE.post", "unknown population 'Y'"),
        (["monitors.spikes=[E, Z]"], "monitors.spikes.1", "unknown population 'Z'"),
        (["projections.EE.connect.rule=fixed_in_degree"], "projections.EE.connect.k", "required"),
        (["projections.EE.connect.k=3"], "projections.EE.connect.k", "not used"),
        (["projections.EE.output.model=cuba"], "projections.EE.output.E", "not used"),
        (["projections.EE.synapse.model=delta"], "projections.EE.synapse.tau", "not used"),
        (["projections.EE.connect.rule=random"], "projections.EE.connect.rule", "one of"),
        (["dt.x=1"], "dt", "not a mapping"),
        (["dt"], "--set", "KEY.PATH=VALUE"),
    ],
)
def test_bad_structure_names_the_key(overrides, path, words):
    err = error_of(tiny(), overrides)
    assert err.path == path
    assert str(err).startswith(f"{path}: ") and words in str(err)
    assert "\n" not in str(err)


def test_missing_required_key_and_bad_top_level():
    raw = tiny()
    del raw["dt"]
    assert str(error_of(raw)) == "dt: missing required key"
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config([1, 2])  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        load_config("nowhere.yaml")


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndt: [0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML \(line \d+\)"):
        load_config(path)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            ["projections.EE.connect.p=1.5"],
            "projections.EE.connect.p: p must be a probability in [0, 1], got 1.5",
        ),
        (
            ["populations.E.params.tau_m=-1"],
            "populations.E.params.tau_m: tau_m must be positive and finite, got -1.0",
        ),
        (
            ["projections.IE.synapse.tau=0"],
            "projections.IE.synapse.tau: tau must be positive and finite, got 0.0",
        ),
        (["dt=0"], "dt: dt must be positive and finite, got 0.0"),
        (["duration=-5"], "duration: duration must be non-negative and finite, got -5.0"),
        (
            ["projections.EE.delay=3", "projections.EE.max_delay=1"],
            "projections.EE.delay: delay (3.0 ms) exceeds the delay buffer (max_delay = 1.0 ms); "
            "raise max_delay or shorten the delay",
        ),
        (
            ["populations.E.v_init={normal: [-55, -1]}"],
            "populations.E.v_init: Normal.std must be non-negative and finite, got -1.0",
        ),
        (
            ["populations.E.params.tau_m=[1, 2]"],
            "populations.E.params.tau_m: "
            "tau_m must be a scalar or have shape (40,), got shape (2,)",
        ),
    ],
)
def test_bad_values_are_caught_at_build_with_the_key_path(overrides, expected):
    assert str(error_of(tiny(), overrides, build=True)) == expected


def test_dt_above_the_smallest_time_constant_names_dt_and_the_part():
    err = error_of(tiny(), ["dt=6"], build=True)
    assert err.path == "dt"
    assert "must not exceed the smallest time constant (5.0 ms, projection EE)" in str(err)
    err = error_of(tiny(), ["dt=4", "populations.I.params.tau_m=3"], build=True)
    assert "(3.0 ms, population I)" in str(err)


def test_build_network_makes_what_the_config_says():
    config = load_config(tiny(), ["projections.EE.delay=1.0"])
    network, monitors = build_network(config)
    assert [m.population for m in monitors] == ["E", "I"]
    e = network.populations["E"]
    assert isinstance(e, bs.neurons.LIF) and e.n == 40
    np.testing.assert_allclose([e.tau_m, e.i_bias, e.tau_ref, e.v_th], [20.0, 20.0, 5.0, -50.0])
    assert e.v_init == bs.core.Normal(-55.0, 5.0)
    ee = network.projections["EE"]
    assert isinstance(ee.synapse, bs.synapses.Exponential) and float(ee.synapse.tau) == 5.0
    assert isinstance(ee.output, bs.synapses.COBA) and float(ee.output.E) == 0.0
    assert int(ee.delay.steps) == 10
    # The synapses are the connect builder's for the derived seed (Bernoulli, as Brian2).
    ref = bs.connect.fixed_probability(40, 40, 0.2, seed=connect_seed(3, "EE"), weight=0.6)
    np.testing.assert_array_equal(ee.conn.to_dense(), ref.to_dense())
    assert network.projections["IE"].conn.n_pre == 10


def test_connectivity_seeds_follow_the_run_seed_and_the_projection():
    assert connect_seed(0, "EE") == connect_seed(0, "EE")
    assert len({connect_seed(s, p) for s in (0, 1) for p in ("EE", "EI", "IE")}) == 6
    a, _ = build_network(load_config(tiny()))
    b, _ = build_network(load_config(tiny(), ["seed=4"]))
    c, _ = build_network(load_config(tiny(), ["projections.EE.connect.seed=7"]))
    ref = bs.connect.fixed_probability(40, 40, 0.2, seed=7, weight=0.6)
    dense = [n.projections["EE"].conn.to_dense() for n in (a, b, c)]
    assert not np.array_equal(dense[0], dense[1])
    np.testing.assert_array_equal(dense[2], ref.to_dense())


def test_g_init_draws_the_initial_trace(getkey):
    config = load_config(
        tiny(), ["projections.EE.synapse.g_init={normal: [40.0, 15.0]}", "populations.E.n=4000"]
    )
    network, _ = build_network(config)
    syn = network.projections["EE"].synapse
    assert isinstance(syn, InitialTrace)
    g = np.asarray(network.projections["EE"].init_state(key=getkey()).synapse)
    # Sample mean and std of 4000 N(40, 15^2) draws: within 5 standard errors.
    assert abs(g.mean() - 40.0) < 5 * 15.0 / np.sqrt(4000)
    assert abs(g.std() - 15.0) < 5 * 15.0 / np.sqrt(2 * 4000)
    # It then decays as the exponential synapse it wraps: g exp(-dt / tau).
    g1 = syn.step(jnp.asarray(g), jnp.zeros(4000), 0.0, 0.1)
    np.testing.assert_allclose(g1, g * np.exp(-0.1 / 5.0), rtol=1e-6)


def test_poisson_population_and_its_rules():
    raw = tiny()
    raw["populations"]["P"] = {"model": "poisson", "n": 30, "params": {"rate_hz": 50.0}}
    raw["projections"]["PE"] = {**copy.deepcopy(raw["projections"]["EE"]), "pre": "P"}
    network, _ = build_network(load_config(raw))
    assert isinstance(network.populations["P"], bs.inputs.PoissonSource)
    assert float(network.populations["P"].rate_hz) == 50.0
    assert error_of(raw, ["populations.P.v_init=-60"]).path == "populations.P.v_init"
    assert error_of(raw, ["projections.PE.post=P"]).path == "projections.PE.post"
    err = error_of(raw, ["populations.P.params.rate_hz=-1"], build=True)
    assert (
        str(err)
        == "populations.P.params.rate_hz: rate_hz must be non-negative and finite, got -1.0"
    )


def test_resolved_config_round_trips_through_a_dict():
    config = load_config(CONFIGS / "coba.yaml", ["seed=9"])
    assert parse_config(config_to_dict(config)) == config


def test_coba_config_is_the_anchor_model():
    """configs/coba.yaml against coba_brian2.py --model coba."""
    config = load_config(CONFIGS / "coba.yaml")
    assert (config.dt, config.duration) == (0.1, 1000.0)
    network, _ = build_network(config)
    assert {k: p.n for k, p in network.populations.items()} == {"E": 3200, "I": 800}
    for pop in network.populations.values():
        np.testing.assert_allclose(
            [pop.tau_m, pop.v_rest, pop.v_th, pop.v_reset, pop.tau_ref, pop.i_bias],
            [20.0, -60.0, -50.0, -60.0, 5.0, 20.0],
        )
        assert pop.v_init == bs.core.Normal(-55.0, 5.0)
    expected = {
        "EE": (0.6, 5.0, 0.0),
        "EI": (0.6, 5.0, 0.0),
        "IE": (6.7, 10.0, -80.0),
        "II": (6.7, 10.0, -80.0),
    }
    for name, (w, tau, e_rev) in expected.items():
        proj = network.projections[name]
        assert proj.pre == name[0] and proj.post == name[1]
        np.testing.assert_allclose(
            [proj.conn.weights, proj.synapse.tau, proj.output.E], [w, tau, e_rev], rtol=1e-6
        )
        # Bernoulli p = 0.02: the synapse count is Binomial(n_pre n_post, 0.02); 5 sigma.
        pairs = proj.conn.n_pre * proj.conn.n_post
        assert abs(proj.conn.nnz - 0.02 * pairs) < 5 * np.sqrt(pairs * 0.02 * 0.98)


def test_cuba_config_is_the_anchor_model():
    """configs/cuba.yaml against coba_brian2.py --model cuba (Brette 2007 benchmark 2)."""
    network, _ = build_network(load_config(CONFIGS / "cuba.yaml"))
    for pop in network.populations.values():
        np.testing.assert_allclose(
            [pop.tau_m, pop.v_rest, pop.v_th, pop.v_reset, pop.tau_ref, pop.i_bias],
            [20.0, -49.0, -50.0, -60.0, 5.0, 0.0],
        )
        assert pop.v_init == bs.core.Uniform(-60.0, -50.0)
    for name, (w, tau) in {
        "EE": (1.62, 5.0),
        "EI": (1.62, 5.0),
        "IE": (-9.0, 10.0),
        "II": (-9.0, 10.0),
    }.items():
        proj = network.projections[name]
        assert isinstance(proj.output, bs.synapses.CUBA) and proj.output.scale == 1.0
        np.testing.assert_allclose([proj.conn.weights, proj.synapse.tau], [w, tau], rtol=1e-6)


def test_coba_hh_config_is_brian2_cobahh(getkey):
    """configs/coba_hh.yaml against Brian2's examples/COBAHH.py (20000 um^2 membrane)."""
    network, _ = build_network(load_config(CONFIGS / "coba_hh.yaml"))
    for pop in network.populations.values():
        assert isinstance(pop, bs.neurons.HH)
        # Cm 1 uF/cm2, gl 5e-5 S/cm2, gNa 100 mS/cm2, gK 30 mS/cm2 on 2e-4 cm2 -> pF and nS.
        area = 20000e-8
        np.testing.assert_allclose(
            [pop.c_m, pop.g_l, pop.g_na, pop.g_kd, pop.e_l, pop.e_na, pop.e_k, pop.v_t],
            [
                1e6 * area,
                5e-5 * 1e9 * area,
                100e-3 * 1e9 * area,
                30e-3 * 1e9 * area,
                -60.0,
                50.0,
                -90.0,
                -63.0,
            ],
            rtol=1e-6,
        )
        assert pop.v_init == bs.core.Normal(-65.0, 5.0)  # El + (randn * 5 - 5) mV
    for name, (w, tau, e_rev, g0) in {
        "EE": (6.0, 5.0, 0.0, (40.0, 15.0)),
        "IE": (67.0, 10.0, -80.0, (200.0, 120.0)),
    }.items():
        proj = network.projections[name]
        np.testing.assert_allclose(
            [proj.conn.weights, proj.synapse.synapse.tau, proj.output.E], [w, tau, e_rev], rtol=1e-6
        )
        assert proj.synapse.g_init == bs.core.Normal(*g0)


@pytest.mark.parametrize(
    "model, cls, params",
    [
        ("lif", "LIF", {"tau_m": 15.0}),
        ("alif", "ALIF", {"tau_a": 100.0, "tau_m": 15.0}),
        ("adex", "AdEx", {"tau_w": 100.0}),
        ("izhikevich", "Izhikevich", {"a": 0.1}),
        ("hh", "HH", {"g_na": 10000.0}),
    ],
)
def test_every_neuron_model_is_reachable_by_name(model, cls, params):
    raw = tiny()
    raw["populations"]["E"] = {"model": model, "n": 5, "params": params, "v_init": -65.0}
    raw["projections"] = {}
    network, _ = build_network(load_config(raw))
    pop = network.populations["E"]
    assert type(pop).__name__ == cls and pop.n == 5
    (name, value), *_ = params.items()
    np.testing.assert_allclose(getattr(pop, name), value)
    err = error_of(raw, ["populations.E.params.bogus=1"])
    assert err.path == "populations.E.params.bogus" and model in str(err)


@pytest.mark.parametrize(
    "connect, nnz",
    [
        ({"rule": "fixed_in_degree", "k": 7}, 7 * 40),
        ({"rule": "fixed_out_degree", "k": 3}, 3 * 10),
        ({"rule": "all_to_all"}, 10 * 40),
        ({"rule": "fixed_probability", "p": 1.0}, 10 * 40),
    ],
)
def test_connect_rules(connect, nnz):
    raw = tiny()
    raw["projections"]["IE"]["connect"] = connect
    network, _ = build_network(load_config(raw))
    conn = network.projections["IE"].conn
    assert (conn.n_pre, conn.n_post, conn.nnz) == (10, 40, nnz)
    if connect["rule"] == "fixed_in_degree":  # every E neuron gets exactly k inputs
        np.testing.assert_array_equal(np.asarray(conn.to_dense() > 0).sum(axis=0), 7)


def test_procedural_fan_out_holds_no_synapse_arrays_and_runs():
    from brainsim.kernels import ProceduralFanOut

    raw = tiny()
    raw["projections"]["IE"]["connect"] = {"rule": "procedural_fan_out", "k": 6, "seed": 5}
    network, monitors = build_network(load_config(raw))
    conn = network.projections["IE"].conn
    assert isinstance(conn, ProceduralFanOut)
    assert (conn.n_pre, conn.n_post, conn.nnz) == (10, 40, 60)
    dense = np.asarray(conn.to_dense())
    np.testing.assert_allclose(dense.sum(), 60 * raw["projections"]["IE"]["weight"], rtol=1e-5)
    res = bs.simulate(network, 20.0, dt=0.1, key=jr.key(0), monitors=monitors, progress=False)
    assert res.spikes  # the network runs on the procedural layout
    raw["projections"]["IE"]["connect"]["p"] = 0.1
    assert error_of(raw).path == "projections.IE.connect.p"


def test_one_to_one_and_self_connections():
    raw = tiny()
    raw["projections"]["EE"]["connect"] = {"rule": "one_to_one"}
    network, _ = build_network(load_config(raw))
    np.testing.assert_allclose(
        network.projections["EE"].conn.to_dense(), 0.6 * np.eye(40), rtol=1e-6
    )
    raw["projections"]["IE"]["connect"] = {"rule": "one_to_one"}
    err = error_of(raw, build=True)
    assert err.path == "projections.IE.connect.rule" and "10 and 40" in str(err)
    # allow_self: false removes the diagonal of a recurrent projection.
    raw = tiny()
    raw["projections"]["EE"]["connect"] = {"rule": "all_to_all", "allow_self": False}
    network, _ = build_network(load_config(raw))
    dense = np.asarray(network.projections["EE"].conn.to_dense())
    assert np.all(np.diag(dense) == 0) and np.sum(dense > 0) == 40 * 39
