"""The plasticity-rule protocol and trace-based pair STDP (additive or soft-bound).

A rule is an `eqx.Module` of parameters with a separate state (its traces). Its pure
`step(state, w, pre_ids, post_ids, pre_spikes, post_spikes, dt, modulation=None)`
returns the new state and the new per-synapse weights; `pre_ids` / `post_ids` are the
layout's synapse endpoints (`CSR`/`ELL`), so any sparse projection can learn.
"""

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..core._errors import (
    as_param,
    check_finite,
    check_nonnegative,
    check_positive,
    is_concrete,
)
from ._events import EventIndex, apply_changes
from ._traces import Pairing, add_spikes, check_pairing, decay


def check_bounds(w_min: Any, w_max: Any) -> None:
    """Raise `ValueError` unless `w_min <= w_max` everywhere (and neither is NaN)."""
    if not (is_concrete(w_min) and is_concrete(w_max)):
        return
    lo = np.asarray(w_min, dtype=np.float64)
    hi = np.asarray(w_max, dtype=np.float64)
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise ValueError("w_min and w_max must not be NaN")
    try:
        inverted = np.any(lo > hi)
    except ValueError:
        raise ValueError(
            f"w_min (shape {lo.shape}) and w_max (shape {hi.shape}) must broadcast"
        ) from None
    if inverted:
        raise ValueError(f"w_min must not exceed w_max, got w_min={lo.max()!r}, w_max={hi.min()!r}")


class AbstractPlasticityRule(eqx.Module):
    """A local learning rule on the synapses of one projection.

    `w_min` / `w_max` are the hard weight bounds the rule keeps the weights in.
    """

    w_min: eqx.AbstractVar[Array]
    w_max: eqx.AbstractVar[Array]

    @abc.abstractmethod
    def init_state(self, n_pre: int, n_post: int, syn_shape: tuple[int, ...], dtype) -> Any:
        """The initial traces for `n_pre` / `n_post` neurons and synapses of `syn_shape`."""

    @abc.abstractmethod
    def step(
        self,
        state: Any,
        w: Array,
        pre_ids: Array,
        post_ids: Array,
        pre_spikes: Array,
        post_spikes: Array,
        dt: Any,
        modulation: Any = None,
        *,
        index: EventIndex | None = None,
    ) -> tuple[Any, Array]:
        """Advance the traces by `dt` and apply this step's weight change. Pure.

        `index` (an `EventIndex`) asks for the event-driven path where the rule has one.
        """

    @abc.abstractmethod
    def min_time_constant(self) -> Array:
        """The smallest trace time constant (ms)."""


class PairSTDPState(eqx.Module):
    """Presynaptic trace `x_pre` (tau_plus) and postsynaptic trace `x_post` (tau_minus)."""

    x_pre: Float[Array, " n_pre"]
    x_post: Float[Array, " n_post"]


class PairSTDP(AbstractPlasticityRule):
    """Trace-based pair STDP.

    Per synapse `j -> i`, each step:
    `dw = A+ f+(w) x_j S_i - A- f-(w) x_i S_j`, then `w = clip(w + dw, w_min, w_max)`,
    where `x_j` (pre, `tau_plus`) and `x_i` (post, `tau_minus`) are spike traces. A pre
    spike `Delta t` ms before a post spike gives `A+ exp(-Delta t / tau_plus)`, a post
    spike before a pre spike `-A- exp(-|Delta t| / tau_minus)`. With
    `weight_dependence="additive"`, `f+ = f- = 1`; with `"soft"` (multiplicative),
    `f+ = w_max - w` and `f- = w - w_min`.

    For presynaptic neurons flagged in `inhibitory_pre` the rule is mirrored, as NALSM
    does for its negative weights: `dw = -A- f-(w) x_j S_i + A+ f+(w) x_i S_j`.

    `modulation` (a `step` argument) is the astrocyte hook: a scalar or per-synapse
    depression rate `A` that replaces `a_minus` for this step (NALSM's `A(t)`), or a pair
    `(a_plus, a_minus)` replacing both (e.g. rates that fade within a sample).

    Diehl & Cook as in BindsNET: `PairSTDP(a_plus=1e-2, a_minus=1e-4, tau_plus=20,
    tau_minus=20, w_min=0, w_max=1, pairing="nearest")`.

    **Arguments:**

    - `a_plus`, `a_minus`: potentiation and depression rates (>= 0).
    - `tau_plus`, `tau_minus`: pre and post trace time constants (ms).
    - `w_min`, `w_max`: hard bounds (scalars or per synapse), `w_min <= w_max`.
    - `weight_dependence`: `"additive"` or `"soft"`.
    - `pairing`: `"all"` (traces add 1 per spike) or `"nearest"` (reset to 1).
    - `inhibitory_pre`: optional `(n_pre,)` bool mask of presynaptic neurons whose
      synapses follow the mirrored rule.
    - `same_step_pairs`: if `True`, the rule reads the traces after this step's spikes
      were added, so a pre and a post spike in the same step both potentiate (`A+`) and
      depress (`A-`), as BindsNET does; by default same-step spikes do not pair.
    """

    a_plus: Float[Array, ""]
    a_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]
    w_min: Array
    w_max: Array
    inhibitory_pre: Array | None
    weight_dependence: str = eqx.field(static=True)
    pairing: str = eqx.field(static=True)
    same_step_pairs: bool = eqx.field(static=True)

    def __init__(
        self,
        *,
        a_plus=0.01,
        a_minus=0.0105,
        tau_plus=20.0,
        tau_minus=20.0,
        w_min=0.0,
        w_max=1.0,
        weight_dependence: str = "additive",
        pairing: Pairing = "all",
        inhibitory_pre=None,
        same_step_pairs: bool = False,
    ):
        check_nonnegative("a_plus", a_plus)
        check_nonnegative("a_minus", a_minus)
        check_positive("tau_plus", tau_plus)
        check_positive("tau_minus", tau_minus)
        check_bounds(w_min, w_max)
        check_pairing(pairing)
        if weight_dependence not in ("additive", "soft"):
            raise ValueError(
                f"weight_dependence must be 'additive' or 'soft', got {weight_dependence!r}"
            )
        if weight_dependence == "soft":
            check_finite("w_min", w_min)
            check_finite("w_max", w_max)
        self.a_plus = as_param(a_plus)
        self.a_minus = as_param(a_minus)
        self.tau_plus = as_param(tau_plus)
        self.tau_minus = as_param(tau_minus)
        self.w_min = as_param(w_min)
        self.w_max = as_param(w_max)
        self.inhibitory_pre = (
            None if inhibitory_pre is None else jnp.asarray(inhibitory_pre, dtype=bool)
        )
        self.weight_dependence = weight_dependence
        self.pairing = pairing
        self.same_step_pairs = bool(same_step_pairs)

    def min_time_constant(self) -> Array:
        return jnp.minimum(self.tau_plus, self.tau_minus)

    def init_state(self, n_pre: int, n_post: int, syn_shape=(), dtype=None) -> PairSTDPState:
        dtype = self.a_plus.dtype if dtype is None else dtype
        return PairSTDPState(jnp.zeros((n_pre,), dtype), jnp.zeros((n_post,), dtype))

    def rates(self, modulation: Any) -> tuple[Array, Array]:
        """`(a_plus, a_minus)` for this step, after the `modulation` hook."""
        if modulation is None:
            return self.a_plus, self.a_minus
        if isinstance(modulation, tuple):
            a_plus, a_minus = modulation
            return jnp.asarray(a_plus), jnp.asarray(a_minus)
        return self.a_plus, jnp.asarray(modulation)

    def step(
        self,
        state: PairSTDPState,
        w: Float[Array, "*syn"],
        pre_ids: Int[Array, "*syn"],
        post_ids: Int[Array, "*syn"],
        pre_spikes: Array,
        post_spikes: Array,
        dt: Any,
        modulation: Any = None,
        *,
        index: EventIndex | None = None,
    ) -> tuple[PairSTDPState, Float[Array, "*syn"]]:
        """One step of the rule.

        **Arguments:**

        - `state`: the traces; `w`: per-synapse weights (shape of `pre_ids`).
        - `pre_ids`, `post_ids`: the synapses' endpoints (`conn.pre_ids`, `conn.post_ids`).
        - `pre_spikes` `(n_pre,)`, `post_spikes` `(n_post,)`: this step's spikes.
        - `dt`: the step (ms); `modulation`: see the class docstring.
        - `index`: an `EventIndex` to touch only the synapses of spiking neurons (needs
          a scalar modulation, and bounds that are scalars or one per synapse), or
          `None` to mask over all synapses.

        **Returns:** `(state, w)`.
        """
        dtype = w.dtype
        s_pre, s_post = pre_spikes.astype(dtype), post_spikes.astype(dtype)
        x_pre = decay(state.x_pre, self.tau_plus, dt)
        x_post = decay(state.x_post, self.tau_minus, dt)
        new_pre = add_spikes(x_pre, s_pre, self.pairing)
        new_post = add_spikes(x_post, s_post, self.pairing)
        if self.same_step_pairs:
            x_pre, x_post = new_pre, new_post
        a_plus, a_minus = self.rates(modulation)
        if index is not None and (jnp.ndim(a_plus) or jnp.ndim(a_minus)):
            raise ValueError("with an EventIndex, modulation must be a scalar (or a pair)")
        soft = self.weight_dependence == "soft"
        w_min, w_max, inh_mask = self.w_min, self.w_max, self.inhibitory_pre

        def f_plus(w_s):
            return w_max - w_s if soft else 1.0

        def f_minus(w_s):
            return w_s - w_min if soft else 1.0

        def post_term(pre_idx, post_idx, w_s):
            base = x_pre[pre_idx] * s_post[post_idx]
            dw = a_plus * base * f_plus(w_s)
            if inh_mask is None:
                return dw
            return jnp.where(inh_mask[pre_idx], -a_minus * base * f_minus(w_s), dw)

        def pre_term(pre_idx, post_idx, w_s):
            base = x_post[post_idx] * s_pre[pre_idx]
            dw = -a_minus * base * f_minus(w_s)
            if inh_mask is None:
                return dw
            return jnp.where(inh_mask[pre_idx], a_plus * base * f_plus(w_s), dw)

        w = apply_changes(
            w, pre_ids, post_ids, s_pre, s_post, post_term, pre_term, w_min, w_max, index
        )
        return PairSTDPState(new_pre, new_post), w
