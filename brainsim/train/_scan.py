"""Gradient checkpointing through long scans: chunks whose insides are recomputed."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.tree_util as jtu


def checkpointed_scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any,
    chunk: int,
    *,
    length: int | None = None,
) -> tuple[Any, Any]:
    """`jax.lax.scan(f, init, xs)` with memory for BPTT in `O(n / chunk + chunk)` steps.

    The sequence is split into chunks of `chunk` steps; each chunk is a scan under
    `jax.checkpoint`, so the backward pass stores only the carries between chunks and
    recomputes the inside of one chunk at a time. A final partial chunk is handled.
    Results and gradients equal those of the plain scan.

    **Arguments:**

    - `f`: `(carry, x) -> (carry, y)`, as for `jax.lax.scan`.
    - `init`: the initial carry.
    - `xs`: inputs with a leading time axis (a pytree), or `None` with `length`.
    - `chunk`: steps per checkpointed chunk (e.g. about `sqrt(n)`).
    - `length`: number of steps when `xs` is `None`.

    **Returns:** `(carry, ys)` as `jax.lax.scan` gives them.
    """
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: must be a positive integer, got {chunk!r}")
    leaves = jtu.tree_leaves(xs)
    n = int(leaves[0].shape[0]) if leaves else length
    if n is None:
        raise ValueError("length: required when xs has no leaves")
    n_chunks, rest = divmod(n, chunk)

    @jax.checkpoint
    def run_chunk(carry, xs_chunk):
        return jax.lax.scan(f, carry, xs_chunk, length=chunk)

    def split(a, start, stop):
        return jnp.asarray(a)[start:stop]

    ys_parts = []
    carry = init
    if n_chunks:
        main = jtu.tree_map(
            lambda a: jnp.reshape(split(a, 0, n_chunks * chunk), (n_chunks, chunk, *a.shape[1:])),
            xs,
        )
        carry, ys = jax.lax.scan(run_chunk, carry, main, length=n_chunks)
        ys_parts.append(
            jtu.tree_map(lambda y: jnp.reshape(y, (n_chunks * chunk, *y.shape[2:])), ys)
        )
    if rest:
        tail = jtu.tree_map(lambda a: split(a, n_chunks * chunk, n), xs)
        carry, ys = jax.checkpoint(lambda c, x: jax.lax.scan(f, c, x, length=rest))(carry, tail)
        ys_parts.append(ys)
    if not ys_parts:
        return jax.lax.scan(f, init, xs, length=0)
    if len(ys_parts) == 1:
        return carry, ys_parts[0]
    return carry, jtu.tree_map(lambda a, b: jnp.concatenate([a, b]), *ys_parts)
