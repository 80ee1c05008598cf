"""Initial-value distributions for state variables (explicit keys, no global RNG)."""

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ._errors import check_finite, check_nonnegative


class AbstractInitializer(eqx.Module):
    """Draws `n` initial values: `init(n, dtype, *, key)`."""

    @abc.abstractmethod
    def __call__(self, n: int, dtype, *, key) -> Float[Array, " n"]:
        """`n` values of `dtype`."""


class Constant(AbstractInitializer):
    """Every value equal to `value` (a scalar, or one value per neuron)."""

    value: Any

    def __check_init__(self):
        check_finite("Constant.value", self.value)

    def __call__(self, n, dtype, *, key):
        return jnp.broadcast_to(jnp.asarray(self.value, dtype), (n,))


class Normal(AbstractInitializer):
    """Values drawn from N(mean, std^2)."""

    mean: float
    std: float

    def __check_init__(self):
        check_finite("Normal.mean", self.mean)
        check_nonnegative("Normal.std", self.std)

    def __call__(self, n, dtype, *, key):
        return self.mean + self.std * jr.normal(key, (n,), dtype)


class Uniform(AbstractInitializer):
    """Values drawn uniformly from [low, high)."""

    low: float
    high: float

    def __check_init__(self):
        check_finite("Uniform.low", self.low)
        check_finite("Uniform.high", self.high)
        if float(self.high) < float(self.low):
            raise ValueError(
                f"Uniform.high ({self.high}) must not be smaller than Uniform.low ({self.low})"
            )

    def __call__(self, n, dtype, *, key):
        return jr.uniform(key, (n,), dtype, self.low, self.high)


def as_initializer(value) -> AbstractInitializer:
    """An initializer from a number (constant) or an initializer."""
    if isinstance(value, AbstractInitializer):
        return value
    return Constant(value)
