"""Leaky integrate-and-fire neuron with a refractory period."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._abstract import AbstractNeuron, as_synaptic_input
from ..core._errors import as_param, check_nonnegative, check_positive
from ..core._init import AbstractInitializer, as_initializer
from ..core._integrators import AbstractIntegrator, get_integrator
from ..core._spike import Surrogate


class LIFState(eqx.Module):
    """State of a LIF population: membrane potential (mV), refractory time left (ms)."""

    v: Float[Array, " n"]
    refractory_left: Float[Array, " n"]


def refractory_update(
    v_old: Array, v_new: Array, spikes: Array, refractory_left: Array, tau_ref: Array, dt
) -> tuple[Array, Array, Array]:
    """Clamp `v` while refractory and restart the refractory clock on a spike.

    A neuron is refractory for `round(tau_ref / dt)` steps after its spike step, as in
    Brian2. Returns `(v, spikes, refractory_left)`.
    """
    refractory = refractory_left > dt / 2
    v = jnp.where(refractory, v_old, v_new)
    spikes = jnp.where(refractory, jnp.zeros_like(spikes), spikes)
    left = jnp.maximum(refractory_left - dt, 0.0)
    left = jnp.where(spikes > 0, jnp.broadcast_to(tau_ref, left.shape), left)
    return v, spikes, left


class LIF(AbstractNeuron):
    """Leaky integrate-and-fire: `tau_m dv/dt = -(v - v_rest) + i_bias + I_syn(v)`.

    Currents are in mV (R_m I). Conductance-based input adds `g (E - v)` with `g` in
    units of the leak conductance. On `v > v_th` the neuron spikes, `v` is set to
    `v_reset` and held there for `tau_ref` ms. Voltage jumps from delta synapses still
    apply during the refractory period, as Brian2's `on_pre: v += w` does.

    **Arguments:**

    - `n`: number of neurons.
    - `tau_m`: membrane time constant (ms), scalar or `(n,)`.
    - `v_rest`, `v_th`, `v_reset`: resting, threshold and reset potentials (mV).
    - `tau_ref`: refractory period (ms).
    - `i_bias`: constant drive (mV), scalar or `(n,)`.
    - `v_init`: initial potential, a number or an initializer (`Normal`, `Uniform`).
    - `spike_fn`: the surrogate spike function.
    - `method`: integrator, `"exp_euler"` (default, exact for the leak), `"euler"`, `"rk4"`.
    - `detach_reset`: stop the gradient through the reset (the usual choice for BPTT).
    """

    n: int = eqx.field(static=True)
    tau_m: Float[Array, "*n"]
    v_rest: Float[Array, "*n"]
    v_th: Float[Array, "*n"]
    v_reset: Float[Array, "*n"]
    tau_ref: Float[Array, "*n"]
    i_bias: Float[Array, "*n"]
    v_init: AbstractInitializer
    spike_fn: Surrogate
    method: AbstractIntegrator
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        n: int,
        *,
        tau_m=20.0,
        v_rest=-60.0,
        v_th=-50.0,
        v_reset=-60.0,
        tau_ref=0.0,
        i_bias=0.0,
        v_init=None,
        spike_fn: Surrogate | None = None,
        method: str | AbstractIntegrator = "exp_euler",
        detach_reset: bool = True,
    ):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        check_positive("tau_m", tau_m)
        check_nonnegative("tau_ref", tau_ref)
        self.n = n
        self.tau_m = as_param(tau_m, "tau_m", n)
        self.v_rest = as_param(v_rest, "v_rest", n)
        self.v_th = as_param(v_th, "v_th", n)
        self.v_reset = as_param(v_reset, "v_reset", n)
        self.tau_ref = as_param(tau_ref, "tau_ref", n)
        self.i_bias = as_param(i_bias, "i_bias", n)
        self.v_init = as_initializer(v_rest if v_init is None else v_init)
        self.spike_fn = Surrogate() if spike_fn is None else spike_fn
        self.method = get_integrator(method)
        self.detach_reset = detach_reset

    def min_time_constant(self):
        return jnp.min(self.tau_m)

    def init_state(self, *, key) -> LIFState:
        dtype = self.tau_m.dtype
        v = self.v_init(self.n, dtype, key=key)
        return LIFState(v=v, refractory_left=jnp.zeros((self.n,), dtype))

    def vector_field(self, t, y, args):
        syn = args
        return (-(y - self.v_rest) + self.i_bias + syn.drive(y)) / self.tau_m

    def step(self, state: LIFState, inputs, t, dt) -> tuple[LIFState, Float[Array, " n"]]:
        syn = as_synaptic_input(inputs, self.n, state.v.dtype)
        v0 = state.v + syn.jump
        v1 = self.method.step(self.vector_field, t, v0, syn, dt)
        spikes = self.spike_fn(v1 - self.v_th)
        v1, spikes, left = refractory_update(
            v0, v1, spikes, state.refractory_left, self.tau_ref, dt
        )
        s = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        v = v1 * (1 - s) + self.v_reset * s
        return LIFState(v=v, refractory_left=left), spikes
