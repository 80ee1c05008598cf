"""Triplet STDP (Pfister & Gerstner 2006)."""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..core._errors import as_param, check_nonnegative, check_positive
from ._events import EventIndex, apply_changes
from ._stdp import AbstractPlasticityRule, check_bounds
from ._traces import Pairing, add_spikes, check_pairing, decay


class TripletSTDPState(eqx.Module):
    """Pre traces `r1` (tau_plus), `r2` (tau_x); post traces `o1` (tau_minus), `o2` (tau_y)."""

    r1: Float[Array, " n_pre"]
    r2: Float[Array, " n_pre"]
    o1: Float[Array, " n_post"]
    o2: Float[Array, " n_post"]


class TripletSTDP(AbstractPlasticityRule):
    """The triplet rule of Pfister & Gerstner (2006).

    At a post spike: `w += r1 (A2+ + A3+ o2)`; at a pre spike: `w -= o1 (A2- + A3- r2)`,
    with the traces read just before the spike (so `o2` / `r2` exclude the spike itself),
    then `w = clip(w, w_min, w_max)`. Traces `r1, r2` follow the presynaptic spikes with
    `tau_plus, tau_x`, and `o1, o2` the postsynaptic spikes with `tau_minus, tau_y`.

    Defaults: the minimal all-to-all model fitted to visual cortex (Pfister & Gerstner
    2006, Table 4): `tau_plus=16.8`, `tau_minus=33.7`, `tau_x=101`, `tau_y=125` ms,
    `A2+ = 5e-10`, `A3+ = 6.2e-3`, `A2- = 7e-3`, `A3- = 0`.

    **Arguments:**

    - `a2_plus`, `a3_plus`, `a2_minus`, `a3_minus`: pair and triplet rates (>= 0).
    - `tau_plus`, `tau_x`, `tau_minus`, `tau_y`: trace time constants (ms).
    - `w_min`, `w_max`: hard bounds; `pairing`: `"all"` or `"nearest"`.
    """

    a2_plus: Float[Array, ""]
    a3_plus: Float[Array, ""]
    a2_minus: Float[Array, ""]
    a3_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_x: Float[Array, ""]
    tau_minus: Float[Array, ""]
    tau_y: Float[Array, ""]
    w_min: Array
    w_max: Array
    pairing: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        a2_plus=5e-10,
        a3_plus=6.2e-3,
        a2_minus=7e-3,
        a3_minus=0.0,
        tau_plus=16.8,
        tau_x=101.0,
        tau_minus=33.7,
        tau_y=125.0,
        w_min=0.0,
        w_max=1.0,
        pairing: Pairing = "all",
    ):
        for name, value in (
            ("a2_plus", a2_plus),
            ("a3_plus", a3_plus),
            ("a2_minus", a2_minus),
            ("a3_minus", a3_minus),
        ):
            check_nonnegative(name, value)
        for name, value in (
            ("tau_plus", tau_plus),
            ("tau_x", tau_x),
            ("tau_minus", tau_minus),
            ("tau_y", tau_y),
        ):
            check_positive(name, value)
        check_bounds(w_min, w_max)
        check_pairing(pairing)
        self.a2_plus, self.a3_plus = as_param(a2_plus), as_param(a3_plus)
        self.a2_minus, self.a3_minus = as_param(a2_minus), as_param(a3_minus)
        self.tau_plus, self.tau_x = as_param(tau_plus), as_param(tau_x)
        self.tau_minus, self.tau_y = as_param(tau_minus), as_param(tau_y)
        self.w_min, self.w_max = as_param(w_min), as_param(w_max)
        self.pairing = pairing

    def min_time_constant(self) -> Array:
        return jnp.min(jnp.stack([self.tau_plus, self.tau_x, self.tau_minus, self.tau_y]))

    def init_state(self, n_pre: int, n_post: int, syn_shape=(), dtype=None) -> TripletSTDPState:
        dtype = self.a2_plus.dtype if dtype is None else dtype
        pre, post = jnp.zeros((n_pre,), dtype), jnp.zeros((n_post,), dtype)
        return TripletSTDPState(pre, pre, post, post)

    def step(
        self,
        state: TripletSTDPState,
        w: Float[Array, "*syn"],
        pre_ids: Int[Array, "*syn"],
        post_ids: Int[Array, "*syn"],
        pre_spikes: Array,
        post_spikes: Array,
        dt: Any,
        modulation: Any = None,
        *,
        index: EventIndex | None = None,
    ) -> tuple[TripletSTDPState, Float[Array, "*syn"]]:
        """One step (arguments as `PairSTDP.step`, `index` included; `modulation` must be `None`).

        **Returns:** `(state, w)`.
        """
        if modulation is not None:
            raise ValueError("TripletSTDP takes no modulation; pass modulation=None")
        dtype = w.dtype
        s_pre, s_post = pre_spikes.astype(dtype), post_spikes.astype(dtype)
        r1 = decay(state.r1, self.tau_plus, dt)
        r2 = decay(state.r2, self.tau_x, dt)
        o1 = decay(state.o1, self.tau_minus, dt)
        o2 = decay(state.o2, self.tau_y, dt)
        # per-neuron factors first (O(n)); the terms gather them per synapse
        post_gain = s_post * (self.a2_plus + self.a3_plus * o2)
        pre_loss = s_pre * (self.a2_minus + self.a3_minus * r2)

        def post_term(pre_idx, post_idx, w_s):
            return r1[pre_idx] * post_gain[post_idx]

        def pre_term(pre_idx, post_idx, w_s):
            return -o1[post_idx] * pre_loss[pre_idx]

        w = apply_changes(
            w,
            pre_ids,
            post_ids,
            s_pre,
            s_post,
            post_term,
            pre_term,
            self.w_min,
            self.w_max,
            index,
        )
        new = TripletSTDPState(
            add_spikes(r1, s_pre, self.pairing),
            add_spikes(r2, s_pre, self.pairing),
            add_spikes(o1, s_post, self.pairing),
            add_spikes(o2, s_post, self.pairing),
        )
        return new, w
