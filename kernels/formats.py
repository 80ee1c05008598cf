"""Sparse connectivity layouts: CSR and fixed-degree ELL, in either orientation.

`major="pre"`: rows are presynaptic neurons and `indices` hold postsynaptic targets
(event-driven scatter, fixed fan-out). `major="post"`: rows are postsynaptic neurons
and `indices` hold presynaptic sources (gather, deterministic summation order, fixed
fan-in, partitioning by postsynaptic rows). Weights are one scalar shared by every
synapse or one value per synapse. Arrays are leaves; sizes and orientation are static.
"""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

Major = Literal["pre", "post"]


def _concrete(*arrays) -> bool:
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def _check_major(major: str) -> None:
    if major not in ("pre", "post"):
        raise ValueError(f"major must be 'pre' or 'post', got {major!r}")


def _check_indices(name: str, indices, bound: int) -> None:
    if not _concrete(indices):
        return
    idx = np.asarray(indices)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= bound):
        raise ValueError(
            f"{name} must lie in [0, {bound}), got values in [{idx.min()}, {idx.max()}]"
        )


def _weights(weights, shape: tuple[int, ...], dtype) -> Array:
    w = jnp.asarray(weights, dtype=dtype)
    if w.shape not in ((), shape):
        raise ValueError(f"weights must be a scalar or have shape {shape}, got shape {w.shape}")
    return w


class CSR(eqx.Module):
    """Compressed sparse rows. Row `r`'s synapses are `indptr[r]:indptr[r+1]`.

    **Arguments:**

    - `indptr`: `(rows + 1,)` row pointers; `indices`: `(nnz,)` column indices.
    - `weights`: a scalar or `(nnz,)`.
    - `n_pre`, `n_post`: population sizes; `major`: `"pre"` or `"post"`.
    """

    indptr: Int[Array, " rows_plus_1"]
    indices: Int[Array, " nnz"]
    row_ids: Int[Array, " nnz"]
    weights: Float[Array, "*nnz"]
    n_pre: int = eqx.field(static=True)
    n_post: int = eqx.field(static=True)
    major: str = eqx.field(static=True)

    def __init__(
        self, indptr, indices, weights, *, n_pre: int, n_post: int, major: Major, dtype=None
    ):
        _check_major(major)
        rows, cols = (n_pre, n_post) if major == "pre" else (n_post, n_pre)
        indptr_np = np.asarray(indptr) if _concrete(indptr) else None
        if indptr_np is not None:
            if indptr_np.size and not np.issubdtype(indptr_np.dtype, np.integer):
                raise ValueError(f"indptr must hold integers, got dtype {indptr_np.dtype}")
            if indptr_np.shape != (rows + 1,):
                raise ValueError(f"indptr must have shape ({rows + 1},), got {indptr_np.shape}")
            if indptr_np[0] != 0 or np.any(np.diff(indptr_np) < 0):
                raise ValueError("indptr must start at 0 and never decrease")
            if indptr_np[-1] != np.shape(indices)[0]:
                raise ValueError(
                    f"indptr[-1] ({indptr_np[-1]}) must equal len(indices) ({np.shape(indices)[0]})"
                )
        _check_indices("indices", indices, cols)
        self.indptr = jnp.asarray(indptr, jnp.int32)
        self.indices = jnp.asarray(indices, jnp.int32)
        if indptr_np is not None:
            row_ids = np.repeat(np.arange(rows, dtype=np.int32), np.diff(indptr_np))
            self.row_ids = jnp.asarray(row_ids)
        else:
            self.row_ids = (
                jnp.searchsorted(self.indptr, jnp.arange(self.indices.shape[0]), side="right") - 1
            )
        dtype = jnp.result_type(float) if dtype is None else dtype
        self.weights = _weights(weights, self.indices.shape, dtype)
        self.n_pre, self.n_post, self.major = n_pre, n_post, major

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    @property
    def pre_ids(self) -> Int[Array, " nnz"]:
        """Presynaptic neuron of every synapse."""
        return self.row_ids if self.major == "pre" else self.indices

    @property
    def post_ids(self) -> Int[Array, " nnz"]:
        """Postsynaptic neuron of every synapse."""
        return self.indices if self.major == "pre" else self.row_ids

    def synapse_weights(self) -> Float[Array, " nnz"]:
        """Per-synapse weights (a shared scalar broadcast to every synapse)."""
        return jnp.broadcast_to(self.weights, self.indices.shape)

    def with_weights(self, weights) -> "CSR":
        """The same connectivity with other weights (scalar or `(nnz,)`)."""
        w = _weights(weights, self.indices.shape, self.weights.dtype)
        return eqx.tree_at(lambda c: c.weights, self, w)

    def to_dense(self) -> Float[Array, "n_pre n_post"]:
        """The dense `(n_pre, n_post)` weight matrix (duplicates summed)."""
        w = self.synapse_weights()
        dense = jnp.zeros((self.n_pre, self.n_post), w.dtype)
        return dense.at[self.pre_ids, self.post_ids].add(w)

    def to_major(self, major: Major) -> "CSR":
        """The same synapses in the other orientation (stable: keeps the order within rows)."""
        _check_major(major)
        if major == self.major:
            return self
        pre, post = np.asarray(self.pre_ids), np.asarray(self.post_ids)
        rows, cols = (pre, post) if major == "pre" else (post, pre)
        order = np.lexsort((np.arange(rows.size), rows))
        n_rows = self.n_pre if major == "pre" else self.n_post
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        w = self.weights if self.weights.ndim == 0 else np.asarray(self.weights)[order]
        return CSR(
            indptr,
            cols[order],
            w,
            n_pre=self.n_pre,
            n_post=self.n_post,
            major=major,
            dtype=self.weights.dtype,
        )


class ELL(eqx.Module):
    """Fixed degree: every row has exactly `k` synapses, `indices` is `(rows, k)`.

    `major="pre"` is a fixed fan-out table (row = source, entries = targets);
    `major="post"` is a fixed fan-in table (row = target, entries = sources).
    """

    indices: Int[Array, "rows k"]
    weights: Float[Array, "*rows_k"]
    n_pre: int = eqx.field(static=True)
    n_post: int = eqx.field(static=True)
    major: str = eqx.field(static=True)

    def __init__(self, indices, weights, *, n_pre: int, n_post: int, major: Major, dtype=None):
        _check_major(major)
        rows, cols = (n_pre, n_post) if major == "pre" else (n_post, n_pre)
        if np.ndim(indices) != 2 or np.shape(indices)[0] != rows:
            raise ValueError(f"indices must have shape ({rows}, k), got {np.shape(indices)}")
        _check_indices("indices", indices, cols)
        self.indices = jnp.asarray(indices, jnp.int32)
        dtype = jnp.result_type(float) if dtype is None else dtype
        self.weights = _weights(weights, self.indices.shape, dtype)
        self.n_pre, self.n_post, self.major = n_pre, n_post, major

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    @property
    def pre_ids(self) -> Int[Array, "rows k"]:
        if self.major == "post":
            return self.indices
        return jnp.broadcast_to(
            jnp.arange(self.n_pre, dtype=jnp.int32)[:, None], self.indices.shape
        )

    @property
    def post_ids(self) -> Int[Array, "rows k"]:
        if self.major == "pre":
            return self.indices
        return jnp.broadcast_to(
            jnp.arange(self.n_post, dtype=jnp.int32)[:, None], self.indices.shape
        )

    def synapse_weights(self) -> Float[Array, "rows k"]:
        return jnp.broadcast_to(self.weights, self.indices.shape)

    def with_weights(self, weights) -> "ELL":
        w = _weights(weights, self.indices.shape, self.weights.dtype)
        return eqx.tree_at(lambda c: c.weights, self, w)

    def to_dense(self) -> Float[Array, "n_pre n_post"]:
        w = self.synapse_weights()
        dense = jnp.zeros((self.n_pre, self.n_post), w.dtype)
        return dense.at[self.pre_ids, self.post_ids].add(w)

    def to_csr(self) -> CSR:
        """The same synapses as CSR in the same orientation."""
        rows, k = self.indices.shape
        indptr = np.arange(rows + 1) * k
        w = self.weights if self.weights.ndim == 0 else self.weights.reshape(-1)
        return CSR(
            indptr,
            np.asarray(self.indices).reshape(-1),
            w,
            n_pre=self.n_pre,
            n_post=self.n_post,
            major=self.major,
            dtype=self.weights.dtype,
        )


Connectivity = CSR | ELL
