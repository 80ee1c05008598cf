"""CPU fast path of procedural connectivity: `procedural.cc` through the XLA FFI.

One primitive, `procedural_matvec_p`, with operands `(seed, weights, x)` (uint32, the
weights' float dtype, bool or float inputs) and two lowerings, scatter (the forward
product, presynaptic events to targets) and gather (its transpose). Its rules:

- JVP: the product is linear in the scalar weight and in the inputs, so the tangent
  is `P(w_dot, x) + P(w, x_dot)` (the seed is an integer and has none);
- transpose: the inputs' cotangent is the product in the other direction; the
  weight's is `sum_i row_i * gather(1, col)_i`, one more gather;
- batching: every operand carries the same leading batch dimensions (1 or the size),
  so `vmap` over spikes, weights or seeds is one native call.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from .._ad import batch_to_front, is_zero, sum_to
from .._native import native_available, warn_native_unavailable
from ..formats import ProceduralFanOut
from .reference import procedural_matvec_reference

WEIGHT_DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64))

procedural_matvec_p = Primitive("brainsim_procedural_matvec")


def supported(conn: ProceduralFanOut, spikes: jax.Array) -> bool:
    """Whether the native kernels handle these dtypes on the current backend."""
    return (
        jax.default_backend() == "cpu"
        and jnp.dtype(conn.weights.dtype) in WEIGHT_DTYPES
        and (
            spikes.dtype == jnp.bool_
            or jnp.issubdtype(spikes.dtype, jnp.integer)
            or jnp.issubdtype(spikes.dtype, jnp.floating)
        )
    )


def procedural_matvec_cpu(
    conn: ProceduralFanOut, spikes: jax.Array, *, transpose: bool = False
) -> jax.Array:
    """The product through the native kernels; the reference where they cannot run.

    `spikes` is `(n_in,)` or `(batch, n_in)`. Falls back to the reference (warning once
    when the library is missing) as `event_matvec_cpu` does.
    """
    if not supported(conn, spikes):
        return procedural_matvec_reference(conn, spikes, transpose=transpose)
    if not native_available():
        warn_native_unavailable()
        return procedural_matvec_reference(conn, spikes, transpose=transpose)
    w = conn.weights
    x = spikes if spikes.dtype == jnp.bool_ else spikes.astype(w.dtype)
    seed = conn.seed
    if x.ndim == 2:  # a batch sharing the connectivity
        seed, w = seed[None], w[None]
    return procedural_matvec_p.bind(
        seed,
        w,
        x,
        kind="gather" if transpose else "scatter",
        fan_out=conn.fan_out,
        spread=conn.spread,
        n_out=conn.n_pre if transpose else conn.n_post,
    )


# --- the primitive -------------------------------------------------------------------


def _abstract_eval(seed, w, x, *, kind, fan_out, spread, n_out):
    del kind, fan_out, spread
    nb = x.ndim - 1
    batch = np.broadcast_shapes(seed.shape[:nb], w.shape[:nb], x.shape[:nb])
    return jax.core.ShapedArray((*batch, n_out), w.dtype)


@functools.cache
def _jitted(**params):
    return jax.jit(functools.partial(procedural_matvec_p.bind, **params))


def _impl(*operands, **params):
    return _jitted(**params)(*operands)


def _lowering(ctx, seed, w, x, *, kind, fan_out, spread, n_out):
    del n_out
    rule = jax.ffi.ffi_lowering(f"brainsim_procedural_{kind}")
    return rule(ctx, seed, w, x, fan_out=np.int64(fan_out), spread=np.float64(spread))


def _other(kind: str) -> str:
    return "gather" if kind == "scatter" else "scatter"


def _jvp(primals, tangents, **params):
    seed, w, x = primals
    _, w_dot, x_dot = tangents
    y = procedural_matvec_p.bind(*primals, **params)
    parts = []
    if not is_zero(w_dot):
        parts.append(procedural_matvec_p.bind(seed, w_dot, x, **params))
    if not is_zero(x_dot):
        parts.append(procedural_matvec_p.bind(seed, w, x_dot, **params))
    if not parts:
        return y, jnp.zeros_like(y)
    return y, parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _transpose(ct, seed, w, x, *, kind, fan_out, spread, n_out):
    del n_out
    out: list = [None, None, None]
    if type(ct) is ad.Zero:
        return out
    params = dict(fan_out=fan_out, spread=spread)
    if ad.is_undefined_primal(x):
        n_in = x.aval.shape[-1]
        dx = procedural_matvec_p.bind(seed, w, ct, kind=_other(kind), n_out=n_in, **params)
        out[2] = sum_to(dx, x.aval.shape)
    if ad.is_undefined_primal(w):
        dtype = w.aval.dtype
        row, col = (x, ct) if kind == "scatter" else (ct, x)
        row = row.astype(dtype)
        ones = jnp.ones(w.aval.shape, dtype)
        n_pre = row.shape[-1]
        per_row = procedural_matvec_p.bind(seed, ones, col, kind="gather", n_out=n_pre, **params)
        out[1] = sum_to(jnp.sum(row * per_row, axis=-1), w.aval.shape)
    return out


def _batch(args, dims, **params):
    return procedural_matvec_p.bind(*batch_to_front(args, dims), **params), 0


procedural_matvec_p.def_impl(_impl)
procedural_matvec_p.def_abstract_eval(_abstract_eval)
mlir.register_lowering(procedural_matvec_p, _lowering, platform="cpu")
ad.primitive_jvps[procedural_matvec_p] = _jvp
ad.primitive_transposes[procedural_matvec_p] = _transpose
batching.primitive_batchers[procedural_matvec_p] = _batch
