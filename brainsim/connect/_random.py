"""Random connectivity: independent pairs (Bernoulli) and fixed in- or out-degree.

Nothing here builds an `n_pre x n_post` matrix. `fixed_probability` walks the pairs
in post-major order with geometric gaps between successive synapses (a Bernoulli
process on the line of pairs), which costs time and memory in proportion to the
number of synapses. Fixed degrees draw `k` distinct indices per row: with replacement
then redrawing the duplicates while `k` is at most half the candidates, or as the `k`
smallest of uniform keys otherwise; both give every `k`-subset the same probability.
"""

from typing import Literal

import numpy as np
from jaxtyping import Int

from ..core._errors import check_probability
from ..kernels.formats import CSR, ELL
from ._builders import (
    Major,
    SeedLike,
    WeightLike,
    _as_rng,
    _check_count,
    _check_major,
    _check_self,
    _check_weight,
    _csr,
    _draw_weights,
)

Layout = Literal["ell", "csr"]


def _bernoulli_indices(rng: np.random.Generator, total: int, p: float) -> Int[np.ndarray, " m"]:
    """Ascending indices of the successes among `total` independent Bernoulli(p) trials."""
    if total == 0 or p == 0.0:
        return np.zeros(0, np.int64)
    if p == 1.0:
        return np.arange(total, dtype=np.int64)
    chunks = []
    last = -1
    while True:
        expected = (total - 1 - last) * p
        gaps = rng.geometric(p, int(expected + 6.0 * np.sqrt(expected) + 16))
        np.minimum(gaps, total + 1, out=gaps)  # tiny p: keep the running sum in int64
        idx = last + np.cumsum(gaps)
        if idx[-1] >= total:
            chunks.append(idx[: np.searchsorted(idx, total)])
            return np.concatenate(chunks)
        chunks.append(idx)
        last = int(idx[-1])


def fixed_probability(
    n_pre: int,
    n_post: int,
    p: float,
    *,
    seed: SeedLike,
    weight: WeightLike = 1.0,
    allow_self: bool = True,
    major: Major = "post",
) -> CSR:
    """Each pair `(i, j)` is connected independently with probability `p`.

    This is Brian2's `connect(p=p)`. The number of synapses is Binomial(`n_pre *
    n_post`, `p`) and every in-degree is Binomial(`n_pre`, `p`).

    **Arguments:**

    - `n_pre`, `n_post`: population sizes.
    - `p`: connection probability in [0, 1].
    - `seed`: int or `numpy.random.Generator`; the same seed gives the same synapses
        for either `major`.
    - `weight`: a number, or `weight(rng, size) -> (size,)`, drawn in post-major order.
    - `allow_self`: keep `i -> i`; `False` needs `n_pre == n_post`.
    - `major`: `"post"` (rows are targets) or `"pre"` (rows are sources).

    **Returns:** a `CSR`.
    """
    n_pre, n_post = _check_count("n_pre", n_pre), _check_count("n_post", n_post)
    if np.ndim(p) != 0:
        raise ValueError(f"p must be a scalar, got shape {np.shape(p)}")
    check_probability("p", p)
    _check_self(allow_self, n_pre, n_post)
    _check_major(major)
    _check_weight(weight)
    rng = _as_rng(seed)
    n_cols = n_pre if allow_self else n_pre - 1
    flat = _bernoulli_indices(rng, n_post * max(n_cols, 0), float(p))
    post, pre = np.divmod(flat, max(n_cols, 1))
    if not allow_self:
        pre += pre >= post  # skip the diagonal: column c of row r is c + (c >= r)
    w = _draw_weights(weight, rng, flat.size)
    return _csr(post, pre, w, n_pre=n_pre, n_post=n_post, rows_are="post", major=major)


def _distinct_per_row(
    rng: np.random.Generator, n_rows: int, n: int, k: int
) -> Int[np.ndarray, "rows k"]:
    """`k` distinct values of `range(n)` per row, uniform over `k`-subsets, ascending."""
    if k == 0 or n_rows == 0:
        return np.zeros((n_rows, k), np.int64)
    if 2 * k > n:
        keys = rng.random((n_rows, n))
        return np.sort(np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1).astype(np.int64)
    out = np.empty((n_rows, k), np.int64)
    todo = np.arange(n_rows)
    idx = np.sort(rng.integers(0, n, size=(n_rows, k)), axis=1)
    while todo.size:
        dup = np.zeros(idx.shape, bool)
        dup[:, 1:] = idx[:, 1:] == idx[:, :-1]
        bad = dup.any(axis=1)
        out[todo[~bad]] = idx[~bad]
        todo, idx, dup = todo[bad], idx[bad], dup[bad]
        idx[dup] = rng.integers(0, n, size=int(dup.sum()))  # redraw the duplicates
        idx.sort(axis=1)
    return out


def _fixed_degree(
    n_rows: int,
    n_cols: int,
    k: int,
    *,
    rng: np.random.Generator,
    weight: WeightLike,
    allow_self: bool,
    rows_are: Major,
    layout: str,
    major: Major,
) -> ELL | CSR:
    idx = _distinct_per_row(rng, n_rows, n_cols - (0 if allow_self else 1), k)
    if not allow_self:
        idx += idx >= np.arange(n_rows)[:, None]
    w = _draw_weights(weight, rng, n_rows * k)
    n_pre, n_post = (n_rows, n_cols) if rows_are == "pre" else (n_cols, n_rows)
    if layout == "ell":
        w = w if np.ndim(w) == 0 else w.reshape(n_rows, k)
        return ELL(idx.astype(np.int32), w, n_pre=n_pre, n_post=n_post, major=rows_are)
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), k)
    return _csr(
        rows, idx.reshape(-1), w, n_pre=n_pre, n_post=n_post, rows_are=rows_are, major=major
    )


def _check_degree(
    k: int,
    n_rows: int,
    n_cols: int,
    *,
    allow_self: bool,
    side: str,
    layout: str,
    major: str,
    natural: str,
) -> int:
    k = _check_count("k", k)
    _check_self(allow_self, n_rows, n_cols)  # symmetric in its sizes
    available = n_cols if allow_self else n_cols - 1
    if k > max(available, 0):
        extra = "" if allow_self else " - 1 (no self connections)"
        raise ValueError(f"k must be at most {side}{extra} = {max(available, 0)}, got {k}")
    if layout not in ("ell", "csr"):
        raise ValueError(f"layout must be 'ell' or 'csr', got {layout!r}")
    _check_major(major)
    if layout == "ell" and major != natural:
        raise ValueError(
            f"major must be {natural!r} with layout='ell' (a table with one row per "
            f"{natural}synaptic neuron), got major={major!r}; use layout='csr' for the other major"
        )
    return k


def fixed_in_degree(
    n_pre: int,
    n_post: int,
    k: int,
    *,
    seed: SeedLike,
    weight: WeightLike = 1.0,
    allow_self: bool = True,
    layout: Layout = "ell",
    major: Major = "post",
) -> ELL | CSR:
    """Every postsynaptic neuron receives exactly `k` distinct, uniformly chosen sources.

    **Arguments:**

    - `n_pre`, `n_post`: population sizes.
    - `k`: in-degree, at most `n_pre` (`n_pre - 1` without self connections).
    - `seed`: int or `numpy.random.Generator`.
    - `weight`: a number, or `weight(rng, size) -> (size,)`, drawn in post-major order.
    - `allow_self`: allow `i -> i`; `False` needs `n_pre == n_post`.
    - `layout`: `"ell"` (a `(n_post, k)` fan-in table, `major="post"` only) or `"csr"`.
    - `major`: the CSR orientation, `"post"` or `"pre"`.

    **Returns:** an `ELL` with `major="post"`, or a `CSR`; sources ascend within a row.
    """
    n_pre, n_post = _check_count("n_pre", n_pre), _check_count("n_post", n_post)
    k = _check_degree(
        k,
        n_post,
        n_pre,
        allow_self=allow_self,
        side="n_pre",
        layout=layout,
        major=major,
        natural="post",
    )
    _check_weight(weight)
    return _fixed_degree(
        n_post,
        n_pre,
        k,
        rng=_as_rng(seed),
        weight=weight,
        allow_self=allow_self,
        rows_are="post",
        layout=layout,
        major=major,
    )


def fixed_out_degree(
    n_pre: int,
    n_post: int,
    k: int,
    *,
    seed: SeedLike,
    weight: WeightLike = 1.0,
    allow_self: bool = True,
    layout: Layout = "ell",
    major: Major = "pre",
) -> ELL | CSR:
    """Every presynaptic neuron projects to exactly `k` distinct, uniformly chosen targets.

    **Arguments:**

    - `n_pre`, `n_post`: population sizes.
    - `k`: out-degree, at most `n_post` (`n_post - 1` without self connections).
    - `seed`: int or `numpy.random.Generator`.
    - `weight`: a number, or `weight(rng, size) -> (size,)`, drawn in pre-major order.
    - `allow_self`: allow `i -> i`; `False` needs `n_pre == n_post`.
    - `layout`: `"ell"` (a `(n_pre, k)` fan-out table, `major="pre"` only) or `"csr"`.
    - `major`: the CSR orientation, `"pre"` or `"post"`.

    **Returns:** an `ELL` with `major="pre"`, or a `CSR`; targets ascend within a row.
    """
    n_pre, n_post = _check_count("n_pre", n_pre), _check_count("n_post", n_post)
    k = _check_degree(
        k,
        n_pre,
        n_post,
        allow_self=allow_self,
        side="n_post",
        layout=layout,
        major=major,
        natural="pre",
    )
    _check_weight(weight)
    return _fixed_degree(
        n_pre,
        n_post,
        k,
        rng=_as_rng(seed),
        weight=weight,
        allow_self=allow_self,
        rows_are="pre",
        layout=layout,
        major=major,
    )
