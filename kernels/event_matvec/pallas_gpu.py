"""GPU path of `event_matvec` in Pallas (Triton): one synapse-parallel kernel.

Every layout and direction is the same sum over synapses, `y[dst] += w * x[src]`, with
`(src, dst)` = (presynaptic, postsynaptic) ids forward and the reverse transposed. The
kernel runs a grid of blocks of `BlockSizes.synapses` synapses; each program gathers
`x[src]` for its block, sums the contributions of synapses that share a target, and
adds them into `y[dst]` with one vector atomic add in which no target repeats (Pallas's
interpreter applies a vector atomic add as a scatter-set, which would drop repeats).
Silent synapses (zero input) and repeats add to spare slots past the end of `y`
instead: a masked atomic (`mask=`) would skip them, but the interpreter does not
implement masks, and the kernel is the same code in both. The summation order of a
GPU's atomics is not fixed: results match the reference to rounding, not bit for bit.

The synapse lists are padded to a whole number of blocks with `src = dst = 0`, `w = 0`
(their adds are masked out). `interpret=True` runs the kernel body with Pallas's
interpreter on any backend; the tests do that on the CPU. Gradients (`jax.custom_vjp`)
use the kernel itself for the inputs' cotangent (the transposed product) and the
reference's VJP for the weights'; `vmap` maps the kernel (`jax.vmap` of `pallas_call`).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from ..formats import CSR, ELL
from .reference import event_matvec_reference

WEIGHT_DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64))


@dataclasses.dataclass(frozen=True)
class BlockSizes:
    """Tile sizes of the kernel.

    **Arguments:**

    - `synapses`: synapses per program (a power of two; Triton blocks need one).
    """

    synapses: int = 128

    def __post_init__(self):
        s = self.synapses
        if not isinstance(s, int) or s < 1 or s & (s - 1):
            raise ValueError(f"synapses must be a positive power of two, got {s!r}")


DEFAULT_BLOCK_SIZES = BlockSizes()


def accumulate(y_ref, src: jax.Array, dst: jax.Array, w: jax.Array, x_ref) -> None:
    """y[dst] += w * x[src] for one block of synapses whose input is non-zero.

    The block's synapses that share a target are summed first (the first of them
    carries the sum), so that no target appears twice in the block's one vector atomic
    add; every other lane (a silent synapse, or a repeat) adds into a spare slot of its
    own past the end of `y` (`y_ref` has `n_out + block` slots; the wrapper drops the
    spare ones).
    """
    xs = x_ref[src]
    contrib = jnp.where(xs != 0, w * xs, jnp.zeros_like(xs))
    lanes = jnp.arange(src.shape[0], dtype=dst.dtype)
    same = dst[:, None] == dst[None, :]
    summed = jnp.sum(jnp.where(same, contrib[None, :], jnp.zeros_like(contrib)[None, :]), axis=1)
    first = ~jnp.any(same & (lanes[None, :] < lanes[:, None]), axis=1)
    active = first & jnp.any(same & (xs != 0)[None, :], axis=1)
    n_out = y_ref.shape[0] - src.shape[0]
    plgpu.atomic_add(y_ref, jnp.where(active, dst, n_out + lanes), summed)


def _kernel(src_ref, dst_ref, w_ref, x_ref, y_in_ref, y_ref):
    """One block of a stored layout's synapses (`y_in` is `y`, aliased and zeroed)."""
    del y_in_ref
    accumulate(y_ref, src_ref[...], dst_ref[...], w_ref[...], x_ref)


def synapse_lists(conn: CSR | ELL, transpose: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`(src, dst, w)`, one entry per synapse, for the direction `transpose` asks for."""
    pre, post = conn.pre_ids.reshape(-1), conn.post_ids.reshape(-1)
    w = conn.synapse_weights().reshape(-1)
    return (post, pre, w) if transpose else (pre, post, w)


def _pad(a: jax.Array, size: int) -> jax.Array:
    return jnp.pad(a, (0, size - a.shape[0]))


def _product(src, dst, w, x, n_out: int, block: BlockSizes, interpret: bool) -> jax.Array:
    nnz = src.shape[0]
    if nnz == 0 or x.shape[0] == 0:
        return jnp.zeros((n_out,), w.dtype)
    n_blocks = pl.cdiv(nnz, block.synapses)
    size = n_blocks * block.synapses
    src, dst, w = _pad(src, size), _pad(dst, size), _pad(w, size)
    n_slots = n_out + block.synapses  # the spare slots of inactive lanes at the end
    tile = pl.BlockSpec((block.synapses,), lambda i: (i,))
    whole_x = pl.BlockSpec(x.shape, lambda i: (0,))
    whole_y = pl.BlockSpec((n_slots,), lambda i: (0,))
    y = pl.pallas_call(
        _kernel,
        out_shape=jax.ShapeDtypeStruct((n_slots,), w.dtype),
        grid=(n_blocks,),
        in_specs=[tile, tile, tile, whole_x, whole_y],
        out_specs=whole_y,
        input_output_aliases={4: 0},
        interpret=interpret,
        name="brainsim_event_matvec",
    )(src, dst, w, x, jnp.zeros((n_slots,), w.dtype))
    return y[:n_out]


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _matvec(src, dst, w, x, n_out, block, interpret):
    return _product(src, dst, w, x, n_out, block, interpret)


def _matvec_fwd(src, dst, w, x, n_out, block, interpret):
    return _product(src, dst, w, x, n_out, block, interpret), (src, dst, w, x)


def _matvec_bwd(n_out, block, interpret, residuals, ct):
    src, dst, w, x = residuals
    dx = _product(dst, src, w, ct, x.shape[0], block, interpret)  # the transposed product
    dw = ct[dst] * x[src]  # the reference's VJP: d/dw of sum ct[dst] w x[src]
    return None, None, dw, dx


_matvec.defvjp(_matvec_fwd, _matvec_bwd)


def supported(conn: CSR | ELL, spikes: jax.Array, interpret: bool) -> bool:
    """Whether the kernel runs here: float32/float64 weights, on a GPU or interpreted."""
    return (interpret or jax.default_backend() == "gpu") and jnp.dtype(
        conn.weights.dtype
    ) in WEIGHT_DTYPES


def event_matvec_pallas(
    conn: CSR | ELL,
    spikes: jax.Array,
    *,
    transpose: bool = False,
    block_sizes: BlockSizes = DEFAULT_BLOCK_SIZES,
    interpret: bool = False,
) -> jax.Array:
    """`event_matvec` through the Pallas kernel; the reference where it cannot run.

    **Arguments:**

    - `conn`, `spikes`, `transpose`: as for `event_matvec`.
    - `block_sizes`: the kernel's `BlockSizes`.
    - `interpret`: run the kernel body in Pallas's interpreter (any backend).

    **Returns:** `(n_post,)` (or `(n_pre,)` transposed), in the weights' dtype.
    """
    if not supported(conn, spikes, interpret):
        return event_matvec_reference(conn, spikes, transpose=transpose)
    src, dst, w = synapse_lists(conn, transpose)
    x = spikes.astype(w.dtype)
    n_out = conn.n_pre if transpose else conn.n_post
    if w.shape[0] == 0:  # no synapse: keep the gradients' structure, skip the kernel
        return jnp.zeros((n_out,), w.dtype) + 0 * jnp.sum(x)
    return _matvec(src, dst, w, x, n_out, block_sizes, interpret)
