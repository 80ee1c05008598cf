"""CPU fast path of `event_matvec`: the C++ kernels of `event_matvec.cc` through the XLA FFI.

The product is one JAX primitive, `event_matvec_p`, with four CPU lowerings (ELL or
CSR, scatter or gather) and its own rules, so that every transformation reaches the
native code:

- JVP: the product is bilinear in the weights and the inputs, so the tangent is
  `P(w_dot, x) + P(w, x_dot)`, two more products;
- transpose (hence `grad`): the cotangent of the inputs is the product in the other
  direction (a scatter becomes a gather and back), run by the kernel itself; the
  cotangent of per-synapse weights is `x[row] * ct[col]` per synapse (a gather), of a
  scalar weight its sum;
- batching: the kernels accept leading batch dimensions on every operand, each of size
  1 (shared) or the batch size, so `vmap` over spikes (a matmat), over weights or over
  whole connectivities is one native call.

A scatter (`y[col] += w x[row]`, skipping rows with `x[row] == 0`) is what a pre-major
layout needs forward and a post-major one transposed; a gather (`y[row] = sum w
x[col]`) is the other two cases.
"""

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from .._ad import batch_to_front, is_zero, sum_to
from .._native import native_available, warn_native_unavailable
from ..formats import CSR, ELL
from .reference import event_matmat_reference, event_matvec_reference

Direction = Literal["scatter", "gather"]

WEIGHT_DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64))

event_matvec_p = Primitive("brainsim_event_matvec")


def direction(conn: CSR | ELL, transpose: bool) -> Direction:
    """`"scatter"` when the inputs index the layout's rows, `"gather"` otherwise."""
    return "scatter" if (conn.major == "pre") != transpose else "gather"


def supported(conn: CSR | ELL, spikes: jax.Array) -> bool:
    """Whether the native kernels handle these dtypes on the current backend."""
    return (
        jax.default_backend() == "cpu"
        and jnp.dtype(conn.weights.dtype) in WEIGHT_DTYPES
        and conn.indices.dtype == jnp.int32
        and (not isinstance(conn, CSR) or conn.indptr.dtype == jnp.int32)
        and (
            spikes.dtype == jnp.bool_
            or jnp.issubdtype(spikes.dtype, jnp.integer)
            or jnp.issubdtype(spikes.dtype, jnp.floating)
        )
    )


def event_matvec_cpu(conn: CSR | ELL, spikes: jax.Array, *, transpose: bool = False) -> jax.Array:
    """`event_matvec` through the native CPU kernels; the reference where they cannot run.

    Falls back to `event_matvec_reference` when the weights are not float32/float64,
    the backend is not CPU, or the native library is missing (then it warns once).
    Bool spikes go to the kernel as they are; other spikes are cast to the weights'
    dtype first, as the reference does.
    """
    if not _native_ready(conn, spikes):
        return event_matvec_reference(conn, spikes, transpose=transpose)
    return _bind(conn, spikes, transpose, batched=False)


def event_matmat_cpu(conn: CSR | ELL, spikes: jax.Array, *, transpose: bool = False) -> jax.Array:
    """`event_matmat` through the native CPU kernels; the reference where they cannot run.

    One native call for the whole `(batch, n_in)` block: the layout is shared, so a
    scatter is the kernel's event matmat (one pass over the events of all batch rows).
    Falls back as `event_matvec_cpu` does.
    """
    if not _native_ready(conn, spikes):
        return event_matmat_reference(conn, spikes, transpose=transpose)
    return _bind(conn, spikes, transpose, batched=True)


def _native_ready(conn: CSR | ELL, spikes: jax.Array) -> bool:
    if not supported(conn, spikes):
        return False
    if not native_available():
        warn_native_unavailable()
        return False
    return True


def _bind(conn: CSR | ELL, spikes: jax.Array, transpose: bool, *, batched: bool) -> jax.Array:
    w = conn.weights
    x = spikes if spikes.dtype == jnp.bool_ else spikes.astype(w.dtype)
    kind = direction(conn, transpose)
    rows, cols = (conn.n_pre, conn.n_post) if conn.major == "pre" else (conn.n_post, conn.n_pre)
    if isinstance(conn, ELL):
        index: tuple[jax.Array, ...] = (conn.indices,)
        fmt = "ell"
    else:
        index, fmt = (conn.indptr, conn.indices), "csr"
    if batched:  # one leading batch dimension of size 1 on every shared operand
        index = tuple(a[None] for a in index)
        w = w[None]
    n_out = cols if kind == "scatter" else rows
    return event_matvec_p.bind(*index, w, x, fmt=fmt, kind=kind, n_out=n_out)


# --- the primitive -------------------------------------------------------------------
# Operands: (*index, weights, x) with index = (indices,) for ELL, (indptr, indices) for
# CSR. All operands share `nb = x.ndim - 1` leading batch dimensions (1 or the size).


def _other(kind: str) -> str:
    return "gather" if kind == "scatter" else "scatter"


def _abstract_eval(*avals, fmt, kind, n_out):
    del fmt, kind
    w, x = avals[-2], avals[-1]
    nb = x.ndim - 1
    batch = np.broadcast_shapes(*(a.shape[:nb] for a in avals))
    return jax.core.ShapedArray((*batch, n_out), w.dtype)


@functools.cache
def _jitted(fmt: str, kind: str, n_out: int):
    return jax.jit(functools.partial(event_matvec_p.bind, fmt=fmt, kind=kind, n_out=n_out))


def _impl(*operands, fmt, kind, n_out):
    return _jitted(fmt, kind, n_out)(*operands)


def _lowering(ctx, *operands, fmt, kind, n_out):
    del n_out
    return jax.ffi.ffi_lowering(f"brainsim_{fmt}_{kind}")(ctx, *operands)


def _jvp(primals, tangents, *, fmt, kind, n_out):
    *index, w, x = primals
    *_, w_dot, x_dot = tangents
    params = dict(fmt=fmt, kind=kind, n_out=n_out)
    y = event_matvec_p.bind(*primals, **params)
    parts = []
    if not is_zero(w_dot):
        parts.append(event_matvec_p.bind(*index, w_dot, x, **params))
    if not is_zero(x_dot):
        parts.append(event_matvec_p.bind(*index, w, x_dot, **params))
    if not parts:  # only integer operands (or zero tangents) were perturbed
        return y, jnp.zeros_like(y)
    return y, parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _vmap_leading(fn, nb: int, *args):
    """`fn` on core arrays, mapped over `nb` leading batch dims (each 1 or the size)."""
    if nb == 0:
        return fn(*args)
    size = max(a.shape[0] for a in args)
    if size == 1:
        out = _vmap_leading(fn, nb - 1, *(a[0] for a in args))
        return out[None]
    axes = [0 if a.shape[0] == size else None for a in args]
    args = tuple(a if ax == 0 else a[0] for a, ax in zip(args, axes))
    inner = functools.partial(_vmap_leading, fn, nb - 1)
    return jax.vmap(inner, in_axes=axes)(*args)


def _synapse_products(fmt: str, index, row: jax.Array, col: jax.Array, nb: int) -> jax.Array:
    """`row[r] * col[c]` for every synapse `(r, c)`: the cotangent of per-synapse weights."""

    def core(*arrays):
        *idx, r, c = arrays
        if fmt == "ell":
            (indices,) = idx
            row_of = r[:, None]
        else:
            indptr, indices = idx
            rows = indptr.shape[0] - 1
            row_ids = jnp.repeat(
                jnp.arange(rows), jnp.diff(indptr), total_repeat_length=indices.shape[0]
            )
            row_of = jnp.take(r, row_ids, mode="fill", fill_value=0)
        return row_of * jnp.take(c, indices, mode="fill", fill_value=0)

    return _vmap_leading(core, nb, *index, row, col)


def _transpose(ct, *operands, fmt, kind, n_out):
    del n_out
    *index, w, x = operands
    out: list = [None] * len(operands)
    if type(ct) is ad.Zero:
        return out
    if ad.is_undefined_primal(x):
        n_in = x.aval.shape[-1]
        dx = event_matvec_p.bind(*index, w, ct, fmt=fmt, kind=_other(kind), n_out=n_in)
        out[-1] = sum_to(dx, x.aval.shape)
    if ad.is_undefined_primal(w):
        nb = ct.ndim - 1
        dtype = w.aval.dtype
        row, col = (x, ct) if kind == "scatter" else (ct, x)
        row = row.astype(dtype)
        if w.aval.ndim == nb:  # one shared weight: sum over synapses of row * col
            ones = jnp.ones((1,) * nb, dtype)
            rows = row.shape[-1]
            per_row = event_matvec_p.bind(*index, ones, col, fmt=fmt, kind="gather", n_out=rows)
            dw = jnp.sum(row * per_row, axis=-1)
        else:
            dw = _synapse_products(fmt, index, row, col.astype(dtype), nb)
        out[-2] = sum_to(dw, w.aval.shape)
    return out


def _batch(args, dims, *, fmt, kind, n_out):
    return event_matvec_p.bind(*batch_to_front(args, dims), fmt=fmt, kind=kind, n_out=n_out), 0


event_matvec_p.def_impl(_impl)
event_matvec_p.def_abstract_eval(_abstract_eval)
mlir.register_lowering(event_matvec_p, _lowering, platform="cpu")
ad.primitive_jvps[event_matvec_p] = _jvp
ad.primitive_transposes[event_matvec_p] = _transpose
batching.primitive_batchers[event_matvec_p] = _batch
