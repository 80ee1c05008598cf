"""Helpers shared by the JVP, transpose and batching rules of the kernels' primitives.

The primitives take operands that all carry the same number of leading batch
dimensions, each of size 1 (shared) or the batch size; these helpers move `vmap`'s
batch dimension there and sum cotangents back onto broadcast operands.
"""

import jax
import jax.numpy as jnp
from jax.interpreters import ad


def is_zero(t) -> bool:
    """Whether a tangent is symbolically zero (or of an integer operand)."""
    return type(t) is ad.Zero or t.dtype == jax.dtypes.float0


def sum_to(x: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Sum `x` over the (batch) axes where `shape` has size 1."""
    axes = tuple(d for d, (a, b) in enumerate(zip(x.shape, shape)) if b == 1 and a != 1)
    if axes:
        x = jnp.sum(x, axis=axes, keepdims=True)
    return jnp.broadcast_to(x, shape)


def batch_to_front(args, dims) -> list[jax.Array]:
    """Every operand with `vmap`'s batch dimension first (size 1 where it had none)."""
    return [
        jax.lax.expand_dims(a, (0,)) if d is None else jnp.moveaxis(a, d, 0)
        for a, d in zip(args, dims)
    ]
