"""Synapse dynamics and output rules.

A synapse is the postsynaptic trace that presynaptic events drive: `step(state, x, t,
dt)` adds this step's summed weighted events `x` (one value per postsynaptic neuron) and
lets the trace evolve; `value(state)` is what the output rule reads. An output rule
turns that value into a `SynapticInput` at the postsynaptic membrane potential `v`.
"""

import abc
from typing import Any

import equinox as eqx
from jaxtyping import Array, Float

from ..core._abstract import SynapticInput


class AbstractSynapse(eqx.Module):
    """Postsynaptic trace dynamics of `n` neurons."""

    n: eqx.AbstractVar[int]

    @abc.abstractmethod
    def init_state(self, *, key: Any) -> Any:
        """The initial (resting) state."""

    @abc.abstractmethod
    def step(self, state: Any, x: Float[Array, " n"], t: Any, dt: Any) -> Any:
        """Add the events `x` arriving in this step and advance by `dt` (ms)."""

    @abc.abstractmethod
    def value(self, state: Any) -> Float[Array, " n"]:
        """The conductance or current the output rule reads."""

    def min_time_constant(self) -> Any:
        return None


class AbstractOutput(eqx.Module):
    """Turns a synaptic value `g` into input at membrane potential `v`."""

    @abc.abstractmethod
    def __call__(self, g: Float[Array, " n"], v: Float[Array, " n"]) -> SynapticInput:
        """The `SynapticInput` for the postsynaptic population."""
