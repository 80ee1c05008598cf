"""The neuron-astrocyte liquid state machine (NALSM, Ivanov & Michmizos, NeurIPS 2021)
and the `nalsm` task.

1. Initialisation: the liquid starts at the maximum weight magnitude and runs
   `n_init` random training samples of 20 ms, one after another, with STDP whose
   depression rate is a `NALSMAstrocyte`'s state (neurons, timers and astrocyte reset
   every sample; weights carry over). The result is `W_INI`.
2. Features: every sample starts from `W_INI` and runs 250 ms with the same plasticity,
   all rates fading by 0.99 per ms; the liquid's spike counts are the features.
3. Readout: linear, on normalised counts (see `LSM`).

With `astrocyte=False` the depression rate is fixed at the LTP rate (the paper's
LSM+STDP ablation).
"""

import dataclasses
import time
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ..astrocytes._nalsm import NALSMAstrocyte
from ..plasticity import PairSTDP
from ._liquid import Liquid, nalsm_stdp
from ._liquid_data import (
    Split,
    batch_rasters,
    initialize_liquid,
    nmnist_drive,
    sample_keys,
)
from ._lsm import (
    LSM,
    DataConfig,
    LiquidConfig,
    ReadoutConfig,
    evaluate_liquid,
    progress_printer,
)
from ._tasks import TrainRun, register_task


class NALSM(eqx.Module):
    """A liquid with astrocyte-modulated STDP.

    **Arguments:**

    - `liquid`: the liquid (no plasticity of its own); its weights `w0` are the starting
      point (the paper: all at the maximum magnitude, 3).
    - `a_plus`: the LTP rate (0.15); the astrocyte's bias and initial state default to it.
    - `tau_trace`: the STDP trace time constant (ms, 10).
    - `astrocyte`: the `NALSMAstrocyte`, or `None` for plain STDP with the depression rate
      fixed at `a_plus` (the LSM+STDP ablation).
    - `rate_decay`: the per-ms fading of every plastic rate in feature runs (0.99).
    """

    liquid: Liquid
    rule: PairSTDP
    astrocyte: NALSMAstrocyte | None
    rate_decay: float = eqx.field(static=True)

    def __init__(
        self,
        liquid: Liquid,
        *,
        a_plus: float = 0.15,
        tau_trace: float = 10.0,
        astrocyte: NALSMAstrocyte | None = None,
        rate_decay: float = 0.99,
    ):
        if liquid.rule is not None:
            raise ValueError("liquid: pass a liquid without plasticity (NALSM adds its own)")
        if not 0.0 <= rate_decay <= 1.0:
            raise ValueError(f"rate_decay must lie in [0, 1], got {rate_decay!r}")
        self.liquid = liquid
        self.rule = nalsm_stdp(liquid, a_plus=a_plus, tau=tau_trace)
        self.astrocyte = astrocyte
        self.rate_decay = float(rate_decay)

    def init_liquid(self) -> Liquid:
        """The liquid of the initialisation phase (plastic, rates not fading)."""
        return self.liquid.with_plasticity(self.rule, self.astrocyte, 1.0)

    def feature_liquid(self, *, plastic: bool = True) -> Liquid:
        """The liquid of feature runs: fading plasticity from the current weights, or
        (`plastic=False`) the weights frozen."""
        if not plastic:
            return self.liquid
        return self.liquid.with_plasticity(self.rule, self.astrocyte, self.rate_decay)

    def with_weights(self, w: Array) -> "NALSM":
        """The same model starting from weights `w` (e.g. `W_INI`)."""
        return eqx.tree_at(lambda m: m.liquid, self, self.liquid.with_weights(w))

    def initialize(
        self,
        split: Split,
        *,
        n_samples: int,
        key: PRNGKeyArray,
        n_steps: int = 20,
        span: int | None = None,
        chunk: int = 500,
        checkpoint: str | Path | None = None,
        progress: Any = None,
    ) -> tuple["NALSM", dict[str, float]]:
        """Run the initialisation phase on samples of `split`; returns the model starting
        from `W_INI` and `{"seconds": ...}` (see `initialize_liquid`)."""
        w, info = initialize_liquid(
            self.init_liquid(),
            split,
            n_samples=n_samples,
            key=key,
            n_steps=n_steps,
            span=span,
            chunk=chunk,
            checkpoint=checkpoint,
            progress=progress,
        )
        return self.with_weights(w), info

    def lsm(self, *, plastic: bool = True, n_steps: int = 250) -> LSM:
        """An `LSM` whose feature runs use this model's (fading) plasticity."""
        return LSM(self.feature_liquid(plastic=plastic), n_steps=n_steps)


def liquid_adjacency(liquid: Liquid) -> np.ndarray:
    """`(n_liquid, n_liquid)` 0/1 matrix, `[i, j] = 1` when liquid neuron `i` reaches `j`
    (the liquid-to-liquid synapses only)."""
    pre, post, _ = liquid.connection_lists()
    inside = pre >= liquid.n_input
    adj = np.zeros((liquid.n_liquid, liquid.n_liquid), np.int8)
    adj[pre[inside] - liquid.n_input, post[inside]] = 1
    return adj


def branching_factors(
    liquid: Liquid,
    split: Split,
    *,
    key: PRNGKeyArray,
    n_samples: int,
    n_steps: int,
    window: int = 4,
    skip: int = 25,
) -> dict[str, float]:
    """The liquid's branching factor as the paper measures it (descendants per ancestor
    spike within `window` ms, first and last `skip` ms dropped) over the first
    `n_samples` samples of `split`, through `brainsim.analysis`'s `branching_factor`;
    an empty dict when that function is not available.

    **Returns:** `{"branching_factor": mean over samples, "branching_factor_std": ...,
    "rate_hz": mean liquid rate of those runs}`.
    """
    try:
        from ..analysis._branching import branching_factor
    except ImportError:
        return {}
    n = min(n_samples, len(split))
    idx = np.arange(n)
    if split.kind == "rate":
        x = jnp.asarray(np.asarray(split.inputs)[idx])
    else:
        x = jnp.asarray(np.stack([nmnist_drive(split.inputs[i], n_steps) for i in idx]))
    rasters = np.asarray(batch_rasters(liquid, x, sample_keys(key, idx), n_steps))
    adj = liquid_adjacency(liquid)
    values = [branching_factor(r, adj, window=window, skip=skip) for r in rasters]
    return {
        "branching_factor": float(np.nanmean(values)),
        "branching_factor_std": float(np.nanstd(values)),
        "rate_hz": float(rasters.mean() * 1000.0),
    }


@dataclasses.dataclass(frozen=True)
class PlasticityConfig:
    """NALSM's plasticity (defaults: the paper's, 1000-neuron liquid)."""

    astrocyte: bool = True
    a_plus: float = 0.15
    tau_trace: float = 10.0
    astro_tau: float = 100.0
    astro_w: float = 0.015
    astro_bias_offset: float = 0.0
    rate_decay: float = 0.99
    n_init: int = 50000
    init_steps: int = 20
    init_window: Literal["start", "random"] = "start"
    init_chunk: int = 500
    feature_plasticity: bool = True

    def __post_init__(self):
        for name in ("a_plus", "tau_trace", "astro_tau"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if not 0.0 <= self.rate_decay <= 1.0:
            raise ValueError(f"rate_decay: must lie in [0, 1], got {self.rate_decay!r}")
        if self.n_init < 0 or self.init_steps < 1 or self.init_chunk < 1:
            raise ValueError("n_init must be >= 0, init_steps and init_chunk >= 1")

    def build(self, liquid: Liquid) -> NALSM:
        astro = None
        if self.astrocyte:
            bias = self.a_plus * (1.0 + self.astro_bias_offset)
            astro = NALSMAstrocyte(tau=self.astro_tau, w=self.astro_w, bias=bias, a0=self.a_plus)
        return NALSM(
            liquid,
            a_plus=self.a_plus,
            tau_trace=self.tau_trace,
            astrocyte=astro,
            rate_decay=self.rate_decay,
        )


@dataclasses.dataclass(frozen=True)
class NALSMTaskConfig:
    """The `nalsm` task: initialisation phase, feature runs, readout."""

    liquid: LiquidConfig = LiquidConfig(w_liquid=3.0, w_input=3.0)
    data: DataConfig = DataConfig()
    readout: ReadoutConfig = ReadoutConfig()
    plasticity: PlasticityConfig = PlasticityConfig()
    batch_size: int = 32
    branching_samples: int = 20

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if self.branching_samples < 0:
            raise ValueError(f"branching_samples: must be >= 0, got {self.branching_samples}")
        window = self.plasticity.init_window
        if window == "random" and self.data.dataset != "nmnist":
            raise ValueError(
                "plasticity.init_window: 'random' applies to event data (nmnist); a rate-coded"
                " image looks alike at every ms"
            )
        if window == "random" and self.plasticity.init_steps > self.data.n_steps:
            raise ValueError(
                f"plasticity.init_steps: {self.plasticity.init_steps} ms do not fit in a"
                f" {self.data.n_steps}-ms sample"
            )


@register_task("nalsm", NALSMTaskConfig)
def train_nalsm(config: NALSMTaskConfig, run: TrainRun) -> dict[str, Any]:
    """Build the liquid from `run.seed`, run the initialisation phase (resumable), then
    features and readout as the `lsm` task."""
    t0 = time.perf_counter()
    key = jr.key(run.seed)
    splits = config.data.load(run.data_dir)
    liquid = config.liquid.build(config.data.inputs, seed=run.seed)
    model = config.plasticity.build(liquid)
    ckpt = run.out_dir / "w_init.pkl"
    if ckpt.exists() and not run.resume:
        ckpt.unlink()
    summary: dict[str, Any] = {}

    def measure(liq: Liquid, suffix: str) -> None:
        if config.branching_samples:
            found = branching_factors(
                liq,
                splits["val"],
                key=jr.fold_in(key, 3),
                n_samples=config.branching_samples,
                n_steps=config.data.n_steps,
            )
            summary.update({f"{k}_{suffix}": v for k, v in found.items()})

    measure(model.feature_liquid(plastic=config.plasticity.feature_plasticity), "initial")
    model, info = model.initialize(
        splits["train"],
        n_samples=config.plasticity.n_init,
        key=jr.fold_in(key, 0),
        n_steps=config.plasticity.init_steps,
        span=config.data.n_steps if config.plasticity.init_window == "random" else None,
        chunk=config.plasticity.init_chunk,
        checkpoint=ckpt,
        progress=progress_printer(run.progress, "initialisation"),
    )
    summary["init_seconds"] = info["seconds"]
    feature_liquid = model.feature_liquid(plastic=config.plasticity.feature_plasticity)
    measure(feature_liquid, "final")
    w = np.asarray(model.liquid.w0)[np.asarray(liquid.valid)]
    summary["mean_abs_weight_init"] = float(np.mean(np.abs(w)))
    summary.update(
        evaluate_liquid(
            feature_liquid,
            splits,
            data=config.data,
            readout=config.readout,
            batch_size=config.batch_size,
            run=run,
            key=key,
        )
    )
    summary["seconds"] = time.perf_counter() - t0
    return summary
