"""GPU path of procedural connectivity in Pallas (Triton): synapses hashed in the kernel.

A grid of blocks of `BlockSizes.synapses` synapse ids `e = i * fan_out + k`; each
program recomputes its synapses' targets and weight factors with the hash of
`reference.py` (uint32 arithmetic) and adds `w * x[src]` into `y[dst]` with the same
block accumulation as the stored layouts (`event_matvec.pallas_gpu.accumulate`).
Forward, `src` is the presynaptic neuron and `dst` the target; transposed, the
reverse. Ids past the last synapse (the last block's padding) carry a zero weight.
Gradients: `jax.custom_vjp`, the kernel itself for the inputs' cotangent (the
transposed product), one more product with unit weight for the weight's.
"""

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from ..event_matvec.pallas_gpu import (
    DEFAULT_BLOCK_SIZES,
    WEIGHT_DTYPES,
    BlockSizes,
    accumulate,
)
from ..formats import ProceduralFanOut
from .reference import (
    procedural_matvec_reference,
    synapse_counter,
    synapse_targets,
    weight_factors,
)


def _kernel(
    seed_ref, w_ref, x_ref, y_in_ref, y_ref, *, block, fan_out, n_post, nnz, spread, transpose
):
    del y_in_ref
    e = pl.program_id(0) * block + jnp.arange(block, dtype=jnp.int32)
    valid = e < nnz
    e = jnp.where(valid, e, 0)
    pre, k = e // fan_out, e % fan_out
    counters = synapse_counter(seed_ref[0], pre, k)
    target = synapse_targets(counters, n_post)
    w = jnp.broadcast_to(w_ref[0], (block,))
    if spread != 0.0:
        w = w * weight_factors(counters, spread, w.dtype)
    w = jnp.where(valid, w, jnp.zeros_like(w))
    src, dst = (target, pre) if transpose else (pre, target)
    accumulate(y_ref, src, dst, w, x_ref)


def _product(conn_static, seed, w, x, transpose, block, interpret):
    n_pre, n_post, fan_out, spread = conn_static
    nnz = n_pre * fan_out
    n_out = n_pre if transpose else n_post
    if nnz == 0 or x.shape[0] == 0:
        return jnp.zeros((n_out,), w.dtype) + 0 * (jnp.sum(x) * w)
    n_slots = n_out + block.synapses
    kernel = functools.partial(
        _kernel,
        block=block.synapses,
        fan_out=fan_out,
        n_post=n_post,
        nnz=nnz,
        spread=spread,
        transpose=transpose,
    )
    scalar = pl.BlockSpec((1,), lambda i: (0,))
    whole_x = pl.BlockSpec(x.shape, lambda i: (0,))
    whole_y = pl.BlockSpec((n_slots,), lambda i: (0,))
    y = pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((n_slots,), w.dtype),
        grid=(pl.cdiv(nnz, block.synapses),),
        in_specs=[scalar, scalar, whole_x, whole_y],
        out_specs=whole_y,
        input_output_aliases={3: 0},
        interpret=interpret,
        name="brainsim_procedural_matvec",
    )(seed[None], w[None], x, jnp.zeros((n_slots,), w.dtype))
    return y[:n_out]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 4, 5, 6))
def _matvec(conn_static, seed, w, x, transpose, block, interpret):
    return _product(conn_static, seed, w, x, transpose, block, interpret)


def _matvec_fwd(conn_static, seed, w, x, transpose, block, interpret):
    y = _product(conn_static, seed, w, x, transpose, block, interpret)
    return y, (seed, w, x)


def _matvec_bwd(conn_static, transpose, block, interpret, residuals, ct):
    seed, w, x = residuals
    dx = _product(conn_static, seed, w, ct, not transpose, block, interpret)
    unit = _product(conn_static, seed, jnp.ones_like(w), x, transpose, block, interpret)
    return None, jnp.sum(ct * unit), dx


_matvec.defvjp(_matvec_fwd, _matvec_bwd)


def procedural_matvec_pallas(
    conn: ProceduralFanOut,
    spikes: jax.Array,
    *,
    transpose: bool = False,
    block_sizes: BlockSizes = DEFAULT_BLOCK_SIZES,
    interpret: bool = False,
) -> jax.Array:
    """`procedural_matvec` through the Pallas kernel; the reference where it cannot run.

    **Arguments:**

    - `conn`, `spikes` (`(n_in,)` or `(batch, n_in)`), `transpose`: as for
      `procedural_matvec`.
    - `block_sizes`: the kernel's `BlockSizes`.
    - `interpret`: run the kernel body in Pallas's interpreter (any backend).

    **Returns:** `(n_out,)` or `(batch, n_out)`, in the weights' dtype.
    """
    w = conn.weights
    runs = (
        (interpret or jax.default_backend() == "gpu")
        and jnp.dtype(w.dtype) in WEIGHT_DTYPES
        and conn.nnz < 2**31
    )
    if not runs:
        return procedural_matvec_reference(conn, spikes, transpose=transpose)
    static = (conn.n_pre, conn.n_post, conn.fan_out, conn.spread)

    def one(s):
        x = s.astype(w.dtype)
        return _matvec(static, conn.seed, w, x, transpose, block_sizes, interpret)

    return jax.vmap(one)(spikes) if spikes.ndim == 2 else one(spikes)
