"""Delta and single-exponential synapses."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._errors import as_param, check_positive
from ._abstract import AbstractSynapse


class Delta(AbstractSynapse):
    """Events act within one step: `value` is this step's summed weights (no memory)."""

    n: int = eqx.field(static=True)

    def init_state(self, *, key) -> Float[Array, " n"]:
        return jnp.zeros((self.n,), jnp.result_type(float))

    def step(self, state, x, t, dt):
        return x

    def value(self, state):
        return state


class Exponential(AbstractSynapse):
    """`dg/dt = -g / tau`, each event adds its weight to `g` (integrated exactly)."""

    n: int = eqx.field(static=True)
    tau: Float[Array, "*n"]

    def __init__(self, n: int, tau=5.0):
        check_positive("tau", tau)
        self.n = n
        self.tau = as_param(tau, "tau", n)

    def min_time_constant(self):
        return jnp.min(self.tau)

    def init_state(self, *, key) -> Float[Array, " n"]:
        return jnp.zeros((self.n,), self.tau.dtype)

    def step(self, state, x, t, dt):
        return state * jnp.exp(-dt / self.tau) + x

    def value(self, state):
        return state
