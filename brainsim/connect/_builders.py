"""Deterministic builders and the host-side helpers every builder shares.

Builders run once, on the host, in NumPy ("build first, then freeze") and return the
immutable layouts of `brainsim.kernels.formats`. A CSR with `major="post"` has one row
per postsynaptic neuron with its sources ascending (a deterministic summation order);
`major="pre"` is the converse. Random builders sample in one fixed orientation and
re-sort for the other, so the same seed gives the same synapses whichever `major` is
asked for.
"""

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from jaxtyping import Float, Int

from ..core._errors import check_finite
from ..kernels.formats import CSR

Major = Literal["pre", "post"]
SeedLike = int | np.integer | np.random.Generator | None
WeightLike = float | Callable[[np.random.Generator, int], Any]


def _as_rng(seed: SeedLike) -> np.random.Generator:
    """A NumPy generator from an int seed (reproducible), a generator (used as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, int | np.integer) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")


def _check_count(name: str, value: Any) -> int:
    """`value` as a Python int, or `ValueError` unless it is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_major(major: Any) -> None:
    if major not in ("pre", "post"):
        raise ValueError(f"major must be 'pre' or 'post', got {major!r}")


def _check_self(allow_self: bool, n_pre: int, n_post: int) -> None:
    if not allow_self and n_pre != n_post:
        raise ValueError(
            "allow_self must be True unless both sides are one population (n_pre == n_post), "
            f"got allow_self=False with n_pre={n_pre} and n_post={n_post}"
        )


def _check_weight(weight: WeightLike) -> None:
    if callable(weight):
        return
    if np.ndim(weight) != 0 or not np.issubdtype(np.asarray(weight).dtype, np.number):
        raise ValueError(
            "weight must be a number or a callable weight(rng, size) -> array, "
            f"got {type(weight).__name__}"
        )
    check_finite("weight", weight)


def _draw_weights(weight: WeightLike, rng: np.random.Generator, size: int) -> Any:
    """A scalar weight as is, or `weight(rng, size)` checked to be `(size,)` and finite."""
    if not callable(weight):
        return float(weight)
    w = np.asarray(weight(rng, size), dtype=np.float64)
    if w.shape != (size,):
        raise ValueError(
            f"weight must return an array of shape ({size},) from weight(rng, {size}), "
            f"got shape {w.shape}"
        )
    check_finite("weight", w)
    return w


def _stable_argsort(keys: Int[np.ndarray, " m"], bound: int) -> Int[np.ndarray, " m"]:
    """Stable argsort of integers in `[0, bound)`, by 16-bit digits, least significant first.

    NumPy radix-sorts 16-bit keys, several times faster than its stable sort of int64.
    """
    order = np.arange(keys.size)
    shift = 0
    while True:
        digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if bound <= 1 << shift:
            return order


def _csr(
    rows: Int[np.ndarray, " nnz"],
    cols: Int[np.ndarray, " nnz"],
    weights: Any,
    *,
    n_pre: int,
    n_post: int,
    rows_are: Major,
    major: Major,
) -> CSR:
    """Assemble a CSR from synapses sorted by `(rows, cols)`, `rows` being the `rows_are` side.

    With `major != rows_are` the synapses are stably re-sorted by `cols`, which keeps
    the new rows' entries ascending.
    """
    if major != rows_are:
        order = _stable_argsort(cols, n_pre if major == "pre" else n_post)
        rows, cols = cols[order], rows[order]
        if np.ndim(weights):
            weights = weights[order]
    n_rows = n_pre if major == "pre" else n_post
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return CSR(indptr, cols.astype(np.int32), weights, n_pre=n_pre, n_post=n_post, major=major)


def one_to_one(
    n: int, *, weight: WeightLike = 1.0, major: Major = "post", seed: SeedLike = None
) -> CSR:
    """Neuron `i` of the source projects to neuron `i` of the target.

    **Arguments:**

    - `n`: size of both populations.
    - `weight`: a number shared by every synapse, or `weight(rng, size) -> (size,)`.
    - `major`: `"post"` (rows are targets) or `"pre"` (rows are sources).
    - `seed`: int or `numpy.random.Generator` for a callable `weight`.

    **Returns:** a `CSR` with `n` synapses.

    >>> one_to_one(3).to_dense().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n = _check_count("n", n)
    _check_major(major)
    _check_weight(weight)
    ids = np.arange(n, dtype=np.int64)
    w = _draw_weights(weight, _as_rng(seed), n)
    return _csr(ids, ids, w, n_pre=n, n_post=n, rows_are=major, major=major)


def all_to_all(
    n_pre: int,
    n_post: int,
    *,
    weight: WeightLike = 1.0,
    allow_self: bool = True,
    major: Major = "post",
    seed: SeedLike = None,
) -> CSR:
    """Every source projects to every target (optionally without `i -> i`).

    **Arguments:**

    - `n_pre`, `n_post`: population sizes.
    - `weight`: a number, or `weight(rng, size) -> (size,)`, drawn in post-major order.
    - `allow_self`: keep `i -> i`; `False` needs `n_pre == n_post`.
    - `major`: `"post"` or `"pre"`.
    - `seed`: int or `numpy.random.Generator` for a callable `weight`.

    **Returns:** a `CSR` with `n_pre * n_post` synapses (`n * (n - 1)` without self).
    """
    n_pre, n_post = _check_count("n_pre", n_pre), _check_count("n_post", n_post)
    _check_self(allow_self, n_pre, n_post)
    _check_major(major)
    _check_weight(weight)
    post = np.repeat(np.arange(n_post, dtype=np.int64), n_pre)
    pre = np.tile(np.arange(n_pre, dtype=np.int64), n_post)
    if not allow_self:
        keep = pre != post
        post, pre = post[keep], pre[keep]
    w = _draw_weights(weight, _as_rng(seed), post.size)
    return _csr(post, pre, w, n_pre=n_pre, n_post=n_post, rows_are="post", major=major)


def from_arrays(
    pre: Int[np.ndarray, " nnz"],
    post: Int[np.ndarray, " nnz"],
    weights: float | Float[np.ndarray, " nnz"],
    *,
    n_pre: int,
    n_post: int,
    major: Major = "post",
) -> CSR:
    """A CSR from explicit synapse lists (any order; duplicates are kept).

    Within a row synapses are sorted by the other index; the sort is stable, so
    duplicated pairs keep their given order.

    **Arguments:**

    - `pre`, `post`: `(nnz,)` integer source and target of every synapse.
    - `weights`: a number shared by every synapse, or `(nnz,)`.
    - `n_pre`, `n_post`: population sizes.
    - `major`: `"post"` or `"pre"`.

    **Returns:** a `CSR`.
    """
    n_pre, n_post = _check_count("n_pre", n_pre), _check_count("n_post", n_post)
    _check_major(major)
    pre_a, post_a = np.asarray(pre), np.asarray(post)
    for name, arr, bound in (("pre", pre_a, n_pre), ("post", post_a, n_post)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= bound):
            raise ValueError(
                f"{name} must lie in [0, {bound}), got values in [{arr.min()}, {arr.max()}]"
            )
    if pre_a.shape != post_a.shape:
        raise ValueError(
            f"pre and post must have the same shape, got {pre_a.shape} and {post_a.shape}"
        )
    w = np.asarray(weights, dtype=np.float64)
    if w.shape not in ((), pre_a.shape):
        raise ValueError(
            f"weights must be a scalar or have shape {pre_a.shape}, got shape {w.shape}"
        )
    check_finite("weights", w)
    pre_a, post_a = pre_a.astype(np.int64), post_a.astype(np.int64)
    rows, cols = (pre_a, post_a) if major == "pre" else (post_a, pre_a)
    order = np.lexsort((cols, rows))
    w = w if w.ndim == 0 else w[order]
    return _csr(
        rows[order], cols[order], w, n_pre=n_pre, n_post=n_post, rows_are=major, major=major
    )
