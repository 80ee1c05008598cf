"""The `snn_classifier` task: layer semantics, checkpointed scans, configs, training."""

import json
import math
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from brainsim.cli import main
from brainsim.models import TrainRun, load_train_config, run_task
from brainsim.models._snn import SpikingLayer, SpikingNetwork, build_network
from brainsim.neurons import LIF
from brainsim.synapses import Exponential

CONFIGS = Path(__file__).parents[2] / "configs"


def _unit_lif(n, **kw):
    return LIF(n, v_rest=0.0, v_reset=0.0, v_th=1.0, **kw)


def test_cuba_readout_matches_the_hand_computed_recursion():
    """Synapse g <- e_s g + x, then v <- g + (v - g) e_m (exact leak, g held)."""
    tau_m, tau_s, dt, w = 10.0, 4.0, 0.5, 0.3
    layer = SpikingLayer(
        jnp.full((1, 1), w),
        jnp.zeros(1),
        _unit_lif(1, tau_m=tau_m),
        synapse=Exponential(1, tau=tau_s),
        spiking=False,
    )
    v = np.asarray(eqx.filter_jit(lambda m, x: m(x, dt=dt))(layer, jnp.ones((20, 1))))[:, 0]
    es, em = math.exp(-dt / tau_s), math.exp(-dt / tau_m)
    g, vm, ref = 0.0, 0.0, []
    for _ in range(20):
        g = es * g + w
        vm = g + (vm - g) * em
        ref.append(vm)
    np.testing.assert_allclose(v, ref, rtol=1e-5)


def test_recurrent_spikes_arrive_one_step_later():
    """Neuron 0 is driven over threshold at step 2; neuron 1 hears it only via w_rec."""
    weight = jnp.array([[100.0], [0.0]])
    w_rec = jnp.array([[0.0, 0.0], [30.0, 0.0]])  # one held step: 30 (1 - e^-0.1) = 2.9 > 1
    layer = SpikingLayer(weight, jnp.zeros(2), _unit_lif(2, tau_m=10.0), w_rec=w_rec)
    x = jnp.zeros((6, 1)).at[2, 0].set(1.0)
    s = np.asarray(layer(x, dt=1.0))
    assert s[:, 0].tolist() == [0, 0, 1, 0, 0, 0]
    assert s[:, 1].tolist() == [0, 0, 0, 1, 0, 0]


def test_checkpointed_layers_give_the_plain_values_and_gradients(getkey):
    x = jr.bernoulli(getkey(), 0.2, (2, 35, 6)).astype(jnp.float32)
    plain = build_network(6, (10,), 3, key=getkey(), recurrent=True, init_gain=2.0)
    layer = plain.layers[0]

    def loss(layer, chunk):
        return jnp.sum(
            jax.vmap(lambda xi: layer(xi, dt=1.0, chunk=chunk))(x) * jnp.arange(10.0)[None, None, :]
        )

    lp, gp = jax.jit(jax.value_and_grad(loss), static_argnums=1)(layer, None)
    lc, gc = jax.jit(jax.value_and_grad(loss), static_argnums=1)(layer, 5)
    np.testing.assert_allclose(float(lp), float(lc), rtol=1e-6)
    assert float(lp) > 0  # the layer spikes
    for a, b in zip(jax.tree.leaves(gp), jax.tree.leaves(gc)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(gp.w_rec).sum()) > 0


def test_layer_shapes_are_checked():
    with pytest.raises(ValueError, match=r"weight: expected shape \(2, n_in\)"):
        SpikingLayer(jnp.ones((3, 4)), jnp.zeros(2), _unit_lif(2))
    with pytest.raises(ValueError, match=r"w_rec: expected shape \(2, 2\)"):
        SpikingLayer(jnp.ones((2, 4)), jnp.zeros(2), _unit_lif(2), w_rec=jnp.ones((3, 3)))
    with pytest.raises(ValueError, match=r"layers\[1\]: takes 5 inputs, layer 0 gives 2"):
        SpikingNetwork(
            (
                SpikingLayer(jnp.ones((2, 4)), jnp.zeros(2), _unit_lif(2)),
                SpikingLayer(jnp.ones((3, 5)), jnp.zeros(3), _unit_lif(3)),
            )
        )
    with pytest.raises(ValueError, match="neuron: must be 'lif' or 'alif'"):
        build_network(2, (3,), 2, key=jr.key(0), neuron="hh")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("hidden=[]", "hidden: needs at least one positive size"),
        ("epochs=0", "epochs: must be >= 1"),
        ("tau_m=-1.0", "tau_m: must be positive"),
        ("val_size=0", "val_size: must be >= 1"),
        ("neuron=izh", "neuron: must be one of"),
        ("dataset=cifar", "dataset: must be one of"),
        ("augment_shift=2", "augment_shift: only for dataset mnist"),
        ("max_minutes=-1.0", "max_minutes: must be >= 0"),
    ],
)
def test_bad_task_configs_exit_2(tmp_path, capsys, override, needle):
    cfg = CONFIGS / "randman_snn.yaml"
    assert main(["train", str(cfg), "--set", override, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


@pytest.mark.parametrize("name", ["mnist_snn", "smnist_alif", "nmnist_snn", "randman_snn"])
def test_shipped_configs_load(name):
    config = load_train_config(CONFIGS / f"{name}.yaml")
    assert config.task == "snn_classifier" and config.name == name


def test_randman_trains_in_seconds_to_a_stated_accuracy(tmp_path):
    """3 timing-coded classes (chance 33 %): well above chance after 20 short epochs.

    Measured with these settings: validation 0.64, test 0.81 (36 samples each).
    """
    overrides = [
        "randman_classes=3",
        "randman_units=20",
        "randman_samples=60",
        "randman_seed=1",
        "n_steps=30",
        "hidden=[32]",
        "synapse=false",
        "init_gain=0.7",
        "epochs=20",
        "batch_size=12",
        "learning_rate=0.05",
        "val_size=36",
        "tau_m=10.0",
        "tau_out=10.0",
    ]
    config = load_train_config(CONFIGS / "randman_snn.yaml", overrides)
    summary = run_task(config, TrainRun(out_dir=tmp_path, progress=False))
    assert summary["val_accuracy"] >= 0.6, summary
    assert summary["test_accuracy"] >= 0.7, summary
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 20 and json.loads(lines[0])["epoch"] == 0
    assert (tmp_path / "model.eqx").is_file()


def _data_dir():
    path = os.environ.get("BRAINSIM_DATA")
    if not path:
        pytest.skip("BRAINSIM_DATA is not set: no dataset to train on")
    return Path(path)


def test_nmnist_subset_trains_above_chance(tmp_path):
    """300 of the subset's recordings, 8 epochs: measured validation 0.37, test 0.40."""
    data = _data_dir()
    overrides = ["train_size=300", "hidden=[64]", "epochs=8", "learning_rate=0.005"]
    config = load_train_config(CONFIGS / "nmnist_snn.yaml", overrides)
    summary = run_task(config, TrainRun(out_dir=tmp_path, data_dir=data, progress=False))
    assert summary["n_train"] == 300 and summary["n_test"] == 100
    assert summary["test_accuracy"] >= 0.3, summary  # chance is 10 %


def test_smnist_alif_runs_a_checkpointed_step(tmp_path):
    data = _data_dir()
    overrides = [
        "train_size=32",
        "val_size=16",
        "test_size=16",
        "hidden=[16]",
        "epochs=1",
        "batch_size=16",
        "scan_chunk=28",
    ]
    config = load_train_config(CONFIGS / "smnist_alif.yaml", overrides)
    summary = run_task(config, TrainRun(out_dir=tmp_path, data_dir=data, progress=False))
    assert math.isfinite(summary["test_loss"]) and summary["epochs_run"] == 1


def test_mnist_shift_augments_training_batches_only(tmp_path):
    """The training loss sees shifted images; validation and test see them as they are."""
    from brainsim.models._snn import SNNTaskConfig, make_loss, network_for

    config = SNNTaskConfig(
        dataset="mnist", hidden=(64,), n_steps=10, augment_shift=2, init_gain=5.0
    )
    model = network_for(config, 784, 10, key=jr.key(0))
    x = np.zeros((4, 28, 28), np.float32)
    x[:, 8:20, 8:20] = 1.0
    x = x.reshape(4, 784)
    y = np.arange(4)
    plain, train = make_loss(config), make_loss(config, train=True)
    losses = {float(train(model, (x, y), jr.key(k))[0]) for k in range(4)}
    assert len(losses) > 1  # a new shift for each key
    # without augmentation the loss depends on the key only through the spike draws,
    # and with intensities 0 / 1 there are none to draw
    assert len({float(plain(model, (x, y), jr.key(k))[0]) for k in range(4)}) == 1

    data = _data_dir()
    overrides = ["train_size=600", "val_size=64", "test_size=64", "hidden=[32]", "epochs=1"]
    overrides += ["n_steps=5", "batch_size=64", "max_minutes=10.0"]
    config = load_train_config(CONFIGS / "mnist_snn.yaml", overrides)
    assert config.config.augment_shift == 2
    summary = run_task(config, TrainRun(out_dir=tmp_path, data_dir=data, progress=False))
    assert summary["epochs_run"] == 1 and not summary["out_of_time"]
    assert summary["n_train"] == 600 and math.isfinite(summary["test_loss"])
