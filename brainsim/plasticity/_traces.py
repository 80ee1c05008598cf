"""Spike traces and the per-synapse pieces every trace rule shares.

A trace `x` decays by `exp(-dt / tau)` each step and then takes the step's spikes:
all-to-all pairing adds 1 per spike (`x += 1`), nearest-spike pairing resets it to 1
(`x = 1`). Rules read the traces *after* the decay and *before* this step's spikes, so
a pre spike `k` steps before a post spike sees `exp(-k dt / tau)` exactly, and spikes in
the same step do not pair.
"""

from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

Pairing = Literal["all", "nearest"]


def check_pairing(pairing: str) -> None:
    """Raise `ValueError` unless `pairing` is `"all"` or `"nearest"`."""
    if pairing not in ("all", "nearest"):
        raise ValueError(f"pairing must be 'all' or 'nearest', got {pairing!r}")


def add_spikes(x: Float[Array, " n"], spikes: Array, pairing: str = "all") -> Float[Array, " n"]:
    """Take this step's spikes into a (decayed) trace.

    **Arguments:**

    - `x`: the trace after this step's decay.
    - `spikes`: this step's spikes (bool or 0/1 floats), shape of `x`.
    - `pairing`: `"all"` (add 1 per spike) or `"nearest"` (reset to 1).

    **Returns:** the new trace.

    >>> import jax.numpy as jnp
    >>> add_spikes(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])).tolist()
    [1.5, 0.5]
    >>> add_spikes(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0]), "nearest").tolist()
    [1.0, 0.5]
    """
    s = spikes.astype(x.dtype)
    if pairing == "nearest":
        return x * (1 - s) + s
    return x + s


def decay(x: Float[Array, "*n"], tau: Array, dt) -> Float[Array, "*n"]:
    """`x exp(-dt / tau)`: the exact decay of a trace over one step of `dt` ms."""
    return x * jnp.exp(-dt / tau)


def pair_terms(
    x_pre: Float[Array, " n_pre"],
    x_post: Float[Array, " n_post"],
    s_pre: Float[Array, " n_pre"],
    s_post: Float[Array, " n_post"],
    pre_ids: Int[Array, "*syn"],
    post_ids: Int[Array, "*syn"],
) -> tuple[Float[Array, "*syn"], Float[Array, "*syn"]]:
    """Per-synapse pairing terms `(x_pre S_post, x_post S_pre)`, computed event-driven.

    Each term is only evaluated when its spiking side has a spike this step (a
    `lax.cond`), and it never builds an `(n_pre, n_post)` matrix: the traces and spikes
    are gathered through the layout's `pre_ids` / `post_ids`.

    **Returns:** `(ltp, ltd)`: pre-before-post (read at post spikes) and post-before-pre
    (read at pre spikes), with the shape of `pre_ids`.
    """
    zeros = jnp.zeros(pre_ids.shape, x_pre.dtype)

    def ltp(_):
        return x_pre[pre_ids] * s_post[post_ids]

    def ltd(_):
        return x_post[post_ids] * s_pre[pre_ids]

    ltp_term = jax.lax.cond(jnp.any(s_post > 0), ltp, lambda _: zeros, None)
    ltd_term = jax.lax.cond(jnp.any(s_pre > 0), ltd, lambda _: zeros, None)
    return ltp_term, ltd_term


def clip_weights(w: Array, w_min: Array, w_max: Array) -> Array:
    """Hard bounds: `clip(w, w_min, w_max)`."""
    return jnp.clip(w, w_min, w_max)
