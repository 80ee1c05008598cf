"""Trace STDP on a dense all-to-all matrix whose synapses have their own transmission delays.

Diehl & Cook's Brian code gives every input -> excitatory synapse a random delay between
0 and 10 ms (a Brian 1 `DelayConnection` with `STDP`). A spike of input `i` emitted at
step `t` reaches synapse `(i, j)` at step `t + d[i, j]`, and the synapse learns from that
arrival, not from the emission:

- the input it transmits is the weight at emission, added to a ring buffer of future
  input `due` (`(D, n_post)`, `D = max delay + 1` steps);
- it depresses at arrival by the postsynaptic trace of the arrival step,
  `w -= o1(t + d) (A2- + A3- r2(t))` (`r2` of the emission: the synapse's delayed trace
  at arrival is the emitter's at emission);
- a postsynaptic spike at step `t` potentiates by the synapse's delayed presynaptic trace,
  `w += r1(t - d) (A2+ + A3+ o2(t))`.

As in Brian 1, the depression of a spike is applied once all of its arrivals have
happened, `D - 1` steps after its emission, with the trace values recorded at each
arrival (`DelayLine.o1`); the potentiation reads the presynaptic traces of the last `D`
steps (`DelayLine.r1`). Without clipping, the weights after the last arrival equal those of a
per-synapse simulation of the delayed spike trains, in which each synapse keeps its own
traces; the input transmitted in between sees a depression only once it is applied.
`tests/plasticity/test_dc_delayed.py` checks both against a plain loop over synapses.
Traces are read after their decay and before the step's spikes, as everywhere in
`brainsim.plasticity`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from ._dc_dense import POST_CHUNK, chunked
from ._traces import add_spikes, decay
from ._triplet import TripletSTDP, TripletSTDPState


class DelayLine(eqx.Module):
    """Per-synapse delays `(n_pre, n_post)` (steps) and the buffers that carry spikes along.

    - `delays`: int32 steps in `0 .. D - 1`.
    - `due`: `(D, n_post)` input arriving at each of the next `D` steps (ring).
    - `spikes`: `(D, n_pre)` presynaptic spikes of the last `D` steps (ring).
    - `r1`, `r2`: `(D, n_pre)` presynaptic traces of the last `D` steps (ring).
    - `o1`: `(D, n_post)` postsynaptic trace `o1` of the last `D` steps (ring).
    - `t`: the current step's slot, `0 .. D - 1` (it wraps, so it never overflows).
    """

    delays: Int[Array, "n_pre n_post"]
    due: Float[Array, "D n_post"]
    spikes: Bool[Array, "D n_pre"]
    r1: Float[Array, "D n_pre"]
    r2: Float[Array, "D n_pre"]
    o1: Float[Array, "D n_post"]
    t: Int[Array, ""]

    @property
    def size(self) -> int:
        return self.due.shape[0]


def init_delay_line(
    n_pre: int, n_post: int, max_steps: int, *, key: PRNGKeyArray, dtype=None
) -> DelayLine:
    """Delays drawn uniformly from the integers `0 .. max_steps`, every buffer empty.

    **Arguments:**

    - `n_pre`, `n_post`: the matrix's shape.
    - `max_steps`: the longest delay in steps (`>= 0`).
    - `key`: PRNG key of the delays.
    """
    if max_steps < 0:
        raise ValueError(f"max_steps: must be non-negative, got {max_steps}")
    dtype = dtype or jnp.result_type(float)
    size = max_steps + 1
    delays = jr.randint(key, (n_pre, n_post), 0, size, jnp.int32)
    return empty_delay_line(delays, size, dtype)


def empty_delay_line(delays: Int[Array, "n_pre n_post"], size: int, dtype) -> DelayLine:
    """A `DelayLine` with these delays and nothing in flight."""
    n_pre, n_post = delays.shape
    return DelayLine(
        delays=delays,
        due=jnp.zeros((size, n_post), dtype),
        spikes=jnp.zeros((size, n_pre), bool),
        r1=jnp.zeros((size, n_pre), dtype),
        r2=jnp.zeros((size, n_pre), dtype),
        o1=jnp.zeros((size, n_post), dtype),
        t=jnp.zeros((), jnp.int32),
    )


def delayed_transmit(
    w: Float[Array, "n_pre n_post"],
    line: DelayLine,
    pre_spikes: Array | None,
    k: int,
) -> tuple[DelayLine, Float[Array, " n_post"]]:
    """Send this step's presynaptic spikes down the delay line and take what arrives now.

    **Arguments:**

    - `w`: the weights (the input carries the weight at emission).
    - `line`: the `DelayLine`; `pre_spikes`: `(n_pre,)` bool or 0/1, or `None` (no input).
    - `k`: spikes handled per pass (more take further passes; same result).

    **Returns:** `(line, input)`: the line advanced by one step and the `(n_post,)` input
    arriving in this step.
    """
    size = line.size
    slot = line.t % size
    cols = jnp.arange(w.shape[1], dtype=jnp.int32)[None, :]
    due = line.due
    if pre_spikes is not None:

        def send(due, ids):
            rows = w.at[ids].get(mode="fill", fill_value=0)
            d = line.delays.at[ids].get(mode="fill", fill_value=0)
            return due.at[(slot + d) % size, cols].add(rows, mode="drop")

        due = chunked(pre_spikes.astype(bool), k, send, due)
    x = due[slot]
    due = due.at[slot].set(0)
    return eqx.tree_at(lambda ln: (ln.due, ln.t), line, (due, (line.t + 1) % size)), x


def delayed_stdp_step(
    rule: TripletSTDP,
    state: TripletSTDPState,
    w: Float[Array, "n_pre n_post"],
    line: DelayLine,
    pre_spikes: Array | None,
    post_spikes: Array,
    dt,
    k: int,
) -> tuple[TripletSTDPState, Float[Array, "n_pre n_post"], DelayLine, Float[Array, " n_post"]]:
    """One step of `rule` on a dense matrix with per-synapse delays (module docstring).

    **Arguments:**

    - `rule`: a `TripletSTDP` with scalar bounds; `state`: its (undelayed) traces.
    - `w`: `(n_pre, n_post)` weights; `line`: the `DelayLine`.
    - `pre_spikes`: `(n_pre,)` bool or 0/1 spikes emitted in this step, or `None`.
    - `post_spikes`: `(n_post,)` bool or 0/1 spikes.
    - `dt`: the step (ms); `k`: presynaptic spikes handled per pass.

    **Returns:** `(state, w, line, input)` with `input` the `(n_post,)` input arriving now.
    """
    if jnp.ndim(rule.w_min) or jnp.ndim(rule.w_max):
        raise ValueError("delayed_stdp_step needs scalar w_min and w_max")
    dtype = w.dtype
    n_pre, n_post = w.shape
    size = line.size
    slot = line.t % size
    lo, hi = rule.w_min, rule.w_max
    s_post = post_spikes.astype(dtype)
    s_pre = jnp.zeros((n_pre,), dtype) if pre_spikes is None else pre_spikes.astype(dtype)
    r1 = decay(state.r1, rule.tau_plus, dt)
    r2 = decay(state.r2, rule.tau_x, dt)
    o1 = decay(state.o1, rule.tau_minus, dt)
    o2 = decay(state.o2, rule.tau_y, dt)
    line, x = delayed_transmit(w, line, pre_spikes, k)  # the input uses the old weights
    line = eqx.tree_at(
        lambda ln: (ln.spikes, ln.r1, ln.r2, ln.o1),
        line,
        (
            line.spikes.at[slot].set(s_pre > 0),
            line.r1.at[slot].set(r1),
            line.r2.at[slot].set(r2),
            line.o1.at[slot].set(o1),
        ),
    )
    rows_ix = jnp.arange(n_pre, dtype=jnp.int32)[:, None]
    cols = jnp.arange(n_post, dtype=jnp.int32)[None, :]

    # potentiation of the columns that spiked: each synapse reads its presynaptic trace
    # `d` steps back
    post_gain = s_post * (rule.a2_plus + rule.a3_plus * o2)

    def potentiate(w, ids):
        d = line.delays.at[:, ids].get(mode="fill", fill_value=0)
        r1_seen = line.r1[(slot - d) % size, rows_ix]
        gain = post_gain.at[ids].get(mode="fill", fill_value=0)
        cols = w.at[:, ids].get(mode="fill", fill_value=0) + r1_seen * gain[None, :]
        return w.at[:, ids].set(jnp.clip(cols, lo, hi), mode="drop")

    w = jax.lax.cond(
        jnp.any(s_post > 0),
        lambda w: chunked(s_post > 0, POST_CHUNK, potentiate, w),
        lambda w: w,
        w,
    )

    # depression of the spikes emitted D - 1 steps ago, now arrived at every synapse
    old = (slot + 1) % size

    def depress(w, ids):
        d = line.delays.at[ids].get(mode="fill", fill_value=0)
        o1_seen = line.o1[(old + d) % size, cols]
        loss = rule.a2_minus + rule.a3_minus * line.r2[old].at[ids].get(mode="fill", fill_value=0)
        rows = w.at[ids].get(mode="fill", fill_value=0)
        rows = jnp.clip(rows - loss[:, None] * o1_seen, lo, hi)
        return w.at[ids].set(rows, mode="drop")

    w = chunked(line.spikes[old], k, depress, w)  # with D = 1, `old` is this step
    new = TripletSTDPState(
        add_spikes(r1, s_pre, rule.pairing),
        add_spikes(r2, s_pre, rule.pairing),
        add_spikes(o1, s_post, rule.pairing),
        add_spikes(o2, s_post, rule.pairing),
    )
    return new, w, line, x
