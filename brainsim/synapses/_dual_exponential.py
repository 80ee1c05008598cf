"""Dual-exponential and alpha synapses, integrated exactly.

Both are the linear two-variable system

    dh/dt = -h / tau_rise,        dg/dt = -g / tau_decay + c h,

driven by events that add to `h`. Its one-step propagator is closed-form, so a step
of any size is exact. `value` is `g`.

Event-time convention (the same as `Exponential`): events passed to
`step(state, x, t, dt)` act at the *end* of that step, after the step's decay. If an
event of weight `w` arrives in step `k`, the value after step `k + m` equals the closed
form at `m dt` (so the value after step `k` is `g(0)`, which is `0` for these two
synapses; `w` for `Exponential`).
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core._errors import as_param, check_positive, is_concrete
from ._abstract import AbstractSynapse


class DualExponentialState(eqx.Module):
    """State of a dual-exponential or alpha synapse: the rise variable `h`, the value `g`."""

    h: Float[Array, " n"]
    g: Float[Array, " n"]


def _one_minus_exp_over(z: Array) -> Array:
    """`(1 - exp(-z)) / z`, with its limit 1 at z = 0 (accurate for small |z|)."""
    small = jnp.abs(z) < 1e-4
    safe = jnp.where(small, 1.0, z)
    series = 1.0 - z / 2 + z * z / 6 - z * z * z / 24
    return jnp.where(small, series, -jnp.expm1(-safe) / safe)


def _check_n(n) -> None:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")


class DualExponential(AbstractSynapse):
    """Difference of exponentials: an event of weight `w` at time 0 gives

        g(t) = w A tau_d / (tau_d - tau_r) (exp(-t / tau_d) - exp(-t / tau_r)),

    with `A = 1` by default, so that the time integral of `g` is `w tau_d` and
    `tau_r -> 0` recovers `Exponential(n, tau_d)`. With `normalize_peak=True`,
    `A = (tau_d / tau_r) ** (tau_r / (tau_d - tau_r))` and the peak of `g` is `w`,
    reached at `t_peak = tau_r tau_d / (tau_d - tau_r) ln(tau_d / tau_r)`.

    The equations are `dh/dt = -h / tau_r`, `dg/dt = -g / tau_d + h / tau_r`, events
    add `A w` to `h`; one step is the exact propagator of this linear system.

    **Arguments:**

    - `n`: number of postsynaptic neurons.
    - `tau_rise`, `tau_decay`: rise and decay time constants (ms), scalars or `(n,)`,
      with `tau_rise < tau_decay` (use `Alpha` for equal time constants).
    - `normalize_peak`: scale events so that a single event peaks at its weight.
    """

    n: int = eqx.field(static=True)
    tau_rise: Float[Array, "*n"]
    tau_decay: Float[Array, "*n"]
    normalize_peak: bool = eqx.field(static=True)

    def __init__(self, n: int, tau_rise=1.0, tau_decay=10.0, *, normalize_peak: bool = False):
        _check_n(n)
        check_positive("tau_rise", tau_rise)
        check_positive("tau_decay", tau_decay)
        self.n = n
        self.tau_rise = as_param(tau_rise, "tau_rise", n)
        self.tau_decay = as_param(tau_decay, "tau_decay", n)
        if is_concrete((self.tau_rise, self.tau_decay)) and np.any(
            np.asarray(self.tau_rise) >= np.asarray(self.tau_decay)
        ):
            raise ValueError(
                f"tau_rise must be smaller than tau_decay, got tau_rise={tau_rise!r} and "
                f"tau_decay={tau_decay!r}; use Alpha(n, tau) for equal time constants"
            )
        self.normalize_peak = bool(normalize_peak)

    def peak_scale(self) -> Float[Array, "*n"]:
        """The factor `A` applied to event weights (1 without peak normalisation)."""
        if not self.normalize_peak:
            return jnp.ones_like(self.tau_rise)
        tr, td = self.tau_rise, self.tau_decay
        return (td / tr) ** (tr / (td - tr))

    def peak_time(self) -> Float[Array, "*n"]:
        """Time (ms) from an event to the peak of `g`."""
        tr, td = self.tau_rise, self.tau_decay
        return tr * td / (td - tr) * jnp.log(td / tr)

    def min_time_constant(self):
        return jnp.min(self.tau_rise)

    def init_state(self, *, key) -> DualExponentialState:
        z = jnp.zeros((self.n,), self.tau_rise.dtype)
        return DualExponentialState(z, z)

    def step(self, state: DualExponentialState, x, t, dt) -> DualExponentialState:
        tr, td = self.tau_rise, self.tau_decay
        decay_r = jnp.exp(-dt / tr)
        decay_d = jnp.exp(-dt / td)
        # g(dt) = g0 e^{-dt/td} + (h0 / tr) int_0^dt e^{-s/tr} e^{-(dt - s)/td} ds
        z = dt * (1 / tr - 1 / td)
        coupling = decay_d * (dt / tr) * _one_minus_exp_over(z)
        g = state.g * decay_d + state.h * coupling
        h = state.h * decay_r + self.peak_scale() * x
        return DualExponentialState(h, g)

    def value(self, state: DualExponentialState) -> Float[Array, " n"]:
        return state.g


class Alpha(AbstractSynapse):
    """Alpha function: an event of weight `w` at time 0 gives `g(t) = w (t/tau) e^{1 - t/tau}`.

    The peak is `w`, at `t = tau`. The equations are `dh/dt = -h / tau`,
    `dg/dt = -g / tau + e h / tau`, events add `w` to `h`; one step is the exact
    propagator.

    **Arguments:**

    - `n`: number of postsynaptic neurons.
    - `tau`: time constant (ms), scalar or `(n,)`; also the time to peak.
    """

    n: int = eqx.field(static=True)
    tau: Float[Array, "*n"]

    def __init__(self, n: int, tau=5.0):
        _check_n(n)
        check_positive("tau", tau)
        self.n = n
        self.tau = as_param(tau, "tau", n)

    def min_time_constant(self):
        return jnp.min(self.tau)

    def init_state(self, *, key) -> DualExponentialState:
        z = jnp.zeros((self.n,), self.tau.dtype)
        return DualExponentialState(z, z)

    def step(self, state: DualExponentialState, x, t, dt) -> DualExponentialState:
        decay = jnp.exp(-dt / self.tau)
        g = (state.g + state.h * (np.e * dt / self.tau)) * decay
        h = state.h * decay + x
        return DualExponentialState(h, g)

    def value(self, state: DualExponentialState) -> Float[Array, " n"]:
        return state.g
