"""Applying spike-triggered weight changes: masked over all synapses, or event-driven.

A two-sided rule changes a synapse `j -> i` when `i` spikes (`post_term`) and when `j`
spikes (`pre_term`). The masked path evaluates both terms on every synapse (skipping a
term when its side is silent this step); the event path, given an `EventIndex`, gathers
only the synapses of the neurons that spiked (up to a static budget per side, falling
back to the masked path when more spike), so its cost is proportional to the synapses
of spiking neurons.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from ._traces import clip_weights

Term = Callable[[Array, Array, Array], Array]
"""`(pre_idx, post_idx, w_syn) -> dw_syn` for the synapses given by their endpoints."""


def _table(owner: np.ndarray, n: int, nnz: int, keep: np.ndarray) -> np.ndarray:
    """`(n + 1, max_degree)` flat synapse ids of each neuron (the entries in `keep`),
    padded with `nnz`."""
    ids = np.flatnonzero(keep)
    owner = owner[ids]
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=n)
    width = max(int(counts.max(initial=0)), 1)
    table = np.full((n + 1, width), nnz, dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(counts)])
    slot = np.arange(owner.size) - starts[owner[order]]
    table[owner[order], slot] = ids[order]
    return table


class EventIndex(eqx.Module):
    """Synapses grouped by presynaptic and by postsynaptic neuron, for event-driven updates.

    **Arguments:**

    - `pre_ids`, `post_ids`: the layout's synapse endpoints (`conn.pre_ids`, any shape).
    - `n_pre`, `n_post`: population sizes.
    - `pre_chunk`, `post_chunk`: how many spiking neurons of each side one pass of the
      event loop handles (a performance knob: about the usual number of spikes per step).
    - `valid`: optional bool mask of the real synapses (shape of `pre_ids`); the others
      (the padding of a padded table) are never touched.
    """

    by_pre: Int[Array, "n_pre_plus_1 deg_pre"]
    by_post: Int[Array, "n_post_plus_1 deg_post"]
    pre_flat: Int[Array, " nnz"]
    post_flat: Int[Array, " nnz"]
    pre_chunk: int = eqx.field(static=True)
    post_chunk: int = eqx.field(static=True)

    def __init__(
        self,
        pre_ids,
        post_ids,
        n_pre: int,
        n_post: int,
        *,
        pre_chunk: int,
        post_chunk: int,
        valid=None,
    ):
        for name, value in (("pre_chunk", pre_chunk), ("post_chunk", post_chunk)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        pre = np.asarray(pre_ids).reshape(-1)
        post = np.asarray(post_ids).reshape(-1)
        keep = np.ones(pre.size, bool) if valid is None else np.asarray(valid, bool).reshape(-1)
        if keep.size != pre.size:
            raise ValueError(f"valid must have the shape of pre_ids, got {np.shape(valid)}")
        self.by_pre = jnp.asarray(_table(pre, n_pre, pre.size, keep))
        self.by_post = jnp.asarray(_table(post, n_post, post.size, keep))
        self.pre_flat = jnp.asarray(pre, jnp.int32)
        self.post_flat = jnp.asarray(post, jnp.int32)
        self.pre_chunk = min(pre_chunk, max(n_pre, 1))
        self.post_chunk = min(post_chunk, max(n_post, 1))


def apply_masked(
    w: Array,
    pre_ids: Array,
    post_ids: Array,
    s_pre: Array,
    s_post: Array,
    post_term: Term,
    pre_term: Term,
    w_min: Array,
    w_max: Array,
) -> Array:
    """Evaluate both terms on every synapse, then clip: `clip(w + post + pre)`."""
    zeros = jnp.zeros(w.shape, w.dtype)
    up = jax.lax.cond(jnp.any(s_post > 0), lambda: post_term(pre_ids, post_ids, w), lambda: zeros)
    down = jax.lax.cond(jnp.any(s_pre > 0), lambda: pre_term(pre_ids, post_ids, w), lambda: zeros)
    return clip_weights(w + up + down, w_min, w_max)


def _chunks(spikes: Array, chunk: int) -> tuple[Array, Array]:
    """Ids of the spiking neurons (padded with `n`) and the number of `chunk`-sized groups."""
    n = spikes.shape[0]
    ids = jnp.nonzero(spikes > 0, size=n + chunk, fill_value=n)[0]
    count = jnp.sum(spikes > 0)
    return ids, (count + chunk - 1) // chunk


def _apply_events(
    w: Array,
    index: EventIndex,
    s_pre: Array,
    s_post: Array,
    post_term: Term,
    pre_term: Term,
    w_min: Array,
    w_max: Array,
) -> Array:
    flat = w.reshape(-1)
    nnz = flat.shape[0]
    sides = (
        (*_chunks(s_post, index.post_chunk), index.by_post, index.post_chunk, post_term),
        (*_chunks(s_pre, index.pre_chunk), index.by_pre, index.pre_chunk, pre_term),
    )

    def synapses(ids, c, table, chunk):
        rows = jax.lax.dynamic_slice(ids, (c * chunk,), (chunk,))
        return table[rows].reshape(-1)

    # first every change, each computed from the old weights, then the clip: as the
    # masked path's clip(w + post + pre), touching only synapses of spiking neurons
    new = flat
    for ids, n_chunks, table, chunk, term in sides:

        def add(c, new, ids=ids, table=table, chunk=chunk, term=term):
            syn = synapses(ids, c, table, chunk)
            safe = jnp.minimum(syn, nnz - 1)
            dw = term(index.pre_flat[safe], index.post_flat[safe], flat[safe])
            return new.at[syn].add(jnp.where(syn < nnz, dw, 0), mode="drop")

        new = jax.lax.fori_loop(0, n_chunks, add, new)
    per_synapse = jnp.ndim(w_min) > 0  # bounds of w's shape: read at the synapses
    lo_flat = jnp.reshape(w_min, -1) if per_synapse else w_min
    hi_flat = jnp.reshape(w_max, -1) if per_synapse else w_max
    for ids, n_chunks, table, chunk, _ in sides:

        def clip(c, new, ids=ids, table=table, chunk=chunk):
            syn = synapses(ids, c, table, chunk)
            lo, hi = lo_flat, hi_flat
            if per_synapse:
                safe = jnp.minimum(syn, nnz - 1)
                lo, hi = lo_flat[safe], hi_flat[safe]
            value = clip_weights(new.at[syn].get(mode="fill", fill_value=0), lo, hi)
            return new.at[syn].set(value, mode="drop")

        new = jax.lax.fori_loop(0, n_chunks, clip, new)
    return new.reshape(w.shape)


def apply_changes(
    w: Array,
    pre_ids: Array,
    post_ids: Array,
    s_pre: Array,
    s_post: Array,
    post_term: Term,
    pre_term: Term,
    w_min: Array,
    w_max: Array,
    index: EventIndex | None = None,
) -> Array:
    """Add the spike-triggered changes to `w` and clip to `[w_min, w_max]`.

    **Arguments:**

    - `w`: per-synapse weights; `pre_ids`, `post_ids`: their endpoints.
    - `s_pre`, `s_post`: this step's spikes (floats).
    - `post_term`, `pre_term`: `(pre_idx, post_idx, w_syn) -> dw` at the synapses whose
      post (resp. pre) neuron spiked; they include the spike factor themselves.
    - `w_min`, `w_max`: the bounds (for the event path: scalars, or one per synapse in
      the shape of `w`).
    - `index`: an `EventIndex` for the event path, or `None` for the masked path.

    **Returns:** the new weights. With `index`, only the synapses of spiking neurons are
    touched (and clipped), so weights must start within the bounds.
    """
    if index is None:
        return apply_masked(w, pre_ids, post_ids, s_pre, s_post, post_term, pre_term, w_min, w_max)
    for name, bound in (("w_min", w_min), ("w_max", w_max)):
        if jnp.ndim(bound) and jnp.shape(bound) != w.shape:
            raise ValueError(
                f"{name}: the event-driven path needs a scalar or one bound per synapse"
                f" {w.shape}, got shape {jnp.shape(bound)}"
            )
    if jnp.ndim(w_min) != jnp.ndim(w_max):
        w_min, w_max = (jnp.broadcast_to(b, w.shape) for b in (w_min, w_max))
    return _apply_events(w, index, s_pre, s_post, post_term, pre_term, w_min, w_max)
