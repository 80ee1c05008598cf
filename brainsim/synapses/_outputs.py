"""Output rules: current-based, conductance-based, voltage jumps."""

import jax.numpy as jnp

from ..core._abstract import SynapticInput
from ..core._errors import as_param, check_finite
from ._abstract import AbstractOutput


class CUBA(AbstractOutput):
    """Current-based: the synaptic value is a current (`scale * g`)."""

    scale: float = 1.0

    def __call__(self, g, v):
        z = jnp.zeros_like(g)
        return SynapticInput(self.scale * g, z, z)


class COBA(AbstractOutput):
    """Conductance-based: the input is `g (E - v)` with reversal potential `E` (mV)."""

    E: jnp.ndarray

    def __init__(self, E):
        check_finite("E", E)
        self.E = as_param(E)

    def __call__(self, g, v):
        return SynapticInput(g * self.E, g, jnp.zeros_like(g))


class VoltageJump(AbstractOutput):
    """Delta synapses: the summed weights jump the membrane potential (mV)."""

    def __call__(self, g, v):
        z = jnp.zeros_like(g)
        return SynapticInput(z, z, g)
