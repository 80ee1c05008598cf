"""`brainsim train` task `stdp_mnist`: Diehl & Cook (2015) on MNIST, resumable.

Training is sequential: image `i` (of the training set, in order, wrapping at 60,000)
is shown with the PRNG key `fold_in(k_train, i)` (`k_train` from `seed`), in jitted
blocks of `block` images. Every `checkpoint_every` images (and when the `max_minutes`
budget runs out) the state is written to `OUT/checkpoint.pkl`; `--resume` continues from
it and gives the same result as an uninterrupted run. After training, the network is shown
`n_label` training images with learning off to label its neurons, then `n_test` test
images to classify (`eval_order`: each image from rest, or in chains as the authors).

Files in `OUT`: `metrics.jsonl` (one line per progress window: the authors' running
training accuracy, spikes, presentations, speed), `checkpoint.pkl`, `model.npz`
(weights, thresholds, assignments) and, from the CLI, `summary.json`.
"""

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jaxtyping import PRNGKeyArray

from ..core._io import load_pytree, save_pytree
from ..data import load_mnist
from ._diehl_cook import (
    DiehlCook,
    DiehlCookParams,
    DiehlCookState,
    receptive_field_contrast,
    respond_in_sequence,
    respond_once,
    train_block,
)
from ._diehl_cook_readout import accuracy, assign_labels, classify
from ._tasks import TrainRun, register_task

CHECKPOINT = "checkpoint.pkl"


@dataclasses.dataclass(frozen=True)
class STDPMNISTConfig:
    """The `stdp_mnist` task.

    - `network`: the `DiehlCookParams` (network and protocol).
    - `n_train`: training images shown (the paper: 60,000 for 100 and 400 neurons).
    - `n_label`: training images used, learning off, to label the neurons (the paper
      uses all 60,000); `n_test`: test images classified (10,000 = the test set).
    - `block`: images per jitted call; `checkpoint_every`: images between checkpoints
      (a multiple of `block`).
    - `update_interval`: window of the running training accuracy (the authors: 10,000).
    - `eval_batch`: images per batched labelling / testing call.
    - `eval_order`: `"rest"` shows every labelling / test image from rest (images are
      independent); `"sequence"` shows them in order, in `eval_batch` chains, each
      image starting where the one before left the network, as the authors test
      (`respond_in_sequence`). `eval_batch: 1` is the authors' single chain.
    - `eval_min_contrast`: label and test without the excitatory neurons whose
      `receptive_field_contrast` (largest over mean input weight) is below this: those
      that have not learned a receptive field yet, silenced as if absent. 0 keeps them
      all, as the paper tests its fully trained networks. In a partly trained
      6400-neuron network they have thresholds at the resting potential and, with the
      thresholds frozen, fire on and on (docs/stdp_mnist.md).
    - `max_minutes`: stop training after this much wall time (checkpointed, then
      evaluated where it stands; `--resume` continues); 0 means no limit.
    """

    network: DiehlCookParams = DiehlCookParams()
    n_train: int = 60000
    n_label: int = 10000
    n_test: int = 10000
    block: int = 50
    checkpoint_every: int = 1000
    update_interval: int = 10000
    eval_batch: int = 100
    eval_order: str = "rest"
    eval_min_contrast: float = 0.0
    max_minutes: float = 0.0

    def __post_init__(self):
        for name in ("n_train", "n_label", "n_test"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be non-negative, got {getattr(self, name)}")
        for name in ("block", "checkpoint_every", "update_interval", "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.checkpoint_every % self.block:
            raise ValueError(
                f"checkpoint_every: must be a multiple of block ({self.block}), "
                f"got {self.checkpoint_every}"
            )
        if self.eval_min_contrast < 0:
            raise ValueError(
                f"eval_min_contrast: must be non-negative, got {self.eval_min_contrast}"
            )
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes: must be non-negative, got {self.max_minutes}")
        if self.eval_order not in ("rest", "sequence"):
            raise ValueError(f"eval_order: must be 'rest' or 'sequence', got {self.eval_order!r}")
        if self.n_test and not self.n_label:
            raise ValueError("n_label: testing needs labelled neurons, got 0")


@dataclasses.dataclass
class _Progress:
    """Host-side record of training: per-image counts of the current and last window."""

    done: int = 0
    train_seconds: float = 0.0
    window_counts: list = dataclasses.field(default_factory=list)
    window_labels: list = dataclasses.field(default_factory=list)
    assignments: np.ndarray | None = None
    attempts_total: int = 0


def _save(out: Path, state: DiehlCookState, progress: _Progress) -> None:
    save_pytree(out / CHECKPOINT, {"state": state, "progress": dataclasses.asdict(progress)})


def _load(out: Path, template: DiehlCookState) -> tuple[DiehlCookState, _Progress]:
    """The checkpoint's state and progress; a `ValueError` naming the file when its state
    does not fit `template` (another network size, or an older version of the model)."""
    path = out / CHECKPOINT
    saved = load_pytree(path)
    state = saved["state"]
    if isinstance(state, DiehlCookState) and "line" not in vars(state):
        # written before the input delays existed: the same state without a delay line
        names = [f.name for f in dataclasses.fields(DiehlCookState) if f.name != "line"]
        state = DiehlCookState(**{name: getattr(state, name) for name in names})
    try:
        same_tree: bool = jtu.tree_structure(state) == jtu.tree_structure(template)  # type: ignore[operator]
        fits = same_tree and all(
            np.shape(a) == np.shape(b)
            for a, b in zip(jtu.tree_leaves(state), jtu.tree_leaves(template))
        )
    except AttributeError:  # an older state class, missing a field this one has
        fits = False
    if not fits:
        raise ValueError(
            f"{path}: its state does not fit this config's network (another size or an "
            "older version of the model); resume it with the config that wrote it, or "
            "start afresh in another --out"
        )
    return state, _Progress(**saved["progress"])


def _log(out: Path, record: dict[str, Any], progress: bool) -> None:
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if progress:
        print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)


def _window(progress: _Progress, update_interval: int) -> dict[str, Any] | None:
    """Close a full window: score it with the last window's labels, relabel."""
    if sum(len(x) for x in progress.window_labels) < update_interval:
        return None
    all_counts = np.concatenate(progress.window_counts)
    all_labels = np.concatenate(progress.window_labels)
    counts, labels = all_counts[:update_interval], all_labels[:update_interval]
    done = progress.done - (len(all_labels) - update_interval)
    record: dict[str, Any] = {"samples": done, "mean_spikes": float(counts.sum(1).mean())}
    if progress.assignments is not None:
        pred = classify(counts, progress.assignments)
        record["train_window_accuracy"] = accuracy(pred, labels)
    progress.assignments = assign_labels(counts, labels)
    progress.window_counts = [all_counts[update_interval:]]
    progress.window_labels = [all_labels[update_interval:]]
    return record


def train_stdp_mnist(
    config: STDPMNISTConfig,
    out: Path,
    *,
    seed: int = 0,
    resume: bool = False,
    data_dir: Path | None = None,
    progress_bar: bool = False,
) -> dict[str, Any]:
    """Train (or continue), label and test; the body of the `stdp_mnist` task.

    **Returns:** the summary (accuracies, samples trained, wall times).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist(data_dir, "train")
    model = DiehlCook(config.network)
    k_init, k_train, k_label, k_test = jr.split(jr.key(seed), 4)
    if resume and (out / CHECKPOINT).exists():
        state, prog = _load(out, model.init_state(key=k_init))
    else:
        state, prog = model.init_state(key=k_init), _Progress()
        (out / "metrics.jsonl").unlink(missing_ok=True)
    start = time.perf_counter()
    budget = config.max_minutes * 60.0
    stopped_early = False
    while prog.done < config.n_train:
        if budget and time.perf_counter() - start > budget:
            stopped_early = True
            break
        size = min(config.block, config.n_train - prog.done)
        ids = (prog.done + np.arange(size)) % len(images)
        keys = _keys(k_train, prog.done, size)
        t0 = time.perf_counter()
        state, counts, attempts = train_block(model, state, jnp.asarray(images[ids]), keys)
        counts_np = np.asarray(counts)
        prog.train_seconds += time.perf_counter() - t0
        prog.done += size
        prog.attempts_total += int(np.asarray(attempts).sum())
        prog.window_counts.append(counts_np)
        prog.window_labels.append(labels[ids])
        record = _window(prog, config.update_interval)
        if record is not None:
            record["ms_per_sample"] = round(1e3 * prog.train_seconds / prog.done, 2)
            record["train_seconds"] = round(prog.train_seconds, 1)
            _log(out, record, progress_bar)
        if prog.done % config.checkpoint_every == 0 or prog.done == config.n_train:
            _save(out, state, prog)
            if progress_bar:
                print(f"samples={prog.done} train_seconds={prog.train_seconds:.0f}", flush=True)
    if stopped_early:
        _save(out, state, prog)
    summary: dict[str, Any] = {
        "n_neurons": config.network.n_neurons,
        "samples_trained": prog.done,
        "train_seconds": round(prog.train_seconds, 1),
        "mean_presentations": prog.attempts_total / max(prog.done, 1),
    }
    assignments = np.full((model.n,), -1)
    left_out = receptive_field_contrast(state.w) < config.eval_min_contrast
    summary["left_out_neurons"] = int(left_out.sum())
    tested = model.silence(state, left_out)
    if config.n_label:
        t0 = time.perf_counter()
        label_counts = _responses(model, tested, images[: config.n_label], config, k_label)
        assignments = assign_labels(label_counts, labels[: config.n_label])
        summary["label_accuracy"] = accuracy(
            classify(label_counts, assignments), labels[: config.n_label]
        )
        summary["n_label"] = config.n_label
        summary["label_seconds"] = round(time.perf_counter() - t0, 1)
        summary["unassigned_neurons"] = int(np.sum(assignments < 0))
    if config.n_test:
        t0 = time.perf_counter()
        test_images, test_labels = load_mnist(data_dir, "test")
        test_counts = _responses(model, tested, test_images[: config.n_test], config, k_test)
        pred = classify(test_counts, assignments)
        summary["test_accuracy"] = accuracy(pred, test_labels[: config.n_test])
        summary["n_test"] = config.n_test
        summary["test_seconds"] = round(time.perf_counter() - t0, 1)
    np.savez(
        out / "model.npz",
        w=np.asarray(state.w),
        theta=np.asarray(state.exc.theta),
        assignments=assignments,
    )
    return summary


def _responses(
    model: DiehlCook,
    state: DiehlCookState,
    images: np.ndarray,
    config: STDPMNISTConfig,
    key: PRNGKeyArray,
) -> np.ndarray:
    """Spike counts `(len(images), n)` with learning off, in batches of `eval_batch`.

    `eval_order="rest"`: every image is shown from rest at the starting intensity; those
    that answered with fewer than `min_spikes` spikes are shown again, brighter, up to
    `max_attempts` times (batches padded to `eval_batch`, so one compiled function serves
    every call). `"sequence"`: `eval_batch` chains of consecutive images through
    `respond_in_sequence`.
    """
    p = config.network
    n_img, batch = len(images), config.eval_batch
    counts = np.zeros((n_img, model.n), np.float32)
    keys = _keys(key, 0, n_img)
    if config.eval_order == "sequence":
        # eval_batch chains of consecutive images; the last chain padded with its last
        # image, whose extra responses are dropped
        length = -(-n_img // batch)
        order = np.minimum(np.arange(batch * length), n_img - 1).reshape(batch, length)
        got, _ = respond_in_sequence(
            model, state, jnp.asarray(images[order]), keys[jnp.asarray(order)]
        )
        counts[order.reshape(-1)[:n_img]] = np.asarray(got).reshape(-1, model.n)[:n_img]
        return counts
    pending = np.arange(n_img)
    for attempt in range(p.max_attempts):
        for lo in range(0, len(pending), batch):
            ids = pending[lo : lo + batch]
            padded = np.concatenate([ids, np.full(batch - len(ids), ids[-1])])
            got = respond_once(
                model, state, jnp.asarray(images[padded]), keys[padded], jnp.asarray(attempt)
            )
            counts[ids] = np.asarray(got)[: len(ids)]
        pending = pending[counts[pending].sum(axis=1) < p.min_spikes]
        if not len(pending):
            break
    return counts


def _keys(key: PRNGKeyArray, start: int, size: int) -> PRNGKeyArray:
    """The keys of images `start .. start + size - 1`: `fold_in(key, i)`."""
    return jax.vmap(lambda i: jr.fold_in(key, i))(jnp.arange(start, start + size))


@register_task("stdp_mnist", STDPMNISTConfig)
def _train(config: STDPMNISTConfig, run: TrainRun) -> dict[str, Any]:
    return train_stdp_mnist(
        config,
        run.out_dir,
        seed=run.seed,
        resume=run.resume,
        data_dir=run.data_dir,
        progress_bar=run.progress,
    )
