"""Reward- / neuromodulator-gated STDP: the three-factor rule with an eligibility trace."""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..core._errors import as_param, check_nonnegative, check_positive
from ._events import EventIndex
from ._stdp import AbstractPlasticityRule, check_bounds
from ._traces import Pairing, add_spikes, check_pairing, clip_weights, decay, pair_terms


class ThreeFactorSTDPState(eqx.Module):
    """Spike traces and the per-synapse eligibility trace `e`."""

    x_pre: Float[Array, " n_pre"]
    x_post: Float[Array, " n_post"]
    eligibility: Float[Array, "*syn"]


class ThreeFactorSTDP(AbstractPlasticityRule):
    """Neuromodulated STDP: pair STDP writes an eligibility trace, a modulator `M` reads it.

    Each step: `e <- e exp(-dt / tau_e) + A+ x_pre S_post - A- x_post S_pre` (the pair
    terms of `PairSTDP`), then `dw/dt = eta M(t) e`, i.e. `w <- clip(w + eta M e dt)`.
    `M` is the `modulation` argument of `step` (reward, dopamine; a scalar or per
    synapse); without it (`None`) the weights do not change.

    **Arguments:**

    - `eta`: learning rate (per ms per unit modulator, >= 0).
    - `a_plus`, `a_minus`, `tau_plus`, `tau_minus`, `pairing`: the pair STDP part.
    - `tau_e`: eligibility time constant (ms).
    - `w_min`, `w_max`: hard bounds.
    """

    eta: Float[Array, ""]
    a_plus: Float[Array, ""]
    a_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]
    tau_e: Float[Array, ""]
    w_min: Array
    w_max: Array
    pairing: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        eta=1.0,
        a_plus=1.0,
        a_minus=1.0,
        tau_plus=20.0,
        tau_minus=20.0,
        tau_e=1000.0,
        w_min=0.0,
        w_max=1.0,
        pairing: Pairing = "all",
    ):
        check_nonnegative("eta", eta)
        check_nonnegative("a_plus", a_plus)
        check_nonnegative("a_minus", a_minus)
        check_positive("tau_plus", tau_plus)
        check_positive("tau_minus", tau_minus)
        check_positive("tau_e", tau_e)
        check_bounds(w_min, w_max)
        check_pairing(pairing)
        self.eta = as_param(eta)
        self.a_plus, self.a_minus = as_param(a_plus), as_param(a_minus)
        self.tau_plus, self.tau_minus = as_param(tau_plus), as_param(tau_minus)
        self.tau_e = as_param(tau_e)
        self.w_min, self.w_max = as_param(w_min), as_param(w_max)
        self.pairing = pairing

    def min_time_constant(self) -> Array:
        return jnp.min(jnp.stack([self.tau_plus, self.tau_minus, self.tau_e]))

    def init_state(self, n_pre: int, n_post: int, syn_shape=(), dtype=None) -> ThreeFactorSTDPState:
        dtype = self.eta.dtype if dtype is None else dtype
        return ThreeFactorSTDPState(
            jnp.zeros((n_pre,), dtype), jnp.zeros((n_post,), dtype), jnp.zeros(syn_shape, dtype)
        )

    def step(
        self,
        state: ThreeFactorSTDPState,
        w: Float[Array, "*syn"],
        pre_ids: Int[Array, "*syn"],
        post_ids: Int[Array, "*syn"],
        pre_spikes: Array,
        post_spikes: Array,
        dt: Any,
        modulation: Any = None,
        *,
        index: EventIndex | None = None,
    ) -> tuple[ThreeFactorSTDPState, Float[Array, "*syn"]]:
        """One step (arguments as `PairSTDP.step`; `modulation` is the modulator `M(t)`).

        The eligibility trace of every synapse decays each step, so this rule always
        runs over all synapses; `index` is accepted and ignored.

        **Returns:** `(state, w)`.
        """
        dtype = w.dtype
        s_pre, s_post = pre_spikes.astype(dtype), post_spikes.astype(dtype)
        x_pre = decay(state.x_pre, self.tau_plus, dt)
        x_post = decay(state.x_post, self.tau_minus, dt)
        ltp, ltd = pair_terms(x_pre, x_post, s_pre, s_post, pre_ids, post_ids)
        e = decay(state.eligibility, self.tau_e, dt) + self.a_plus * ltp - self.a_minus * ltd
        if modulation is not None:
            w = clip_weights(
                w + self.eta * jnp.asarray(modulation, dtype) * e * dt, self.w_min, self.w_max
            )
        new = ThreeFactorSTDPState(
            add_spikes(x_pre, s_pre, self.pairing), add_spikes(x_post, s_post, self.pairing), e
        )
        return new, w
