"""The Izhikevich (2003) simple spiking model, with the published firing-type presets."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core._abstract import AbstractNeuron, as_synaptic_input
from ..core._errors import as_param, check_finite, check_positive, is_concrete
from ..core._init import AbstractInitializer, as_initializer
from ..core._integrators import AbstractIntegrator, get_integrator
from ..core._spike import Surrogate

IZHIKEVICH_PRESETS: dict[str, tuple[float, float, float, float]] = {
    "RS": (0.02, 0.2, -65.0, 8.0),  # regular spiking (excitatory cortex)
    "IB": (0.02, 0.2, -55.0, 4.0),  # intrinsically bursting
    "CH": (0.02, 0.2, -50.0, 2.0),  # chattering (fast rhythmic bursting)
    "FS": (0.1, 0.2, -65.0, 2.0),  # fast spiking (inhibitory)
    "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking (inhibitory)
    "RZ": (0.1, 0.26, -65.0, 2.0),  # resonator
    "TC": (0.02, 0.25, -65.0, 0.05),  # thalamo-cortical
}
"""Preset name -> `(a, b, c, d)`, from Izhikevich (2003), Fig. 2."""


class IzhikevichState(eqx.Module):
    """State of an Izhikevich population: membrane potential `v` (mV), recovery `u` (mV/ms)."""

    v: Float[Array, " n"]
    u: Float[Array, " n"]


class Izhikevich(AbstractNeuron):
    """Izhikevich's simple model: `dv/dt = 0.04 v^2 + 5 v + 140 - u + I`, `du/dt = a (b v - u)`.

    Time is in ms and `v` in mV; `u` and the input `I` are in mV/ms, the model's own
    units (Izhikevich 2003). When `v >= v_peak` the neuron spikes, `v` is set to `c`
    and `u` is increased by `d`. Each `step` integrates one step, then tests the
    threshold on the new `v`, then resets: the order Brian2 uses, so spike times agree
    with Brian2's `euler` to the step.

    Synaptic input arrives as `SynapticInput`: `I = i_bias + current - conductance * v`
    (with `conductance` in 1/ms), and `jump` (mV) is added to `v` before the step.

    **Arguments:**

    - `n`: number of neurons.
    - `a`: recovery rate (1/ms), positive; `b`: sensitivity of `u` to `v` (1/ms);
      `c`: reset potential (mV), below `v_peak`; `d`: jump of `u` at a spike (mV/ms).
      Each a scalar or `(n,)`.
    - `v_peak`: spike cut-off (mV), 30 as in the paper.
    - `i_bias`: constant input (mV/ms).
    - `v_init`: initial `v` (mV), a number or an initializer. The default is -65 mV,
      the value of Izhikevich's published code for every firing type (not `c`, which
      would start IB and CH depolarised). `u` starts at `b * v_init`.
    - `spike_fn`: the surrogate spike function. It is evaluated at `v - v_peak`; the
      forward spike test is `v >= v_peak` (Brian2's and the paper's), the gradient is
      the surrogate's.
    - `method`: integrator, `"euler"` (default, the paper's and Brian2's scheme),
      `"exp_euler"` or `"rk4"`.
    - `detach_reset`: stop the gradient through the reset (the usual choice for BPTT).
    """

    n: int = eqx.field(static=True)
    a: Float[Array, "*n"]
    b: Float[Array, "*n"]
    c: Float[Array, "*n"]
    d: Float[Array, "*n"]
    v_peak: Float[Array, "*n"]
    i_bias: Float[Array, "*n"]
    v_init: AbstractInitializer
    spike_fn: Surrogate
    method: AbstractIntegrator
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        n: int,
        *,
        a=0.02,
        b=0.2,
        c=-65.0,
        d=8.0,
        v_peak=30.0,
        i_bias=0.0,
        v_init: Any = -65.0,
        spike_fn: Surrogate | None = None,
        method: str | AbstractIntegrator = "euler",
        detach_reset: bool = True,
    ):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        check_positive("a", a)
        for name, value in (("b", b), ("c", c), ("d", d), ("v_peak", v_peak), ("i_bias", i_bias)):
            check_finite(name, value)
        if not isinstance(v_init, AbstractInitializer):
            check_finite("v_init", v_init)
        self.n = n
        self.a = as_param(a, "a", n)
        self.b = as_param(b, "b", n)
        self.c = as_param(c, "c", n)
        self.d = as_param(d, "d", n)
        self.v_peak = as_param(v_peak, "v_peak", n)
        if is_concrete((c, v_peak)) and np.any(np.asarray(self.c) >= np.asarray(self.v_peak)):
            raise ValueError(
                f"c (the reset potential, {c!r} mV) must be below v_peak ({v_peak!r} mV), "
                "or a spiking neuron would spike again at every step"
            )
        self.i_bias = as_param(i_bias, "i_bias", n)
        self.v_init = as_initializer(v_init)
        self.spike_fn = Surrogate() if spike_fn is None else spike_fn
        self.method = get_integrator(method)
        self.detach_reset = detach_reset

    @classmethod
    def from_preset(cls, name: str, n: int, **overrides: Any) -> "Izhikevich":
        """A population of `n` neurons of a firing type in `IZHIKEVICH_PRESETS`.

        **Arguments:**

        - `name`: `"RS"`, `"IB"`, `"CH"`, `"FS"`, `"LTS"`, `"RZ"` or `"TC"`.
        - `n`: number of neurons.
        - `overrides`: any other constructor argument, including `a`, `b`, `c`, `d`.

        **Returns:** an `Izhikevich` model.
        """
        if name not in IZHIKEVICH_PRESETS:
            raise ValueError(
                f"unknown Izhikevich preset {name!r}; valid presets: "
                f"{', '.join(IZHIKEVICH_PRESETS)}"
            )
        a, b, c, d = IZHIKEVICH_PRESETS[name]
        kwargs: dict[str, Any] = {"a": a, "b": b, "c": c, "d": d, **overrides}
        return cls(n, **kwargs)

    def min_time_constant(self):
        """`1 / max(a)` (ms): the shortest recovery time scale (`u` relaxes as `exp(-a t)`).

        The spike upstroke itself has no fixed time scale (`v` blows up in finite time);
        it is cut at `v_peak`, and `dt = 0.1` to `0.5` ms is customary.
        """
        return 1.0 / jnp.max(self.a)

    def init_state(self, *, key) -> IzhikevichState:
        v = self.v_init(self.n, self.a.dtype, key=key)
        return IzhikevichState(v=v, u=self.b * v)

    def vector_field(self, t, y: IzhikevichState, args) -> IzhikevichState:
        syn = args
        v, u = y.v, y.u
        i = self.i_bias + syn.drive(v)
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + i
        du = self.a * (self.b * v - u)
        return IzhikevichState(v=dv, u=du)

    def step(self, state: IzhikevichState, inputs, t, dt) -> tuple[IzhikevichState, Array]:
        syn = as_synaptic_input(inputs, self.n, state.v.dtype)
        y0 = IzhikevichState(v=state.v + syn.jump, u=state.u)
        y1 = self.method.step(self.vector_field, t, y0, syn, dt)
        x = y1.v - self.v_peak
        spikes = self.spike_fn(x)
        if not self.spike_fn.smooth:
            # The surrogate's step is `x > 0`; count `v == v_peak` as a spike too, as
            # Brian2 and the paper do, keeping the surrogate gradient.
            hard = (x >= 0).astype(x.dtype)
            spikes = spikes + jax.lax.stop_gradient(hard - spikes)
        s = jax.lax.stop_gradient(spikes) if self.detach_reset else spikes
        v = y1.v * (1 - s) + self.c * s
        u = y1.u + self.d * s
        return IzhikevichState(v=v, u=u), spikes
