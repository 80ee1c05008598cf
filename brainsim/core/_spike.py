"""Spike functions: a Heaviside step forward, a surrogate derivative backward.

`Surrogate(kind, alpha)` is called on the distance to threshold `x = v - v_th` and
returns spikes as floats (0. or 1.). Its derivative with respect to `x` is the
surrogate's, so spiking networks train by backpropagation. With `smooth=True` the
forward pass is the smooth function itself (a sigmoid-like curve whose derivative is
the surrogate), a mode for checking gradients against finite differences.
"""

from functools import partial
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

SurrogateKind = Literal["sigmoid", "fast_sigmoid", "arctan", "triangle"]
SURROGATE_KINDS: tuple[str, ...] = ("sigmoid", "fast_sigmoid", "arctan", "triangle")


def surrogate_derivative(kind: str, alpha: float, x: Array) -> Array:
    """Derivative of the surrogate at `x` (hand-derived, one formula per kind).

    - sigmoid: `alpha * s * (1 - s)` with `s = sigmoid(alpha x)`;
    - fast_sigmoid (SuperSpike): `1 / (1 + alpha |x|)^2`;
    - arctan: `alpha / (2 (1 + (pi alpha x / 2)^2))`;
    - triangle: `alpha * max(0, 1 - alpha |x|)`.

    >>> float(surrogate_derivative("fast_sigmoid", 10.0, jnp.array(0.0)))
    1.0
    """
    if kind == "sigmoid":
        s = jax.nn.sigmoid(alpha * x)
        return alpha * s * (1 - s)
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + alpha * jnp.abs(x)) ** 2
    if kind == "arctan":
        return alpha / (2.0 * (1.0 + (jnp.pi * alpha * x / 2.0) ** 2))
    if kind == "triangle":
        return alpha * jnp.maximum(0.0, 1.0 - alpha * jnp.abs(x))
    raise ValueError(f"surrogate kind must be one of {SURROGATE_KINDS}, got {kind!r}")


def smooth_step(kind: str, alpha: float, x: Array) -> Array:
    """The smooth function whose derivative is the surrogate (the `smooth=True` forward)."""
    if kind == "sigmoid":
        return jax.nn.sigmoid(alpha * x)
    if kind == "fast_sigmoid":
        return 0.5 + x / (1.0 + alpha * jnp.abs(x))
    if kind == "arctan":
        return 0.5 + jnp.arctan(jnp.pi * alpha * x / 2.0) / jnp.pi
    if kind == "triangle":
        u = jnp.clip(alpha * x, -1.0, 1.0)
        return 0.5 + u - 0.5 * u * jnp.abs(u)
    raise ValueError(f"surrogate kind must be one of {SURROGATE_KINDS}, got {kind!r}")


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _heaviside(kind: str, alpha: float, x: Array) -> Array:
    return (x > 0).astype(x.dtype)


@_heaviside.defjvp
def _heaviside_jvp(kind, alpha, primals, tangents):
    (x,) = primals
    (dx,) = tangents
    return _heaviside(kind, alpha, x), surrogate_derivative(kind, alpha, x) * dx


class Surrogate(eqx.Module):
    """A spike function with a surrogate gradient.

    **Arguments:**

    - `kind`: one of `"sigmoid"`, `"fast_sigmoid"`, `"arctan"`, `"triangle"`.
    - `alpha`: steepness (1/mV when `x` is a voltage).
    - `smooth`: if True the forward pass is smooth too (for gradient checks).

    **Returns** (when called on `x = v - v_th`): spikes as floats of `x`'s dtype.
    """

    kind: str = eqx.field(static=True, default="fast_sigmoid")
    alpha: float = eqx.field(static=True, default=10.0)
    smooth: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.kind not in SURROGATE_KINDS:
            raise ValueError(f"surrogate kind must be one of {SURROGATE_KINDS}, got {self.kind!r}")
        if not self.alpha > 0:
            raise ValueError(f"surrogate alpha must be positive, got {self.alpha!r}")

    def __call__(self, x: Float[Array, "*n"]) -> Float[Array, "*n"]:
        if self.smooth:
            return smooth_step(self.kind, self.alpha, x)
        return _heaviside(self.kind, self.alpha, x)
