"""The dynamical-system protocol: parameters in a Module, state as a separate pytree.

Every model implements `init_state(*, key) -> state` and the pure
`step(state, inputs, t, dt) -> (state, outputs)`. Neurons take a `SynapticInput` (or a
plain current) and output spikes as floats, produced by a surrogate spike function so
that every model is differentiable.
"""

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._spike import Surrogate


class SynapticInput(eqx.Module):
    """What synapses deliver to a neuron: the drive `current - conductance * v`.

    **Fields** (one value per neuron):

    - `current`: input current, plus `g E` for conductance-based synapses. Units are the
      neuron's own (mV, i.e. R_m I, for the LIF family; pA for AdEx and Hodgkin-Huxley).
    - `conductance`: total synaptic conductance in the same units' ratio (dimensionless,
      in units of the leak conductance, for the LIF family).
    - `jump`: instantaneous voltage increments (mV) from delta synapses, applied at the
      start of the next update.
    """

    current: Float[Array, " n"]
    conductance: Float[Array, " n"]
    jump: Float[Array, " n"]

    @classmethod
    def zeros(cls, n: int, dtype=jnp.float32) -> "SynapticInput":
        z = jnp.zeros((n,), dtype)
        return cls(z, z, z)

    def __add__(self, other: "SynapticInput") -> "SynapticInput":
        return SynapticInput(
            self.current + other.current,
            self.conductance + other.conductance,
            self.jump + other.jump,
        )

    def drive(self, v: Array) -> Array:
        """The synaptic drive at membrane potential `v`."""
        return self.current - self.conductance * v


def as_synaptic_input(inputs: Any, n: int, dtype) -> SynapticInput:
    """Accept `None`, a plain current (scalar or per neuron) or a `SynapticInput`."""
    if inputs is None:
        return SynapticInput.zeros(n, dtype)
    if isinstance(inputs, SynapticInput):
        return inputs
    current = jnp.broadcast_to(jnp.asarray(inputs, dtype), (n,))
    zero = jnp.zeros((n,), dtype)
    return SynapticInput(current, zero, zero)


class AbstractDynamics(eqx.Module):
    """A dynamical system: parameters here, state in the pytree `init_state` returns."""

    @abc.abstractmethod
    def init_state(self, *, key: Any) -> Any:
        """The initial state. `key` is a PRNG key (used by stochastic initial values)."""

    @abc.abstractmethod
    def step(self, state: Any, inputs: Any, t: Any, dt: Any) -> tuple[Any, Any]:
        """Advance by `dt` (ms) from time `t` (ms). Pure: returns `(state, outputs)`."""

    def min_time_constant(self) -> Any:
        """The smallest time constant (ms, an array), used to reject a `dt` that exceeds it."""
        return None


class AbstractNeuron(AbstractDynamics):
    """A population of `n` neurons. `step(state, syn, t, dt) -> (state, spikes)`.

    States have a field `v` (membrane potential, mV) that gap junctions, NMDA output
    rules and monitors read.
    """

    n: eqx.AbstractVar[int]
    spike_fn: eqx.AbstractVar[Surrogate]

    @abc.abstractmethod
    def vector_field(self, t: Any, y: Any, args: Any) -> Any:
        """The subthreshold dynamics `dy/dt` (what integrators and diffrax solve)."""
