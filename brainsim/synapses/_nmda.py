"""NMDA receptor kinetics and the voltage-dependent magnesium block.

The kinetics are the two-variable scheme of BrainPy's `NMDA` (after Jahr & Stevens,
1990; Wang, 2002):

    dg/dt = -g / tau_decay + a x (1 - g),        dx/dt = -x / tau_rise,

where events add their weights to `x` (the transmitter) and `g` in [0, 1) is the
open fraction. `MgBlock` turns `g` into the input `g_max g B(v) (E - v)` with
`B(v) = 1 / (1 + [Mg] / beta exp(-alpha v))`.

Integration (exact up to a 3-point Gauss-Legendre quadrature): over one step `x`
decays exactly. For `u = 1 - g` the equation is linear, `du/dt = -k(s) u + 1/tau_decay`
with `k(s) = 1/tau_decay + a x(s)`, so with `K(s) = int_0^s k`, known in closed form,

    u(dt) = u(0) exp(-K(dt)) + (1 / tau_decay) int_0^dt exp(K(s) - K(dt)) ds.

The remaining integral has a smooth, bounded integrand and is computed with 3-point
Gauss-Legendre quadrature (local error O(dt^7); below 1e-12 for dt <= tau_rise / 10).
Events act at the end of the step, after its decay, as for every synapse here.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core._abstract import SynapticInput
from ..core._errors import as_param, check_finite, check_nonnegative, check_positive
from ._abstract import AbstractOutput, AbstractSynapse

# 3-point Gauss-Legendre nodes and weights on [-1, 1].
_GL_NODES = (-float(np.sqrt(0.6)), 0.0, float(np.sqrt(0.6)))
_GL_WEIGHTS = (5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0)


class NMDAState(eqx.Module):
    """NMDA state: open fraction `g` (dimensionless) and transmitter `x`."""

    g: Float[Array, " n"]
    x: Float[Array, " n"]


class NMDA(AbstractSynapse):
    """NMDA receptor kinetics: `dg/dt = -g/tau_decay + a x (1 - g)`, `dx/dt = -x/tau_rise`.

    Events add their weights to `x`; `value` is the open fraction `g`. Pair it with
    `MgBlock` as the output rule.

    **Arguments:**

    - `n`: number of postsynaptic neurons.
    - `tau_decay`: decay time constant of `g` (ms), default 100.
    - `tau_rise`: decay time constant of the transmitter `x` (ms), default 2.
    - `a`: binding rate (1/ms per unit of `x`), default 0.5.
    """

    n: int = eqx.field(static=True)
    tau_decay: Float[Array, "*n"]
    tau_rise: Float[Array, "*n"]
    a: Float[Array, "*n"]

    def __init__(self, n: int, *, tau_decay=100.0, tau_rise=2.0, a=0.5):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        check_positive("tau_decay", tau_decay)
        check_positive("tau_rise", tau_rise)
        check_nonnegative("a", a)
        self.n = n
        self.tau_decay = as_param(tau_decay, "tau_decay", n)
        self.tau_rise = as_param(tau_rise, "tau_rise", n)
        self.a = as_param(a, "a", n)

    def min_time_constant(self):
        return jnp.minimum(jnp.min(self.tau_rise), jnp.min(self.tau_decay))

    def init_state(self, *, key) -> NMDAState:
        z = jnp.zeros((self.n,), self.tau_decay.dtype)
        return NMDAState(z, z)

    def step(self, state: NMDAState, x, t, dt) -> NMDAState:
        td, tr = self.tau_decay, self.tau_rise
        b = self.a * tr * state.x  # int_0^s a x = b (1 - exp(-s / tr))
        k_total = dt / td - b * jnp.expm1(-dt / tr)

        def k_minus_k_total(s):  # K(s) - K(dt), written to avoid cancellation
            return (s - dt) / td + b * jnp.exp(-s / tr) * jnp.expm1(-(dt - s) / tr)

        quad = sum(
            w * jnp.exp(k_minus_k_total(dt / 2 * (1 + node)))
            for node, w in zip(_GL_NODES, _GL_WEIGHTS)
        )
        u = (1 - state.g) * jnp.exp(-k_total) + (dt / 2) * quad / td
        x_new = state.x * jnp.exp(-dt / tr) + x
        return NMDAState(1 - u, x_new)

    def value(self, state: NMDAState) -> Float[Array, " n"]:
        return state.g


class MgBlock(AbstractOutput):
    """Conductance-based output with the voltage-dependent magnesium block of NMDA receptors.

    The input is `g_max g B(v) (E - v)` with `B(v) = 1 / (1 + [Mg]/beta exp(-alpha v))`,
    as `SynapticInput(current=g_max g B E, conductance=g_max g B)`. `B` is read at the
    membrane potential before the step and held over it.

    **Arguments:**

    - `E`: reversal potential (mV), default 0.
    - `mg`: extracellular magnesium concentration (mM), default 1.2.
    - `alpha`: voltage sensitivity (1/mV), default 0.062.
    - `beta`: magnesium concentration scale (mM), default 3.57.
    - `g_max`: conductance of a fully open population of receptors (units of the
      neuron's leak conductance for the LIF family), default 1.
    """

    E: Float[Array, "*n"]
    mg: Float[Array, "*n"]
    alpha: Float[Array, "*n"]
    beta: Float[Array, "*n"]
    g_max: Float[Array, "*n"]

    def __init__(self, E=0.0, *, mg=1.2, alpha=0.062, beta=3.57, g_max=1.0):
        check_finite("E", E)
        check_nonnegative("mg", mg)
        check_finite("alpha", alpha)
        check_positive("beta", beta)
        check_nonnegative("g_max", g_max)
        self.E = as_param(E)
        self.mg = as_param(mg)
        self.alpha = as_param(alpha)
        self.beta = as_param(beta)
        self.g_max = as_param(g_max)

    def block(self, v: Float[Array, " n"]) -> Float[Array, " n"]:
        """The unblocked fraction `B(v)` at membrane potential `v` (mV)."""
        return 1 / (1 + self.mg / self.beta * jnp.exp(-self.alpha * v))

    def __call__(self, g, v) -> SynapticInput:
        gb = self.g_max * g * self.block(v)
        return SynapticInput(gb * self.E, gb, jnp.zeros_like(g))
