"""Memory-lean delay convolution: one `(C_in, C_out)` kernel slice at a time.

The reference builds the dense `(n_taps, C_in, C_out)` kernel and unfolds the input
into `(B, T, n_taps, C_in)`; reverse-mode autodiff keeps both. Here a loop over the taps
builds tap `n`'s slice `w * g_n / Z` on the fly and adds `x[t - n] @ slice` to the
output, so the live memory is `O(B T (C_in + C_out) + C_in C_out)` whatever `n_taps`.
The backward pass (`jax.custom_vjp`) loops over the taps again, recomputing each slice
from `(weights, delays, sigma)` instead of storing it, and accumulates

    dK_n = sum_{b,t} x[b, t - n]^T dy[b, t]                     (C_in, C_out)
    dw   = sum_n dK_n g_n / Z
    dd   = w / Z * (sum_n dK_n g_n l'_n - Z'/Z sum_n dK_n g_n)

with `g_n = exp(l_n)`, `l_n = -(n - d)^2 / (2 sigma^2)`, `l'_n = (n - d) / sigma^2`
(and the same with `(n - d)^2 / sigma^3` for `sigma`), `Z = sum_n g_n`,
`Z' = sum_n g_n l'_n`. Each `g_n` is taken relative to the largest tap, so `Z >= 1`.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax


def _log_taps_max(delays: jax.Array, sigma: jax.Array, n_taps: int) -> jax.Array:
    """The largest log-tap `l_n` over `n` (at the nearest in-range tap)."""
    nearest = jnp.clip(jnp.rint(delays), 0, n_taps - 1)
    return -0.5 * ((nearest - delays) / sigma) ** 2


def _tap(n, delays, sigma, top):
    """`g_n` relative to the largest tap, and `n - d`."""
    diff = n.astype(delays.dtype) - delays
    return jnp.exp(-0.5 * (diff / sigma) ** 2 - top), diff


def _sums(delays, sigma, n_taps, top):
    """`Z`, `sum_n g_n (n - d)` and `sum_n g_n (n - d)^2` (tap by tap)."""

    def body(n, acc):
        g, diff = _tap(n, delays, sigma, top)
        return acc[0] + g, acc[1] + g * diff, acc[2] + g * diff**2

    zero = jnp.zeros_like(delays)
    return lax.fori_loop(0, n_taps, body, (zero, zero, zero))


def _slice_x(xp: jax.Array, n, n_taps: int, t: int) -> jax.Array:
    """`x[:, t - n]` for all `t` from the front-padded `xp` `(B, T + n_taps - 1, C)`."""
    return lax.dynamic_slice_in_dim(xp, n_taps - 1 - n, t, axis=1)


def _kernel_slice(n, weights, delays, sigma, rounded, n_taps, top, z):
    if rounded:
        return weights * (jnp.rint(delays) == n.astype(delays.dtype)).astype(weights.dtype)
    g, _ = _tap(n, delays, sigma, top)
    return weights * g / z


def _forward(n_taps, rounded, x, weights, delays, sigma):
    b, t, _ = x.shape
    xp = jnp.pad(x, ((0, 0), (n_taps - 1, 0), (0, 0)))
    top = z = None
    if not rounded:
        top = _log_taps_max(delays, sigma, n_taps)
        z, _, _ = _sums(delays, sigma, n_taps, top)

    def body(n, y):
        k = _kernel_slice(n, weights, delays, sigma, rounded, n_taps, top, z)
        return y + jnp.einsum("bti,io->bto", _slice_x(xp, n, n_taps, t), k)

    return lax.fori_loop(0, n_taps, body, jnp.zeros((b, t, weights.shape[1]), weights.dtype))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _delay_conv_lean(n_taps, rounded, x, weights, delays, sigma):
    return _forward(n_taps, rounded, x, weights, delays, sigma)


def _fwd(n_taps, rounded, x, weights, delays, sigma):
    return _forward(n_taps, rounded, x, weights, delays, sigma), (x, weights, delays, sigma)


def _bwd(n_taps, rounded, residuals, dy):
    x, weights, delays, sigma = residuals
    _, t, _ = x.shape
    xp = jnp.pad(x, ((0, 0), (n_taps - 1, 0), (0, 0)))
    dyp = jnp.pad(dy, ((0, 0), (0, n_taps - 1), (0, 0)))  # dyp[:, t + n] = dy[t + n]
    top = z = zd = zs = None
    if not rounded:
        top = _log_taps_max(delays, sigma, n_taps)
        z, zd, zs = _sums(delays, sigma, n_taps, top)

    def body(n, carry):
        dx, acc_b, acc_a, acc_c = carry
        k = _kernel_slice(n, weights, delays, sigma, False, n_taps, top, z)
        dy_n = lax.dynamic_slice_in_dim(dyp, n, t, axis=1)  # dy[t + n]
        dx = dx + jnp.einsum("bto,io->bti", dy_n, k)
        dk = jnp.einsum("bti,bto->io", _slice_x(xp, n, n_taps, t), dy)
        g, diff = _tap(n, delays, sigma, top)
        dkg = dk * g
        return dx, acc_b + dkg, acc_a + dkg * diff, acc_c + dkg * diff**2

    zero = jnp.zeros_like(weights)
    init = (jnp.zeros_like(x), zero, zero, zero)
    if rounded:
        # the taps of a rounded delay: a one-hot mask, whose weight is the synapse's own
        def body_r(n, carry):
            dx, acc_b, acc_a, acc_c = carry
            mask = (jnp.rint(delays) == n.astype(delays.dtype)).astype(weights.dtype)
            dy_n = lax.dynamic_slice_in_dim(dyp, n, t, axis=1)
            dx = dx + jnp.einsum("bto,io->bti", dy_n, weights * mask)
            dk = jnp.einsum("bti,bto->io", _slice_x(xp, n, n_taps, t), dy)
            return dx, acc_b + dk * mask, acc_a, acc_c

        dx, dw, _, _ = lax.fori_loop(0, n_taps, body_r, init)
        return dx, dw, jnp.zeros_like(delays), jnp.zeros_like(sigma)
    dx, acc_b, acc_a, acc_c = lax.fori_loop(0, n_taps, body, init)
    dw = acc_b / z
    scale = weights / z
    dd = scale * (acc_a - zd / z * acc_b) / sigma**2
    dsigma = jnp.sum(scale * (acc_c - zs / z * acc_b)) / sigma**3
    return dx, dw, dd, dsigma.reshape(sigma.shape)


_delay_conv_lean.defvjp(_fwd, _bwd)


def delay_conv_lean(
    x: jax.Array,
    weights: jax.Array,
    delays: jax.Array,
    sigma: jax.Array | None,
    *,
    n_taps: int,
) -> jax.Array:
    """Lean delay convolution over `x` `(..., T, C_in)` -> `(..., T, C_out)`."""
    lead, (t, c_in) = x.shape[:-2], x.shape[-2:]
    xb = x.reshape((-1, t, c_in))
    rounded = sigma is None
    s = jnp.ones((), weights.dtype) if sigma is None else sigma
    y = _delay_conv_lean(n_taps, rounded, xb, weights, delays, s)
    return y.reshape(lead + (t, weights.shape[1]))
