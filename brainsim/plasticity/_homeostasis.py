"""Homeostasis: adaptive thresholds and per-neuron weight normalisation."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..core._abstract import AbstractNeuron
from ..core._errors import as_param, check_nonnegative, check_positive, is_concrete
from ..core._spike import Surrogate


def normalize_incoming(
    w: Float[Array, "*syn"], post_ids: Int[Array, "*syn"], n_post: int, target: Any
) -> Float[Array, "*syn"]:
    """Scale each postsynaptic neuron's incoming weights so that they sum to `target`.

    As Diehl & Cook (target 78.4 for 784 inputs). A neuron whose incoming weights sum to
    zero is left unchanged.

    **Arguments:**

    - `w`: per-synapse weights; `post_ids`: their postsynaptic neurons (same shape).
    - `n_post`: number of postsynaptic neurons; `target`: the sum (scalar or `(n_post,)`).

    **Returns:** the scaled weights.

    >>> import jax.numpy as jnp
    >>> w = jnp.array([1.0, 3.0, 2.0])
    >>> normalize_incoming(w, jnp.array([0, 0, 1]), 2, 2.0).tolist()
    [0.5, 1.5, 2.0]
    """
    sums = jax.ops.segment_sum(w.reshape(-1), post_ids.reshape(-1), num_segments=n_post)
    target = jnp.broadcast_to(jnp.asarray(target, w.dtype), (n_post,))
    scale = jnp.where(sums != 0, target / jnp.where(sums != 0, sums, 1), 1)
    return w * scale[post_ids]


def check_normalization(target: Any, in_degree: Any, w_min: Any, w_max: Any) -> None:
    """Raise `ValueError` when bounded weights cannot sum to `target` for some neuron.

    **Arguments:**

    - `target`: the per-neuron sum; `in_degree`: `(n_post,)` number of incoming synapses.
    - `w_min`, `w_max`: the rule's weight bounds (scalars).
    """
    if not (is_concrete(target) and is_concrete(w_min) and is_concrete(w_max)):
        return
    tgt = np.asarray(target, dtype=np.float64)
    deg = np.asarray(in_degree, dtype=np.float64)
    lo, hi = float(np.min(w_min)), float(np.max(w_max))
    if not np.all(np.isfinite(tgt)):
        raise ValueError(f"normalization target must be finite, got {tgt!r}")
    reach_hi, reach_lo = deg * hi, deg * lo
    if np.any(tgt > reach_hi) or np.any(tgt < reach_lo):
        raise ValueError(
            f"normalization target {tgt.tolist()!r} cannot be reached with weights in "
            f"[{lo}, {hi}] and {int(deg.min())}..{int(deg.max())} incoming synapses "
            f"(reachable: [{float(np.max(reach_lo))}, {float(np.min(reach_hi))}])"
        )


class AdaptiveThresholdState(eqx.Module):
    """The wrapped neuron's state and the threshold offset `theta` (mV)."""

    neuron: Any
    theta: Float[Array, " n"]

    @property
    def v(self) -> Array:
        """The membrane potential of the wrapped neuron (mV)."""
        return self.neuron.v


class AdaptiveThreshold(AbstractNeuron):
    """A neuron whose threshold rises with each of its spikes (Diehl & Cook homeostasis).

    The wrapped neuron fires at `v_th + theta`; each step `theta <- theta exp(-dt /
    tau_theta) + theta_plus S` while `learning` is on (with it off, `theta` is frozen and
    still raises the threshold, as in testing after training).

    **Arguments:**

    - `neuron`: any neuron with a `v_th` field (`LIF`, ...).
    - `theta_plus`: increment per spike (mV, >= 0); Diehl & Cook: 0.05.
    - `tau_theta`: decay time constant (ms); Diehl & Cook: 1e7.
    - `learning`: whether `theta` adapts.
    """

    neuron: AbstractNeuron
    theta_plus: Float[Array, "*n"]
    tau_theta: Float[Array, "*n"]
    learning: bool = eqx.field(static=True)

    def __init__(self, neuron: AbstractNeuron, *, theta_plus=0.05, tau_theta=1e7, learning=True):
        if not hasattr(neuron, "v_th"):
            raise ValueError(f"neuron must have a v_th field, got {type(neuron).__name__}")
        check_nonnegative("theta_plus", theta_plus)
        check_positive("tau_theta", tau_theta)
        self.neuron = neuron
        self.theta_plus = as_param(theta_plus, "theta_plus", neuron.n)
        self.tau_theta = as_param(tau_theta, "tau_theta", neuron.n)
        self.learning = bool(learning)

    @property  # type: ignore[misc]
    def n(self) -> int:  # type: ignore[override]
        return self.neuron.n

    @property  # type: ignore[misc]
    def spike_fn(self) -> Surrogate:  # type: ignore[override]
        return self.neuron.spike_fn

    def min_time_constant(self):
        return self.neuron.min_time_constant()

    def init_state(self, *, key) -> AdaptiveThresholdState:
        inner = self.neuron.init_state(key=key)
        return AdaptiveThresholdState(inner, jnp.zeros((self.n,), inner.v.dtype))

    def vector_field(self, t, y, args):
        return self.neuron.vector_field(t, y, args)

    def with_theta(self, theta: Array) -> AbstractNeuron:
        """The wrapped neuron with its threshold raised by `theta`."""
        v_th = self.neuron.v_th  # type: ignore[attr-defined]
        return eqx.tree_at(lambda m: m.v_th, self.neuron, v_th + theta)

    def step(
        self, state: AdaptiveThresholdState, inputs, t, dt
    ) -> tuple[AdaptiveThresholdState, Float[Array, " n"]]:
        inner, spikes = self.with_theta(state.theta).step(state.neuron, inputs, t, dt)
        theta = state.theta
        if self.learning:
            s = jax.lax.stop_gradient(spikes).astype(theta.dtype)
            theta = theta * jnp.exp(-dt / self.tau_theta) + self.theta_plus * s
        return AdaptiveThresholdState(inner, theta), spikes
