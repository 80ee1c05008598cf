"""Tsodyks-Markram short-term plasticity (depression and facilitation) per presynaptic neuron.

The model of Tsodyks, Pawelzik & Markram (1998) and Markram, Wang & Tsodyks (1998), in
the form of BrainPy's `STP` and NEST's `tsodyks2_synapse`:

    du/dt = -u / tau_f,        dx/dt = (1 - x) / tau_d        (between spikes)

and at a presynaptic spike, in this order:

    u <- u + U (1 - u)         (facilitation)
    efficacy = u x             (fraction of resources released)
    x <- x - u x               (depression)

A rested synapse (`u = 0`, `x = 1`) releases `U` at its first spike. For spike
intervals `D` this gives the classic iterated map `u_{n+1} = U + (1 - U) u_n
exp(-D / tau_f)`, `x_{n+1} = 1 - (1 - x_n (1 - u_n)) exp(-D / tau_d)`, the same
efficacies as Brian2's formulation in which `u` relaxes to `U` and facilitation is
applied after the release.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._errors import as_param, check_nonnegative, check_probability


class TsodyksMarkramState(eqx.Module):
    """Utilisation `u` and available resources `x` of each presynaptic neuron."""

    u: Float[Array, " n_pre"]
    x: Float[Array, " n_pre"]


def _decay(tau: Array, dt) -> Array:
    """`exp(-dt / tau)`, and 0 for `tau = 0` (instant relaxation), with safe gradients."""
    positive = tau > 0
    safe = jnp.where(positive, tau, 1.0)
    return jnp.where(positive, jnp.exp(-dt / safe), 0.0)


class TsodyksMarkram(eqx.Module):
    """Short-term plasticity: scales each presynaptic spike by its efficacy `u x`.

    Between steps `u` and `x` relax exactly; spikes (floats in [0, 1], so surrogate
    spikes keep their gradient) then facilitate and deplete as in the module docstring.
    In a `Projection` the presynaptic spikes are multiplied by the efficacy before they
    enter the delay line, so every synapse of one presynaptic neuron shares its state.

    **Arguments:**

    - `n_pre`: number of presynaptic neurons.
    - `U`: utilisation increment per spike (release probability of a rested synapse),
      in [0, 1], scalar or `(n_pre,)`.
    - `tau_f`: facilitation time constant (ms), >= 0 (0: no facilitation, `u = U` at
      every spike).
    - `tau_d`: recovery (depression) time constant (ms), >= 0 (0: no depression).
    """

    n_pre: int = eqx.field(static=True)
    U: Float[Array, "*n_pre"]
    tau_f: Float[Array, "*n_pre"]
    tau_d: Float[Array, "*n_pre"]

    def __init__(self, n_pre: int, U=0.5, tau_f=0.0, tau_d=800.0):
        if not isinstance(n_pre, int) or n_pre < 0:
            raise ValueError(f"n_pre must be a non-negative integer, got {n_pre!r}")
        check_probability("U", U)
        check_nonnegative("tau_f", tau_f)
        check_nonnegative("tau_d", tau_d)
        self.n_pre = n_pre
        self.U = as_param(U, "U", n_pre)
        self.tau_f = as_param(tau_f, "tau_f", n_pre)
        self.tau_d = as_param(tau_d, "tau_d", n_pre)

    def init_state(self, *, key=None) -> TsodyksMarkramState:
        """A rested synapse: `u = 0`, `x = 1`."""
        dtype = self.U.dtype
        return TsodyksMarkramState(jnp.zeros((self.n_pre,), dtype), jnp.ones((self.n_pre,), dtype))

    def step(
        self, state: TsodyksMarkramState, spikes: Float[Array, " n_pre"], dt
    ) -> tuple[TsodyksMarkramState, Float[Array, " n_pre"]]:
        """Relax over `dt`, then take this step's spikes.

        **Arguments:**

        - `state`: the state after the previous step.
        - `spikes`: `(n_pre,)` spikes of this step (bool or float).
        - `dt`: step (ms).

        **Returns:** `(state, efficacy)`, where `efficacy` `(n_pre,)` is `u x` at
        release; the transmitted events are `spikes * efficacy`.
        """
        u = state.u * _decay(self.tau_f, dt)
        x = 1 - (1 - state.x) * _decay(self.tau_d, dt)
        s = spikes.astype(u.dtype)
        u = u + s * self.U * (1 - u)
        efficacy = u * x
        x = x - s * efficacy
        return TsodyksMarkramState(u, x), efficacy
