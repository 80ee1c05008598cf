"""Hodgkin-Huxley neuron, Traub-Miles variant of the COBAHH benchmark.

The cell of benchmark 3 in Brette et al. (2007), as in Brian2's `examples/COBAHH.py`:

    C dv/dt = g_l (E_l - v) - g_na m^3 h (v - E_Na) - g_kd n^4 (v - E_K) + I_bias + I_syn(v)
    dx/dt   = alpha_x(v) (1 - x) - beta_x(v) x          for x in m, h, n

with the Traub-Miles rates (v and V_T in mV, rates in 1/ms):

    alpha_m = 0.32 (13 - v + V_T) / (exp((13 - v + V_T) / 4) - 1)
    beta_m  = 0.28 (v - V_T - 40) / (exp((v - V_T - 40) / 5) - 1)
    alpha_h = 0.128 exp((17 - v + V_T) / 18)
    beta_h  = 4 / (1 + exp((40 - v + V_T) / 5))
    alpha_n = 0.032 (15 - v + V_T) / (exp((15 - v + V_T) / 5) - 1)
    beta_n  = 0.5 exp((10 - v + V_T) / 40)

Units: ms, mV, pF, nS, pA. The benchmark gives densities for a 20000 um^2 membrane
(2e-4 cm^2): 1 uF/cm^2 -> 200 pF, 5e-5 S/cm^2 -> 10 nS, 100 mS/cm^2 -> 20000 nS,
30 mS/cm^2 -> 6000 nS. A `SynapticInput` carries `current` in pA and `conductance` in nS.

There is no reset: a spike is the step on which `v` crosses `v_th` upwards (from at or
below it at the start of the step to above it at the end), so one action potential
gives one spike, as with Brian's `threshold='v > -20*mV'` and a refractory period
longer than the spike.
"""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._abstract import AbstractNeuron, as_synaptic_input
from ..core._errors import as_param, check_finite, check_nonnegative, check_positive
from ..core._init import AbstractInitializer, as_initializer
from ..core._integrators import AbstractIntegrator, get_integrator
from ..core._spike import Surrogate


def _x_over_expm1(x: Array) -> Array:
    """`x / (exp(x) - 1)`, with its limit 1 at the removable singularity `x = 0`.

    Safe for gradients: the Taylor branch `1 - x/2 + x^2/12` is used for `|x| < 1e-4`
    (next term `x^4 / 720`), and the division never sees `x = 0`.

    >>> float(_x_over_expm1(jnp.array(0.0)))
    1.0
    """
    small = jnp.abs(x) < 1e-4
    safe = jnp.where(small, jnp.ones_like(x), x)
    return jnp.where(small, 1.0 - x / 2 + x * x / 12, safe / jnp.expm1(safe))


def traub_miles_rates(v: Array, v_t: Array) -> tuple[Array, Array, Array, Array, Array, Array]:
    """The Traub-Miles opening and closing rates (1/ms) at membrane potential `v` (mV).

    **Arguments:**

    - `v`: membrane potential (mV).
    - `v_t`: the offset `V_T` (mV, -63 in COBAHH).

    **Returns:** `(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)`.
    """
    u = v - v_t
    alpha_m = 0.32 * 4.0 * _x_over_expm1((13.0 - u) / 4.0)
    beta_m = 0.28 * 5.0 * _x_over_expm1((u - 40.0) / 5.0)
    alpha_h = 0.128 * jnp.exp((17.0 - u) / 18.0)
    beta_h = 4.0 / (1.0 + jnp.exp((40.0 - u) / 5.0))
    alpha_n = 0.032 * 5.0 * _x_over_expm1((15.0 - u) / 5.0)
    beta_n = 0.5 * jnp.exp((10.0 - u) / 40.0)
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


class HHState(eqx.Module):
    """State of a Hodgkin-Huxley population: `v` (mV) and the gates `m`, `h`, `n`."""

    v: Float[Array, " n"]
    m: Float[Array, " n"]
    h: Float[Array, " n"]
    n: Float[Array, " n"]


class HH(AbstractNeuron):
    """Hodgkin-Huxley neuron with Traub-Miles kinetics (the COBAHH benchmark cell).

    **Arguments:**

    - `n`: number of neurons.
    - `c_m`: membrane capacitance (pF; 200 = 1 uF/cm^2 on 20000 um^2).
    - `g_l`, `g_na`, `g_kd`: leak, sodium and delayed-rectifier potassium conductances
      (nS; 10, 20000 and 6000 are the benchmark's densities on 20000 um^2).
    - `e_l`, `e_na`, `e_k`: reversal potentials (mV).
    - `v_t`: offset of the rate functions (mV).
    - `v_th`: spike-detection threshold (mV); a spike is an upward crossing.
    - `i_bias`: constant input current (pA).
    - `v_init`: initial potential (default: `e_l` of each neuron), a number or an
      initializer. The gates start at their steady state there, `alpha / (alpha + beta)`.
    - `spike_fn`: the surrogate spike function.
    - `method`: `"exp_euler"` (default; Rush-Larsen for the gates, exact for `v` with the
      gates frozen), `"rk4"` or `"euler"`.
    """

    n: int = eqx.field(static=True)
    c_m: Float[Array, "*n"]
    g_l: Float[Array, "*n"]
    g_na: Float[Array, "*n"]
    g_kd: Float[Array, "*n"]
    e_l: Float[Array, "*n"]
    e_na: Float[Array, "*n"]
    e_k: Float[Array, "*n"]
    v_t: Float[Array, "*n"]
    v_th: Float[Array, "*n"]
    i_bias: Float[Array, "*n"]
    v_init: AbstractInitializer | None
    spike_fn: Surrogate
    method: AbstractIntegrator

    def __init__(
        self,
        n: int,
        *,
        c_m: Any = 200.0,
        g_l: Any = 10.0,
        g_na: Any = 20000.0,
        g_kd: Any = 6000.0,
        e_l: Any = -60.0,
        e_na: Any = 50.0,
        e_k: Any = -90.0,
        v_t: Any = -63.0,
        v_th: Any = -20.0,
        i_bias: Any = 0.0,
        v_init: Any = None,
        spike_fn: Surrogate | None = None,
        method: str | AbstractIntegrator = "exp_euler",
    ):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        check_positive("c_m", c_m)
        check_positive("g_l", g_l)
        check_nonnegative("g_na", g_na)
        check_nonnegative("g_kd", g_kd)
        for name, value in (
            ("e_l", e_l),
            ("e_na", e_na),
            ("e_k", e_k),
            ("v_t", v_t),
            ("v_th", v_th),
            ("i_bias", i_bias),
        ):
            check_finite(name, value)
        self.n = n
        self.c_m = as_param(c_m, "c_m", n)
        self.g_l = as_param(g_l, "g_l", n)
        self.g_na = as_param(g_na, "g_na", n)
        self.g_kd = as_param(g_kd, "g_kd", n)
        self.e_l = as_param(e_l, "e_l", n)
        self.e_na = as_param(e_na, "e_na", n)
        self.e_k = as_param(e_k, "e_k", n)
        self.v_t = as_param(v_t, "v_t", n)
        self.v_th = as_param(v_th, "v_th", n)
        self.i_bias = as_param(i_bias, "i_bias", n)
        self.v_init = None if v_init is None else as_initializer(v_init)
        self.spike_fn = Surrogate() if spike_fn is None else spike_fn
        self.method = get_integrator(method)

    def min_time_constant(self) -> None:
        # The fastest time scale depends on the state (about 0.01 ms at the spike peak);
        # there is no fixed constant to check `dt` against.
        return None

    def steady_state(self, v: Array) -> tuple[Array, Array, Array]:
        """The gates' steady state `(m, h, n)` at membrane potential `v` (mV)."""
        am, bm, ah, bh, an, bn = traub_miles_rates(v, self.v_t)
        return am / (am + bm), ah / (ah + bh), an / (an + bn)

    def init_state(self, *, key: Any) -> HHState:
        if self.v_init is None:
            v = jnp.broadcast_to(self.e_l, (self.n,)).astype(self.c_m.dtype)
        else:
            v = self.v_init(self.n, self.c_m.dtype, key=key)
        m, h, n = self.steady_state(v)
        return HHState(v=v, m=m, h=h, n=n)

    def vector_field(self, t: Any, y: HHState, args: Any) -> HHState:
        """`d/dt` of `y` (mV/ms and 1/ms); `args` is a `SynapticInput` (pA, nS)."""
        v = y.v
        am, bm, ah, bh, an, bn = traub_miles_rates(v, self.v_t)
        i_na = self.g_na * y.m**3 * y.h * (v - self.e_na)
        i_k = self.g_kd * y.n**4 * (v - self.e_k)
        i_l = self.g_l * (v - self.e_l)
        dv = (-i_l - i_na - i_k + self.i_bias + args.drive(v)) / self.c_m
        return HHState(
            v=dv,
            m=am * (1 - y.m) - bm * y.m,
            h=ah * (1 - y.h) - bh * y.h,
            n=an * (1 - y.n) - bn * y.n,
        )

    def step(
        self, state: HHState, inputs: Any, t: Any, dt: Any
    ) -> tuple[HHState, Float[Array, " n"]]:
        """Advance by `dt` (ms); a spike marks an upward crossing of `v_th` in the step."""
        syn = as_synaptic_input(inputs, self.n, state.v.dtype)
        y0 = HHState(v=state.v + syn.jump, m=state.m, h=state.h, n=state.n)
        y1 = self.method.step(self.vector_field, t, y0, syn, dt)
        was_below = (state.v <= self.v_th).astype(y1.v.dtype)
        spikes = self.spike_fn(y1.v - self.v_th) * was_below
        return y1, spikes
