"""The liquid state machine (LSM): a fixed liquid, its spike counts as features, and a
linear readout (softmax trained with optax, or closed-form ridge); the `lsm` task.

```python
liquid = build_liquid(n_liquid=1000, grid=(10, 10, 10), n_input=784,
                      w_liquid=0.75, w_input=0.75, seed=0)
lsm = LSM(liquid)
counts = lsm.features(p, key=key)        # (b, 1000), one vmapped run per sample
lsm = lsm.fit_readout((counts_tr, y_tr), (counts_val, y_val))
logits = lsm.predict(counts_te)
```
"""

import dataclasses
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ._liquid import Liquid, build_liquid
from ._liquid_data import (
    DATASETS,
    N_INPUTS,
    Split,
    batch_counts,
    extract_features,
    load_splits,
    sample_keys,
)
from ._liquid_readout import (
    OPTIMIZERS,
    LinearReadout,
    normalize_counts,
    readout_accuracy,
    select_ridge,
    train_linear_readout,
)
from ._tasks import TrainRun, register_task


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name}: must be positive, got {value!r}")


def _probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: must lie in [0, 1], got {value!r}")


@dataclasses.dataclass(frozen=True)
class LiquidConfig:
    """The liquid (defaults: the paper's 1000-neuron liquid; weights of the plain LSM)."""

    n_liquid: int = 1000
    grid: tuple[int, int, int] = (10, 10, 10)
    frac_excitatory: float = 0.8
    c: tuple[float, float, float, float] = (0.2, 0.1, 0.3, 0.05)
    lam: float = 3.0
    p_input: float = 0.15
    w_liquid: float = 0.75
    w_input: float = 0.75
    w_max: float = 3.0
    tau_v: float = 64.0
    v_th: float = 20.0
    t_ref: float = 2.0
    input_current: float = 100.0

    def __post_init__(self):
        if self.n_liquid != int(np.prod(self.grid)):
            raise ValueError(
                f"n_liquid: {self.n_liquid} does not match grid {list(self.grid)} "
                f"({int(np.prod(self.grid))} points)"
            )
        if any(g < 1 for g in self.grid):
            raise ValueError(f"grid: sizes must be positive, got {list(self.grid)}")
        for name in ("frac_excitatory", "p_input"):
            _probability(name, getattr(self, name))
        for i, value in enumerate(self.c):
            _probability(f"c.{i}", value)
        for name in ("lam", "tau_v", "v_th", "input_current"):
            _positive(name, getattr(self, name))
        for name in ("w_liquid", "w_input", "w_max", "t_ref"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)!r}")

    def build(self, n_input: int, seed: int) -> Liquid:
        """The liquid for `n_input` input neurons, from `seed`."""
        return build_liquid(
            n_liquid=self.n_liquid,
            grid=self.grid,
            n_input=n_input,
            frac_excitatory=self.frac_excitatory,
            c=self.c,
            lam=self.lam,
            p_input=self.p_input,
            w_liquid=self.w_liquid,
            w_input=self.w_input,
            w_max=self.w_max,
            tau_v=self.tau_v,
            v_th=self.v_th,
            t_ref=self.t_ref,
            input_current=self.input_current,
            seed=seed,
        )


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Dataset and split sizes (paper: 50,000 / 10,000 / 10,000), ms per sample."""

    dataset: Literal["mnist", "fashion_mnist", "nmnist"] = "mnist"
    n_train: int = 50000
    n_val: int = 10000
    n_test: int = 10000
    n_steps: int = 250
    n_input: int = 0  # 0: the dataset's (784, or 2312 for N-MNIST)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: must be one of {DATASETS}, got {self.dataset!r}")
        for name in ("n_train", "n_val", "n_test", "n_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.n_input not in (0, N_INPUTS[self.dataset]):
            raise ValueError(
                f"n_input: {self.n_input} does not match the {self.dataset} input size "
                f"({N_INPUTS[self.dataset]})"
            )

    @property
    def inputs(self) -> int:
        return N_INPUTS[self.dataset]

    def load(self, data_dir: str | Path | None) -> dict[str, Split]:
        """The train / val / test splits (`load_splits`) from `data_dir`."""
        return load_splits(
            self.dataset,
            data_dir=data_dir,
            n_train=self.n_train,
            n_val=self.n_val,
            n_test=self.n_test,
        )


@dataclasses.dataclass(frozen=True)
class ReadoutConfig:
    """The readout: `linear` (softmax, optax), `ridge` (closed form), or `both` (the
    one with the better validation accuracy gives the test figure)."""

    kind: Literal["linear", "ridge", "both"] = "both"
    optimizer: Literal["adam", "adadelta", "sgd"] = "adam"
    learning_rate: float = 1e-3
    epochs: int = 300
    batch_size: int = 250
    l2: float = 5e-10
    ridge_l2: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        _positive("learning_rate", self.learning_rate)
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs, batch_size: must be >= 1")
        if self.l2 < 0 or any(x < 0 for x in self.ridge_l2) or not self.ridge_l2:
            raise ValueError("l2, ridge_l2: penalties must be >= 0 (ridge_l2 non-empty)")


class LSM(eqx.Module):
    """A liquid state machine: a `Liquid` and a linear readout of its spike counts.

    **Arguments:**

    - `liquid`: the liquid (`build_liquid`, optionally plastic: NALSM runs its fading
      astrocyte-modulated STDP within every sample).
    - `readout`: a `LinearReadout` or ridge `(W, b)` (set by `fit_readout`).
    - `feature_scale`: the training set's normalisation (`normalize_counts`).
    - `n_steps`: ms each sample is presented.
    """

    liquid: Liquid
    readout: LinearReadout | tuple[Any, Any] | None = None
    feature_scale: float = eqx.field(static=True, default=1.0)
    n_steps: int = eqx.field(static=True, default=250)

    def features(self, inputs: Array, *, key: PRNGKeyArray) -> Array:
        """Spike counts `(b, n_liquid)` of a batch: `inputs` are probabilities
        `(b, n_input)` (Bernoulli drive each ms) or drives `(b, n_steps, n_input)`;
        sample `i` uses `fold_in(key, i)`. Runs are vmapped over the batch."""
        inputs = jnp.asarray(inputs)
        if inputs.ndim not in (2, 3) or inputs.shape[-1] != self.liquid.n_input:
            raise ValueError(
                f"inputs must be (b, {self.liquid.n_input}) or (b, n_steps, "
                f"{self.liquid.n_input}), got shape {inputs.shape}"
            )
        keys = sample_keys(key, np.arange(inputs.shape[0]))
        return batch_counts(self.liquid, inputs, keys, self.n_steps)

    def fit_readout(
        self,
        train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray],
        *,
        config: ReadoutConfig = ReadoutConfig(),
        key: PRNGKeyArray | None = None,
        n_classes: int = 10,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> tuple["LSM", dict[str, Any]]:
        """Fit the readout on spike counts `train = (counts, labels)`, selected on `val`.

        **Returns:** `(lsm, info)`: the LSM with its readout and `{"val_accuracy",
        "readout", ...}`.
        """
        x_tr, scale = normalize_counts(train[0])
        x_val, _ = normalize_counts(val[0], scale)
        info: dict[str, Any] = {}
        candidates: list[tuple[float, Any]] = []
        if config.kind in ("ridge", "both"):
            w, b, l2, acc = select_ridge(
                (x_tr, train[1]), (x_val, val[1]), l2_grid=config.ridge_l2, n_classes=n_classes
            )
            info.update(ridge_val_accuracy=acc, ridge_l2=l2)
            candidates.append((acc, (w, b)))
        if config.kind in ("linear", "both"):
            t0 = time.perf_counter()
            readout, best_epoch = train_linear_readout(
                (x_tr, train[1]),
                (x_val, val[1]),
                n_classes=n_classes,
                key=jr.key(0) if key is None else key,
                epochs=config.epochs,
                batch_size=config.batch_size,
                optimizer=config.optimizer,
                learning_rate=config.learning_rate,
                l2=config.l2,
                checkpoint_dir=checkpoint_dir,
                resume=resume,
            )
            acc = readout_accuracy(readout, x_val, val[1])
            info.update(
                linear_val_accuracy=acc,
                linear_best_epoch=best_epoch,
                linear_seconds=time.perf_counter() - t0,
            )
            candidates.append((acc, readout))
        acc, best = max(candidates, key=lambda c: c[0])
        info["readout"] = "linear" if isinstance(best, LinearReadout) else "ridge"
        info["val_accuracy"] = acc
        new = LSM(self.liquid, best, feature_scale=scale, n_steps=self.n_steps)
        return new, info

    def predict(self, counts: np.ndarray) -> np.ndarray:
        """Logits `(b, n_classes)` of the readout for spike counts `(b, n_liquid)`."""
        if self.readout is None:
            raise ValueError("readout: not fitted (call fit_readout)")
        x, _ = normalize_counts(counts, self.feature_scale)
        if isinstance(self.readout, LinearReadout):
            return np.asarray(self.readout(jnp.asarray(x, self.readout.weight.dtype)))
        w, b = self.readout
        return x @ w + b

    def accuracy(self, counts: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy of the readout on spike counts."""
        if self.readout is None:
            raise ValueError("readout: not fitted (call fit_readout)")
        x, _ = normalize_counts(counts, self.feature_scale)
        return readout_accuracy(self.readout, x, labels)


def progress_printer(enabled: bool, label: str) -> Callable[[int, int], None] | None:
    """A callback printing `label: done/total` about every 10 % (to stderr)."""
    if not enabled:
        return None
    last = [-1]

    def show(done: int, total: int) -> None:
        tenth = (10 * done) // max(total, 1)
        if tenth != last[0] or done == total:
            last[0] = tenth
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)

    return show


def liquid_features(
    liquid: Liquid,
    splits: dict[str, Split],
    *,
    key: PRNGKeyArray,
    n_steps: int,
    batch_size: int,
    out_dir: Path,
    resume: bool,
    progress: bool,
) -> tuple[dict[str, np.ndarray], float]:
    """Spike counts of every split, written per chunk under `out_dir/features` (kept
    and reused with `resume`, cleared otherwise). Returns `(counts, seconds)`."""
    folder = out_dir / "features"
    if folder.exists() and not resume:
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    counts = {}
    for i, (name, split) in enumerate(splits.items()):
        counts[name] = extract_features(
            liquid,
            split,
            key=jr.fold_in(key, i),
            n_steps=n_steps,
            batch_size=batch_size,
            chunk_dir=folder,
            name=name,
            progress=progress_printer(progress, f"features {name}"),
        )
    return counts, time.perf_counter() - t0


def evaluate_liquid(
    liquid: Liquid,
    splits: dict[str, Split],
    *,
    data: DataConfig,
    readout: ReadoutConfig,
    batch_size: int,
    run: TrainRun,
    key: PRNGKeyArray,
) -> dict[str, Any]:
    """Features of every split, readout fitted on train and selected on validation, test
    accuracy: the second half of the LSM and NALSM tasks. Returns the summary."""
    counts, seconds = liquid_features(
        liquid,
        splits,
        key=jr.fold_in(key, 1),
        n_steps=data.n_steps,
        batch_size=batch_size,
        out_dir=run.out_dir,
        resume=run.resume,
        progress=run.progress,
    )
    lsm = LSM(liquid, n_steps=data.n_steps)
    t0 = time.perf_counter()
    lsm, info = lsm.fit_readout(
        (counts["train"], splits["train"].labels),
        (counts["val"], splits["val"].labels),
        config=readout,
        key=jr.fold_in(key, 2),
        checkpoint_dir=run.out_dir / "readout",
        resume=run.resume,
    )
    test_acc = lsm.accuracy(counts["test"], splits["test"].labels)
    arrays: dict[str, Any] = {f"{k}_counts": v for k, v in counts.items()}
    arrays.update({f"{k}_labels": s.labels for k, s in splits.items()})
    np.savez(run.out_dir / "features.npz", **arrays)
    rate = float(counts["train"].mean() / (data.n_steps / 1000.0))
    return {
        "test_accuracy": test_acc,
        **info,
        "n_train": len(splits["train"]),
        "n_val": len(splits["val"]),
        "n_test": len(splits["test"]),
        "feature_seconds": seconds,
        "readout_seconds": time.perf_counter() - t0,
        "mean_rate_hz": rate,
        "n_synapses": int(np.asarray(liquid.valid).sum()),
    }


@dataclasses.dataclass(frozen=True)
class LSMTaskConfig:
    """The `lsm` task: a fixed-weight liquid and a linear readout."""

    liquid: LiquidConfig = LiquidConfig()
    data: DataConfig = DataConfig()
    readout: ReadoutConfig = ReadoutConfig()
    batch_size: int = 32

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")


@register_task("lsm", LSMTaskConfig)
def train_lsm(config: LSMTaskConfig, run: TrainRun) -> dict[str, Any]:
    """Build the liquid from `run.seed`, extract features, fit and test the readout."""
    t0 = time.perf_counter()
    key = jr.key(run.seed)
    splits = config.data.load(run.data_dir)
    liquid = config.liquid.build(config.data.inputs, seed=run.seed)
    summary = evaluate_liquid(
        liquid,
        splits,
        data=config.data,
        readout=config.readout,
        batch_size=config.batch_size,
        run=run,
        key=key,
    )
    summary["seconds"] = time.perf_counter() - t0
    return summary
