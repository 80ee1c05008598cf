"""`fit`: epochs over a data loader, metrics as JSON lines, best model, checkpoints."""

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import optax
from tqdm import tqdm

from ._checkpoint import Checkpoints, flatten_leaves, unflatten_leaves
from ._step import make_eval_step, make_train_step


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What `fit` returns.

    - `model`: the model with the best validation score (the final one without
      `val_data`).
    - `final_model`: the model after the last step.
    - `history`: one dict per epoch, as written to `metrics_path`.
    - `best_epoch`: the epoch of `model` (`-1` without `val_data`).
    - `stopped_early`: whether early stopping ended the run.
    - `out_of_time`: whether the time budget (`max_seconds`) ended the run.
    """

    model: Any
    final_model: Any
    history: list[dict]
    best_epoch: int
    stopped_early: bool
    out_of_time: bool = False


def _learning_rate(schedule: Any, step: int, opt_state: Any) -> float | None:
    """The logged learning rate: from `schedule`, else from `optax.inject_hyperparams`."""
    if schedule is not None:
        if not callable(schedule):
            return float(schedule)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int steps and floats
            return float(schedule(step))
    for node in jtu.tree_leaves(opt_state, is_leaf=lambda x: hasattr(x, "hyperparams")):
        hyper = getattr(node, "hyperparams", None)
        if isinstance(hyper, dict) and "learning_rate" in hyper:
            return float(hyper["learning_rate"])
    return None


def _batches(data: Any, epoch: int, start: int = 0) -> Iterable[Any]:
    if hasattr(data, "epoch"):
        return data.epoch(epoch, start)
    return list(data)[start:]


def _read_history(path: Path | None, before_epoch: int) -> list[dict]:
    """Keep the metric lines of completed epochs (a resumed run rewrites the rest)."""
    if path is None or not path.is_file():
        return []
    lines = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    history = [r for r in lines if r["epoch"] < before_epoch]
    path.write_text("".join(json.dumps(r) + "\n" for r in history))
    return history


def fit(
    model: Any,
    loss_fn: Callable[..., Any],
    train_data: Any,
    *,
    optimizer: optax.GradientTransformation,
    epochs: int,
    key: Any,
    val_data: Any = None,
    val_loss_fn: Callable[..., Any] | None = None,
    filter_spec: Any = eqx.is_inexact_array,
    lr_schedule: Callable[[int], Any] | float | None = None,
    metrics_path: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every_steps: int | None = None,
    resume: bool = False,
    early_stopping_patience: int | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Train `model` by minimising `loss_fn` over `epochs` passes of `train_data`.

    Every random choice derives from `(key, epoch, batch)` and the loader's
    `(seed, epoch)`, so a run resumed from a checkpoint, even one written mid-epoch,
    ends with the same parameters as an uninterrupted run.

    **Arguments:**

    - `model`: an equinox model.
    - `loss_fn`: `loss_fn(model, batch, key) -> loss` or `-> (loss, metrics)` with a
      dict of scalar metrics (`"accuracy"` selects the best model and is logged).
    - `train_data`: a `brainsim.data.DataLoader` (or any object with `epoch(e, start)`
      and `len`).
    - `optimizer`: an optax transformation (`group_optimizer` for parameter groups).
    - `epochs`: number of epochs; `key`: PRNG key.
    - `val_data`: a loader or a list of batches for model selection and early stopping
      (never the test set): the best model maximises validation accuracy, or minimises
      validation loss when `loss_fn` reports no accuracy.
    - `val_loss_fn`: the loss scored on `val_data`, when it differs from the training
      loss (e.g. a training loss that augments its inputs); default `loss_fn`.
    - `filter_spec`: which leaves are trained (`eqx.partition` spec).
    - `lr_schedule`: the learning rate or optax schedule the optimiser uses, for the log
      (without it, the rate of an `optax.inject_hyperparams` optimiser is logged).
    - `metrics_path`: JSON-lines file, one line per epoch (epoch, step, loss, metrics,
      seconds, learning rate, validation values).
    - `checkpoint_dir`: write a checkpoint after every epoch there (orbax).
    - `checkpoint_every_steps`: also write one every this many steps.
    - `resume`: continue from the newest checkpoint in `checkpoint_dir`, if any.
    - `early_stopping_patience`: stop after this many epochs without a better validation
      score.
    - `max_seconds`: a budget of training time (validation excluded, time before a resume
      included). When it is spent the current epoch ends after the running step: it is
      validated, logged with `"partial": true` and checkpointed, and the run stops.
    - `progress`: show a tqdm bar; `None` shows it only on a terminal.

    **Returns:** a `FitResult`.

    **Raises:** `FloatingPointError` naming the step when the loss or a gradient is not
    finite; no checkpoint is written after it.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: must be a positive integer, got {epochs!r}")
    if checkpoint_every_steps is not None and checkpoint_every_steps < 1:
        raise ValueError(f"checkpoint_every_steps: must be >= 1, got {checkpoint_every_steps}")
    if (checkpoint_every_steps is not None or resume) and checkpoint_dir is None:
        raise ValueError("checkpoint_dir: required with checkpoint_every_steps or resume")
    if early_stopping_patience is not None and val_data is None:
        raise ValueError("early_stopping_patience: needs val_data")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds: must be positive, got {max_seconds!r}")
    n_batches = len(train_data)
    if n_batches == 0:
        raise ValueError("train_data: no batches")

    params, static = eqx.partition(model, filter_spec)
    with jax.numpy_dtype_promotion("standard"):  # optax is not strict-promotion clean
        opt_state = optimizer.init(params)
    best_params = params
    # counters: epoch, next batch, optimiser steps, epochs without improvement, best epoch,
    # stopped early, out of time
    counters = np.array([0, 0, 0, 0, -1, 0, 0], np.int64)
    best_score = -np.inf
    sums: dict[str, float] = {}
    seconds = 0.0
    spent = 0.0  # training seconds of the completed epochs, for `max_seconds`
    ckpt = Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None
    latest = ckpt.latest() if ckpt is not None else None
    n_saves = 0 if latest is None else latest + 1
    if ckpt is not None and resume and latest is not None:
        flat = ckpt.restore()
        params = unflatten_leaves(flat, "params", params)
        best_params = unflatten_leaves(flat, "best", params)
        opt_state = unflatten_leaves(flat, "opt", opt_state)
        counters = np.zeros(7, np.int64)
        counters[: flat["counters"].size] = flat["counters"]
        spent = float(flat.get("spent", 0.0))
        best_score = float(flat["best_score"])
        seconds = float(flat["seconds"])
        sums = {k[4:]: float(v) for k, v in flat.items() if k.startswith("sum/")}

    def save(elapsed: float) -> None:
        nonlocal n_saves
        if ckpt is None:
            return
        arrays = {
            **flatten_leaves(params, "params"),
            **flatten_leaves(best_params, "best"),
            **flatten_leaves(opt_state, "opt"),
            "counters": counters.copy(),
            "best_score": np.asarray(best_score),
            "seconds": np.asarray(elapsed),
            "spent": np.asarray(spent),
            **{f"sum/{k}": np.asarray(v) for k, v in sums.items()},
        }
        ckpt.save(n_saves, arrays)
        n_saves += 1

    path = Path(metrics_path) if metrics_path is not None else None
    history = _read_history(path, int(counters[0])) if resume else []
    if path is not None and not resume:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    train_key, val_key = jr.split(key)
    train_step = make_train_step(loss_fn, optimizer)
    evaluate = make_eval_step(loss_fn if val_loss_fn is None else val_loss_fn)

    bar: tqdm | None = None
    try:
        while counters[0] < epochs:
            epoch = int(counters[0])
            start = time.perf_counter()
            bar = tqdm(
                total=n_batches,
                initial=int(counters[1]),
                desc=f"epoch {epoch}",
                disable=(None if progress is None else not progress),
                leave=False,
            )
            for batch in _batches(train_data, epoch, int(counters[1])):
                b, step = int(counters[1]), int(counters[2])
                step_key = jr.fold_in(jr.fold_in(train_key, epoch), b)
                new_params, new_opt, loss, aux, finite = train_step(
                    params, static, opt_state, batch, step_key
                )
                if not bool(finite):
                    raise FloatingPointError(
                        f"fit: the loss or a gradient is not finite at step {step} "
                        f"(epoch {epoch}, batch {b}, loss {float(loss)}); stopped before "
                        "applying it, no checkpoint written"
                    )
                params, opt_state = new_params, new_opt
                for name, value in {"loss": loss, **aux}.items():
                    sums[name] = sums.get(name, 0.0) + float(value)
                counters[1] += 1
                counters[2] += 1
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss):.4f}")
                if checkpoint_every_steps and counters[2] % checkpoint_every_steps == 0:
                    save(seconds + time.perf_counter() - start)
                if max_seconds is not None and (
                    spent + seconds + time.perf_counter() - start >= max_seconds
                ):
                    counters[6] = 1
                    break
            bar.close()
            bar = None
            seconds += time.perf_counter() - start
            n_done = max(int(counters[1]), 1)
            record: dict[str, Any] = {"epoch": epoch, "step": int(counters[2])}
            record.update({k: v / n_done for k, v in sums.items()})
            record["seconds"] = seconds
            record["learning_rate"] = _learning_rate(lr_schedule, int(counters[2]), opt_state)
            if counters[6] and counters[1] < n_batches:
                record["partial"] = True
            if val_data is not None:
                val_sums: dict[str, float] = {}
                val_batches = list(_batches(val_data, 0))
                for i, batch in enumerate(val_batches):
                    vloss, vaux = evaluate(params, static, batch, jr.fold_in(val_key, i))
                    for name, value in {"loss": vloss, **vaux}.items():
                        val_sums[name] = val_sums.get(name, 0.0) + float(value)
                for name, value in val_sums.items():
                    record[f"val_{name}"] = value / max(len(val_batches), 1)
                score = record.get("val_accuracy", -record["val_loss"])
                if score > best_score:
                    best_score, best_params = score, params
                    counters[3], counters[4] = 0, epoch
                else:
                    counters[3] += 1
            history.append(record)
            if path is not None:
                with path.open("a") as f:
                    f.write(json.dumps(record) + "\n")
            counters[0] += 1
            counters[1] = 0
            spent += seconds
            sums, seconds = {}, 0.0
            if counters[6]:
                counters[0] = epochs  # a resumed run also stops here
            if early_stopping_patience is not None and counters[3] >= early_stopping_patience:
                counters[0] = epochs  # a resumed run also stops here
                counters[5] = 1
            save(0.0)
    finally:
        if bar is not None:
            bar.close()
        if ckpt is not None:
            ckpt.close()

    final = eqx.combine(params, static)
    best = eqx.combine(best_params, static) if val_data is not None else final
    return FitResult(best, final, history, int(counters[4]), bool(counters[5]), bool(counters[6]))
