"""Sparse connectivity layouts: CSR and fixed-degree ELL, in either orientation.

`major="pre"`: rows are presynaptic neurons and `indices` hold postsynaptic targets
(event-driven scatter, fixed fan-out). `major="post"`: rows are postsynaptic neurons
and `indices` hold presynaptic sources (gather, deterministic summation order, fixed
fan-in, partitioning by postsynaptic rows). Weights are one scalar shared by every
synapse or one value per synapse. Arrays are leaves; sizes and orientation are static.

`ProceduralFanOut` stores no synapses at all: a fixed fan-out whose targets and weights
are regenerated from a seed by a counter-based hash whenever they are used (see
`brainsim.kernels.procedural`).
"""

from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, UInt32

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
            major=self.major,  # type: ignore[arg-type]
            dtype=self.weights.dtype,
        )


class ProceduralFanOut(eqx.Module):
    """A fixed fan-out regenerated from a seed: no synapse arrays exist.

    Presynaptic neuron `i` has `fan_out` synapses; synapse `k`'s target and weight are
    a counter-based hash of `(seed, i, k)` (`brainsim.kernels.procedural` gives the
    formulas), recomputed by the kernels every time the layout is used, so memory does
    not grow with the number of synapses. Targets are drawn with replacement (a neuron
    may contact the same target twice, or itself). Weights are `weights * (1 + spread *
    (2 u - 1))` with `u` uniform in `[0, 1)` per synapse: all equal to `weights` with
    `spread=0`. `materialize` builds the same synapses as an `ELL`.

    **Arguments:**

    - `weights`: the scalar weight (differentiable; a sweep may batch it).
    - `n_pre`, `n_post`: population sizes; `fan_out`: synapses per presynaptic neuron.
    - `seed`: an integer in `[0, 2**32)` (an array leaf, so `vmap` can batch seeds).
    - `spread`: relative half-width of the uniform weight distribution, in `[0, 1]`.
    - `dtype`: of the weights (default: JAX's default float).
    """

    weights: Float[Array, ""]
    seed: UInt32[Array, ""]
    n_pre: int = eqx.field(static=True)
    n_post: int = eqx.field(static=True)
    fan_out: int = eqx.field(static=True)
    spread: float = eqx.field(static=True)
    major: ClassVar[str] = "pre"

    def __init__(
        self,
        weights,
        *,
        n_pre: int,
        n_post: int,
        fan_out: int,
        seed,
        spread: float = 0.0,
        dtype=None,
    ):
        for name, value in (("n_pre", n_pre), ("n_post", n_post), ("fan_out", fan_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if n_post >= 2**31:
            raise ValueError(f"n_post must be below 2**31, got {n_post}")
        if n_post == 0 and fan_out > 0 and n_pre > 0:
            raise ValueError("fan_out must be 0 when n_post is 0 (there is no target)")
        if not 0.0 <= float(spread) <= 1.0:
            raise ValueError(f"spread must lie in [0, 1], got {spread!r}")
        if _concrete(seed):
            seed_np = np.asarray(seed)
            if seed_np.shape != () or not np.issubdtype(seed_np.dtype, np.integer):
                raise ValueError(f"seed must be one integer, got {seed!r}")
            if not 0 <= int(seed_np) < 2**32:
                raise ValueError(f"seed must lie in [0, 2**32), got {int(seed_np)}")
            self.seed = jnp.asarray(np.uint32(seed_np))
        else:
            self.seed = jnp.asarray(seed).astype(jnp.uint32)
        dtype = jnp.result_type(float) if dtype is None else dtype
        self.weights = _weights(weights, (), dtype)
        self.n_pre, self.n_post, self.fan_out = int(n_pre), int(n_post), int(fan_out)
        self.spread = float(spread)

    @property
    def nnz(self) -> int:
        return self.n_pre * self.fan_out

    def with_weights(self, weights) -> "ProceduralFanOut":
        """The same connectivity with another scalar weight."""
        w = _weights(weights, (), self.weights.dtype)
        return eqx.tree_at(lambda c: c.weights, self, w)

    def to_ell(self) -> ELL:
        """The same synapses, materialised (`brainsim.kernels.procedural.materialize`)."""
        from .procedural.reference import materialize

        return materialize(self)

    def to_dense(self) -> Float[Array, "n_pre n_post"]:
        return self.to_ell().to_dense()


Connectivity = CSR | ELL | ProceduralFanOut
