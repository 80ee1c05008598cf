"""Inputs and runs of a liquid: datasets as NALSM splits them, input drives, batched
(vmapped) feature extraction written per chunk, the NALSM initialisation phase and
spike rasters."""

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ..core import SpikeMonitor, integrate
from ..core._io import load_pytree, save_pytree
from ..data import (
    bin_events,
    load_fashion_mnist,
    load_mnist,
    load_nmnist,
    nmnist_channels,
)
from ._liquid import Liquid, LiquidState

Dataset = Literal["mnist", "fashion_mnist", "nmnist"]
DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist", "nmnist")
N_INPUTS = {"mnist": 784, "fashion_mnist": 784, "nmnist": 2 * 34 * 34}


def image_probabilities(images: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """NALSM's rate code: each image divided by its pixel sum, then all by `scale`, the
    largest such value (of the training set), giving a spike probability per ms.

    **Arguments:**

    - `images`: `(n, ...)` non-negative pixel values.
    - `scale`: the divisor; `None` takes the maximum over these images.

    **Returns:** `(p, scale)` with `p` of shape `(n, n_pixels)` in [0, 1] when `scale`
    came from the same images.

    >>> p, s = image_probabilities(np.array([[[0, 1], [1, 2]]]))
    >>> p.tolist(), s
    ([[0.0, 0.5, 0.5, 1.0]], 0.5)
    """
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    if np.any(x < 0):
        raise ValueError("images must be non-negative")
    total = x.sum(axis=1, keepdims=True)
    x = x / np.where(total > 0, total, 1.0)
    if scale is None:
        scale = float(x.max()) if x.size and x.max() > 0 else 1.0
    return np.clip(x / scale, 0.0, 1.0).astype(np.float32), float(scale)


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: `inputs` (image probabilities `(n, n_input)` or a list of event drives
    built lazily) and int labels."""

    inputs: Any
    labels: np.ndarray
    kind: str  # "rate" or "events"

    def __len__(self) -> int:
        return len(self.labels)


def nmnist_drive(events: np.ndarray, n_steps: int) -> np.ndarray:
    """N-MNIST events binned at 1 ms onto `2 * 34 * 34` input neurons, `(n_steps, 2312)`
    0/1 floats (two events of a pixel in the same ms count once)."""
    channels, n_channels = nmnist_channels(events)
    counts = bin_events(
        events["t"].astype(np.float64) / 1000.0,
        channels,
        n_channels=n_channels,
        bin_size=1.0,
        n_bins=n_steps,
    )
    return np.minimum(counts, 1.0)


def load_splits(
    dataset: str,
    *,
    data_dir: str | os.PathLike | None,
    n_train: int,
    n_val: int,
    n_test: int,
) -> dict[str, Split]:
    """Train / validation / test splits as NALSM takes them.

    MNIST and Fashion-MNIST: train = the first `n_train` training images, validation =
    training images `50000 .. 50000 + n_val` (NALSM's 50k / 10k split), test = the first
    `n_test` test images. N-MNIST: validation = the last `n_val` training recordings
    (the full set's 50k / 10k split when the recordings are all there), train the first
    `n_train` before them. Sizes larger than the data raise `ValueError`.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if value < 1:
            raise ValueError(f"{name}: must be >= 1, got {value}")
    if dataset == "nmnist":
        ev_tr, y_tr = load_nmnist(data_dir, "train")
        ev_te, y_te = load_nmnist(data_dir, "test")
        n_all = len(y_tr)
        if n_train + n_val > n_all or n_test > len(y_te):
            raise ValueError(
                f"n_train + n_val ({n_train + n_val}) and n_test ({n_test}) must fit the "
                f"N-MNIST data found ({n_all} train, {len(y_te)} test recordings)"
            )
        val_start = max(n_train, n_all - n_val) if n_all >= 60000 else n_all - n_val
        return {
            "train": Split(ev_tr[:n_train], y_tr[:n_train], "events"),
            "val": Split(ev_tr[val_start : val_start + n_val], y_tr[val_start:][:n_val], "events"),
            "test": Split(ev_te[:n_test], y_te[:n_test], "events"),
        }
    loader = load_mnist if dataset == "mnist" else load_fashion_mnist
    x_tr, y_tr = loader(data_dir, "train")
    x_te, y_te = loader(data_dir, "test")
    if n_train > 50000 or n_val > len(y_tr) - 50000 or n_test > len(y_te):
        raise ValueError(
            f"n_train ({n_train}) must be <= 50000, n_val ({n_val}) <= "
            f"{len(y_tr) - 50000} and n_test ({n_test}) <= {len(y_te)}"
        )
    p_tr, scale = image_probabilities(x_tr[:50000])
    p_val, _ = image_probabilities(x_tr[50000 : 50000 + n_val], scale)
    p_te, _ = image_probabilities(x_te[:n_test], scale)
    return {
        "train": Split(p_tr[:n_train], y_tr[:n_train], "rate"),
        "val": Split(p_val, y_tr[50000 : 50000 + n_val], "rate"),
        "test": Split(p_te, y_te[:n_test], "rate"),
    }


def _drive(split: Split, idx: np.ndarray, n_steps: int) -> np.ndarray:
    """Host-side inputs of a batch: probabilities `(b, n_in)` or event drives
    `(b, n_steps, n_in)`."""
    if split.kind == "rate":
        return np.asarray(split.inputs)[idx]
    return np.stack([nmnist_drive(split.inputs[i], n_steps) for i in idx])


def sample_keys(key: PRNGKeyArray, idx: np.ndarray) -> Array:
    """One key per sample, from its index: results do not depend on the batching."""
    return jax.vmap(lambda i: jr.fold_in(key, i))(jnp.asarray(idx, jnp.uint32))


def sample_drive(x: Array, key: PRNGKeyArray, n_steps: int, dtype: Any) -> Array:
    """The input drive `(n_steps, n_in)` of one sample: Bernoulli draws from
    probabilities `x` `(n_in,)`, or the first `n_steps` rows of a drive `x`."""
    if x.ndim == 1:
        return jr.bernoulli(key, jnp.broadcast_to(x, (n_steps, x.shape[0]))).astype(dtype)
    return x[:n_steps].astype(dtype)


def fast_static(liquid: Liquid) -> Liquid:
    """`liquid` with dense weights when it is static and they pay (`Liquid.dense_pays`)."""
    if liquid.rule is None and liquid.w_dense is None and liquid.dense_pays():
        return liquid.with_dense_weights()
    return liquid


def batch_counts(liquid: Liquid, inputs: Array, keys: Array, n_steps: int) -> Array:
    """Liquid spike counts of a batch of samples, each from a fresh state (vmapped).

    **Arguments:**

    - `liquid`: the liquid (plastic or not; a static one runs with dense weights where
      they pay, see `Liquid.dense_pays`); `inputs`: `(b, n_in)` probabilities or
      `(b, n_steps, n_in)` drives; `keys`: `(b,)` keys; `n_steps`: steps per sample.

    **Returns:** `(b, n_liquid)` counts.
    """
    return _batch_counts(fast_static(liquid), inputs, keys, n_steps)


@eqx.filter_jit
def _batch_counts(liquid: Liquid, inputs: Array, keys: Array, n_steps: int) -> Array:
    def one(x, k):
        state = liquid.init_state()
        drive = sample_drive(x, k, n_steps, state.v.dtype)
        return integrate(liquid, state, drive, dt=1.0, n_steps=n_steps).state.counts

    return jax.vmap(one)(inputs, keys)


def batch_rasters(liquid: Liquid, inputs: Array, keys: Array, n_steps: int) -> Array:
    """Liquid spike rasters `(b, n_steps, n_liquid)` (bools) of a batch, as
    `batch_counts` runs it."""
    return _batch_rasters(fast_static(liquid), inputs, keys, n_steps)


@eqx.filter_jit
def _batch_rasters(liquid: Liquid, inputs: Array, keys: Array, n_steps: int) -> Array:
    def one(x, k):
        state = liquid.init_state()
        drive = sample_drive(x, k, n_steps, state.v.dtype)
        sol = integrate(
            liquid, state, drive, dt=1.0, n_steps=n_steps, save=[SpikeMonitor("liquid")]
        )
        return sol.traces["spikes:liquid"]

    return jax.vmap(one)(inputs, keys)


def extract_features(
    liquid: Liquid,
    split: Split,
    *,
    key: PRNGKeyArray,
    n_steps: int = 250,
    batch_size: int = 32,
    chunk_dir: str | os.PathLike | None = None,
    name: str = "features",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Liquid spike counts of every sample of `split`, computed in vmapped batches.

    With `chunk_dir`, each batch is written there (`<name>-<start>.pkl`) and batches
    already written are read back instead of recomputed, so an interrupted run resumes;
    sample `i` always uses key `fold_in(key, i)`.

    **Returns:** `(n, n_liquid)` float32 counts.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    n = len(split)
    liquid = fast_static(liquid)
    out = np.zeros((n, liquid.n_liquid), np.float32)
    folder = None if chunk_dir is None else Path(chunk_dir)
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(start + batch_size, n))
        path = None if folder is None else folder / f"{name}-{start:07d}.pkl"
        if path is not None and path.is_file():
            out[idx] = load_pytree(path)
        else:
            x = _drive(split, idx, n_steps)
            if len(idx) < batch_size:  # pad to one compiled shape
                pad = np.repeat(x[-1:], batch_size - len(idx), axis=0)
                x = np.concatenate([x, pad])
                keys = sample_keys(key, np.arange(start, start + batch_size))
            else:
                keys = sample_keys(key, idx)
            counts = np.asarray(batch_counts(liquid, jnp.asarray(x), keys, n_steps))
            out[idx] = counts[: len(idx)]
            if path is not None:
                save_pytree(path, out[idx])
        if progress is not None:
            progress(int(idx[-1]) + 1, n)
    return out


def _init_sample(liquid: Liquid, state: LiquidState, drive: Array, n_steps: int) -> LiquidState:
    """One sample of the initialisation phase: neurons, timers and astrocyte reset, the
    weights and STDP traces carry over."""
    state = liquid.reset(state)
    return integrate(liquid, state, drive.astype(state.v.dtype), dt=1.0, n_steps=n_steps).state


def _init_pick(key: PRNGKeyArray, k: Array, n_data: int) -> Array:
    """The training sample drawn as sample `k` of the initialisation phase."""
    return jr.randint(jr.fold_in(jr.fold_in(key, k), 0), (), 0, n_data)


@eqx.filter_jit
def _init_chunk(
    liquid: Liquid, state: LiquidState, ids: Array, data: Array, key: PRNGKeyArray, n_steps: int
) -> LiquidState:
    """Samples `ids` of the initialisation phase on rate-coded `data`, one after another."""

    def body(state, k):
        x = data[_init_pick(key, k, data.shape[0])]
        drive = sample_drive(x, jr.fold_in(jr.fold_in(key, k), 1), n_steps, state.v.dtype)
        return _init_sample(liquid, state, drive, n_steps), None

    return jax.lax.scan(body, state, ids)[0]


@eqx.filter_jit
def _init_chunk_drives(
    liquid: Liquid, state: LiquidState, drives: Array, n_steps: int
) -> LiquidState:
    """Samples of the initialisation phase given as drives `(b, n_steps, n_in)`."""

    def body(state, drive):
        return _init_sample(liquid, state, drive, n_steps), None

    return jax.lax.scan(body, state, drives)[0]


@jax.jit
def _init_windows(key: PRNGKeyArray, ids: Array, n_data: int, n_starts: int) -> Array:
    """`(b, 2)`: the recording and the window's first ms for samples `ids`."""

    def one(k):
        start = jr.randint(jr.fold_in(jr.fold_in(key, k), 2), (), 0, n_starts)
        return jnp.stack([_init_pick(key, k, n_data), start])

    return jax.vmap(one)(ids)


def init_event_drives(
    split: Split, ids: np.ndarray, key: PRNGKeyArray, n_steps: int, span: int | None
) -> np.ndarray:
    """The `(b, n_steps, n_in)` drives of initialisation samples `ids` on event data: the
    first `n_steps` ms of the drawn recording (`span=None`), or `n_steps` ms from a
    random start within its first `span` ms."""
    n_starts = 1 if span is None else span - n_steps + 1
    found = np.asarray(
        _init_windows(key, jnp.asarray(ids, jnp.uint32), len(split.inputs), n_starts)
    )
    return np.stack(
        [nmnist_drive(split.inputs[i], t0 + n_steps)[t0:].astype(np.uint8) for i, t0 in found]
    )


def initialize_liquid(
    liquid: Liquid,
    split: Split,
    *,
    n_samples: int,
    key: PRNGKeyArray,
    n_steps: int = 20,
    span: int | None = None,
    chunk: int = 500,
    checkpoint: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Array, dict[str, float]]:
    """NALSM's initialisation phase: `n_samples` random training samples of `n_steps` ms
    each, one after another; neurons, timers and the astrocyte reset every sample, the
    weights (and STDP traces) carry over.

    **Arguments:**

    - `liquid`: a plastic liquid (`Liquid.with_plasticity`), rate decay 1.
    - `split`: the training split to draw samples from (with replacement: sample `k` is
      `randint(fold_in(key, k))`).
    - `n_samples`: number of samples (the paper: 50,000); `n_steps`: ms each (20).
    - `span`: event data only. `None` takes the first `n_steps` ms of each recording;
      an int takes `n_steps` ms from a random start within the first `span` ms. N-MNIST
      recordings hold few events in their first 20 ms (about 4 per ms against 15-30
      during the saccades), too few to drive the liquid.
    - `chunk`: samples per compiled call; with `checkpoint` (a file) the weights are
      saved after each chunk and a rerun resumes from there.

    **Returns:** `(w_init, info)`: the weights after the phase and `{"seconds": ...}`.
    """
    if liquid.rule is None:
        raise ValueError("liquid: the initialisation phase needs a plastic liquid")
    if n_samples < 0:
        raise ValueError(f"n_samples: must be >= 0, got {n_samples}")
    if span is not None and split.kind == "rate":
        raise ValueError("span: applies to event data; rate-coded images look alike at every ms")
    if span is not None and span < n_steps:
        raise ValueError(f"span: must be >= n_steps ({n_steps}), got {span}")
    state = liquid.init_state()
    done = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        saved = load_pytree(checkpoint)
        if saved["n_samples"] == n_samples and saved.get("span") == span:
            state = eqx.tree_at(lambda s: (s.w, s.stdp), state, (saved["w"], saved["stdp"]))
            done = int(saved["done"])
    t0 = time.perf_counter()
    data = jnp.asarray(split.inputs) if split.kind == "rate" else None
    while done < n_samples:
        stop = min(done + chunk, n_samples)
        ids = np.arange(done, stop, dtype=np.uint32)
        if data is not None:
            state = _init_chunk(liquid, state, jnp.asarray(ids), data, key, n_steps)
        else:
            drives = jnp.asarray(init_event_drives(split, ids, key, n_steps, span))
            state = _init_chunk_drives(liquid, state, drives, n_steps)
        done = stop
        if checkpoint is not None:
            save_pytree(
                checkpoint,
                {
                    "w": state.w,
                    "stdp": state.stdp,
                    "done": done,
                    "n_samples": n_samples,
                    "span": span,
                },
            )
        if progress is not None:
            progress(done, n_samples)
    return state.w, {"seconds": time.perf_counter() - t0}
