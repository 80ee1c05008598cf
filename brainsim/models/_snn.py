"""Surrogate-gradient spiking classifiers: the `snn_classifier` task of `brainsim train`.

A `SpikingNetwork` is a stack of `SpikingLayer`s: dense input weights and a bias, an
optional exponential current synapse (a CuBa-LIF layer), optional all-to-all recurrent
weights, and a brainsim `LIF` or `ALIF` population; the last layer is a non-spiking
leaky readout whose membrane potentials are the class scores. The same structure is
what `brainsim.interop.export_nir` writes and `import_nir` reads.

Datasets: MNIST (Bernoulli rate-coded pixels, or the pixels as a constant current),
sequential MNIST (one pixel per step, 784 steps, Bellec et al. 2018), the N-MNIST subset
(events binned in time, pooled in space) and Randman (Zenke & Vogels 2021).
"""

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, Float

from ..core._abstract import as_synaptic_input
from ..core._spike import Surrogate
from ..data import (
    DataLoader,
    bernoulli_encode,
    bin_events,
    load_mnist,
    load_nmnist,
    make_randman,
    nmnist_channels,
    random_shift,
    times_to_raster,
)
from ..neurons import ALIF, LIF, LIFState
from ..synapses import Exponential
from ..train import (
    accuracy,
    checkpointed_scan,
    fit,
    max_membrane_cross_entropy,
    sum_membrane_cross_entropy,
)
from ._tasks import TrainRun, register_task


class SpikingLayer(eqx.Module):
    """One layer: `x -> weight @ x + bias (+ w_rec @ spikes) -> [synapse] -> neurons`.

    Per step of `dt` ms the layer computes the input `i = weight @ x_t + bias` (plus
    `w_rec @ s_{t-1}` with recurrence), passes it through the exponential synapse when
    there is one (`g <- g exp(-dt / tau_syn) + i`, a CuBa-LIF layer) and drives the
    neurons with it as a current held over the step. A spiking layer outputs spikes; a
    readout (`spiking=False`) integrates its LIF membrane without threshold (a leaky
    integrator) and outputs the potential.

    **Arguments:**

    - `weight`: `(n, n_in)` input weights; `bias`: `(n,)` (mV).
    - `neuron`: a `LIF` or `ALIF` of `n` neurons (a readout must be a `LIF`).
    - `w_rec`: `(n, n)` recurrent weights or `None`.
    - `synapse`: an `Exponential` synapse of `n` or `None`.
    - `spiking`: False for the leaky readout.
    """

    weight: Float[Array, "n n_in"]
    bias: Float[Array, " n"]
    neuron: LIF | ALIF
    w_rec: Float[Array, "n n"] | None = None
    synapse: Exponential | None = None
    spiking: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        n = self.neuron.n
        if self.weight.ndim != 2 or self.weight.shape[0] != n:
            raise ValueError(f"weight: expected shape ({n}, n_in), got {self.weight.shape}")
        if self.bias.shape != (n,):
            raise ValueError(f"bias: expected shape ({n},), got {self.bias.shape}")
        if self.w_rec is not None and self.w_rec.shape != (n, n):
            raise ValueError(f"w_rec: expected shape ({n}, {n}), got {self.w_rec.shape}")
        if self.synapse is not None and self.synapse.n != n:
            raise ValueError(f"synapse: has {self.synapse.n} neurons, the layer {n}")
        if not self.spiking and not isinstance(self.neuron, LIF):
            raise ValueError("neuron: a readout (spiking=False) must be a LIF")

    @property
    def n(self) -> int:
        return self.neuron.n

    def __call__(
        self, x: Float[Array, "n_steps n_in"], *, dt: float, chunk: int | None = None
    ) -> Float[Array, "n_steps n"]:
        """Run the layer over a sequence; returns spikes (or potentials for a readout).

        `chunk` runs the time loop as `brainsim.train.checkpointed_scan` with chunks of
        that many steps (bounded BPTT memory); `None` is a plain `lax.scan`.
        """
        drive = x @ self.weight.T + self.bias[None, :]
        neuron, synapse = self.neuron, self.synapse
        state0 = neuron.init_state(key=jr.key(0))
        g0 = jnp.zeros((self.n,), drive.dtype)

        def step(carry, i):
            state, g, s_prev = carry
            if self.w_rec is not None:
                i = i + self.w_rec @ s_prev
            if synapse is not None:
                g = synapse.step(g, i, 0.0, dt)
                i = g
            if self.spiking:
                state, out = neuron.step(state, i, 0.0, dt)
            else:
                assert isinstance(neuron, LIF)  # checked at construction
                syn = as_synaptic_input(i, self.n, drive.dtype)
                v = neuron.method.step(neuron.vector_field, 0.0, state.v, syn, dt)
                state, out = LIFState(v=v, refractory_left=state.refractory_left), v
            return (state, g, out if self.spiking else s_prev), out

        carry0 = (state0, g0, jnp.zeros((self.n,), drive.dtype))
        if chunk is None:
            _, out = jax.lax.scan(step, carry0, drive)
        else:
            _, out = checkpointed_scan(step, carry0, drive, chunk)
        return out


class SpikingNetwork(eqx.Module):
    """A stack of `SpikingLayer`s run one after the other over the whole sequence.

    **Arguments:**

    - `layers`: the layers; the last is usually a readout (`spiking=False`).
    - `dt`: the time step (ms).
    - `chunk`: steps per checkpointed chunk of every layer's time loop, or `None`.

    Calling it on inputs `(n_steps, n_in)` returns the last layer's outputs
    `(n_steps, n_out)`; `run` also returns every layer's.
    """

    layers: tuple[SpikingLayer, ...]
    dt: float = eqx.field(static=True, default=1.0)
    chunk: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if not self.layers:
            raise ValueError("layers: at least one layer is needed")
        for k in range(1, len(self.layers)):
            n_prev, n_in = self.layers[k - 1].n, self.layers[k].weight.shape[1]
            if n_in != n_prev:
                raise ValueError(f"layers[{k}]: takes {n_in} inputs, layer {k - 1} gives {n_prev}")

    def run(self, x: Float[Array, "n_steps n_in"]) -> list[Array]:
        """Every layer's output sequence, in order."""
        outs = []
        for layer in self.layers:
            x = layer(x, dt=self.dt, chunk=self.chunk)
            outs.append(x)
        return outs

    def __call__(self, x: Float[Array, "n_steps n_in"]) -> Float[Array, "n_steps n_out"]:
        return self.run(x)[-1]


def build_network(
    n_in: int,
    hidden: tuple[int, ...],
    n_out: int,
    *,
    key: Any,
    neuron: str = "lif",
    recurrent: bool = False,
    synapse: bool = False,
    dt: float = 1.0,
    tau_m: float = 20.0,
    tau_syn: float = 5.0,
    tau_out: float = 20.0,
    tau_a: float = 200.0,
    beta: float = 1.8,
    v_th: float = 1.0,
    surrogate: str = "fast_sigmoid",
    surrogate_alpha: float = 10.0,
    init_gain: float = 1.0,
    chunk: int | None = None,
) -> SpikingNetwork:
    """Build a `SpikingNetwork`: `hidden` spiking layers and a leaky readout.

    Neurons are unitless (`v_rest = v_reset = 0`, threshold `v_th`). Weights are
    Gaussian with standard deviation `init_gain * tau / (dt sqrt(fan_in))`, so that
    `init_gain` sets the size of the membrane's response to the input.

    **Arguments:**

    - `n_in`, `hidden`, `n_out`: layer sizes.
    - `key`: PRNG key.
    - `neuron`: `"lif"` or `"alif"` (adaptive threshold, `tau_a` ms, `beta` per spike).
    - `recurrent`: all-to-all recurrent weights in every hidden layer.
    - `synapse`: an exponential current synapse (`tau_syn` ms) in every layer (CuBa-LIF).
    - `dt`, `tau_m`, `tau_out`: time step and membrane time constants (ms).
    - `v_th`: threshold; `surrogate`, `surrogate_alpha`: the surrogate gradient.
    - `init_gain`: scale of the initial weights.
    - `chunk`: checkpointed-scan chunk (`None`: plain scan).
    """
    if neuron not in ("lif", "alif"):
        raise ValueError(f"neuron: must be 'lif' or 'alif', got {neuron!r}")
    spike_fn = Surrogate(surrogate, surrogate_alpha)
    common: dict[str, Any] = dict(v_rest=0.0, v_reset=0.0, v_th=v_th, spike_fn=spike_fn)
    sizes = (n_in, *hidden)
    keys = jr.split(key, 2 * len(hidden) + 1)
    layers = []
    # With a synapse, a constant input i settles at g = i / (1 - exp(-dt / tau_syn)).
    syn_gain = (1.0 - math.exp(-dt / tau_syn)) if synapse else 1.0
    for k, n in enumerate(hidden):
        fan_in = sizes[k] + (n if recurrent else 0)
        std = init_gain * tau_m / (dt * math.sqrt(fan_in)) * syn_gain
        weight = std * jr.normal(keys[2 * k], (n, sizes[k]))
        w_rec = std * jr.normal(keys[2 * k + 1], (n, n)) if recurrent else None
        if neuron == "alif":
            cell: LIF | ALIF = ALIF(n, tau_m=tau_m, tau_a=tau_a, beta=beta, **common)
        else:
            cell = LIF(n, tau_m=tau_m, **common)
        layers.append(
            SpikingLayer(
                weight=weight,
                bias=jnp.zeros((n,)),
                neuron=cell,
                w_rec=w_rec,
                synapse=Exponential(n, tau=tau_syn) if synapse else None,
            )
        )
    std = tau_out / (dt * math.sqrt(sizes[-1])) * syn_gain
    readout = LIF(n_out, tau_m=tau_out, **common)
    layers.append(
        SpikingLayer(
            weight=std * jr.normal(keys[-1], (n_out, sizes[-1])),
            bias=jnp.zeros((n_out,)),
            neuron=readout,
            synapse=Exponential(n_out, tau=tau_syn) if synapse else None,
            spiking=False,
        )
    )
    return SpikingNetwork(tuple(layers), dt=dt, chunk=chunk)


def trainable_weights(model: SpikingNetwork) -> Any:
    """A `fit` filter spec that trains the weights and biases, not the neurons."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    for k, layer in enumerate(model.layers):
        names = ["weight", "bias"] + (["w_rec"] if layer.w_rec is not None else [])
        for name in names:

            def where(m: Any, k: int = k, a: str = name) -> Any:
                return getattr(m.layers[k], a)

            spec = eqx.tree_at(where, spec, True)
    return spec


@dataclasses.dataclass(frozen=True)
class SNNTaskConfig:
    """The `snn_classifier` task: a surrogate-gradient spiking classifier.

    - `dataset`: `mnist`, `smnist` (sequential, one pixel per step), `nmnist` (the
      subset in the data folder) or `randman` (generated).
    - `hidden`: sizes of the spiking layers; `neuron`: `lif` or `alif`; `recurrent`:
      all-to-all recurrent weights; `synapse`: exponential current synapses (CuBa-LIF).
    - `n_steps`: time steps per sample (MNIST encoding, N-MNIST bins, Randman); sequential
      MNIST always has 784.
    - `encoding` (MNIST): `bernoulli` spikes with the pixel intensity as probability per
      step, or `current` (the intensity as a constant input).
    - `dt`, `tau_m`, `tau_syn`, `tau_out`, `tau_a` (ms), `beta`, `v_th`, `surrogate`,
      `surrogate_alpha`, `init_gain`: the network (see `build_network`).
    - `loss`: cross-entropy on the readout's `max` or `mean` potential over time.
    - `epochs`, `batch_size`, `learning_rate` (Adam, cosine decay to 0 when `cosine`).
    - `val_size`: samples held out of the training set to choose the best epoch.
    - `train_size`, `test_size`: use only the first samples (0: all).
    - `scan_chunk`: checkpointed-scan chunk for long sequences (0: plain scan).
    - `nmnist_factor`, `nmnist_bin_ms`: N-MNIST spatial pooling and time bin.
    - `randman_*`: the Randman generator's classes, units, samples per class,
      manifold dimension and seed.
    - `early_stopping_patience`: epochs without a better validation score (0: off).
    - `checkpoint_every_steps`: also checkpoint mid-epoch (0: once per epoch).
    - `augment_shift` (MNIST): move each training image by up to this many pixels, a new
      random shift every time it is seen (0: off); validation and test images are not
      moved.
    - `max_minutes`: a budget of training time; when it is spent the running epoch ends
      early, is validated and the run stops (0: no budget). The learning-rate schedule
      still spans `epochs`.
    """

    dataset: Literal["mnist", "smnist", "nmnist", "randman"] = "mnist"
    hidden: tuple[int, ...] = (512,)
    neuron: Literal["lif", "alif"] = "lif"
    recurrent: bool = False
    synapse: bool = False
    n_steps: int = 25
    encoding: Literal["bernoulli", "current"] = "bernoulli"
    dt: float = 1.0
    tau_m: float = 20.0
    tau_syn: float = 5.0
    tau_out: float = 20.0
    tau_a: float = 200.0
    beta: float = 1.8
    v_th: float = 1.0
    surrogate: Literal["sigmoid", "fast_sigmoid", "arctan", "triangle"] = "fast_sigmoid"
    surrogate_alpha: float = 10.0
    init_gain: float = 1.0
    loss: Literal["max", "mean"] = "mean"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    cosine: bool = True
    val_size: int = 5000
    train_size: int = 0
    test_size: int = 0
    scan_chunk: int = 0
    nmnist_factor: int = 2
    nmnist_bin_ms: float = 10.0
    randman_classes: int = 10
    randman_units: int = 50
    randman_samples: int = 100
    randman_dim: int = 1
    randman_seed: int = 0
    early_stopping_patience: int = 0
    checkpoint_every_steps: int = 0
    augment_shift: int = 0
    max_minutes: float = 0.0

    def __post_init__(self):
        positive = ("n_steps", "epochs", "batch_size", "nmnist_factor", "randman_classes")
        for name in positive + ("randman_units",):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden: needs at least one positive size, got {self.hidden}")
        for name in ("dt", "tau_m", "tau_syn", "tau_out", "tau_a", "v_th", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        if self.surrogate_alpha <= 0 or self.init_gain <= 0 or self.nmnist_bin_ms <= 0:
            raise ValueError("surrogate_alpha, init_gain, nmnist_bin_ms: must be positive")
        for name in (
            "val_size",
            "train_size",
            "test_size",
            "scan_chunk",
            "augment_shift",
            "max_minutes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.val_size < 1:
            raise ValueError("val_size: must be >= 1 (the best model is chosen on it)")
        if self.augment_shift and self.dataset != "mnist":
            raise ValueError(f"augment_shift: only for dataset mnist, not {self.dataset}")
        if self.randman_samples < 2:
            raise ValueError(f"randman_samples: must be >= 2, got {self.randman_samples}")


Arrays = tuple[np.ndarray, np.ndarray]


def _nmnist_arrays(config: SNNTaskConfig, data_dir: Any, split: str) -> Arrays:
    events, labels = load_nmnist(data_dir, split)
    bin_us = config.nmnist_bin_ms * 1000.0
    rasters = []
    for ev in events:
        channels, n_channels = nmnist_channels(ev, factor=config.nmnist_factor)
        counts = bin_events(
            ev["t"], channels, n_channels=n_channels, bin_size=bin_us, n_bins=config.n_steps
        )
        rasters.append(np.minimum(counts, 1.0))  # at most one spike per bin and channel
    return np.stack(rasters), labels


def load_task_data(config: SNNTaskConfig, data_dir: Any) -> dict[str, Arrays]:
    """The train, validation and test arrays of the configured dataset (numpy).

    MNIST and sequential MNIST keep raw pixels in [0, 1], `(N, 784)`; the encoding to
    a sequence happens per batch. N-MNIST and Randman give `(N, n_steps, channels)`.
    The validation split is the last `val_size` samples of the training set.
    """
    if config.dataset in ("mnist", "smnist"):
        x, y = load_mnist(data_dir, "train")
        xt, yt = load_mnist(data_dir, "test")
        x = x.reshape(len(x), -1).astype(np.float32) / 255.0
        xt = xt.reshape(len(xt), -1).astype(np.float32) / 255.0
    elif config.dataset == "nmnist":
        x, y = _nmnist_arrays(config, data_dir, "train")
        xt, yt = _nmnist_arrays(config, data_dir, "test")
    else:
        times, labels = make_randman(
            n_classes=config.randman_classes,
            n_units=config.randman_units,
            n_steps=config.n_steps,
            n_samples=config.randman_samples,
            manifold_dim=config.randman_dim,
            seed=config.randman_seed,
        )
        raster = times_to_raster(times, config.n_steps)
        n_test = max(1, len(labels) // 5)
        x, y, xt, yt = raster[n_test:], labels[n_test:], raster[:n_test], labels[:n_test]
    if config.val_size >= len(x):
        raise ValueError(f"val_size: {config.val_size} leaves no training samples of {len(x)}")
    x_train, y_train = x[: len(x) - config.val_size], y[: len(y) - config.val_size]
    x_val, y_val = x[len(x) - config.val_size :], y[len(y) - config.val_size :]
    if config.train_size:
        x_train, y_train = x_train[: config.train_size], y_train[: config.train_size]
    if config.test_size:
        xt, yt = xt[: config.test_size], yt[: config.test_size]
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (xt, yt)}


def make_encoder(config: SNNTaskConfig) -> Callable[[Array, Any], Array]:
    """`encode(x_batch, key) -> (B, n_steps, n_in)`: the per-batch input sequence."""
    if config.dataset == "mnist" and config.encoding == "bernoulli":

        def encode(x, key):
            return jnp.swapaxes(bernoulli_encode(x, config.n_steps, key=key), 0, 1)

    elif config.dataset == "mnist":

        def encode(x, key):
            return jnp.broadcast_to(x[:, None, :], (x.shape[0], config.n_steps, x.shape[1]))

    elif config.dataset == "smnist":

        def encode(x, key):
            return x[:, :, None]

    else:

        def encode(x, key):
            return jnp.asarray(x)

    return encode


def make_loss(config: SNNTaskConfig, *, train: bool = False) -> Callable[..., Any]:
    """`loss_fn(model, (x, y), key) -> (loss, {"accuracy": ...})` for `fit`.

    With `train`, the images are first augmented as the config asks (`augment_shift`).
    """
    encode = make_encoder(config)
    shift = config.augment_shift if train else 0
    if config.loss == "max":
        readout_loss = max_membrane_cross_entropy
    else:
        readout_loss = sum_membrane_cross_entropy

    def loss_fn(model, batch, key):
        x, y = batch
        if shift:
            key, key_shift = jr.split(key)
            x = random_shift(x, shift, key=key_shift)
        v = jax.vmap(model)(encode(jnp.asarray(x), key))
        scores = jnp.max(v, axis=1) if config.loss == "max" else jnp.mean(v, axis=1)
        return readout_loss(v, y), {"accuracy": accuracy(scores, y)}

    return loss_fn


def evaluate(model: Any, loss_fn: Callable[..., Any], data: Arrays, batch_size: int, key: Any):
    """Mean loss and accuracy of `model` over `data` (weighted by batch sizes)."""
    step = eqx.filter_jit(loss_fn)
    total, loss_sum, acc_sum = 0, 0.0, 0.0
    for i, batch in enumerate(DataLoader(data, min(batch_size, len(data[0])), shuffle=False)):
        loss, aux = step(model, batch, jr.fold_in(key, i))
        n = len(batch[1])
        total += n
        loss_sum += float(loss) * n
        acc_sum += float(aux["accuracy"]) * n
    return loss_sum / total, acc_sum / total


def network_for(config: SNNTaskConfig, n_in: int, n_out: int, *, key: Any) -> SpikingNetwork:
    """The configured `SpikingNetwork` for `n_in` inputs and `n_out` classes."""
    return build_network(
        n_in,
        config.hidden,
        n_out,
        key=key,
        neuron=config.neuron,
        recurrent=config.recurrent,
        synapse=config.synapse,
        dt=config.dt,
        tau_m=config.tau_m,
        tau_syn=config.tau_syn,
        tau_out=config.tau_out,
        tau_a=config.tau_a,
        beta=config.beta,
        v_th=config.v_th,
        surrogate=config.surrogate,
        surrogate_alpha=config.surrogate_alpha,
        init_gain=config.init_gain,
        chunk=config.scan_chunk or None,
    )


@register_task("snn_classifier", SNNTaskConfig)
def train_snn_classifier(config: SNNTaskConfig, run: TrainRun) -> dict[str, Any]:
    """Train the configured classifier; the best epoch is chosen on the validation split.

    Writes `metrics.jsonl`, orbax checkpoints in `ckpt/` (so `--resume` continues) and
    the chosen model's parameters, `model.eqx` (`eqx.tree_serialise_leaves`).
    """
    data = load_task_data(config, run.data_dir)
    x_train, y_train = data["train"]
    n_in = 1 if config.dataset == "smnist" else x_train.shape[-1]
    n_out = config.randman_classes if config.dataset == "randman" else 10
    key_model, key_fit, key_test = jr.split(jr.key(run.seed), 3)
    model = network_for(config, n_in, n_out, key=key_model)
    batch = min(config.batch_size, len(y_train))
    train_loader = DataLoader(data["train"], batch, seed=run.seed, drop_last=True)
    val_loader = DataLoader(data["val"], min(batch, len(data["val"][1])), shuffle=False)
    n_steps_total = config.epochs * len(train_loader)
    lr: Any = config.learning_rate
    if config.cosine:
        lr = optax.cosine_decay_schedule(config.learning_rate, n_steps_total)
    loss_fn = make_loss(config)
    result = fit(
        model,
        make_loss(config, train=True),
        train_loader,
        optimizer=optax.adam(lr),
        epochs=config.epochs,
        key=key_fit,
        val_data=val_loader,
        val_loss_fn=loss_fn,
        filter_spec=trainable_weights(model),
        lr_schedule=lr,
        metrics_path=run.out_dir / "metrics.jsonl",
        checkpoint_dir=run.out_dir / "ckpt",
        checkpoint_every_steps=config.checkpoint_every_steps or None,
        resume=run.resume,
        early_stopping_patience=config.early_stopping_patience or None,
        max_seconds=config.max_minutes * 60.0 or None,
        progress=run.progress,
    )
    best = result.model
    eqx.tree_serialise_leaves(run.out_dir / "model.eqx", best)
    test_loss, test_acc = evaluate(best, loss_fn, data["test"], config.batch_size, key_test)
    history = result.history
    best_record = next((r for r in history if r["epoch"] == result.best_epoch), history[-1])
    summary = {
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "val_accuracy": best_record.get("val_accuracy"),
        "best_epoch": result.best_epoch,
        "epochs_run": len(history),
        "seconds_per_epoch": float(
            np.mean([r["seconds"] for r in history if not r.get("partial")] or [np.nan])
        ),
        "n_train": len(y_train),
        "n_val": len(data["val"][1]),
        "n_test": len(data["test"][1]),
        "stopped_early": result.stopped_early,
        "out_of_time": result.out_of_time,
        "train_seconds": float(sum(r["seconds"] for r in history)),
        "steps": history[-1]["step"],
    }
    (run.out_dir / "test.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
