"""A chemical projection whose weights learn by a local rule."""

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core._abstract import SynapticInput
from ..core._errors import as_param
from ..kernels import CSR, ELL
from ..network._delay import Delay, DelayState
from ..network._projection import AbstractProjection, transmit
from ..synapses._abstract import AbstractOutput, AbstractSynapse
from ._events import EventIndex
from ._homeostasis import check_normalization, normalize_incoming
from ._stdp import AbstractPlasticityRule


class PlasticProjectionState(eqx.Module):
    """Synapse state, delay line, the current per-synapse `weights` and the rule's traces."""

    synapse: Any
    delay: DelayState | None
    weights: Float[Array, "*syn"]
    rule: Any


def _in_degree(conn: CSR | ELL) -> np.ndarray:
    return np.bincount(np.asarray(conn.post_ids).reshape(-1), minlength=conn.n_post)


class PlasticProjection(AbstractProjection):
    """A projection like `Projection` whose per-synapse weights follow `rule`.

    The state holds the current weights (`state.weights`, what `WeightMonitor` records);
    `conn.weights`, clipped to the rule's bounds, are the initial ones. `update_plastic`
    transmits this step's presynaptic spikes with the current weights and then applies
    the rule to both sides' spikes; `update` transmits without learning. The rule sees
    spikes when they are emitted (at the soma), also when the projection has a delay.

    **Arguments:**

    - `pre`, `post`: population names.
    - `conn`: a `CSR` or `ELL` layout with the initial weights.
    - `synapse`, `output`: as in `Projection`.
    - `rule`: an `AbstractPlasticityRule` (`PairSTDP`, `TripletSTDP`, `ThreeFactorSTDP`).
    - `delay`: an optional `Delay`.
    - `normalization`: optional target sum of each postsynaptic neuron's incoming weights
      (applied by `normalize`, e.g. between samples); it must be reachable within the
      rule's bounds.
    - `event_chunk`: with an integer (or a `(pre, post)` pair), learning is event-driven:
      only the synapses of the neurons that spiked are touched, in passes of that many
      neurons per side (choose about the usual number of spikes per step). `None`
      (default) updates all synapses, masked by the spikes.
    - `impl`: the event kernel implementation.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    conn: CSR | ELL
    synapse: AbstractSynapse
    output: AbstractOutput
    rule: AbstractPlasticityRule
    delay: Delay | None
    normalization: Array | None
    index: EventIndex | None
    impl: str = eqx.field(static=True)
    learns: ClassVar[bool] = True

    def __init__(
        self,
        pre: str,
        post: str,
        conn: CSR | ELL,
        synapse: AbstractSynapse,
        output: AbstractOutput,
        rule: AbstractPlasticityRule,
        *,
        delay: Delay | None = None,
        normalization=None,
        event_chunk: int | tuple[int, int] | None = None,
        impl: str = "auto",
    ):
        if synapse.n != conn.n_post:
            raise ValueError(
                f"synapse size ({synapse.n}) must equal the postsynaptic size of conn "
                f"({conn.n_post})"
            )
        if delay is not None and not delay.homogeneous:
            if delay.steps.shape != conn.indices.shape:
                raise ValueError(
                    f"per-synapse delays must have the shape of conn.indices "
                    f"{tuple(conn.indices.shape)}, got {tuple(delay.steps.shape)}"
                )
        if normalization is not None:
            check_normalization(normalization, _in_degree(conn), rule.w_min, rule.w_max)
            normalization = as_param(normalization, "normalization", conn.n_post)
        self.pre, self.post, self.conn = pre, post, conn
        self.synapse, self.output, self.rule = synapse, output, rule
        self.delay, self.normalization, self.impl = delay, normalization, impl
        self.index = None
        if event_chunk is not None:
            pre_chunk, post_chunk = (
                event_chunk if isinstance(event_chunk, tuple) else (event_chunk, event_chunk)
            )
            self.index = EventIndex(
                conn.pre_ids,
                conn.post_ids,
                conn.n_pre,
                conn.n_post,
                pre_chunk=pre_chunk,
                post_chunk=post_chunk,
            )

    def min_time_constant(self) -> Any:
        taus = [self.rule.min_time_constant()]
        syn = self.synapse.min_time_constant()
        if syn is not None:
            taus.append(jnp.asarray(syn))
        return jnp.min(jnp.stack([jnp.min(t) for t in taus]))

    def init_state(self, *, key) -> PlasticProjectionState:
        w = jnp.clip(self.conn.synapse_weights(), self.rule.w_min, self.rule.w_max)
        dstate = None if self.delay is None else self.delay.init_state(self.conn.n_pre, w.dtype)
        rule = self.rule.init_state(self.conn.n_pre, self.conn.n_post, w.shape, w.dtype)
        return PlasticProjectionState(self.synapse.init_state(key=key), dstate, w, rule)

    def deliver(self, state, pre_state, post_state) -> SynapticInput:
        return self.output(self.synapse.value(state.synapse), post_state.v)

    def _transmit(self, state: PlasticProjectionState, pre_spikes: Array, t, dt):
        if self.delay is not None:
            self.delay.check_dt(dt)
        conn = self.conn.with_weights(state.weights)
        x, dstate = transmit(conn, self.delay, state.delay, pre_spikes, self.impl)
        return self.synapse.step(state.synapse, x, t, dt), dstate

    def update(self, state, pre_spikes, t, dt) -> PlasticProjectionState:
        """Transmit this step's presynaptic spikes without learning."""
        syn, dstate = self._transmit(state, pre_spikes, t, dt)
        return PlasticProjectionState(syn, dstate, state.weights, state.rule)

    def update_plastic(
        self,
        state: PlasticProjectionState,
        pre_spikes: Array,
        post_spikes: Array,
        t: Any,
        dt: Any,
        modulation: Any = None,
    ) -> PlasticProjectionState:
        """Transmit this step's presynaptic spikes, then apply the rule.

        **Arguments:**

        - `state`: the projection's state.
        - `pre_spikes` `(n_pre,)`, `post_spikes` `(n_post,)`: this step's spikes.
        - `t`, `dt`: time and step (ms).
        - `modulation`: passed to the rule (the depression rate `A(t)` of `PairSTDP`, the
          modulator `M(t)` of `ThreeFactorSTDP`).

        **Returns:** the new state.
        """
        syn, dstate = self._transmit(state, pre_spikes, t, dt)
        rule, w = self.rule.step(
            state.rule,
            state.weights,
            self.conn.pre_ids,
            self.conn.post_ids,
            pre_spikes,
            post_spikes,
            dt,
            modulation,
            index=self.index,
        )
        return PlasticProjectionState(syn, dstate, w, rule)

    def normalize(self, state: PlasticProjectionState) -> PlasticProjectionState:
        """Scale each postsynaptic neuron's incoming weights to `normalization`."""
        if self.normalization is None:
            raise ValueError("this projection has no normalization target")
        w = normalize_incoming(
            state.weights, self.conn.post_ids, self.conn.n_post, self.normalization
        )
        return eqx.tree_at(lambda s: s.weights, state, w)
