"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005).

    C dV/dt   = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) - w + I_bias + I_syn(V)
    tau_w dw/dt = a (V - E_L) - w

When `V > v_peak` the neuron spikes, `V <- V_reset` and `w <- w + b`.

Units: pF, nS, mV, ms, pA (nS * mV = pA, pA / pF = mV/ms). A `SynapticInput` to an
AdEx population carries `current` in pA and `conductance` in nS.

The exponential runs away in finite time, so before the spike is detected a step may
evaluate the field far above `v_peak`. The field is therefore evaluated at
`min(V, v_peak)` (the neuron spikes on that step anyway) and its exponent is capped at
`_EXP_CAP`: the field stays finite, and `w` does not take a spurious kick from the
runaway `V`.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._abstract import AbstractNeuron, as_synaptic_input
from ..core._errors import as_param, check_finite, check_nonnegative, check_positive
from ..core._init import AbstractInitializer, as_initializer
from ..core._integrators import AbstractIntegrator, get_integrator
from ..core._spike import Surrogate
from ._lif import refractory_update

_EXP_CAP = 50.0  # exp(50) ~ 5e21: finite in float32 after the g_L Delta_T / C factor.

# Naud, Marcille, Clopath & Gerstner (2008), Biol. Cybern. 99:335, Table 1, as used in
# Brian2's example `frompapers/Naud_et_al_2008_adex_firing_patterns.py` (threshold
# 0 mV; input currents adapted there by P. Mueller to reproduce the paper's figures).
# Units: c_m pF, g_l nS, e_l/v_t/delta_t/v_reset/v_peak mV, a nS, tau_w ms, b and i_bias pA.
NAUD_2008_PRESETS: dict[str, dict[str, float]] = {
    "tonic": dict(c_m=200, g_l=10, e_l=-70, a=2, tau_w=30, b=0, v_reset=-58, i_bias=500),
    "adapting": dict(c_m=200, g_l=12, e_l=-70, a=2, tau_w=300, b=60, v_reset=-58, i_bias=500),
    "initial_burst": dict(c_m=130, g_l=18, e_l=-58, a=4, tau_w=150, b=120, v_reset=-50, i_bias=400),
    "bursting": dict(c_m=200, g_l=10, e_l=-58, a=2, tau_w=120, b=100, v_reset=-46, i_bias=210),
    "delayed_accelerating": dict(
        c_m=200, g_l=12, e_l=-70, a=-10, tau_w=300, b=0, v_reset=-58, i_bias=300
    ),
    "delayed_bursting": dict(
        c_m=100, g_l=10, e_l=-65, a=-10, tau_w=90, b=30, v_reset=-47, i_bias=110
    ),
    "transient": dict(c_m=100, g_l=10, e_l=-65, a=10, tau_w=90, b=100, v_reset=-47, i_bias=180),
    "irregular": dict(c_m=100, g_l=12, e_l=-60, a=-11, tau_w=130, b=30, v_reset=-48, i_bias=160),
}
_PRESET_COMMON = dict(v_t=-50.0, delta_t=2.0, v_peak=0.0)


class AdExState(eqx.Module):
    """State of an AdEx population: `v` (mV), `w` (pA), refractory time left (ms)."""

    v: Float[Array, " n"]
    w: Float[Array, " n"]
    refractory_left: Float[Array, " n"]


class AdEx(AbstractNeuron):
    """Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005).

    Defaults are the paper's regular-spiking cell; `AdEx.preset` gives the firing
    patterns of Naud et al. (2008).

    **Arguments:**

    - `n`: number of neurons.
    - `c_m`: membrane capacitance (pF).
    - `g_l`: leak conductance (nS); `e_l`: leak reversal (mV).
    - `v_t`: threshold slope point (mV); `delta_t`: slope factor (mV, > 0).
    - `tau_w`: adaptation time constant (ms); `a`: subthreshold adaptation (nS);
      `b`: spike-triggered adaptation (pA).
    - `v_reset`: reset potential (mV); `v_peak`: spike cut-off (mV).
    - `tau_ref`: refractory period (ms; `v` held at `v_reset`, `w` keeps evolving).
    - `i_bias`: constant input current (pA).
    - `v_init`, `w_init`: initial `v` (default: `e_l` of each neuron) and `w` (default
      0 pA), numbers or initializers.
    - `spike_fn`: the surrogate spike function.
    - `method`: `"euler"` (default, as in Brian2's AdEx examples), `"rk4"` or
      `"exp_euler"`. For the default cell at 1 nA the first spike comes late by 0.31,
      0.11 and 0.11 ms at dt = 0.1 ms (Euler, exponential Euler, RK4) and by 0.038,
      0.018 and 0.008 ms at dt = 0.01 ms. The exponential Euler step overflows to `inf`
      on the step before a spike: harmless forward (the neuron is reset) but its
      gradients are NaN, so train with `"euler"` or `"rk4"`.
    - `detach_reset`: stop the gradient through the reset.
    """

    n: int = eqx.field(static=True)
    c_m: Float[Array, "*n"]
    g_l: Float[Array, "*n"]
    e_l: Float[Array, "*n"]
    v_t: Float[Array, "*n"]
    delta_t: Float[Array, "*n"]
    tau_w: Float[Array, "*n"]
    a: Float[Array, "*n"]
    b: Float[Array, "*n"]
    v_reset: Float[Array, "*n"]
    v_peak: Float[Array, "*n"]
    tau_ref: Float[Array, "*n"]
    i_bias: Float[Array, "*n"]
    v_init: AbstractInitializer | None
    w_init: AbstractInitializer
    spike_fn: Surrogate
    method: AbstractIntegrator
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        n: int,
        *,
        c_m: Any = 281.0,
        g_l: Any = 30.0,
        e_l: Any = -70.6,
        v_t: Any = -50.4,
        delta_t: Any = 2.0,
        tau_w: Any = 144.0,
        a: Any = 4.0,
        b: Any = 80.5,
        v_reset: Any = -70.6,
        v_peak: Any = 20.0,
        tau_ref: Any = 0.0,
        i_bias: Any = 0.0,
        v_init: Any = None,
        w_init: Any = 0.0,
        spike_fn: Surrogate | None = None,
        method: str | AbstractIntegrator = "euler",
        detach_reset: bool = True,
    ):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        for name, value in (("c_m", c_m), ("g_l", g_l), ("delta_t", delta_t), ("tau_w", tau_w)):
            check_positive(name, value)
        check_nonnegative("tau_ref", tau_ref)
        for name, value in (
            ("e_l", e_l),
            ("v_t", v_t),
            ("a", a),
            ("b", b),
            ("v_reset", v_reset),
            ("v_peak", v_peak),
            ("i_bias", i_bias),
        ):
            check_finite(name, value)
        self.n = n
        self.c_m = as_param(c_m, "c_m", n)
        self.g_l = as_param(g_l, "g_l", n)
        self.e_l = as_param(e_l, "e_l", n)
        self.v_t = as_param(v_t, "v_t", n)
        self.delta_t = as_param(delta_t, "delta_t", n)
        self.tau_w = as_param(tau_w, "tau_w", n)
        self.a = as_param(a, "a", n)
        self.b = as_param(b, "b", n)
        self.v_reset = as_param(v_reset, "v_reset", n)
        self.v_peak = as_param(v_peak, "v_peak", n)
        self.tau_ref = as_param(tau_ref, "tau_ref", n)
        self.i_bias = as_param(i_bias, "i_bias", n)
        self.v_init = None if v_init is None else as_initializer(v_init)
        self.w_init = as_initializer(w_init)
        self.spike_fn = Surrogate() if spike_fn is None else spike_fn
        self.method = get_integrator(method)
        self.detach_reset = detach_reset

    @classmethod
    def preset(cls, name: str, n: int, **kwargs: Any) -> "AdEx":
        """A firing pattern of Naud et al. (2008) (Table 1, via Brian2's example).

        **Arguments:**

        - `name`: one of `NAUD_2008_PRESETS` (`"tonic"`, `"adapting"`,
          `"initial_burst"`, `"bursting"`, `"delayed_accelerating"`,
          `"delayed_bursting"`, `"transient"`, `"irregular"`).
        - `n`: number of neurons.
        - `**kwargs`: overrides of any `AdEx` argument.

        **Returns:** an `AdEx` whose `i_bias` is the step current (pA) of the pattern.
        """
        if name not in NAUD_2008_PRESETS:
            raise ValueError(f"preset must be one of {sorted(NAUD_2008_PRESETS)}, got {name!r}")
        params: dict[str, Any] = {**_PRESET_COMMON, **NAUD_2008_PRESETS[name], **kwargs}
        return cls(n, **params)

    def min_time_constant(self) -> Array:
        return jnp.minimum(jnp.min(self.c_m / self.g_l), jnp.min(self.tau_w))

    def init_state(self, *, key: Any) -> AdExState:
        dtype = self.c_m.dtype
        key_v, key_w = jax.random.split(key)
        if self.v_init is None:
            v = jnp.broadcast_to(self.e_l, (self.n,)).astype(dtype)
        else:
            v = self.v_init(self.n, dtype, key=key_v)
        return AdExState(
            v=v,
            w=self.w_init(self.n, dtype, key=key_w),
            refractory_left=jnp.zeros((self.n,), dtype),
        )

    def vector_field(self, t: Any, y: Any, args: Any) -> Any:
        """`(dv/dt, dw/dt)` in mV/ms and pA/ms for `y = (v, w)`; `args` a `SynapticInput`."""
        v, w = y
        v = jnp.minimum(v, self.v_peak)
        arg = jnp.minimum((v - self.v_t) / self.delta_t, _EXP_CAP)
        i_ion = -self.g_l * (v - self.e_l) + self.g_l * self.delta_t * jnp.exp(arg)
        dv = (i_ion - w + self.i_bias + args.drive(v)) / self.c_m
        dw = (self.a * (v - self.e_l) - w) / self.tau_w
        return dv, dw

    def step(
        self, state: AdExState, inputs: Any, t: Any, dt: Any
    ) -> tuple[AdExState, Float[Array, " n"]]:
        """Advance by `dt` (ms); returns the new state and the spikes (floats)."""
        syn = as_synaptic_input(inputs, self.n, state.v.dtype)
        v0 = state.v + syn.jump
        v1, w1 = self.method.step(self.vector_field, t, (v0, state.w), syn, dt)
        spikes = self.spike_fn(v1 - self.v_peak)
        # A spiking neuron is reset below; capping first keeps `inf * 0` out of the reset.
        v1 = jnp.minimum(v1, self.v_peak)
        v1, spikes, left = refractory_update(
            v0, v1, spikes, state.refractory_left, self.tau_ref, dt
        )
        s = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        v = v1 * (1 - s) + self.v_reset * s
        return AdExState(v=v, w=w1 + self.b * spikes, refractory_left=left), spikes
