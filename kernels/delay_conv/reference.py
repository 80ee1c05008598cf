"""Reference delay convolution: the specification of `delay_conv`.

Every synapse `(i, o)` carries one weight `w[i, o]` at a continuous delay `d[i, o]`
(in steps, `0 <= d <= n_taps - 1`). Its temporal kernel has `n_taps` taps,

    k[n, i, o] = w[i, o] * g(n; d[i, o], sigma) / sum_m g(m; d[i, o], sigma),
    g(n; d, sigma) = exp(-(n - d)^2 / (2 sigma^2)),

(DCLS, Khalfaoui-Hassani et al. 2023; Hammouamri et al. 2024), and the output is the
causal convolution

    y[t, o] = sum_n sum_i k[n, i, o] x[t - n, i],      x[t < 0] = 0.

With `sigma=None` every delay is rounded to the nearest integer and the kernel is one-hot:
`y[t, o] = sum_i w[i, o] x[t - round(d[i, o]), i]` (the evaluation mode of DCLS, which a
ring buffer of integer delays runs exactly).

This version builds the dense `(n_taps, C_in, C_out)` kernel and the unfolded input
`(..., T, n_taps, C_in)`: readable, differentiable by JAX, memory-hungry.
"""

import jax
import jax.numpy as jnp


def gaussian_taps(delays: jax.Array, sigma: jax.Array | None, n_taps: int) -> jax.Array:
    """Normalised tap weights `(n_taps, *delays.shape)` of continuous `delays` (steps).

    With `sigma=None`, one-hot taps at the rounded delays.

    >>> [round(float(v), 2) for v in gaussian_taps(jnp.array(1.0), jnp.array(0.5), 3)]
    [0.11, 0.79, 0.11]
    """
    n = jnp.arange(n_taps, dtype=delays.dtype).reshape((n_taps,) + (1,) * delays.ndim)
    if sigma is None:
        return (n == jnp.rint(delays)[None]).astype(delays.dtype)
    logits = -0.5 * ((n - delays[None]) / sigma) ** 2
    return jax.nn.softmax(logits, axis=0)


def delay_kernel(
    weights: jax.Array, delays: jax.Array, sigma: jax.Array | None, n_taps: int
) -> jax.Array:
    """The dense kernel `k[n, i, o]` (`(n_taps, C_in, C_out)`) of `weights` at `delays`."""
    return weights[None] * gaussian_taps(delays, sigma, n_taps)


def delay_conv_reference(
    x: jax.Array,
    weights: jax.Array,
    delays: jax.Array,
    sigma: jax.Array | None,
    *,
    n_taps: int,
) -> jax.Array:
    """Readable pure-`jnp` delay convolution over `x` `(..., T, C_in)` -> `(..., T, C_out)`."""
    kernel = delay_kernel(weights, delays, sigma, n_taps)
    t = x.shape[-2]
    pad = [(0, 0)] * (x.ndim - 2) + [(n_taps - 1, 0), (0, 0)]
    xp = jnp.pad(x, pad)
    # shifted[..., t, n, i] = x[..., t - n, i]
    windows = [xp[..., n_taps - 1 - n : n_taps - 1 - n + t, :] for n in range(n_taps)]
    shifted = jnp.stack(windows, axis=-2)
    return jnp.einsum("...tni,nio->...to", shifted, kernel)
