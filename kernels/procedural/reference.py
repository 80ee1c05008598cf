"""Reference procedural connectivity: the hash that defines it, and the materialised layout.

Presynaptic neuron `i`'s synapse `k` (all arithmetic on uint32, wrapping):

    mix(x)   = x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
    key_i    = mix(seed + mix(i))
    c_ik     = key_i + (k + 1) * 0x9e3779b9
    target   = floor(mix(c_ik) * n_post / 2**32)
    u_ik     = (mix(c_ik ^ 0x85ebca6b) >> 8) / 2**24
    weight   = weights * (1 + spread * (2 u_ik - 1))

(`mix` is Wellons' lowbias32.) `materialize` builds exactly these synapses as an `ELL`;
the reference product is `event_matvec`'s reference on that layout. The C++ kernel
(`procedural.cc`) computes the same numbers without storing them.
"""

import jax
import jax.numpy as jnp

from ..event_matvec.reference import event_matmat_reference, event_matvec_reference
from ..formats import ELL, ProceduralFanOut

_GOLDEN = 0x9E3779B9
_WEIGHT_STREAM = 0x85EBCA6B


def _u32(value: int) -> jax.Array:
    return jnp.asarray(value, jnp.uint32)


def mix32(x: jax.Array) -> jax.Array:
    """Wellons' lowbias32 integer hash of uint32 values (a bijection on uint32)."""
    x = x ^ (x >> 16)
    x = x * _u32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * _u32(0x846CA68B)
    return x ^ (x >> 16)


def mulhi32(a: jax.Array, b: int) -> jax.Array:
    """The high 32 bits of the 64-bit product `a * b` (uint32 `a`, `0 <= b < 2**32`).

    Computed from 16-bit halves so it needs no 64-bit integers (x64 may be off).

    ```python
    >>> import jax.numpy as jnp
    >>> int(mulhi32(jnp.asarray(2**31, jnp.uint32), 10))
    5

    ```
    """
    a0, a1 = a & _u32(0xFFFF), a >> 16
    b0, b1 = _u32(b & 0xFFFF), _u32(b >> 16)
    lo, m1, m2 = a0 * b0, a1 * b0, a0 * b1
    mid = (lo >> 16) + (m1 & _u32(0xFFFF)) + (m2 & _u32(0xFFFF))
    return a1 * b1 + (m1 >> 16) + (m2 >> 16) + (mid >> 16)


def synapse_counter(seed: jax.Array, pre: jax.Array, k: jax.Array) -> jax.Array:
    """`c_ik` of presynaptic neurons `pre` and synapse numbers `k` (broadcast together)."""
    key = mix32(seed + mix32(pre.astype(jnp.uint32)))
    return key + (k.astype(jnp.uint32) + _u32(1)) * _u32(_GOLDEN)


def synapse_counters(seed: jax.Array, n_pre: int, fan_out: int) -> jax.Array:
    """`c_ik` of every synapse, `(n_pre, fan_out)` uint32."""
    pre = jnp.arange(n_pre, dtype=jnp.uint32)[:, None]
    return synapse_counter(seed, pre, jnp.arange(fan_out, dtype=jnp.uint32)[None, :])


def synapse_targets(counters: jax.Array, n_post: int) -> jax.Array:
    """Postsynaptic target of every synapse, int32 in `[0, n_post)`."""
    return mulhi32(mix32(counters), n_post).astype(jnp.int32)


def weight_factors(counters: jax.Array, spread: float, dtype) -> jax.Array:
    """`1 + spread * (2 u - 1)` per synapse, rounded as the kernel rounds it."""
    one = jnp.ones((), dtype)
    u = (mix32(counters ^ _u32(_WEIGHT_STREAM)) >> 8).astype(dtype) * jnp.asarray(2.0**-24, dtype)
    return one + jnp.asarray(spread, dtype) * (2 * u - one)


def materialize(conn: ProceduralFanOut) -> ELL:
    """The synapses of a procedural layout as a presynaptic-major `ELL`: the builder.

    **Arguments:**

    - `conn`: a `ProceduralFanOut`.

    **Returns:** an `ELL` with `indices[i, k]` the target of synapse `(i, k)` and
    per-synapse weights (a scalar weight when `spread` is 0), the same numbers the
    kernels regenerate.

    ```python
    >>> from brainsim.kernels import ProceduralFanOut
    >>> conn = ProceduralFanOut(0.5, n_pre=3, n_post=10, fan_out=2, seed=7)
    >>> materialize(conn).indices.shape
    (3, 2)

    ```
    """
    counters = synapse_counters(conn.seed, conn.n_pre, conn.fan_out)
    targets = synapse_targets(counters, conn.n_post)
    w = conn.weights
    if conn.spread != 0.0:
        w = w * weight_factors(counters, conn.spread, w.dtype)
    return ELL(targets, w, n_pre=conn.n_pre, n_post=conn.n_post, major="pre", dtype=w.dtype)


def procedural_matvec_reference(
    conn: ProceduralFanOut, spikes: jax.Array, *, transpose: bool = False
) -> jax.Array:
    """`event_matvec`'s reference on the materialised layout (or batched, for 2-D spikes)."""
    ell = materialize(conn)
    if spikes.ndim == 2:
        return event_matmat_reference(ell, spikes, transpose=transpose)
    return event_matvec_reference(ell, spikes, transpose=transpose)
