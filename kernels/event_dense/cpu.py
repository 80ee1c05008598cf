"""CPU fast path of `event_dense_matmat`: the C++ kernels of `event_dense.cc` through the XLA FFI.

Two JAX primitives, each lowered to one native handler, whose first operand is the
spike block `s` (`(M, K)`) whose zero entries are skipped:

- `spike_matmul_p(s, w) = s @ w` (`w` is `(K, N)`): the forward product;
- `spike_outer_p(s, g) = s.T @ g` (`g` is `(M, N)`): the gradient of the weights.

Both are bilinear, so their rules are short:

- JVP: the tangent of `s @ w` is `s @ w_dot` (the event kernel again) plus `s_dot @ w`
  (dense: a tangent of the spikes has no reason to be sparse), likewise for the outer
  product;
- transpose (hence `grad`): the cotangent of `w` is `spike_outer_p(s, ct)`, which visits
  only the non-zero spikes; the cotangent of `s` is the dense `ct @ w.T`, which a
  surrogate gradient needs at every entry;
- batching: the kernels accept leading batch dimensions on both operands, each of size
  1 (shared) or the batch size, so `vmap` is one native call. When the weights are
  shared by a batch, their cotangent is one outer product over the rows of the whole
  batch.

The handlers live in the package's one native library; they are registered here, on
first use, next to the ones `_native` registers.
"""

import ctypes
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from .._ad import batch_to_front, is_zero, sum_to
from .._native import NativeKernelWarning, library_path, native_available, native_unavailable_reason
from .reference import event_dense_matmat_reference

DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64))

# FFI target name -> exported handler symbol (event_dense.cc).
TARGETS: dict[str, str] = {
    "brainsim_spike_matmul": "BrainsimSpikeMatmul",
    "brainsim_spike_outer": "BrainsimSpikeOuter",
}

spike_matmul_p = Primitive("brainsim_spike_matmul")
spike_outer_p = Primitive("brainsim_spike_outer")


@functools.cache
def _registered() -> str | None:
    """Register the handlers once: `None` on success, else why they are not available."""
    if not native_available():
        return native_unavailable_reason()
    path = library_path()
    if path is None:  # removed since `_native` loaded it
        return "the native library disappeared after it was loaded"
    lib = ctypes.cdll.LoadLibrary(str(path))  # the handle `_native` already holds
    try:
        for target, symbol in TARGETS.items():
            jax.ffi.register_ffi_target(
                target, jax.ffi.pycapsule(getattr(lib, symbol)), platform="cpu"
            )
    except (AttributeError, ValueError, RuntimeError) as err:
        return f"{path.name} lacks the event_dense handlers (rebuild the package): {err}"
    return None


@functools.cache
def _warn_unavailable(reason: str) -> None:
    warnings.warn(
        f"brainsim.kernels.event_dense_matmat: native CPU kernel not available ({reason}); "
        "using the pure-JAX reference",
        NativeKernelWarning,
        stacklevel=4,
    )


def native_ready(weights: jax.Array) -> bool:
    """Whether the native kernel runs for these weights here (warns once if it is missing)."""
    if jax.default_backend() != "cpu" or jnp.dtype(weights.dtype) not in DTYPES:
        return False
    reason = _registered()
    if reason is not None:
        _warn_unavailable(reason)
        return False
    return True


def event_dense_matmat_cpu(spikes: jax.Array, weights: jax.Array) -> jax.Array:
    """`spikes @ weights` through the native kernel; the reference where it cannot run.

    Falls back to `event_dense_matmat_reference` when the weights are not
    float32/float64, the backend is not the CPU, or the native library (or its
    event_dense handlers) is missing, warning once in the last case. Spikes are cast to
    the weights' dtype first.
    """
    if not native_ready(weights):
        return event_dense_matmat_reference(spikes, weights)
    return spike_matmul_p.bind(spikes.astype(weights.dtype), weights)


# --- rules ---------------------------------------------------------------------------
# Operands of both primitives share `nb = ndim - 2` leading batch dimensions, each of
# size 1 (shared) or the batch size.


def _swap(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, -1, -2)


def _batch_shape(a, b) -> tuple[int, ...]:
    nb = a.ndim - 2
    return tuple(np.broadcast_shapes(a.shape[:nb], b.shape[:nb]))


def _matmul_abstract(s, w):
    return jax.core.ShapedArray((*_batch_shape(s, w), s.shape[-2], w.shape[-1]), w.dtype)


def _outer_abstract(s, g):
    return jax.core.ShapedArray((*_batch_shape(s, g), s.shape[-1], g.shape[-1]), g.dtype)


def _dense(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def _matmul_jvp(primals, tangents):
    s, w = primals
    s_dot, w_dot = tangents
    y = spike_matmul_p.bind(s, w)
    parts = []
    if not is_zero(w_dot):
        parts.append(spike_matmul_p.bind(s, w_dot))
    if not is_zero(s_dot):
        parts.append(jnp.broadcast_to(_dense(s_dot, w), y.shape))
    if not parts:
        return y, jnp.zeros_like(y)
    return y, parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _outer_jvp(primals, tangents):
    s, g = primals
    s_dot, g_dot = tangents
    y = spike_outer_p.bind(s, g)
    parts = []
    if not is_zero(g_dot):
        parts.append(spike_outer_p.bind(s, g_dot))
    if not is_zero(s_dot):
        parts.append(jnp.broadcast_to(_dense(_swap(s_dot), g), y.shape))
    if not parts:
        return y, jnp.zeros_like(y)
    return y, parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _rows_merged(s: jax.Array, other: jax.Array, shared_shape: tuple[int, ...]):
    """`s`, `other` with their batch rows stacked, when the result is summed over the batch.

    The cotangent of an operand shared by the whole batch (`shared_shape` has only 1s in
    its batch dims) is a sum over the batch of outer products, which is one outer
    product over all the batch's rows: `(1, ..., 1, B*M, K)` and `(1, ..., 1, B*M, N)`.
    """
    nb = s.ndim - 2
    batch = tuple(np.broadcast_shapes(s.shape[:nb], other.shape[:nb]))
    if nb == 0 or any(d != 1 for d in shared_shape[:nb]) or all(d == 1 for d in batch):
        return s, other
    s = jnp.broadcast_to(s, (*batch, *s.shape[-2:]))
    other = jnp.broadcast_to(other, (*batch, *other.shape[-2:]))
    ones = (1,) * nb
    return (
        s.reshape(*ones, -1, s.shape[-1]),
        other.reshape(*ones, -1, other.shape[-1]),
    )


def _matmul_transpose(ct, s, w):
    if type(ct) is ad.Zero:
        return [None, None]
    if ad.is_undefined_primal(w):
        s_rows, ct_rows = _rows_merged(s, ct, w.aval.shape)
        return [None, sum_to(spike_outer_p.bind(s_rows, ct_rows), w.aval.shape)]
    if ad.is_undefined_primal(s):
        return [sum_to(_dense(ct, _swap(w)), s.aval.shape), None]
    return [None, None]


def _outer_transpose(ct, s, g):
    if type(ct) is ad.Zero:
        return [None, None]
    if ad.is_undefined_primal(g):
        return [None, sum_to(spike_matmul_p.bind(s, ct), g.aval.shape)]
    if ad.is_undefined_primal(s):
        return [sum_to(_dense(g, _swap(ct)), s.aval.shape), None]
    return [None, None]


def _register_rules(prim: Primitive, abstract, jvp, transpose, target: str) -> None:
    @functools.cache
    def jitted():
        return jax.jit(prim.bind)

    def lowering(ctx, *operands):
        return jax.ffi.ffi_lowering(target)(ctx, *operands)

    def batch(args, dims):
        return prim.bind(*batch_to_front(args, dims)), 0

    prim.def_impl(lambda *operands: jitted()(*operands))
    prim.def_abstract_eval(abstract)
    mlir.register_lowering(prim, lowering, platform="cpu")
    ad.primitive_jvps[prim] = jvp
    ad.primitive_transposes[prim] = transpose
    batching.primitive_batchers[prim] = batch


_register_rules(
    spike_matmul_p, _matmul_abstract, _matmul_jvp, _matmul_transpose, "brainsim_spike_matmul"
)
_register_rules(
    spike_outer_p, _outer_abstract, _outer_jvp, _outer_transpose, "brainsim_spike_outer"
)
