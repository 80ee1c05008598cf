"""The DCLS task: the evaluation-mode network equals a brainsim `Network` with integer
ring-buffer delays, the optimiser's schedules and running statistics are exact, bad
configs fail early, and `configs/dcls_shd.yaml` and `configs/dcls_gsc.yaml` run end to
end on tiny files in the SHD and GSC layouts."""

import json
import shutil
import wave
from pathlib import Path

import equinox as eqx
import h5py
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.cli import main
from brainsim.core._io import load_pytree
from brainsim.models._dcls import (
    DCLSNet,
    DCLSTaskConfig,
    RandmanConfig,
    dcls_loss,
    dcls_optimizer,
    load_dcls_data,
    sigma_schedule,
    to_network,
    trainable,
)
from brainsim.train import make_train_step

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _random_net(key, mode="learned", n_taps=5):
    """A random network with non-trivial batch-norm statistics (as after training)."""
    k1, k2, k3, k4 = jr.split(key, 4)
    net = DCLSNet((6, 8, 7, 3), n_taps=n_taps, dt=1.0, tau_m=1.005, mode=mode, key=k1)
    hidden = [i for i, layer in enumerate(net.layers) if layer.bn_mean is not None]
    for i, k in zip(hidden, jr.split(k2, len(hidden))):
        ka, kb, kc, kd = jr.split(k, 4)
        n = net.layers[i].weights.shape[1]
        layer = eqx.tree_at(
            lambda ly: (ly.bn_scale, ly.bn_shift, ly.bn_mean, ly.bn_var),
            net.layers[i],
            (
                jr.uniform(ka, (n,), minval=0.5, maxval=2.0),
                0.5 * jr.normal(kb, (n,)),
                0.3 * jr.normal(kc, (n,)),
                jr.uniform(kd, (n,), minval=0.2, maxval=1.5),
            ),
        )
        net = eqx.tree_at(lambda m: m.layers, net, net.layers[:i] + (layer,) + net.layers[i + 1 :])
    x = (jr.uniform(k3, (30, 6)) < 0.3).astype(jnp.float32)
    return net, x


@pytest.mark.parametrize("mode", ["learned", "fixed"])
def test_evaluation_equals_the_ring_buffer_network(x64, getkey, mode):
    net, x = _random_net(getkey(), mode)
    net = jtu_to_f64(net)
    v_model, _ = net.forward(jnp.asarray(x, jnp.float64)[None], train=False)
    network = to_network(net, x)
    state0 = network.init_state(key=jr.key(0))
    monitors = (bs.StateMonitor("layer2.v"), bs.SpikeMonitor("layer0"), bs.SpikeMonitor("layer1"))
    sol = bs.integrate(network, state0, dt=1.0, n_steps=x.shape[0], save=monitors)
    np.testing.assert_allclose(sol.traces["layer2.v"], v_model[0], rtol=1e-10, atol=1e-10)
    assert float(jnp.sum(sol.traces["spikes:layer0"])) > 0  # the hidden layers do spike
    assert float(jnp.sum(sol.traces["spikes:layer1"])) > 0


def jtu_to_f64(tree):
    return jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, tree
    )


def test_sigma_schedule_anneals_geometrically_then_holds():
    s = sigma_schedule(12.0, 0.23, anneal_epochs=4, steps_per_epoch=10)
    alpha = (0.23 / 12.0) ** 0.25
    got = [float(s(jnp.array(k))) for k in (0, 9, 10, 25, 40, 100)]
    expected = [12.0, 12.0, 12.0 * alpha, 12.0 * alpha**2, 0.23, 0.23]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_optimiser_runs_the_running_average_clamps_delays_and_anneals_sigma(getkey):
    config = DCLSTaskConfig(
        dataset="randman", bin_ms=1.0, max_delay_ms=5.0, epochs=2, dropout=0.0, lr_delays=50.0
    )
    net, x = _random_net(getkey(), n_taps=5)
    opt, _ = dcls_optimizer(net, config, steps_per_epoch=1)
    params, static = eqx.partition(net, trainable(net))
    with jax.numpy_dtype_promotion("standard"):
        state = opt.init(params)
    step = make_train_step(dcls_loss, opt)
    batch = (jnp.stack([x, x[::-1]]), jnp.array([0, 2]))
    _, stats = net.forward(batch[0], train=True)
    params, state, loss, _, finite = step(params, static, state, batch, jr.key(1))
    new = eqx.combine(params, static)
    assert bool(finite)
    for layer, old, (mean, var) in zip(new.layers, net.layers, stats):
        np.testing.assert_allclose(layer.bn_mean, 0.9 * old.bn_mean + 0.1 * mean, rtol=1e-5)
        np.testing.assert_allclose(layer.bn_var, 0.9 * old.bn_var + 0.1 * var, rtol=1e-5)
    delays = np.concatenate([np.ravel(layer.delays) for layer in new.layers])
    assert delays.min() >= 0.0 and delays.max() <= 4.0
    assert np.any(delays == 0.0) or np.any(delays == 4.0)  # lr 50: some hit the bounds
    # sigma0 = n_taps // 2 = 2; after epoch 0 of anneal_epochs = round(2 / 4) = 1 -> 0.23
    np.testing.assert_allclose(new.sigma, 0.23, rtol=1e-6)


def _write_shd(path: Path, n: int, *, max_unit: int = 699, seed: int = 0):
    """A tiny file in the SHD layout: ragged `spikes/times` (s), `spikes/units`, `labels`."""
    rng = np.random.default_rng(seed)
    vlen_f = h5py.vlen_dtype(np.float32)
    vlen_u = h5py.vlen_dtype(np.uint16)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=vlen_f)
        units = f.create_dataset("spikes/units", (n,), dtype=vlen_u)
        labels = rng.integers(0, 20, n)
        for i in range(n):
            k = rng.integers(20, 60)
            times[i] = np.sort(rng.uniform(0, 0.2, k)).astype(np.float32)
            units[i] = rng.integers(0, max_unit + 1, k).astype(np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint8))


SMALL = [
    "hidden=[6, 6]",
    "n_bins=20",
    "max_delay_ms=50.0",
    "epochs=2",
    "batch_size=8",
    "checkpoint_every_steps=0",
]


def test_shd_config_runs_end_to_end_and_resumes(tmp_path):
    data = tmp_path / "shd"
    data.mkdir()
    _write_shd(data / "shd_train.h5", 40, seed=1)
    _write_shd(data / "shd_test.h5", 12, seed=2)
    out = tmp_path / "out"
    sets = [a for s in SMALL for a in ("--set", s)]
    args = ["train", str(CONFIGS / "dcls_shd.yaml"), "--data-dir", str(tmp_path)]
    args += ["--out", str(out), "--no-progress", *sets]
    assert main(args) == 0
    record = json.loads((out / "summary.json").read_text())
    summary = record["summary"]
    assert record["task"] == "dcls" and record["config"]["hidden"] == [6, 6]
    assert summary["n_train"] == 36 and summary["n_val"] == 4 and summary["n_test"] == 12
    assert summary["n_taps"] == 5 and 0.0 <= summary["test_accuracy"] <= 1.0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "val_accuracy" in json.loads(lines[-1])
    model = load_pytree(out / "model.eqx")
    assert isinstance(model, DCLSNet) and model.layers[0].weights.shape == (140, 6)
    # resuming a finished run trains nothing more and keeps the metrics
    assert main([*args, "--resume"]) == 0
    assert (out / "metrics.jsonl").read_text().splitlines() == lines


def test_data_errors_and_config_errors_fail_early(tmp_path):
    data = tmp_path / "shd"
    data.mkdir()
    _write_shd(data / "shd_train.h5", 4, max_unit=699)
    _write_shd(data / "shd_test.h5", 4, max_unit=699)
    config = DCLSTaskConfig(input_channels=350, n_bins=30, channel_pool=5)
    with pytest.raises(ValueError, match="shd_train.h5.*unit outside 0..349"):
        load_dcls_data(config, tmp_path)
    with pytest.raises(ValueError, match="max_delay_ms: .* does not fit the sequence of 20"):
        DCLSTaskConfig(n_bins=20, max_delay_ms=250.0)
    with pytest.raises(ValueError, match="channel_pool"):
        DCLSTaskConfig(channel_pool=3)
    with pytest.raises(ValueError, match="randman.n_units"):
        RandmanConfig(n_units=0)
    net, _ = _random_net(jr.key(0))
    bad = eqx.tree_at(lambda m: m.layers[0].delays, net, net.layers[0].delays + 4.5)
    with pytest.raises(ValueError, match=r"delays must lie inside the kernel \[0, 4\]"):
        to_network(bad, np.zeros((4, 6)))
    with pytest.raises(ValueError, match="n_taps: mode 'none'"):
        DCLSNet((2, 3), n_taps=3, dt=1.0, tau_m=1.0, mode="none", key=jr.key(0))
    with pytest.raises(ValueError, match="binary"):
        to_network(net, np.full((4, 6), 2.0))


def test_every_dcls_config_loads():
    from brainsim.models import load_train_config

    for name in ("dcls_shd", "dcls_ssc", "dcls_gsc", "dcls_randman", "dcls_nmnist"):
        config = load_train_config(CONFIGS / f"{name}.yaml")
        assert config.task == "dcls"
    shd = load_train_config(CONFIGS / "dcls_shd.yaml").config
    randman = load_train_config(CONFIGS / "dcls_randman.yaml").config
    assert (shd.rounded_epochs, randman.epochs, randman.rounded_epochs) == (0, 8, 3)
    assert (shd.hidden, shd.n_taps, shd.input_channels // shd.channel_pool) == ((256, 256), 25, 140)
    net = DCLSNet((140, 256, 256, 20), n_taps=25, dt=10.0, tau_m=10.05, key=jr.key(0))
    assert net.n_params() == 2 * (140 * 256 + 256 * 256 + 256 * 20)  # the paper's 0.2 M


def test_rounded_network_freezes_whole_delays_and_evaluates_the_same(getkey):
    net, x = _random_net(getkey())
    fixed = net.rounded()
    assert (net.mode, fixed.mode) == ("learned", "fixed")
    for layer, old in zip(fixed.layers, net.layers):
        np.testing.assert_array_equal(layer.delays, np.rint(old.delays))
        assert np.any(np.asarray(old.delays) != np.rint(old.delays))  # there was rounding to do
        assert layer.weights is old.weights
    spec = trainable(fixed)  # weights and batch norm train, delays and the width do not
    assert all(ly.weights and ly.bn_scale and not ly.delays for ly in spec.layers[:-1])
    assert not spec.sigma and all(ly.delays for ly in trainable(net).layers)
    v_net, _ = net.forward(x[None], train=False)
    v_fixed, _ = fixed.forward(x[None], train=False)
    np.testing.assert_array_equal(v_fixed, v_net)
    # training mode of the rounded network runs the rounded delays (no Gaussian spread)
    no_bn = DCLSNet((6, 5, 3), n_taps=5, dt=1.0, tau_m=1.005, batch_norm=False, key=getkey())
    v_train, _ = no_bn.rounded().forward(x[None], train=True)
    v_eval, _ = no_bn.forward(x[None], train=False)
    np.testing.assert_allclose(v_train, v_eval, rtol=1e-6, atol=1e-6)


RANDMAN_TINY = [
    "randman.n_classes=3",
    "randman.n_samples=12",
    "randman.n_units=8",
    "randman.n_steps=20",
    "hidden=[6, 6]",
    "max_delay_ms=5.0",
    "epochs=2",
    "rounded_epochs=2",
    "batch_size=8",
]


def _randman_args(out, *extra):
    sets = [a for s in [*RANDMAN_TINY, *extra] for a in ("--set", s)]
    return ["train", str(CONFIGS / "dcls_randman.yaml"), "--out", str(out), "--no-progress", *sets]


def _without_seconds(path):
    return [
        {k: v for k, v in json.loads(line).items() if k != "seconds"}
        for line in path.read_text().splitlines()
    ]


@pytest.mark.parametrize("delays", ["learned", "none"])
def test_rounded_phase_trains_only_the_weights_and_resumes_exactly(tmp_path, monkeypatch, delays):
    from brainsim.models import _dcls

    calls = []
    real_fit = _dcls.fit

    def spy(model, *args, **kwargs):
        result = real_fit(model, *args, **kwargs)
        calls.append((model, result.final_model, kwargs["epochs"]))
        return result

    monkeypatch.setattr(_dcls, "fit", spy)
    whole = tmp_path / "whole"
    assert main(_randman_args(whole, f"delays={delays}")) == 0
    (start, end_main, e_main), (phase_in, phase_out, e_rounded) = calls
    assert (e_main, e_rounded) == (2, 2) and start.mode == end_main.mode == delays
    assert phase_in.mode == ("fixed" if delays == "learned" else "none")
    for a, b, c in zip(end_main.layers, phase_in.layers, phase_out.layers):
        np.testing.assert_array_equal(b.delays, np.rint(a.delays))  # rounded at the start
        np.testing.assert_array_equal(c.delays, b.delays)  # and frozen
        assert not np.array_equal(c.weights, b.weights)  # the weights train
    assert not np.array_equal(phase_out.layers[0].bn_scale, phase_in.layers[0].bn_scale)
    lines = [json.loads(s) for s in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2, 3]
    assert [r.get("phase") for r in lines] == [None, None, "rounded", "rounded"]
    k = lines[0]["step"]
    assert [r["step"] for r in lines] == [k, 2 * k, 3 * k, 4 * k]
    summary = json.loads((whole / "summary.json").read_text())["summary"]
    assert summary["epochs"] == 4 and summary["rounded_epochs"] == 2
    best = max(range(4), key=lambda e: (lines[e]["val_accuracy"], -e))  # first best epoch
    assert summary["best_epoch"] == best
    model = load_pytree(whole / "model.eqx")
    assert model.mode == delays  # a model of the rounded phase is kept under its own mode
    if best >= 2:
        np.testing.assert_array_equal(model.layers[0].delays, phase_in.layers[0].delays)

    # killed during the rounded phase (its newest checkpoint lost): --resume ends the same
    part = tmp_path / "part"
    shutil.copytree(whole, part)
    rounded_ckpts = sorted(int(p.name) for p in (part / "checkpoints_rounded").iterdir())
    shutil.rmtree(part / "checkpoints_rounded" / str(rounded_ckpts[-1]))
    assert main([*_randman_args(part, f"delays={delays}"), "--resume"]) == 0
    again = load_pytree(part / "model.eqx")
    for a, b in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)
    assert _without_seconds(part / "metrics.jsonl") == _without_seconds(whole / "metrics.jsonl")


def test_bad_rounded_epochs_exits_2_with_one_line(tmp_path, capsys):
    assert main(_randman_args(tmp_path, "rounded_epochs=-1")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rounded_epochs" in err, err
    with pytest.raises(ValueError, match="rounded_epochs: must be >= 0"):
        DCLSTaskConfig(rounded_epochs=-2)


def _write_gsc(root: Path, words: dict[str, int], *, seed: int = 0) -> list[str]:
    """A tiny GSC v0.02 folder: `words[w]` noise clips (16-bit, 16 kHz, 0.8 s) per word;
    the last file of each word is listed for validation, the one before it for testing.
    Returns the validation list."""
    rng = np.random.default_rng(seed)
    folder = root / "speech_commands_v0.02"
    valid, test = [], []
    for word, n in words.items():
        (folder / word).mkdir(parents=True)
        for i in range(n):
            rel = f"{word}/{i:08x}_nohash_0.wav"
            with wave.open(str(folder / rel), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(16_000)
                f.writeframes(rng.integers(-3000, 3000, 12_800).astype("<i2").tobytes())
            (valid if i == n - 1 else test if i == n - 2 else []).append(rel)
    (folder / "validation_list.txt").write_text("".join(f"{p}\n" for p in valid))
    (folder / "testing_list.txt").write_text("".join(f"{p}\n" for p in test))
    return valid


def test_gsc_config_runs_end_to_end_on_log_mel_frames(tmp_path):
    valid = _write_gsc(tmp_path, {"yes": 4, "no": 4, "go": 5})
    config = DCLSTaskConfig(**{**_gsc_fields(), "hidden": (8,)})
    train, val, test, n_classes = load_dcls_data(config, tmp_path)
    # 201 frames of 5 ms (+ padding for the delays), 140 mel bins of floats, not spikes
    assert n_classes == 35 and config.n_steps == 201 and config.n_taps == 31
    assert train[0].shape == (7, 201 + config.pad_steps, 140) and train[0].dtype == np.float32
    assert np.any((train[0] != 0) & (train[0] != 1))
    # validation is the published list (labels: go 11, no 18, yes 33), not a random split
    assert [v.split("/")[0] for v in valid] == ["yes", "no", "go"]
    assert val[1].tolist() == [33, 18, 11] and sorted(test[1].tolist()) == [11, 18, 33]
    out = tmp_path / "out"
    small = ["hidden=[8]", "epochs=1", "batch_size=4", "checkpoint_every_steps=0"]
    args = ["train", str(CONFIGS / "dcls_gsc.yaml"), "--data-dir", str(tmp_path)]
    args += ["--out", str(out), "--no-progress", *[a for s in small for a in ("--set", s)]]
    assert main(args) == 0
    record = json.loads((out / "summary.json").read_text())
    summary = record["summary"]
    assert record["config"]["dataset"] == "gsc" and record["config"]["hidden"] == [8]
    assert (summary["n_train"], summary["n_val"], summary["n_test"]) == (7, 3, 3)
    assert summary["n_taps"] == 31 and 0.0 <= summary["test_accuracy"] <= 1.0
    model = load_pytree(out / "model.eqx")
    assert isinstance(model, DCLSNet) and model.layers[0].weights.shape == (140, 8)
    assert model.dt == 5.0 and model.layers[-1].weights.shape == (8, 35)


def _gsc_fields() -> dict:
    import yaml

    raw = yaml.safe_load((CONFIGS / "dcls_gsc.yaml").read_text())
    return {k: v for k, v in raw.items() if k not in ("task", "hidden")}


def test_gsc_config_checks_its_time_step_and_pooling():
    fields = _gsc_fields()
    assert DCLSTaskConfig(**fields).n_taps == 31
    with pytest.raises(
        ValueError, match="bin_ms: the gsc time step is the hop, 80 samples = 5.0 ms"
    ):
        DCLSTaskConfig(**{**fields, "bin_ms": 10.0})
    with pytest.raises(ValueError, match="channel_pool: gsc"):
        DCLSTaskConfig(**{**fields, "channel_pool": 5})
    with pytest.raises(ValueError, match="hop: must lie in"):
        DCLSTaskConfig(**{**fields, "hop": 0})
    # hop 320 gives 51 frames of 20 ms: 1200 ms of delay (61 taps) does not fit
    with pytest.raises(ValueError, match="does not fit the sequence of 51 steps"):
        DCLSTaskConfig(**{**fields, "hop": 320, "bin_ms": 20.0, "max_delay_ms": 1200.0})
