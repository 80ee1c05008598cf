"""DCLS delays: a feed-forward LIF network whose synapses learn their delays.

Hammouamri, Khalfaoui-Hassani & Masquelier (ICLR 2024). Every layer is a delay
convolution (`brainsim.kernels.delay_conv`: one weight per synapse at a learnable
continuous delay, spread by a Gaussian whose width anneals) -> batch norm -> LIF
(threshold 1, hard reset to 0, surrogate arctan) -> dropout; the output layer is a
delay convolution into LIF neurons that never spike, read out by the cross-entropy of
`sum_t softmax(V_out[t])`. At evaluation the delays are rounded to whole steps and
batch norm uses its running statistics, so the network is an ordinary brainsim
`Network` of `Projection`s with integer ring-buffer `Delay`s (`to_network`).

Timing: a spike emitted in step `t` reaches the next layer's membrane in step
`t + 1 + d` (one step of transmission, as in `Network`, plus the delay `d`).
"""

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import optax
from jaxtyping import Array, Float

from ..core._io import save_pytree
from ..core._spike import Surrogate
from ..inputs import SpikeGenerator
from ..kernels import CSR
from ..kernels.delay_conv import delay_conv
from ..network import LearnableDelay, Network, Projection
from ..neurons import LIF
from ..synapses import CUBA, Delta
from ..train import accuracy, fit, group_optimizer
from ._tasks import TrainRun, register_task

SIGMA_FLOOR = 0.27
"""Added to the annealed width inside the kernel (the constant of the `dcls` library)."""
BN_EPS = 1e-5
EVAL = "eval"
"""A batch `(x, y, EVAL)` is scored in evaluation mode (rounded delays, running stats)."""

DelayMode = Literal["learned", "fixed", "none"]


class DCLSLayer(eqx.Module):
    """One layer: delay convolution -> (batch norm) -> LIF.

    `weights` and `delays` are `(C_in, C_out)`; `delays` in steps in `[0, n_taps - 1]`.
    The batch-norm fields are `None` in a layer without batch norm.
    """

    weights: Float[Array, "c_in c_out"]
    delays: Float[Array, "c_in c_out"]
    neuron: LIF
    bn_scale: Float[Array, " c_out"] | None = None
    bn_shift: Float[Array, " c_out"] | None = None
    bn_mean: Float[Array, " c_out"] | None = None
    bn_var: Float[Array, " c_out"] | None = None

    def folded(self) -> tuple[Array, Array | None]:
        """Weights with the evaluation-mode batch norm folded in, and the bias it adds."""
        if self.bn_scale is None:
            return self.weights, None
        assert self.bn_var is not None and self.bn_mean is not None and self.bn_shift is not None
        s = self.bn_scale / jnp.sqrt(self.bn_var + BN_EPS)
        return self.weights * s[None, :], self.bn_shift - self.bn_mean * s


class DCLSNet(eqx.Module):
    """A DCLS network (see the module docstring).

    **Arguments:**

    - `sizes`: channels per layer, input first, classes last (e.g. `(140, 256, 256, 20)`).
    - `n_taps`: kernel length (delays `0 .. n_taps - 1` steps); 1 means no delays.
    - `dt`: the step (ms); `tau_m`: the LIF membrane time constant (ms).
    - `mode`: `"learned"` (Gaussian-spread delays, trained), `"fixed"` (random integer
      delays, not trained) or `"none"` (every delay 0; needs `n_taps = 1`).
    - `sigma`: the initial Gaussian width in steps (default `n_taps // 2`).
    - `batch_norm`, `dropout`, `surrogate_alpha`: as in the paper.
    - `key`: initialises weights (Kaiming uniform) and delays (uniform in the kernel).
    """

    layers: tuple[DCLSLayer, ...]
    sigma: Float[Array, ""]
    n_taps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    mode: str = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __init__(
        self,
        sizes: tuple[int, ...],
        *,
        n_taps: int,
        dt: float,
        tau_m: float,
        mode: DelayMode = "learned",
        sigma: float | None = None,
        batch_norm: bool = True,
        dropout: float = 0.0,
        surrogate_alpha: float = 5.0,
        key: Any,
    ):
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes: need at least (inputs, classes), all positive, got {sizes}")
        if mode not in ("learned", "fixed", "none"):
            raise ValueError(f"mode: must be 'learned', 'fixed' or 'none', got {mode!r}")
        if not isinstance(n_taps, int) or n_taps < 1:
            raise ValueError(f"n_taps: must be a positive integer, got {n_taps!r}")
        if mode == "none" and n_taps != 1:
            raise ValueError(f"n_taps: mode 'none' (no delays) needs n_taps = 1, got {n_taps}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: must lie in [0, 1), got {dropout}")
        spike_fn = Surrogate("arctan", surrogate_alpha)
        keys = jr.split(key, 2 * (len(sizes) - 1))
        layers = []
        for i, (c_in, c_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = float(np.sqrt(6.0 / c_in))  # Kaiming uniform (ReLU gain), as the paper's code
            w = jr.uniform(keys[2 * i], (c_in, c_out), minval=-bound, maxval=bound)
            d = jr.uniform(keys[2 * i + 1], (c_in, c_out), minval=0.0, maxval=n_taps - 1.0)
            if mode == "fixed":
                d = jnp.rint(d)
            last = i == len(sizes) - 2
            neuron = LIF(
                c_out,
                tau_m=tau_m,
                v_rest=0.0,
                v_th=1e9 if last else 1.0,
                v_reset=0.0,
                spike_fn=spike_fn,
                method="euler",
            )
            bn: dict[str, Any] = {}
            if batch_norm and not last:
                bn = {  # four distinct arrays (no leaf shared between fields)
                    name: jnp.full((c_out,), value, jnp.result_type(float))
                    for name, value in (("bn_scale", 1.0), ("bn_shift", 0.0), ("bn_mean", 0.0))
                }
                bn["bn_var"] = jnp.ones((c_out,))
            layers.append(DCLSLayer(w, d, neuron, **bn))
        self.layers = tuple(layers)
        self.sigma = jnp.asarray(n_taps // 2 if sigma is None else sigma, jnp.result_type(float))
        self.n_taps, self.dt, self.mode, self.dropout = n_taps, float(dt), mode, float(dropout)

    def rounded(self) -> "DCLSNet":
        """This network with its delays rounded to whole steps and frozen: mode `"fixed"`
        (`"none"` stays `"none"`), so training sees the delays evaluation uses. Weights,
        batch norm and `sigma` are kept; the evaluation-mode output is unchanged."""
        mode = "none" if self.mode == "none" else "fixed"
        model = _with_mode(self, mode)
        return eqx.tree_at(
            lambda m: [layer.delays for layer in m.layers],
            model,
            [jnp.rint(layer.delays) for layer in self.layers],
        )

    def n_params(self) -> int:
        """Weights plus (learned) delays."""
        n = sum(int(layer.weights.size) for layer in self.layers)
        return 2 * n if self.mode == "learned" else n

    def forward(
        self,
        x: Float[Array, "batch time c_in"],
        *,
        train: bool,
        key: Any = None,
        raw_layer: int | None = None,
    ) -> tuple[Float[Array, "batch time classes"], list[tuple[Array, Array]]]:
        """Output membrane potentials, and each batch-norm layer's batch `(mean, var)`.

        (A method, not `__call__`: `optax.multi_transform` would take a callable model's
        label tree for a labelling function.)

        `train=True`: Gaussian-spread delays (learned mode), batch statistics, dropout.
        `train=False`: rounded delays, running statistics, no dropout; with `raw_layer=i`,
        layer `i`'s delay-convolution output before batch norm instead.
        """
        sigma = self.sigma + SIGMA_FLOOR if (train and self.mode == "learned") else None
        keys = jr.split(jr.key(0) if key is None else key, len(self.layers))
        stats = []
        s = x.astype(self.sigma.dtype)
        for i, layer in enumerate(self.layers):
            shifted = jnp.pad(s, ((0, 0), (1, 0), (0, 0)))[:, :-1]  # one step of transmission
            neuron = layer.neuron
            if train:
                y = delay_conv(shifted, layer.weights, layer.delays, sigma, n_taps=self.n_taps)
                if layer.bn_scale is not None and layer.bn_shift is not None:
                    mean, var = jnp.mean(y, axis=(0, 1)), jnp.var(y, axis=(0, 1))
                    stats.append((mean, var))
                    scale = layer.bn_scale / jnp.sqrt(var + BN_EPS)
                    y = (y - mean[None, None]) * scale[None, None] + layer.bn_shift[None, None]
            elif i == raw_layer:  # the input of this layer's batch norm, in evaluation mode
                return delay_conv(
                    shifted, layer.weights, layer.delays, None, n_taps=self.n_taps
                ), []
            else:
                w, bias = layer.folded()
                y = delay_conv(shifted, w, layer.delays, None, n_taps=self.n_taps)
                if bias is not None:
                    neuron = eqx.tree_at(lambda n: n.i_bias, neuron, bias)
            v, s = run_lif(neuron, y, self.dt)
            if i == len(self.layers) - 1:
                return v, stats
            if train and self.dropout > 0:
                keep = jr.bernoulli(keys[i], 1.0 - self.dropout, s.shape)
                s = jnp.where(keep, s / (1.0 - self.dropout), jnp.zeros_like(s))
        raise AssertionError("unreachable: a DCLSNet has at least one layer")


def _with_mode(model: DCLSNet, mode: str) -> DCLSNet:
    """`model` with its static `mode` replaced (every array shared, nothing re-initialised)."""
    new = object.__new__(DCLSNet)
    for field in dataclasses.fields(model):
        object.__setattr__(new, field.name, getattr(model, field.name))
    object.__setattr__(new, "mode", mode)
    return new


def recalibrate_batch_norm(model: DCLSNet, x: np.ndarray, batch_size: int = 512) -> DCLSNet:
    """Set each batch norm's running statistics to those of its input in evaluation mode.

    Layer by layer (each with the layers before it already recalibrated), the mean and
    variance over samples and steps of the delay convolution's output with rounded
    delays and no dropout, over `x` (training data). The running averages gathered in
    training see Gaussian-spread delays and dropout; this matches the statistics to the
    network that is evaluated ("precise batch norm"; not in the paper).
    """
    raw = eqx.filter_jit(lambda m, xb, i: m.forward(xb, train=False, raw_layer=i)[0])
    for i, layer in enumerate(model.layers):
        if layer.bn_mean is None:
            continue
        total, total_sq, count = 0.0, 0.0, 0
        for start in range(0, len(x), batch_size):
            y = np.asarray(raw(model, jnp.asarray(x[start : start + batch_size]), i), np.float64)
            total = total + y.sum(axis=(0, 1))
            total_sq = total_sq + (y**2).sum(axis=(0, 1))
            count += y.shape[0] * y.shape[1]
        mean = total / count
        var = np.maximum(total_sq / count - mean**2, 0.0)
        new = (jnp.asarray(mean, layer.bn_mean.dtype), jnp.asarray(var, layer.bn_mean.dtype))
        model = eqx.tree_at(_field_pair(i), model, new)
    return model


def _field_pair(i: int) -> Callable[[Any], Any]:
    return lambda m: (m.layers[i].bn_mean, m.layers[i].bn_var)


def run_lif(neuron: LIF, currents: Array, dt: float) -> tuple[Array, Array]:
    """Step `neuron` through `currents` `(B, T, n)`: membrane potentials and spikes."""
    b, t, _ = currents.shape
    state = jax.vmap(lambda _: neuron.init_state(key=jr.key(0)))(jnp.arange(b))
    times = jnp.arange(t, dtype=currents.dtype) * dt

    def step(state, inputs):
        i_t, t_now = inputs
        state, spikes = jax.vmap(lambda st, i: neuron.step(st, i, t_now, dt))(state, i_t)
        return state, (state.v, spikes)

    _, (v, spikes) = jax.lax.scan(step, state, (jnp.swapaxes(currents, 0, 1), times))
    return jnp.swapaxes(v, 0, 1), jnp.swapaxes(spikes, 0, 1)


def readout_logits(v: Float[Array, "*batch time classes"]) -> Float[Array, "*batch classes"]:
    """`sum_t softmax(V_out[t])`, the paper's readout."""
    return jnp.sum(jax.nn.softmax(v, axis=-1), axis=-2)


def _ema_hook(running: Array, batch_value: Array) -> Array:
    """Zero, with gradient `running - batch_value` w.r.t. `running`: one SGD step of rate
    `1 - momentum` on it is the batch-norm running average (`group_optimizer` 'bn_stats')."""
    diff = jax.lax.stop_gradient(running - batch_value)
    return jnp.sum((running - jax.lax.stop_gradient(running)) * diff)


def dcls_loss(model: DCLSNet, batch: tuple, key: Any) -> tuple[Array, dict]:
    """Cross-entropy of the readout; a batch `(x, y, EVAL)` is scored in evaluation mode."""
    x, y = batch[0], batch[1]
    train = len(batch) == 2
    v, stats = model.forward(x, train=train, key=key)
    logits = readout_logits(v)
    logp = jax.nn.log_softmax(logits, axis=-1)
    labels = jnp.asarray(y).astype(jnp.int32)
    loss = -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))
    bn_layers = [layer for layer in model.layers if layer.bn_mean is not None]
    for layer, (mean, var) in zip(bn_layers, stats):
        assert layer.bn_mean is not None and layer.bn_var is not None
        loss = loss + _ema_hook(layer.bn_mean, mean) + _ema_hook(layer.bn_var, var)
    return loss, {"accuracy": accuracy(logits, labels)}


def trainable(model: DCLSNet) -> Any:
    """Filter spec: weights, batch norm and, in learned mode, delays and the width."""
    spec = jtu.tree_map(lambda _: False, model)
    names = ["weights", "bn_scale", "bn_shift", "bn_mean", "bn_var"]
    if model.mode == "learned":
        names.append("delays")
    for i, layer in enumerate(model.layers):
        for name in names:
            if getattr(layer, name) is not None:
                spec = eqx.tree_at(_field(i, name), spec, True)
    if model.mode == "learned":
        spec = eqx.tree_at(lambda m: m.sigma, spec, True)
    return spec


def _field(i: int, name: str) -> Callable[[Any], Any]:
    return lambda m: getattr(m.layers[i], name)


class _CountState(NamedTuple):
    step: Array


def _follow(schedule: Callable[[Array], Array]) -> optax.GradientTransformation:
    """Ignore the gradient; set the parameter to `schedule(step + 1)` after each step."""

    def init(params):
        del params
        return _CountState(jnp.zeros((), jnp.int32))

    def update(updates, state, params):
        target = schedule(state.step + 1)
        new = jtu.tree_map(lambda p: jnp.asarray(target, p.dtype) - p, params)
        return new, _CountState(state.step + 1)

    return optax.GradientTransformation(init, update)  # type: ignore[arg-type]


def _clamp(lo: float, hi: float) -> optax.GradientTransformation:
    """Project the updated parameters onto `[lo, hi]` (the paper clamps delays each step)."""

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params):
        return jtu.tree_map(lambda u, p: jnp.clip(p + u, lo, hi) - p, updates, params), state

    return optax.GradientTransformation(init, update)  # type: ignore[arg-type]


def sigma_schedule(
    sigma0: float, sigma_final: float, anneal_epochs: int, steps_per_epoch: int
) -> Callable[[Array], Array]:
    """`sigma0 * alpha**epoch` down to `sigma_final` at `anneal_epochs`, then constant."""
    alpha = (sigma_final / sigma0) ** (1.0 / max(anneal_epochs, 1))

    def schedule(step):
        epoch = (step // steps_per_epoch).astype(jnp.float32)
        return jnp.maximum(sigma0 * alpha**epoch, sigma_final)

    return schedule


def _stats(layer: DCLSLayer) -> tuple[Any, Any]:
    return layer.bn_mean, layer.bn_var


def dcls_optimizer(
    model: DCLSNet, config: "DCLSTaskConfig", steps_per_epoch: int, epochs: int | None = None
):
    """Weights: AdamW with one-cycle; delays: Adam with cosine decay, clamped to the
    kernel; width: the annealing schedule; batch-norm statistics: their running average.
    The schedules span `epochs` (default `config.epochs`)."""
    epochs = config.epochs if epochs is None else epochs
    total = epochs * steps_per_epoch
    w_schedule = optax.cosine_onecycle_schedule(
        total,
        peak_value=config.lr_max,
        pct_start=0.3,
        div_factor=config.lr_max / config.lr,
        final_div_factor=1e4,
    )
    default = optax.adamw(w_schedule, weight_decay=config.weight_decay)
    groups: dict[str, Any] = {}
    if model.mode == "learned":
        d_schedule = optax.cosine_decay_schedule(config.lr_delays, total)
        clamp = _clamp(0.0, model.n_taps - 1.0)
        groups["delays"] = (
            lambda m: [layer.delays for layer in m.layers],
            optax.chain(optax.adam(d_schedule), clamp),
        )
        anneal = int(round(epochs * config.sigma_anneal_fraction))
        schedule = sigma_schedule(float(model.sigma), config.sigma_final, anneal, steps_per_epoch)
        groups["sigma"] = (lambda m: m.sigma, _follow(schedule))
    if any(layer.bn_mean is not None for layer in model.layers):
        groups["bn_stats"] = (
            lambda m: [x for ly in m.layers if ly.bn_mean is not None for x in _stats(ly)],
            optax.sgd(1.0 - config.bn_momentum),
        )

    def logged_rate(step):  # optax schedules mix dtypes: evaluate under standard promotion
        with jax.numpy_dtype_promotion("standard"):
            return w_schedule(step)

    return group_optimizer(model, groups, default, filter_spec=trainable(model)), logged_rate


# ----------------------------------------------------------------------------- simulator


def to_network(model: DCLSNet, x: Array) -> Network:
    """The evaluation-mode network as a brainsim `Network` driven by the spikes `x`.

    Populations `"input"` (a `SpikeGenerator` replaying the binary raster `x`,
    `(T, C_in)`), `"layer0"`, `"layer1"`, ... (LIF; batch norm folded into the weights
    and `i_bias`); projections `"proj0"`, ... (all-to-all `CSR`, `Delta` synapses, `CUBA`
    output, integer ring-buffer `Delay`s of the rounded delays). Run it for `T` steps of
    `model.dt`: the last layer's `v` equals `model.forward(x[None], train=False)[0][0]`.
    """
    raster = np.asarray(x)
    c_in0 = model.layers[0].weights.shape[0]
    if raster.ndim != 2 or raster.shape[1] != c_in0:
        raise ValueError(f"x: must be (T, {c_in0}), got {raster.shape}")
    if np.any((raster != 0) & (raster != 1)):
        raise ValueError("x: the SpikeGenerator replays binary spikes; got counts above 1")
    steps, units = np.nonzero(raster)
    pops: dict[str, Any] = {"input": SpikeGenerator(c_in0, steps * model.dt, units)}
    projs: dict[str, Any] = {}
    pre = "input"
    for i, layer in enumerate(model.layers):
        w, bias = layer.folded()
        c_in, c_out = w.shape
        conn = CSR(
            np.arange(c_in + 1) * c_out,
            np.tile(np.arange(c_out), c_in),
            w.reshape(-1),
            n_pre=c_in,
            n_post=c_out,
            major="pre",
            dtype=w.dtype,
        )
        delay = LearnableDelay(layer.delays.reshape(-1), n_taps=model.n_taps, dt=model.dt).rounded()
        name = f"layer{i}"
        neuron = layer.neuron
        if bias is not None:
            neuron = eqx.tree_at(lambda n: n.i_bias, neuron, bias)
        pops[name] = neuron
        projs[f"proj{i}"] = Projection(pre, name, conn, Delta(c_out), CUBA(), delay=delay)
        pre = name
    return Network(pops, projs)


# ----------------------------------------------------------------------------- task


@dataclasses.dataclass(frozen=True)
class RandmanConfig:
    """The Randman set of the ablation (`brainsim.data.make_randman`)."""

    n_classes: int = 10
    n_units: int = 50
    n_steps: int = 100
    n_samples: int = 1000
    manifold_dim: int = 1
    n_spikes: int = 1
    alpha: float = 2.0
    seed: int = 0
    test_fraction: float = 0.2

    def __post_init__(self):
        for name in ("n_classes", "n_units", "n_steps", "n_samples", "manifold_dim", "n_spikes"):
            if getattr(self, name) < 1:
                raise ValueError(f"randman.{name}: must be positive, got {getattr(self, name)}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"randman.test_fraction: must lie in (0, 1), got {self.test_fraction}")


@dataclasses.dataclass(frozen=True)
class DCLSTaskConfig:
    """`brainsim train` config of the `dcls` task (defaults: the paper's SHD setting).

    `gsc` (Google Speech Commands, `brainsim.data.load_gsc`) feeds log-mel frames, not
    spikes: `input_channels` mel bins, an `n_fft`-sample window every `hop` samples, and
    the time step is the hop (`bin_ms` must equal `hop / 16` ms; `n_bins` is unused: a
    1-s clip gives `1 + 16000 // hop` frames). Its validation split is the published
    `validation_list.txt`.
    """

    dataset: Literal["shd", "ssc", "gsc", "randman", "nmnist"] = "shd"
    input_channels: int = 700
    channel_pool: int = 5
    bin_ms: float = 10.0
    n_bins: int = 100
    n_fft: int = 256
    hop: int = 80
    nmnist_pool: int = 2
    randman: RandmanConfig = RandmanConfig()
    val_fraction: float = 0.1
    max_train_samples: int = 0
    hidden: tuple[int, ...] = (256, 256)
    delays: DelayMode = "learned"
    max_delay_ms: float = 250.0
    tau_m_ms: float = 10.05
    batch_norm: bool = True
    dropout: float = 0.4
    surrogate_alpha: float = 5.0
    epochs: int = 150
    rounded_epochs: int = 0
    batch_size: int = 256
    lr: float = 1e-3
    lr_max: float = 5e-3
    weight_decay: float = 1e-5
    lr_delays: float = 0.1
    sigma_final: float = 0.23
    sigma_anneal_fraction: float = 0.25
    bn_momentum: float = 0.9
    checkpoint_every_steps: int = 0

    def __post_init__(self):
        for name in ("input_channels", "channel_pool", "n_bins", "nmnist_pool", "epochs", "n_fft"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be a positive integer, got {getattr(self, name)}")
        if isinstance(self.rounded_epochs, bool) or not isinstance(self.rounded_epochs, int):
            raise ValueError(f"rounded_epochs: must be an integer, got {self.rounded_epochs!r}")
        if self.rounded_epochs < 0:
            raise ValueError(f"rounded_epochs: must be >= 0, got {self.rounded_epochs}")
        if self.batch_size < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("batch_size and hidden: sizes must be positive")
        if self.input_channels % self.channel_pool:
            raise ValueError(
                f"channel_pool: must divide input_channels ({self.input_channels}), "
                f"got {self.channel_pool}"
            )
        for name in ("bin_ms", "tau_m_ms", "max_delay_ms", "lr", "lr_max", "lr_delays"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must lie in [0, 1), got {self.dropout}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction: must lie in (0, 1), got {self.val_fraction}")
        if self.dataset == "gsc":
            self._check_gsc()
        if not 0.0 < self.sigma_final < self.n_taps // 2 + 1:
            raise ValueError(f"sigma_final: must lie in (0, initial width), got {self.sigma_final}")
        if self.n_taps > self.n_steps:
            raise ValueError(
                f"max_delay_ms: {self.max_delay_ms} ms ({self.n_taps} taps of {self.bin_ms} ms) "
                f"does not fit the sequence of {self.n_steps} steps"
            )

    def _check_gsc(self) -> None:
        from ..data._gsc import SAMPLE_RATE

        if not 1 <= self.hop <= SAMPLE_RATE // 2:
            raise ValueError(f"hop: must lie in 1..{SAMPLE_RATE // 2} samples, got {self.hop}")
        step_ms = 1e3 * self.hop / SAMPLE_RATE
        if abs(self.bin_ms - step_ms) > 1e-9 * step_ms:
            raise ValueError(
                f"bin_ms: the gsc time step is the hop, {self.hop} samples = {step_ms} ms, "
                f"got {self.bin_ms}"
            )
        if self.channel_pool != 1:
            raise ValueError(
                f"channel_pool: gsc takes the mel bins as they are (1), got {self.channel_pool}"
            )

    @property
    def n_taps(self) -> int:
        """Kernel length: `max_delay_ms / bin_ms` taps, made odd as the paper's code does."""
        k = max(int(round(self.max_delay_ms / self.bin_ms)), 1)
        return k if k % 2 else k + 1

    @property
    def n_steps(self) -> int:
        """Steps of the recorded sequence (before the padding for the delays)."""
        if self.dataset == "gsc":
            from ..data._gsc import SAMPLE_RATE

            return 1 + SAMPLE_RATE // self.hop  # frames of a 1-s clip
        return self.randman.n_steps if self.dataset == "randman" else self.n_bins

    @property
    def pad_steps(self) -> int:
        """Zeros appended so late spikes reach the output through every layer's delays."""
        return (len(self.hidden) + 1) * (self.n_taps // 2 + 1)


Split = tuple[np.ndarray, np.ndarray]


def _bin_spike_h5(path, config: DCLSTaskConfig) -> Split:
    from ..data import bin_events, downsample_channels, read_spike_h5

    n_classes = 20 if config.dataset == "shd" else 35
    times, units, labels = read_spike_h5(
        path, n_channels=config.input_channels, n_classes=n_classes
    )
    kw = dict(n_channels=config.input_channels, bin_size=config.bin_ms, n_bins=config.n_bins)
    x = np.stack([bin_events(t * 1e3, u, **kw) for t, u in zip(times, units)])  # type: ignore[arg-type]
    return downsample_channels(x, config.channel_pool).astype(np.float32), labels


def _split(data: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded random split: `(1 - fraction, fraction)` of the samples."""
    x, y = data
    order = np.random.default_rng(seed).permutation(len(y))
    n_hold = max(int(round(fraction * len(y))), 1)
    hold, keep = order[:n_hold], order[n_hold:]
    return (x[keep], y[keep]), (x[hold], y[hold])


def load_dcls_data(config: DCLSTaskConfig, data_dir: Any) -> tuple[Split, Split, Split, int]:
    """`(train, val, test, n_classes)`, each split `(x (N, T + pad, C), labels)`."""
    from ..data import resolve_data_dir

    if config.dataset in ("shd", "ssc"):
        folder = resolve_data_dir(data_dir, (config.dataset, config.dataset.upper()))
        name = config.dataset
        train = _bin_spike_h5(folder / f"{name}_train.h5", config)
        test = _bin_spike_h5(folder / f"{name}_test.h5", config)
        if config.dataset == "ssc":
            val = _bin_spike_h5(folder / "ssc_valid.h5", config)
        else:
            train, val = _split(train, config.val_fraction, seed=1)
        n_classes = 20 if config.dataset == "shd" else 35
    elif config.dataset == "gsc":
        from ..data import load_gsc

        kw = dict(n_mels=config.input_channels, n_fft=config.n_fft, hop=config.hop)
        train, val, test = (load_gsc(data_dir, s, **kw) for s in ("train", "valid", "test"))
        n_classes = 35
    elif config.dataset == "randman":
        from ..data import make_randman, times_to_raster

        r = config.randman
        times, labels = make_randman(
            n_classes=r.n_classes,
            n_units=r.n_units,
            n_steps=r.n_steps,
            n_samples=r.n_samples,
            manifold_dim=r.manifold_dim,
            n_spikes=r.n_spikes,
            alpha=r.alpha,
            seed=r.seed,
        )
        everything = (times_to_raster(times, r.n_steps), labels)
        rest, test = _split(everything, r.test_fraction, seed=r.seed + 1)
        train, val = _split(rest, config.val_fraction, seed=r.seed + 2)
        n_classes = r.n_classes
    else:
        from ..data import bin_events, load_nmnist, nmnist_channels

        def prepare(split: str) -> Split:
            events, labels = load_nmnist(data_dir, split)
            rows = []
            for ev in events:
                ch, n_ch = nmnist_channels(ev, factor=config.nmnist_pool)
                t_ms = ev["t"].astype(np.float64) / 1e3
                kw = dict(n_channels=n_ch, bin_size=config.bin_ms, n_bins=config.n_bins)
                rows.append(np.minimum(bin_events(t_ms, ch, **kw), 1.0))  # type: ignore[arg-type]
            return np.stack(rows).astype(np.float32), labels

        train, val = _split(prepare("train"), config.val_fraction, seed=1)
        test = prepare("test")
        n_classes = 10
    if config.max_train_samples:
        train = (train[0][: config.max_train_samples], train[1][: config.max_train_samples])
    pad = ((0, 0), (0, config.pad_steps), (0, 0))
    train, val, test = ((np.pad(x, pad), y) for x, y in (train, val, test))
    return train, val, test, n_classes


def evaluate(model: DCLSNet, data: Split, batch_size: int = 512) -> float:
    """Accuracy in evaluation mode (rounded delays), counted over every sample."""
    x, y = data
    forward = eqx.filter_jit(lambda m, xb: readout_logits(m.forward(xb, train=False)[0]))
    correct = 0
    for i in range(0, len(y), batch_size):
        logits = forward(model, jnp.asarray(x[i : i + batch_size]))
        correct += int(np.sum(np.argmax(np.asarray(logits), -1) == y[i : i + batch_size]))
    return correct / len(y)


def _val_batches(data: Split, size: int) -> list[tuple]:
    x, y = data
    return [(x[i : i + size], y[i : i + size], EVAL) for i in range(0, len(y), size)]


class _LaterEpochs:
    """A loader whose epoch `e` is epoch `offset + e` of `loader` (fresh shuffles for
    the rounded phase, which `fit` numbers from 0)."""

    def __init__(self, loader: Any, offset: int):
        self.loader, self.offset = loader, offset

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int, start: int = 0) -> Any:
        return self.loader.epoch(self.offset + epoch, start)


def _merge_metrics(path: Any, main: list[dict], rounded: list[dict]) -> list[dict]:
    """Write `path` as the main phase's epochs followed by the rounded phase's, these
    renumbered to continue the count (`epoch`, `step`) and marked `"phase": "rounded"`."""
    last_step = main[-1]["step"] if main else 0
    later = [
        {**r, "epoch": r["epoch"] + len(main), "step": r["step"] + last_step, "phase": "rounded"}
        for r in rounded
    ]
    history = [*main, *later]
    path.write_text("".join(json.dumps(r) + "\n" for r in history))
    return history


@register_task("dcls", DCLSTaskConfig)
def train_dcls(config: DCLSTaskConfig, run: TrainRun) -> dict[str, Any]:
    """Train a DCLS network; the validation split picks the model, the test set is scored once.

    `config.epochs` epochs as the paper, then `config.rounded_epochs` epochs in which the
    delays are rounded to whole steps and frozen and only the weights and batch norm train
    (a fresh optimiser, same settings, its schedules spanning the phase). The model kept
    is the best on the validation split (rounded delays) over all epochs. The rounded
    phase logs to `metrics_rounded.jsonl` and checkpoints to `checkpoints_rounded/`;
    `metrics.jsonl` holds every epoch once both phases are done.
    """
    from ..data import DataLoader

    start = time.perf_counter()
    train, val, test, n_classes = load_dcls_data(config, run.data_dir)
    c_in = train[0].shape[-1]
    mode = config.delays
    model = DCLSNet(
        (c_in, *config.hidden, n_classes),
        n_taps=1 if mode == "none" else config.n_taps,
        dt=config.bin_ms,
        tau_m=config.tau_m_ms,
        mode=mode,
        batch_norm=config.batch_norm,
        dropout=config.dropout,
        surrogate_alpha=config.surrogate_alpha,
        key=jr.key(run.seed),
    )
    batch = min(config.batch_size, len(train[1]))
    loader = DataLoader(train, batch, seed=run.seed, drop_last=True)
    val_batches = _val_batches(val, 1024)

    def phase(model: DCLSNet, loader: Any, epochs: int, key: Any, suffix: str) -> Any:
        optimizer, w_schedule = dcls_optimizer(model, config, len(loader), epochs=epochs)
        return fit(
            model,
            dcls_loss,
            loader,
            optimizer=optimizer,
            epochs=epochs,
            key=key,
            val_data=val_batches,
            filter_spec=trainable(model),
            lr_schedule=w_schedule,
            metrics_path=run.out_dir / f"metrics{suffix}.jsonl",
            checkpoint_dir=run.out_dir / f"checkpoints{suffix}",
            checkpoint_every_steps=config.checkpoint_every_steps or None,
            resume=run.resume,
            progress=run.progress,
        )

    result = phase(model, loader, config.epochs, jr.key(run.seed + 1), "")
    best, best_epoch, history = result.model, result.best_epoch, result.history
    if config.rounded_epochs:
        later = _LaterEpochs(loader, config.epochs)
        key = jr.fold_in(jr.key(run.seed + 1), 1)
        rounded = phase(result.final_model.rounded(), later, config.rounded_epochs, key, "_rounded")
        history = _merge_metrics(run.out_dir / "metrics.jsonl", result.history, rounded.history)
        score_main = result.history[result.best_epoch]["val_accuracy"]
        if rounded.history[rounded.best_epoch]["val_accuracy"] > score_main:  # ties: earlier
            best = _with_mode(rounded.model, mode)  # a learned model, its delays rounded
            best_epoch = config.epochs + rounded.best_epoch
    save_pytree(run.out_dir / "model.eqx", best)
    return {
        "test_accuracy": evaluate(best, test),
        "val_accuracy": evaluate(best, val),
        "best_epoch": best_epoch,
        "epochs": len(history),
        "rounded_epochs": config.rounded_epochs,
        "delays": mode,
        "n_taps": best.n_taps,
        "n_params": best.n_params(),
        "n_train": int(len(train[1])),
        "n_val": int(len(val[1])),
        "n_test": int(len(test[1])),
        "train_seconds": float(sum(r["seconds"] for r in history)),
        "total_seconds": time.perf_counter() - start,
    }
