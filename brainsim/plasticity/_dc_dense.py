"""Trace STDP on a dense all-to-all weight matrix, driven by lists of presynaptic spikes.

`TripletSTDP.step` with an `EventIndex` works on any sparse layout, through a table of
synapse ids. For an all-to-all projection (Diehl & Cook's 784 -> N) the weights are a
dense `(n_pre, n_post)` matrix, and a step is cheaper when it reads the rows of the
presynaptic neurons that spiked directly: those rows give both the transmitted input
(their sum) and the synapses that depress; a postsynaptic spike potentiates one column.
This file holds that fused step. It computes exactly what `TripletSTDP.step` computes on
the same synapses (an `ELL` pre-major layout of the matrix), clipping only the synapses
of neurons that spiked, as the event path does.
"""

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from ._traces import add_spikes, decay
from ._triplet import TripletSTDP, TripletSTDPState

POST_CHUNK = 4  # postsynaptic columns updated per pass


def spike_indices(spikes: Bool[Array, "*steps n"], k: int) -> Int[Array, "*steps k"]:
    """The indices of the spiking neurons of each step, padded with `n` to length `k`.

    Steps with more than `k` spikes keep their first `k` (check `spikes.sum(-1) > k` and
    fall back to the dense path for them, as `dense_stdp_step` does).

    **Arguments:**

    - `spikes`: bool spikes, `(n,)` or `(steps, n)`.
    - `k`: the list length.

    **Returns:** int32 indices `(..., k)`.

    >>> import jax.numpy as jnp
    >>> spike_indices(jnp.array([False, True, False, True]), 3).tolist()
    [1, 3, 4]
    """
    n = spikes.shape[-1]
    flat = spikes.reshape(-1, n)
    idx = jax.vmap(lambda s: jnp.nonzero(s, size=k, fill_value=n)[0])(flat)
    return idx.astype(jnp.int32).reshape(*spikes.shape[:-1], k)


def chunked(mask: Bool[Array, " n"], k: int, body, carry):
    """`carry = body(carry, ids)` for the indices of `mask`, `k` at a time (the last chunk
    padded with `n`, which `body` must drop).

    The first pass always runs, outside any loop, and further passes (more than `k`
    indices) run in a `fori_loop`: with the first pass inside the loop, a 784 x 6400
    step that took the loop cost about 1 ms more (a copy of the matrix, we think). A caller
    whose mask is usually empty puts the call under a `lax.cond`, as the column updates
    here do.
    """
    n = mask.shape[0]
    ids_all = jnp.nonzero(mask, size=n + k, fill_value=n)[0].astype(jnp.int32)
    n_chunks = (jnp.sum(mask) + k - 1) // k

    def one(c, carry):
        return body(carry, jax.lax.dynamic_slice(ids_all, (c * k,), (k,)))

    carry = body(carry, ids_all[:k])
    return jax.lax.fori_loop(1, n_chunks, one, carry)


def transmit_dense(
    w: Float[Array, "n_pre n_post"], pre_spikes: Array, k: int
) -> Float[Array, " n_post"]:
    """`pre_spikes @ w`: the sum of the rows of the inputs that spiked, `k` at a time
    (`chunked`), or under `vmap` the product.

    A step of Diehl & Cook's network has a few input spikes out of 784: reading their
    rows is about 10x faster than the product at 784 x 6400 on one core. A batch of steps
    (under `vmap`) is a matrix product instead, which at 100 neurons and 100 images costs
    half as much as the batched passes.

    **Arguments:**

    - `w`: `(n_pre, n_post)` weights.
    - `pre_spikes`: `(n_pre,)` this step's presynaptic spikes (bool or 0/1 floats).
    - `k`: rows per pass.

    **Returns:** `(n_post,)` summed input.
    """
    return _transmit(k)(w, pre_spikes)


@functools.cache
def _transmit(k: int):
    """`transmit_dense` for `k` rows per pass (`custom_vmap` traces every argument, so
    the static `k` is closed over)."""

    @jax.custom_batching.custom_vmap
    def rows(w, pre_spikes):
        def add_rows(x, ids):
            return x + jnp.sum(w.at[ids].get(mode="fill", fill_value=0), axis=0)

        zero = jnp.zeros((w.shape[1],), w.dtype)
        return chunked(pre_spikes.astype(bool), k, add_rows, zero)

    @rows.def_vmap
    def product(axis_size, in_batched, w, pre_spikes):
        w_batched, spikes_batched = in_batched
        s = pre_spikes.astype(w.dtype)
        if not spikes_batched:
            s = jnp.broadcast_to(s, (axis_size, *s.shape))
        return (jnp.einsum("bi,bij->bj", s, w) if w_batched else s @ w), True

    return rows


def dense_stdp_step(
    rule: TripletSTDP,
    state: TripletSTDPState,
    w: Float[Array, "n_pre n_post"],
    pre_idx: Int[Array, " k"] | None,
    pre_spikes: Array | None,
    post_spikes: Array,
    dt,
) -> tuple[TripletSTDPState, Float[Array, "n_pre n_post"], Float[Array, " n_post"]]:
    """Transmit this step's presynaptic spikes through `w`, then apply `rule`.

    Equal to `TripletSTDP.step` on the matrix's synapses (event path: only synapses of
    spiking neurons change and are clipped), and the input is computed with the weights
    before the change, as `PlasticProjection.update_plastic` does. A pair rule is the
    triplet rule with `a3_plus = a3_minus = 0`.

    Cost: the `k` listed rows are gathered and written back each step; the columns of
    the postsynaptic neurons that spiked (all `n_pre` synapses of each, `POST_CHUNK` at
    a time) only in steps with a postsynaptic spike. A step with more than `k`
    presynaptic spikes takes further passes (same result).

    **Arguments:**

    - `rule`: a `TripletSTDP` with scalar bounds.
    - `state`: its traces; `w`: `(n_pre, n_post)` weights.
    - `pre_idx`: `(k,)` `spike_indices(pre_spikes, k)`; `None` with `pre_spikes=None`
      for a step without presynaptic spikes (a resting period).
    - `pre_spikes`: `(n_pre,)` bool or 0/1 spikes, or `None`.
    - `post_spikes`: `(n_post,)` bool or 0/1 spikes.
    - `dt`: the step (ms).

    **Returns:** `(state, w, input)` with `input` the `(n_post,)` transmitted sum.
    """
    if jnp.ndim(rule.w_min) or jnp.ndim(rule.w_max):
        raise ValueError("dense_stdp_step needs scalar w_min and w_max")
    dtype = w.dtype
    n_pre, n_post = w.shape
    s_post = post_spikes.astype(dtype)
    r1 = decay(state.r1, rule.tau_plus, dt)
    r2 = decay(state.r2, rule.tau_x, dt)
    o1 = decay(state.o1, rule.tau_minus, dt)
    o2 = decay(state.o2, rule.tau_y, dt)
    post_gain = s_post * (rule.a2_plus + rule.a3_plus * o2)
    lo, hi = rule.w_min, rule.w_max

    if pre_spikes is None:
        x = jnp.zeros((n_post,), dtype)
        s_pre = jnp.zeros((n_pre,), dtype)
    else:
        if pre_idx is None:
            raise ValueError("pre_idx is required with pre_spikes")
        s_pre = pre_spikes.astype(dtype)
        pre_loss = s_pre * (rule.a2_minus + rule.a3_minus * r2)
        k = pre_idx.shape[0]

        def rows_update(w, x, ids):
            # the rows of the spiking inputs: transmit with the old weights, then
            # clip(w + potentiation + depression), the rule's order of operations
            rows = w.at[ids].get(mode="fill", fill_value=0)
            x = x + jnp.sum(rows, axis=0)
            r1_rows = r1.at[ids].get(mode="fill", fill_value=0)
            loss = pre_loss.at[ids].get(mode="fill", fill_value=0)
            rows = rows + r1_rows[:, None] * post_gain[None, :]
            rows = jnp.clip(rows - loss[:, None] * o1[None, :], lo, hi)
            return w.at[ids].set(rows, mode="drop"), x

        w, x = rows_update(w, jnp.zeros((n_post,), dtype), pre_idx)
        # more than k spiking inputs: the rest in further passes of k (rare; no copy of
        # w as a lax.cond over it would make)
        n_chunks = (jnp.sum(s_pre > 0) + k - 1) // k

        def more(c, carry):
            ids = jnp.nonzero(s_pre > 0, size=n_pre + k, fill_value=n_pre)[0]
            ids = jax.lax.dynamic_slice(ids, (c * k,), (k,))
            return rows_update(*carry, ids)

        w, x = jax.lax.fori_loop(1, n_chunks, more, (w, x))
    # the columns of spiking excitatory neurons, except rows done above
    spiked_row = (s_pre > 0)[:, None]

    def columns(w, ids):
        cols = w.at[:, ids].get(mode="fill", fill_value=0)
        gain = post_gain.at[ids].get(mode="fill", fill_value=0)
        cols = jnp.where(spiked_row, cols, cols + r1[:, None] * gain[None, :])
        return w.at[:, ids].set(jnp.clip(cols, lo, hi), mode="drop")

    w = jax.lax.cond(
        jnp.any(s_post > 0), lambda w: chunked(s_post > 0, POST_CHUNK, columns, w), lambda w: w, w
    )
    new = TripletSTDPState(
        add_spikes(r1, s_pre, rule.pairing),
        add_spikes(r2, s_pre, rule.pairing),
        add_spikes(o1, s_post, rule.pairing),
        add_spikes(o2, s_post, rule.pairing),
    )
    return new, w, x
