"""The liquid of a liquid state machine (Maass et al. 2002), as Ivanov & Michmizos
(NeurIPS 2021) build it for the LSM and the NALSM.

- `n_liquid` LIF neurons sit on a 3-D integer grid, 80 % excitatory and 20 % inhibitory
  at random positions. A pair (pre `a`, post `b`), `a != b`, connects with probability
  `C[type(a), type(b)] * exp(-(D(a, b) / lam)^2)`, `(C_EE, C_EI, C_IE, C_II) =
  (0.2, 0.1, 0.3, 0.05)`, `lam = 3`.
- `n_input` input neurons (one per pixel, or per pixel and polarity) project onto
  exactly `round(p_input * n_input * n_liquid)` random (input, liquid) pairs, with a
  random sign.
- Neurons (input neurons too): `v <- v - v dt / tau_v + I`, threshold 20, reset to 0,
  2 ms refractory (no spike, integration continues), `tau_v = 64` ms. An input neuron
  receives `input_current = 100` in the steps its drive is 1.
- Synapse `j -> i`: only the last spike of `j` counts; it delivers
  `w_ij exp(-s_j / tau_u,i) / tau_u,i`, `s_j` the time since that spike (reset to 0 in
  the spike step, then `+dt`, clipped at 100 ms; 20 ms at the start of a sample).
  `tau_u` is drawn per postsynaptic neuron from {1, 2} ms, as in the reference code.
- Order within a step: spikes (`v >= v_th`, not refractory), reset, synaptic timers of
  the spiking neurons to 0, membrane update, timers `+dt`, refractory countdown, then
  STDP and the astrocyte.

Plasticity is `brainsim.plasticity.PairSTDP` (the NALSM traces `x <- d (x + 0.1 S)` are
ours scaled by 0.1, so the rates are multiplied by 0.1), with the depression rate taken
from a `NALSMAstrocyte` (or fixed, the LSM+STDP ablation). Rates fade by `rate_decay`
per step (0.99 in the paper's feature runs): all of `a_plus`, the astrocyte's state,
weight and bias are multiplied by it, which equals scaling the undecayed rates by
`rate_decay^t`.

Synapses are stored post-major with a fixed width (`(n_liquid, max_in_degree)`, padded
with zero-weight synapses whose bounds are `[0, 0]`), so a step is one gather and a row
sum, and the per-sample weights of a plastic run batch cleanly under `vmap`.
"""

import math
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from ..astrocytes._nalsm import NALSMAstrocyte, NALSMAstrocyteState
from ..connect import distance_dependent, grid_positions
from ..core._abstract import AbstractDynamics
from ..core._errors import check_positive, check_probability
from ..plasticity import PairSTDP, PairSTDPState
from ..plasticity._events import EventIndex

# NALSM's trace is ours scaled by this factor (x <- d (x + 0.1 S)).
TRACE_SCALE = 0.1


class LiquidState(eqx.Module):
    """State of one liquid run (input neurons first, then liquid neurons).

    - `v`, `refractory` (ms left), `timer` (ms since the last spike, clipped): per neuron,
      `(n_input + n_liquid,)`.
    - `w`: the current weights `(n_liquid, width)` (post-major, padded).
    - `stdp`: the traces of the rule (or `None`); `astro`: the astrocyte state (or `None`).
    - `rate_scale`: the factor on every plastic rate this step (`rate_decay^t`).
    - `counts`: liquid spike counts so far, `(n_liquid,)`.
    """

    v: Float[Array, " n"]
    refractory: Float[Array, " n"]
    timer: Float[Array, " n"]
    w: Float[Array, "n_liquid width"]
    stdp: PairSTDPState | None
    astro: NALSMAstrocyteState | None
    rate_scale: Float[Array, ""]
    counts: Float[Array, " n_liquid"]


class Liquid(AbstractDynamics):
    """A liquid (input layer plus LIF liquid) as a dynamical system.

    Build one with `build_liquid`. `step(state, drive, t, dt)` takes the input neurons'
    drive for the step (`(n_input,)`, 0/1 or event counts clipped to 1: the input neuron
    receives `input_current` when it is 1) and returns `(state, {"input": s_in,
    "liquid": s_liq})` as 0/1 floats. The liquid spike counts accumulate in `state.counts`.

    With `rule` (a `PairSTDP`) the weights in the state learn each step; with `astrocyte`
    the rule's depression rate is the astrocyte state (times `TRACE_SCALE`), else the
    fixed `rule.a_minus`.
    """

    pre: Int[Array, "n_liquid width"]
    gather: Int[Array, "n_liquid width"]
    post: Int[Array, "n_liquid width"]
    w0: Float[Array, "n_liquid width"]
    w_min: Float[Array, "n_liquid width"]
    w_max: Float[Array, "n_liquid width"]
    valid: Bool[Array, "n_liquid width"]
    tau_u: Float[Array, " n_liquid"]
    inhibitory: Bool[Array, " n_liquid"]
    positions: Int[Array, "n_liquid 3"]
    tau_v: Float[Array, ""]
    v_th: Float[Array, ""]
    t_ref: Float[Array, ""]
    input_current: Float[Array, ""]
    timer_init: Float[Array, ""]
    timer_max: Float[Array, ""]
    rule: PairSTDP | None
    astrocyte: NALSMAstrocyte | None
    rate_decay: Float[Array, ""]
    n_input: int = eqx.field(static=True)
    n_liquid: int = eqx.field(static=True)
    grid: tuple[int, int, int] = eqx.field(static=True)
    tau_values: tuple[float, ...] = eqx.field(static=True)
    w_dense: tuple[Array, ...] | None = None
    dense_order: Int[Array, " n_liquid"] | None = None
    w_rest: Float[Array, "n_liquid rest_width"] | None = None
    rest_gather: Int[Array, "n_liquid rest_width"] | None = None
    events: EventIndex | None = None

    def init_state(self, *, key: Any = None, w: Array | None = None) -> LiquidState:
        """A fresh sample: `v = 0`, not refractory, timers at `timer_init`, counts 0.

        **Arguments:**

        - `key`: unused (the liquid's state is deterministic).
        - `w`: start from these weights instead of `w0` (e.g. after an initialisation
          phase).
        """
        del key
        if w is not None and self.w_dense is not None:
            raise ValueError("w: a liquid with dense weights runs its own w0; use with_weights")
        n = self.n_input + self.n_liquid
        dtype = self.w0.dtype
        zeros = jnp.zeros((n,), dtype)
        stdp = None
        if self.rule is not None:
            stdp = self.rule.init_state(n, self.n_liquid, self.pre.shape, dtype)
        astro = None if self.astrocyte is None else self.astrocyte.init_state()
        return LiquidState(
            v=zeros,
            refractory=zeros,
            timer=jnp.full((n,), self.timer_init, dtype),
            w=self.w0 if w is None else jnp.asarray(w, dtype),
            stdp=stdp,
            astro=astro,
            rate_scale=jnp.ones((), dtype),
            counts=jnp.zeros((self.n_liquid,), dtype),
        )

    def min_time_constant(self) -> Array:
        return jnp.min(self.tau_u)

    @property
    def populations(self) -> dict[str, int]:
        """The two populations and their sizes (what `SpikeMonitor("liquid")` names)."""
        return {"input": self.n_input, "liquid": self.n_liquid}

    def reset(self, state: LiquidState) -> LiquidState:
        """Start a new sample keeping the weights and STDP traces (as the reference code
        does between samples): neurons, timers, astrocyte, rate scale and counts reset."""
        fresh = self.init_state(w=state.w)
        return eqx.tree_at(lambda s: s.stdp, fresh, state.stdp, is_leaf=lambda x: x is None)

    def synaptic_input(self, timer: Array, w: Array) -> Float[Array, " n_liquid"]:
        """`sum_j w_ij exp(-s_j / tau_u,i) / tau_u,i` for every liquid neuron `i`.

        A liquid from `with_dense_weights` reads its frozen weights (not `w`): the
        input synapses (and the liquid ones, where that pays) as one dense product per
        synaptic time constant, the rest by gather. Otherwise the sum is a gather over
        the padded synapse table `w`.
        """
        # Beyond 80 ms a kernel is below 2e-35 (and would turn denormal, which is slow on
        # CPUs): it is taken as 0.
        live = timer < 80.0
        kernels = [jnp.where(live, jnp.exp(-timer / tau) / tau, 0.0) for tau in self.tau_values]
        if self.w_dense is None or self.dense_order is None:
            table = jnp.concatenate(kernels)
            return jnp.sum(w * table[self.gather], axis=1)
        n_dense = self.w_dense[0].shape[0]
        parts = [k[:n_dense] @ m for k, m in zip(kernels, self.w_dense)]
        out = jnp.concatenate(parts)[self.dense_order]
        if self.w_rest is not None and self.rest_gather is not None:
            table = jnp.concatenate([k[self.n_input :] for k in kernels])
            out = out + jnp.sum(self.w_rest * table[self.rest_gather], axis=1)
        return out

    def _block_pays(self, n_sources: int, n_synapses: int) -> bool:
        # A dense product costs a multiply-add per (source, target) pair, but on a CPU
        # it runs so much faster per entry than the gather that it pays down to about
        # 1 synapse in 100 pairs (measured, 1000-neuron liquid, liquid block 1 in 60:
        # dense 7.35 against 7.99 ms per sample on an idle core, 1.6x under load; the
        # 8000-neuron one's, 1 in 360, is left to the gather).
        return n_sources * self.n_liquid <= 100 * n_synapses

    def dense_pays(self) -> bool:
        """Whether `with_dense_weights` makes this liquid's static runs faster: when its
        input synapses are dense enough for a dense product (1 pair in 100 or more; the
        paper's 15 % are)."""
        pre, valid = np.asarray(self.pre), np.asarray(self.valid)
        return self._block_pays(self.n_input, int((valid & (pre < self.n_input)).sum()))

    def with_dense_weights(self, liquid_block: bool | None = None) -> "Liquid":
        """The same static liquid with its weights `w0` also held as one dense matrix
        per synaptic time constant, which `synaptic_input` then uses.

        The input synapses always go into the dense matrices. The liquid -> liquid ones
        do too with `liquid_block=True`; with `False` they keep a gather table of their
        own; `None` chooses dense when at least 1 pair in 100 is a synapse (the
        1000-neuron liquid has about 1 in 60 and runs 8 % faster dense than with the
        gather on an idle core; the 8000-neuron one has 1 in 360 and keeps the gather,
        8.5x faster than gathering every synapse, measured under load). The synapses
        and results do not change (up to the order of float additions). Call it outside
        `jit` (it reads the weights with numpy); a plastic liquid raises `ValueError`
        (its weights change every step).
        """
        if self.rule is not None:
            raise ValueError("with_dense_weights: the liquid is plastic; dense weights are static")
        pre, w0, valid = (np.asarray(a) for a in (self.pre, self.w0, self.valid))
        n_in, n_liq = self.n_input, self.n_liquid
        from_liquid = valid & (pre >= n_in)
        if liquid_block is None:
            liquid_block = self._block_pays(n_liq, int(from_liquid.sum()))
        dense_sel = valid if liquid_block else valid & (pre < n_in)
        n_dense = n_in + n_liq if liquid_block else n_in
        rows = np.broadcast_to(np.arange(n_liq)[:, None], pre.shape)
        dense = np.zeros((n_dense, n_liq), w0.dtype)
        np.add.at(dense, (pre[dense_sel], rows[dense_sel]), w0[dense_sel])
        # which of `tau_values` each target uses, as `build_liquid` offset the gather
        tau_index = np.asarray(self.gather)[:, 0] // (n_in + n_liq)
        groups = [np.flatnonzero(tau_index == g) for g in range(len(self.tau_values))]
        order = np.argsort(np.concatenate(groups))
        mats = tuple(jnp.asarray(dense[:, g]) for g in groups)
        w_rest = rest_gather = None
        if not liquid_block:
            # the liquid synapses, packed to the left of a table of their own width
            degree = from_liquid.sum(axis=1)
            width = max(int(degree.max()) if degree.size else 0, 1)
            slot = np.cumsum(from_liquid, axis=1) - 1
            r, c = np.nonzero(from_liquid)
            table = np.zeros((n_liq, width), np.int64)
            weights = np.zeros((n_liq, width), w0.dtype)
            table[r, slot[r, c]] = pre[r, c] - n_in + n_liq * tau_index[r]
            weights[r, slot[r, c]] = w0[r, c]
            w_rest, rest_gather = jnp.asarray(weights), jnp.asarray(table, jnp.int32)
        return eqx.tree_at(
            lambda m: (m.w_dense, m.dense_order, m.w_rest, m.rest_gather),
            self,
            (mats, jnp.asarray(order, jnp.int32), w_rest, rest_gather),
            is_leaf=lambda x: x is None,
        )

    def without_dense_weights(self) -> "Liquid":
        """The same liquid computing its input by gather from the synapse table."""
        if self.w_dense is None:
            return self
        return eqx.tree_at(
            lambda m: (m.w_dense, m.dense_order, m.w_rest, m.rest_gather),
            self,
            (None, None, None, None),
            is_leaf=lambda x: x is None,
        )

    def step(
        self, state: LiquidState, inputs: Any, t: Any, dt: Any
    ) -> tuple[LiquidState, dict[str, Array]]:
        dtype = state.v.dtype
        dt = jnp.asarray(dt, dtype)
        drive = jnp.minimum(jnp.asarray(inputs, dtype), 1.0)
        spikes = (state.v >= self.v_th) & (state.refractory <= 0)
        v = jnp.where(spikes, 0.0, state.v)
        timer = jnp.where(spikes, 0.0, state.timer)
        syn = self.synaptic_input(timer, state.w)
        current = jnp.concatenate([self.input_current * drive, syn])
        v = v - v * dt / self.tau_v + current
        timer = jnp.minimum(timer + dt, self.timer_max)
        refractory = jnp.where(spikes, self.t_ref, jnp.maximum(state.refractory - dt, 0.0))
        s_in, s_liq = spikes[: self.n_input], spikes[self.n_input :]
        w, stdp, astro = state.w, state.stdp, state.astro
        if self.rule is not None and stdp is not None:
            a_plus = self.rule.a_plus * state.rate_scale
            if self.astrocyte is not None and astro is not None:
                a_minus = TRACE_SCALE * astro.a * state.rate_scale
            else:
                a_minus = self.rule.a_minus * state.rate_scale
            stdp, w = self.rule.step(
                stdp,
                w,
                self.pre,
                self.post,
                spikes,
                s_liq,
                dt,
                modulation=(a_plus, a_minus),
                index=self.events,
            )
        if self.astrocyte is not None and astro is not None:
            astro, _ = self.astrocyte.step(astro, (s_liq, s_in), t, dt)
        new = LiquidState(
            v=v,
            refractory=refractory,
            timer=timer,
            w=w,
            stdp=stdp,
            astro=astro,
            rate_scale=state.rate_scale * self.rate_decay,
            counts=state.counts + s_liq.astype(dtype),
        )
        return new, {"input": s_in.astype(dtype), "liquid": s_liq.astype(dtype)}

    def with_plasticity(
        self,
        rule: PairSTDP | None,
        astrocyte: NALSMAstrocyte | None = None,
        rate_decay: float = 1.0,
    ) -> "Liquid":
        """The same liquid with another rule, astrocyte and rate decay (`None`: static)."""
        if not 0.0 <= rate_decay <= 1.0:
            raise ValueError(f"rate_decay must lie in [0, 1], got {rate_decay!r}")
        if astrocyte is not None and rule is None:
            raise ValueError("astrocyte: needs a rule (the astrocyte sets its depression rate)")
        base = self.without_dense_weights()
        if rule is None:
            base = base.without_event_updates()
        return eqx.tree_at(
            lambda m: (m.rule, m.astrocyte, m.rate_decay),
            base,
            (rule, astrocyte, jnp.asarray(rate_decay, self.w0.dtype)),
            is_leaf=lambda x: x is None,
        )

    def with_event_updates(self, pre_chunk: int = 64, post_chunk: int = 32) -> "Liquid":
        """The same plastic liquid updating only the synapses of the neurons that spiked
        in each step (an `EventIndex`) instead of masking over every synapse.

        Same weights up to the order of float additions. Each step handles the spiking
        sources `pre_chunk` at a time and the spiking liquid neurons `post_chunk` at a
        time. `without_event_updates` goes back.
        """
        if self.rule is None:
            raise ValueError("with_event_updates: the liquid is static (no rule to apply)")
        index = EventIndex(
            np.asarray(self.pre),
            np.asarray(self.post),
            self.n_input + self.n_liquid,
            self.n_liquid,
            pre_chunk=pre_chunk,
            post_chunk=post_chunk,
            valid=np.asarray(self.valid),
        )
        return eqx.tree_at(lambda m: m.events, self, index, is_leaf=lambda x: x is None)

    def without_event_updates(self) -> "Liquid":
        """The same liquid with its plasticity masked over every synapse."""
        return eqx.tree_at(lambda m: m.events, self, None, is_leaf=lambda x: x is None)

    def with_weights(self, w: Array) -> "Liquid":
        """The same liquid starting from weights `w` (`(n_liquid, width)`)."""
        if np.shape(w) != self.w0.shape:
            raise ValueError(f"w must have shape {self.w0.shape}, got {np.shape(w)}")
        fresh = self.without_dense_weights()
        return eqx.tree_at(lambda m: m.w0, fresh, jnp.asarray(w, self.w0.dtype))

    def connection_lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The real (unpadded) synapses as numpy `(pre, post, weight)`; `pre` counts input
        neurons first (`< n_input`), then liquid neurons."""
        valid = np.asarray(self.valid)
        return (
            np.asarray(self.pre)[valid],
            np.asarray(self.post)[valid],
            np.asarray(self.w0)[valid],
        )


def nalsm_stdp(
    liquid: Liquid, *, a_plus: float = 0.15, a_minus: float | None = None, tau: float = 10.0
) -> PairSTDP:
    """NALSM's trace STDP on `liquid`'s synapses, as a `PairSTDP`.

    Rates are the paper's (`a_plus = 0.15`; `a_minus` defaults to it, the LSM+STDP
    ablation) times `TRACE_SCALE`; the mirrored rule applies to inhibitory presynaptic
    neurons; bounds per synapse are E -> [0, w_max], I -> [-w_max, 0], input ->
    [-w_max, w_max] as the liquid was built.
    """
    a_minus = a_plus if a_minus is None else a_minus
    inh_pre = jnp.concatenate([jnp.zeros((liquid.n_input,), bool), liquid.inhibitory])
    return PairSTDP(
        a_plus=TRACE_SCALE * a_plus,
        a_minus=TRACE_SCALE * a_minus,
        tau_plus=tau,
        tau_minus=tau,
        w_min=liquid.w_min,
        w_max=liquid.w_max,
        pairing="all",
        inhibitory_pre=inh_pre,
    )


def _check_c(c: Any) -> tuple[float, float, float, float]:
    if len(tuple(c)) != 4:
        raise ValueError(f"c must hold four probabilities (C_EE, C_EI, C_IE, C_II), got {c!r}")
    for name, value in zip(("C_EE", "C_EI", "C_IE", "C_II"), c):
        check_probability(f"c ({name})", value)
    return tuple(float(x) for x in c)  # type: ignore[return-value]


def build_liquid(
    *,
    n_liquid: int = 1000,
    grid: tuple[int, int, int] = (10, 10, 10),
    n_input: int = 784,
    frac_excitatory: float = 0.8,
    c: tuple[float, float, float, float] = (0.2, 0.1, 0.3, 0.05),
    lam: float = 3.0,
    p_input: float = 0.15,
    w_liquid: float = 3.0,
    w_input: float = 3.0,
    w_max: float = 3.0,
    tau_v: float = 64.0,
    v_th: float = 20.0,
    t_ref: float = 2.0,
    tau_u_values: tuple[float, ...] = (1.0, 2.0),
    input_current: float = 100.0,
    seed: int | np.random.Generator = 0,
    dtype: Any = None,
) -> Liquid:
    """Build a liquid with the connection rule of Ivanov & Michmizos (2021).

    **Arguments:**

    - `n_liquid`: number of liquid neurons; must equal `prod(grid)`.
    - `grid`: the 3-D grid, e.g. `(10, 10, 10)` (1000 neurons) or `(20, 20, 20)`.
    - `n_input`: input neurons (784 for MNIST, 2312 for N-MNIST).
    - `frac_excitatory`: fraction of excitatory liquid neurons.
    - `c`: `(C_EE, C_EI, C_IE, C_II)`, connection probability at distance 0 (pre->post).
    - `lam`: the length scale `lambda` (grid units).
    - `p_input`: fraction of (input, liquid) pairs connected.
    - `w_liquid`, `w_input`: initial weight magnitudes (the paper starts plastic liquids
      at the maximum, 3; a plain LSM uses one hand-tuned value, about 0.7-0.8).
    - `w_max`: the weight bound for plasticity (E in [0, w_max], I in [-w_max, 0],
      input in [-w_max, w_max]).
    - `tau_v` (ms), `v_th`, `t_ref` (ms), `input_current`: neuron parameters.
    - `tau_u_values`: synaptic time constants (ms) drawn uniformly per postsynaptic neuron.
    - `seed`: int or numpy `Generator`.
    - `dtype`: float dtype of the arrays (default: JAX's default float).

    **Returns:** a `Liquid` with no plasticity (add it with `Liquid.with_plasticity`).

    >>> liquid = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=4, seed=0)
    >>> liquid.w0.shape[0], liquid.n_input
    (27, 4)
    """
    grid = tuple(int(g) for g in grid)  # type: ignore[assignment]
    if len(grid) != 3 or any(g < 1 for g in grid):
        raise ValueError(f"grid must be three positive integers, got {grid!r}")
    if n_liquid != math.prod(grid):
        raise ValueError(
            f"n_liquid ({n_liquid}) must equal the number of grid points {grid} ({math.prod(grid)})"
        )
    if not isinstance(n_input, int) or n_input < 1:
        raise ValueError(f"n_input must be a positive integer, got {n_input!r}")
    check_probability("frac_excitatory", frac_excitatory)
    cs = _check_c(c)
    check_positive("lam", lam)
    check_probability("p_input", p_input)
    for name, value in (
        ("w_liquid", w_liquid),
        ("w_input", w_input),
        ("w_max", w_max),
    ):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be non-negative and finite, got {value!r}")
    for name, value in (("tau_v", tau_v), ("v_th", v_th), ("input_current", input_current)):
        check_positive(name, value)
    if not np.isfinite(t_ref) or t_ref < 0:
        raise ValueError(f"t_ref must be non-negative and finite, got {t_ref!r}")
    tau_vals = tuple(float(x) for x in tau_u_values)
    if not tau_vals:
        raise ValueError("tau_u_values must not be empty")
    check_positive("tau_u_values", np.array(tau_vals))
    dtype = jnp.result_type(float) if dtype is None else dtype
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    pos = grid_positions(grid)  # type: ignore[arg-type]
    pos = pos[rng.permutation(n_liquid)]  # neuron k sits at a random grid point
    n_exc = int(round(frac_excitatory * n_liquid))
    inhibitory = np.zeros(n_liquid, bool)
    inhibitory[n_exc:] = True
    # Liquid -> liquid, one block per (pre type, post type).
    exc_idx, inh_idx = np.flatnonzero(~inhibitory), np.flatnonzero(inhibitory)
    pres, posts = [], []
    blocks = [(exc_idx, exc_idx, cs[0]), (exc_idx, inh_idx, cs[1])]
    blocks += [(inh_idx, exc_idx, cs[2]), (inh_idx, inh_idx, cs[3])]
    for pre_set, post_set, prob in blocks:
        if pre_set.size == 0 or post_set.size == 0:
            continue
        same = pre_set is post_set
        csr = distance_dependent(
            pos[pre_set], pos[post_set], c=prob, lam=lam, seed=rng, allow_self=not same
        )
        pres.append(pre_set[np.asarray(csr.indices)])
        posts.append(post_set[np.asarray(csr.row_ids)])
    liq_pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
    liq_post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
    liq_w = np.where(inhibitory[liq_pre], -w_liquid, w_liquid)
    liq_lo = np.where(inhibitory[liq_pre], -w_max, 0.0)
    liq_hi = np.where(inhibitory[liq_pre], 0.0, w_max)
    # Input -> liquid: exactly round(p n_in n_liq) random pairs, random signs.
    n_pairs = int(round(p_input * n_input * n_liquid))
    flat = rng.choice(n_input * n_liquid, size=n_pairs, replace=False)
    in_post, in_pre = np.divmod(flat, n_input)
    in_w = w_input * rng.choice(np.array([-1.0, 1.0]), size=n_pairs)
    # One post-major table: sources are [inputs, liquid].
    pre = np.concatenate([in_pre, n_input + liq_pre])
    post = np.concatenate([in_post, liq_post])
    w = np.concatenate([in_w, liq_w])
    lo = np.concatenate([np.full(n_pairs, -w_max), liq_lo])
    hi = np.concatenate([np.full(n_pairs, w_max), liq_hi])
    order = np.lexsort((pre, post))
    pre, post, w, lo, hi = pre[order], post[order], w[order], lo[order], hi[order]
    degree = np.bincount(post, minlength=n_liquid)
    width = max(int(degree.max()) if degree.size else 0, 1)
    slot = np.arange(post.size) - np.repeat(np.cumsum(degree) - degree, degree)
    table = np.zeros((n_liquid, width), np.int64)
    valid = np.zeros((n_liquid, width), bool)
    tables = {name: np.zeros((n_liquid, width)) for name in ("w", "lo", "hi")}
    table[post, slot] = pre
    valid[post, slot] = True
    for name, values in (("w", w), ("lo", lo), ("hi", hi)):
        tables[name][post, slot] = values
    tau_choice = rng.integers(0, len(tau_vals), size=n_liquid)
    n_src = n_input + n_liquid
    gather = table + n_src * tau_choice[:, None]
    rows = np.broadcast_to(np.arange(n_liquid)[:, None], table.shape)

    def f(x):
        return jnp.asarray(x, dtype)

    return Liquid(
        pre=jnp.asarray(table, jnp.int32),
        gather=jnp.asarray(gather, jnp.int32),
        post=jnp.asarray(rows, jnp.int32),
        w0=f(tables["w"]),
        w_min=f(tables["lo"]),
        w_max=f(tables["hi"]),
        valid=jnp.asarray(valid),
        tau_u=f(np.asarray(tau_vals)[tau_choice]),
        inhibitory=jnp.asarray(inhibitory),
        positions=jnp.asarray(pos, jnp.int32),
        tau_v=f(tau_v),
        v_th=f(v_th),
        t_ref=f(t_ref),
        input_current=f(input_current),
        timer_init=f(20.0),
        timer_max=f(100.0),
        rule=None,
        astrocyte=None,
        rate_decay=f(1.0),
        n_input=n_input,
        n_liquid=n_liquid,
        grid=grid,  # type: ignore[arg-type]
        tau_values=tau_vals,
    )
