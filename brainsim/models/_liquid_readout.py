"""Readouts of liquid features: spike-count normalisation, a closed-form ridge readout
and a linear softmax readout trained with optax through `brainsim.train.fit`."""

import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import DataLoader
from ..train import accuracy, fit

OPTIMIZERS = ("adam", "adadelta", "sgd")


def normalize_counts(counts: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """NALSM's feature normalisation: each sample's counts divided by their sum (L1), then
    all by `scale`, the largest L1-normalised value of the training set.

    **Arguments:**

    - `counts`: `(n_samples, n_features)` spike counts.
    - `scale`: the divisor; `None` takes the maximum of these samples (pass the training
      set's to the validation and test sets).

    **Returns:** `(features, scale)`.

    >>> x, s = normalize_counts(np.array([[1.0, 3.0], [0.0, 0.0]]))
    >>> x.tolist(), s
    ([[0.3333333333333333, 1.0], [0.0, 0.0]], 0.75)
    """
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 2:
        raise ValueError(f"counts must be (n_samples, n_features), got shape {counts.shape}")
    total = counts.sum(axis=1, keepdims=True)
    x = counts / np.where(total > 0, total, 1.0)
    if scale is None:
        scale = float(x.max()) if x.size and x.max() > 0 else 1.0
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be positive and finite, got {scale!r}")
    return x / scale, float(scale)


def ridge_readout(
    x: np.ndarray, y: np.ndarray, *, l2: float, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge regression onto one-hot targets (float64, on the host).

    Solves `min_W,b |[x 1] [W; b] - onehot(y)|^2 + l2 |W|^2` (the bias is not penalised).

    **Arguments:**

    - `x`: `(n, d)` features; `y`: `(n,)` labels in `0..n_classes - 1`.
    - `l2`: the ridge penalty, >= 0.
    - `n_classes`: number of classes.

    **Returns:** `(W, b)`, `(d, n_classes)` and `(n_classes,)`; predict with
    `argmax(x @ W + b)`.

    >>> x = np.array([[0.0], [1.0], [4.0], [5.0]]); y = np.array([0, 0, 1, 1])
    >>> W, b = ridge_readout(x, y, l2=0.0, n_classes=2)
    >>> np.argmax(x @ W + b, axis=1).tolist()
    [0, 0, 1, 1]
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    if not np.isfinite(l2) or l2 < 0:
        raise ValueError(f"l2 must be non-negative and finite, got {l2!r}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y: labels must lie in 0..{n_classes - 1}")
    targets = np.eye(n_classes)[y]
    mean_x, mean_t = x.mean(axis=0), targets.mean(axis=0)
    xc, tc = x - mean_x, targets - mean_t
    gram = xc.T @ xc + l2 * np.eye(x.shape[1])
    try:
        w = np.linalg.solve(gram, xc.T @ tc)
    except np.linalg.LinAlgError:  # singular without a penalty: least squares
        w = np.linalg.lstsq(gram, xc.T @ tc, rcond=None)[0]
    return w, mean_t - mean_x @ w


def select_ridge(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    l2_grid: tuple[float, ...],
    n_classes: int,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Fit `ridge_readout` for each penalty of `l2_grid`; keep the best on `val`.

    **Returns:** `(W, b, l2, val_accuracy)`.
    """
    if not l2_grid:
        raise ValueError("l2_grid must not be empty")
    fits = []
    for l2 in l2_grid:
        w, b = ridge_readout(*train, l2=l2, n_classes=n_classes)
        acc = float(np.mean(np.argmax(val[0] @ w + b, axis=1) == val[1]))
        fits.append((w, b, float(l2), acc))
    return max(fits, key=lambda f: f[3])  # the first of equals: the smallest index


class LinearReadout(eqx.Module):
    """A linear layer `x @ weight + bias` (zero-initialised, as in NALSM).

    **Arguments:**

    - `n_features`, `n_classes`: sizes.
    """

    weight: Float[Array, "n_features n_classes"]
    bias: Float[Array, " n_classes"]

    def __init__(self, n_features: int, n_classes: int, *, dtype: Any = None):
        if n_features < 1 or n_classes < 1:
            raise ValueError(
                f"n_features and n_classes must be >= 1, got {n_features}, {n_classes}"
            )
        dtype = jnp.result_type(float) if dtype is None else dtype
        self.weight = jnp.zeros((n_features, n_classes), dtype)
        self.bias = jnp.zeros((n_classes,), dtype)

    def __call__(self, x: Float[Array, "*batch n_features"]) -> Float[Array, "*batch n_classes"]:
        y = x @ self.weight
        return y + jnp.broadcast_to(self.bias, y.shape)


def make_optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    """`"adam"`, `"adadelta"` (NALSM: lr 0.1) or `"sgd"` with this learning rate."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    if not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    return {"adam": optax.adam, "adadelta": optax.adadelta, "sgd": optax.sgd}[name](learning_rate)


def train_linear_readout(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    n_classes: int,
    key: PRNGKeyArray,
    epochs: int = 100,
    batch_size: int = 256,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    l2: float = 0.0,
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    metrics_path: str | os.PathLike | None = None,
    progress: bool | None = False,
) -> tuple[LinearReadout, int]:
    """Train a `LinearReadout` with softmax cross-entropy; keep the best on `val`.

    **Arguments:**

    - `train`, `val`: `(features, labels)`.
    - `n_classes`: number of classes; `key`: PRNG key (for `fit`).
    - `epochs`, `batch_size`, `optimizer`, `learning_rate`: the optax setup.
    - `l2`: weight decay added to the loss (`l2 * |W|^2`; NALSM uses 5e-10).
    - `seed`: shuffling seed.
    - `checkpoint_dir`, `resume`, `metrics_path`, `progress`: as for `fit`.

    **Returns:** `(readout, best_epoch)`.
    """
    x_tr, y_tr = train
    dtype = jnp.result_type(float)
    model = LinearReadout(x_tr.shape[1], n_classes, dtype=dtype)

    def loss_fn(m: LinearReadout, batch: Any, key: Any):
        del key
        x, y = batch
        logits = m(jnp.asarray(x, dtype))
        labels = jnp.asarray(y)
        nll = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))
        loss = nll + l2 * jnp.sum(m.weight**2)
        return loss, {"accuracy": accuracy(logits, labels)}

    bs = min(batch_size, x_tr.shape[0])
    loader = DataLoader((x_tr.astype(np.float32), y_tr.astype(np.int32)), bs, seed=seed)
    val_batches = [(val[0].astype(np.float32), val[1].astype(np.int32))]
    result = fit(
        model,
        loss_fn,
        loader,
        optimizer=make_optimizer(optimizer, learning_rate),
        epochs=epochs,
        key=key,
        val_data=val_batches,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        metrics_path=metrics_path,
        progress=progress,
    )
    return result.model, result.best_epoch


def readout_accuracy(
    readout: LinearReadout | tuple[np.ndarray, np.ndarray], x: np.ndarray, y: np.ndarray
) -> float:
    """Accuracy of a `LinearReadout` or a ridge `(W, b)` on `(x, y)`."""
    if isinstance(readout, LinearReadout):
        logits = np.asarray(readout(jnp.asarray(x, readout.weight.dtype)))
    else:
        w, b = readout
        logits = np.asarray(x) @ w + b
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))
