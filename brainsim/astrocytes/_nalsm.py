"""The NALSM astrocyte (Ivanov & Michmizos, NeurIPS 2021): a slow leaky integrator of the
liquid's and the input's spiking whose state is the depression rate of STDP.

One global astrocyte per liquid integrates the difference between the number of liquid
spikes and the number of input spikes in each step:

`A <- A + dt / tau * (w * (sum_liquid S - sum_input S) + b - A)`

(forward Euler at `dt = 1 ms` is the paper's update). Under a constant difference `D`
(spikes per step) it settles at `A* = w D + b`, approached as
`A_n = A* + (A_0 - A*) (1 - dt / tau)^n`. When the liquid fires more than its input
drives it, `A` (the LTD rate) rises above the fixed LTP rate `b`, which depresses the
liquid's weights: the astrocyte holds the liquid near its balance point.
"""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._abstract import AbstractDynamics
from ..core._errors import as_param, check_finite, check_positive


class NALSMAstrocyteState(eqx.Module):
    """The astrocyte's state `a`: the current STDP depression rate (dimensionless)."""

    a: Float[Array, ""]


class NALSMAstrocyte(AbstractDynamics):
    """Global NALSM astrocyte: a leaky integrator of liquid minus input spiking.

    `step(state, (liquid_spikes, input_spikes), t, dt)` advances
    `a <- a + dt / tau * (w * (sum(liquid_spikes) - sum(input_spikes)) + bias - a)` and
    returns `(state, a)`. NALSM fades plasticity within a sample by multiplying `a`, `w`,
    `bias` and the LTP rate by 0.99 every ms; that equals running this undecayed
    astrocyte and scaling its output by `0.99^t`, which is what `brainsim.models.Liquid`
    does.

    Paper values: `tau = 100` ms, `bias = a0 = 0.15` (the LTP rate), `w = 0.015` for a
    1000-neuron liquid (0.0075 for 8000 neurons).

    **Arguments:**

    - `tau`: time constant (ms), > 0.
    - `w`: weight of the liquid-minus-input spike count (per spike), finite.
    - `bias`: the set point with no net spiking (the STDP LTP rate in NALSM), finite.
    - `a0`: the initial state; defaults to `bias`.

    >>> import jax.numpy as jnp
    >>> astro = NALSMAstrocyte(tau=100.0, w=0.015, bias=0.15)
    >>> state = astro.init_state(key=None)
    >>> state, a = astro.step(state, (jnp.ones(20), jnp.ones(10)), 0.0, 1.0)
    >>> round(float(a), 6)  # 0.15 + (0.015 * 10 + 0.15 - 0.15) / 100
    0.1515
    """

    tau: Float[Array, ""]
    w: Float[Array, ""]
    bias: Float[Array, ""]
    a0: Float[Array, ""]

    def __init__(self, *, tau: Any = 100.0, w: Any = 0.015, bias: Any = 0.15, a0: Any = None):
        for name, value in (("tau", tau), ("w", w), ("bias", bias)):
            if jnp.ndim(value) != 0:
                raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")
        check_positive("tau", tau)
        check_finite("w", w)
        check_finite("bias", bias)
        a0 = bias if a0 is None else a0
        check_finite("a0", a0)
        self.tau = as_param(tau)
        self.w = as_param(w)
        self.bias = as_param(bias)
        self.a0 = as_param(a0)

    def init_state(self, *, key: Any = None) -> NALSMAstrocyteState:
        del key
        return NALSMAstrocyteState(self.a0)

    def min_time_constant(self) -> Array:
        return self.tau

    def fixed_point(self, spike_difference: Any) -> Array:
        """`w * D + bias`: where the state settles under a constant difference `D`
        (liquid minus input spikes per step)."""
        return self.w * jnp.asarray(spike_difference, self.w.dtype) + self.bias

    def step(
        self,
        state: NALSMAstrocyteState,
        inputs: tuple[Array, Array],
        t: Any,
        dt: Any,
    ) -> tuple[NALSMAstrocyteState, Array]:
        """One Euler step.

        **Arguments:**

        - `state`: the astrocyte state.
        - `inputs`: `(liquid_spikes, input_spikes)`, any shapes (bools or 0/1 floats);
          only their sums enter.
        - `t`: time (ms, unused); `dt`: step (ms).

        **Returns:** `(state, a)` with `a` the new depression rate.
        """
        del t
        liquid, inp = inputs
        dtype = state.a.dtype
        diff = jnp.sum(liquid.astype(dtype)) - jnp.sum(inp.astype(dtype))
        drive = self.w * diff + self.bias
        a = state.a + jnp.asarray(dt, dtype) / self.tau * (drive - state.a)
        return NALSMAstrocyteState(a), a
