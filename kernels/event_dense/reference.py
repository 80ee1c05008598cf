"""Reference product of spikes and a dense weight matrix: the specification of `event_dense_matmat`.

`y[m, n] = sum_k s[m, k] W[k, n]`: a batch of `M` spike vectors (0/1 floats, or any
floats, as surrogate-gradient training passes them) through a dense `(K, N)` layer.
The fast path visits only the non-zero `s[m, k]`; for finite weights the result is this
dense product.
"""

import jax
import jax.numpy as jnp


def event_dense_matmat_reference(spikes: jax.Array, weights: jax.Array) -> jax.Array:
    """`spikes @ weights` in the weights' dtype (bool or integer spikes count as numbers)."""
    s = spikes.astype(weights.dtype)
    return jnp.matmul(s, weights, precision=jax.lax.Precision.HIGHEST)
