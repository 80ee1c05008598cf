"""Delay convolution with learnable spacings (DCLS delays): one public function.

`delay_conv(x, weights, delays, sigma, *, n_taps, impl)` convolves spike trains with
per-synapse kernels that hold one weight at a continuous delay, spread by a Gaussian
of width `sigma` (see `reference.py` for the definition). Implementations:

- `"reference"`: the pure-`jax.numpy` specification (dense kernel, unfolded input);
- `"lean"`: a loop over the taps with its own VJP that never holds the dense
  `(n_taps, C_in, C_out)` kernel or the unfolded input (`lean.py`);
- `"auto"` (default): `"lean"` (pure JAX, so on every backend).
"""

from typing import Literal

import jax
import jax.numpy as jnp

from .lean import delay_conv_lean
from .reference import delay_conv_reference, delay_kernel as delay_kernel, gaussian_taps

Impl = Literal["auto", "reference", "lean"]
IMPLS: tuple[str, ...] = ("auto", "reference", "lean")

__all__ = ["delay_conv", "delay_kernel", "gaussian_taps"]


def delay_conv(
    x: jax.Array,
    weights: jax.Array,
    delays: jax.Array,
    sigma: jax.Array | float | None,
    *,
    n_taps: int,
    impl: Impl = "auto",
) -> jax.Array:
    """Causal convolution of `x` with one Gaussian-spread weight per synapse.

    `y[t, o] = sum_n sum_i w[i, o] g_n(d[i, o]) x[t - n, i]` with normalised taps
    `g_n(d) ∝ exp(-(n - d)^2 / (2 sigma^2))`, `n = 0 .. n_taps - 1`; with `sigma=None`
    the delays are rounded and the taps are one-hot (an exact integer delay).
    `jit`, `vmap` and `grad` (with respect to `x`, `weights`, `delays` and `sigma`) work
    with every `impl`; rounded delays have zero gradient.

    **Arguments:**

    - `x`: `(..., T, C_in)` inputs (spikes as floats; bools and ints are cast).
    - `weights`: `(C_in, C_out)` synaptic weights.
    - `delays`: `(C_in, C_out)` delays in steps, expected in `[0, n_taps - 1]`.
    - `sigma`: the Gaussian width in steps (a positive scalar), or `None` for rounding.
    - `n_taps`: kernel length (the largest delay is `n_taps - 1` steps).
    - `impl`: `"auto"`, `"reference"` or `"lean"`.

    **Returns:** `(..., T, C_out)` in the weights' dtype.

    >>> x = jnp.zeros((4, 1)).at[0, 0].set(1.0)
    >>> delay_conv(x, jnp.ones((1, 1)), jnp.full((1, 1), 2.2), None, n_taps=3)[:, 0].tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    if not isinstance(n_taps, int) or n_taps < 1:
        raise ValueError(f"n_taps: must be a positive integer, got {n_taps!r}")
    if impl not in IMPLS:
        raise ValueError(f"impl: must be one of {IMPLS}, got {impl!r}")
    if weights.ndim != 2 or delays.shape != weights.shape:
        raise ValueError(
            f"weights and delays: must both be (C_in, C_out), got {weights.shape} and "
            f"{delays.shape}"
        )
    if not jnp.issubdtype(weights.dtype, jnp.floating) or delays.dtype != weights.dtype:
        raise ValueError(
            f"weights and delays: must share one float dtype, got {weights.dtype} and "
            f"{delays.dtype}"
        )
    if x.ndim < 2 or x.shape[-1] != weights.shape[0]:
        raise ValueError(
            f"x: must be (..., T, C_in) with C_in = {weights.shape[0]}, got shape {x.shape}"
        )
    x = x.astype(weights.dtype)
    s = None if sigma is None else jnp.asarray(sigma, weights.dtype)
    if s is not None and s.shape != ():
        raise ValueError(f"sigma: must be a scalar, got shape {s.shape}")
    if impl == "reference":
        return delay_conv_reference(x, weights, delays, s, n_taps=n_taps)
    return delay_conv_lean(x, weights, delays, s, n_taps=n_taps)
