"""Adaptive leaky integrate-and-fire neuron (the LSNN neuron of Bellec et al. 2018).

A LIF neuron whose threshold rises by `beta` mV with every spike and relaxes back with
time constant `tau_a`:

    v_th_eff(t) = v_th + beta a(t),    a(t) = sum over spikes t_k <= t of exp(-(t - t_k) / tau_a).

On a step of size `dt`, `a` first decays exactly, `a <- a exp(-dt / tau_a)`; the new
potential is compared with `v_th + beta * a` (the threshold at the end of the step, built
from the earlier spikes only); then `a <- a + spike`. The membrane equation, reset,
refractory period and surrogate are the wrapped `LIF`'s, so `beta = 0` gives the LIF
exactly.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._abstract import AbstractNeuron, as_synaptic_input
from ..core._errors import as_param, check_finite, check_positive
from ..core._spike import Surrogate
from ._lif import LIF, refractory_update


class ALIFState(eqx.Module):
    """State of an ALIF population.

    - `v`: membrane potential (mV);
    - `a`: adaptation variable (dimensionless; the threshold is `v_th + beta a`);
    - `refractory_left`: refractory time left (ms).
    """

    v: Float[Array, " n"]
    a: Float[Array, " n"]
    refractory_left: Float[Array, " n"]


class ALIF(AbstractNeuron):
    """Adaptive LIF: a `LIF` with the spike-triggered threshold `v_th + beta a`.

    **Arguments:**

    - `n`: number of neurons.
    - `tau_a`: time constant of the threshold adaptation (ms), scalar or `(n,)`.
    - `beta`: threshold increment per unit of `a` (mV), scalar or `(n,)`; `a` grows by 1
      per spike. `beta = 0` is the plain LIF.
    - `**lif_kwargs`: the `LIF` keyword arguments (`tau_m`, `v_rest`, `v_th`, `v_reset`,
      `tau_ref`, `i_bias`, `v_init`, `spike_fn`, `method`, `detach_reset`), with the same
      units and defaults.

    The increment of `a` keeps the gradient of the spike (e-prop and BPTT through the
    adaptation); only the voltage reset follows `detach_reset`.
    """

    lif: LIF
    tau_a: Float[Array, "*n"]
    beta: Float[Array, "*n"]

    def __init__(self, n: int, *, tau_a: Any = 200.0, beta: Any = 1.0, **lif_kwargs: Any):
        self.lif = LIF(n, **lif_kwargs)
        check_positive("tau_a", tau_a)
        check_finite("beta", beta)
        self.tau_a = as_param(tau_a, "tau_a", n)
        self.beta = as_param(beta, "beta", n)

    # Equinox accepts a property for an `AbstractVar`; mypy does not know that.
    @property  # type: ignore[misc]
    def n(self) -> int:  # type: ignore[override]
        return self.lif.n

    @property  # type: ignore[misc]
    def spike_fn(self) -> Surrogate:  # type: ignore[override]
        return self.lif.spike_fn

    def min_time_constant(self) -> Array:
        # `a` decays exactly, so only the membrane limits dt.
        return self.lif.min_time_constant()

    def init_state(self, *, key: Any) -> ALIFState:
        lif_state = self.lif.init_state(key=key)
        zeros = jnp.zeros_like(lif_state.v)
        return ALIFState(v=lif_state.v, a=zeros, refractory_left=lif_state.refractory_left)

    def threshold(self, state: ALIFState) -> Float[Array, " n"]:
        """The effective threshold `v_th + beta a` (mV) of a state."""
        return self.lif.v_th + self.beta * state.a

    def vector_field(self, t: Any, y: Any, args: Any) -> Any:
        """`(dv/dt, da/dt)` for `y = (v, a)`: the LIF's membrane and `-a / tau_a`."""
        v, a = y
        return self.lif.vector_field(t, v, args), -a / self.tau_a

    def step(
        self, state: ALIFState, inputs: Any, t: Any, dt: Any
    ) -> tuple[ALIFState, Float[Array, " n"]]:
        """Advance by `dt` (ms); returns the new state and the spikes (floats)."""
        lif = self.lif
        syn = as_synaptic_input(inputs, self.n, state.v.dtype)
        v0 = state.v + syn.jump
        v1 = lif.method.step(lif.vector_field, t, v0, syn, dt)
        a = state.a * jnp.exp(-dt / self.tau_a)
        spikes = lif.spike_fn(v1 - (lif.v_th + self.beta * a))
        v1, spikes, left = refractory_update(v0, v1, spikes, state.refractory_left, lif.tau_ref, dt)
        s = jax.lax.stop_gradient(spikes) if lif.detach_reset else spikes
        v = v1 * (1 - s) + lif.v_reset * s
        return ALIFState(v=v, a=a + spikes, refractory_left=left), spikes
