"""Projections: connectivity + synapse dynamics + delay + output rule."""

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..core._abstract import SynapticInput
from ..kernels import CSR, ELL, event_matvec
from ..synapses._abstract import AbstractOutput, AbstractSynapse
from ..synapses._stp import TsodyksMarkram, TsodyksMarkramState
from ._delay import Delay, DelayState
from ._learnable_delay import LearnableDelay


class AbstractProjection(eqx.Module):
    """Something that carries activity from population `pre` to population `post`.

    `deliver` gives the post population its input before the neurons step; `update`
    takes the presynaptic spikes of the step just taken.
    """

    pre: eqx.AbstractVar[str]
    post: eqx.AbstractVar[str]
    reads_pre_voltage: ClassVar[bool] = False
    learns: ClassVar[bool] = False
    """True for projections that learn: `Network.step` then calls
    `update_plastic(state, pre_spikes, post_spikes, t, dt)` instead of `update`."""

    @abc.abstractmethod
    def init_state(self, *, key: Any) -> Any:
        """The initial state."""

    @abc.abstractmethod
    def deliver(self, state: Any, pre_state: Any, post_state: Any) -> SynapticInput:
        """Input to the postsynaptic neurons from the current state."""

    @abc.abstractmethod
    def update(self, state: Any, pre_spikes: Array, t: Any, dt: Any) -> Any:
        """Take this step's presynaptic spikes and advance by `dt`."""

    def min_time_constant(self) -> Any:
        return None


class ProjectionState(eqx.Module):
    """State of a `Projection`: its synapse, its delay line and its short-term plasticity."""

    synapse: Any
    delay: DelayState | None
    stp: TsodyksMarkramState | None = None


def _delayed_input(conn: CSR | ELL, delay: Delay, dstate: DelayState) -> Array:
    """Summed input when every synapse has its own delay (reads one buffer slot per synapse)."""
    slots = (dstate.ptr - delay.steps) % delay.length
    events = dstate.buffer[slots, conn.pre_ids]
    w = conn.synapse_weights()
    post = conn.post_ids
    return jnp.zeros((conn.n_post,), w.dtype).at[post].add(w * events)


def transmit(
    conn: CSR | ELL,
    delay: Delay | LearnableDelay | None,
    dstate: DelayState | None,
    pre_spikes: Array,
    impl: str,
) -> tuple[Float[Array, " n_post"], DelayState | None]:
    """Push this step's spikes through the delay line and `conn`.

    **Returns:** the summed weighted events arriving at each postsynaptic neuron, and the
    new delay state (`None` without a delay).
    """
    if delay is None:
        return event_matvec(conn, pre_spikes, impl=impl), None
    if dstate is None:
        raise ValueError("the projection has a delay but its state has none; use init_state")
    dstate = delay.push(dstate, pre_spikes)
    if isinstance(delay, LearnableDelay):
        return delay.transmit(conn, dstate), dstate
    if delay.homogeneous:
        return event_matvec(conn, delay.read(dstate), impl=impl), dstate
    return _delayed_input(conn, delay, dstate), dstate


class Projection(AbstractProjection):
    """A chemical projection.

    **Arguments:**

    - `pre`, `post`: population names in the network.
    - `conn`: a `CSR` or `ELL` layout holding the weights.
    - `synapse`: the postsynaptic trace (e.g. `Exponential(n_post, tau)`).
    - `output`: the output rule (`COBA(E)`, `CUBA()`, `VoltageJump()`).
    - `delay`: a `Delay` (homogeneous or per synapse), a `LearnableDelay` (continuous
      per-synapse delays, trainable; `round_delays` turns it into a `Delay`) or `None`.
    - `impl`: the event kernel implementation (`"auto"` by default).
    - `stp`: optional short-term plasticity (`TsodyksMarkram(conn.n_pre, ...)`): each
      presynaptic spike is scaled by its efficacy `u x` before the delay line.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    conn: CSR | ELL
    synapse: AbstractSynapse
    output: AbstractOutput
    delay: Delay | LearnableDelay | None = None
    impl: str = eqx.field(static=True, default="auto")
    stp: TsodyksMarkram | None = None

    def __check_init__(self):
        if self.synapse.n != self.conn.n_post:
            raise ValueError(
                f"synapse size ({self.synapse.n}) must equal the postsynaptic size of conn "
                f"({self.conn.n_post})"
            )
        if self.delay is not None and not self.delay.homogeneous:
            if self.delay.steps.shape != self.conn.indices.shape:  # per synapse, both kinds
                raise ValueError(
                    f"per-synapse delays must have the shape of conn.indices "
                    f"{tuple(self.conn.indices.shape)}, got {tuple(self.delay.steps.shape)}"
                )
        if self.stp is not None and self.stp.n_pre != self.conn.n_pre:
            raise ValueError(
                f"stp size ({self.stp.n_pre}) must equal the presynaptic size of conn "
                f"({self.conn.n_pre})"
            )

    def min_time_constant(self) -> Any:
        return self.synapse.min_time_constant()

    def init_state(self, *, key) -> ProjectionState:
        dtype = self.conn.weights.dtype
        dstate = None if self.delay is None else self.delay.init_state(self.conn.n_pre, dtype)
        stp = None if self.stp is None else self.stp.init_state()
        return ProjectionState(self.synapse.init_state(key=key), dstate, stp)

    def deliver(self, state, pre_state, post_state) -> SynapticInput:
        return self.output(self.synapse.value(state.synapse), post_state.v)

    def propagate(
        self, state: ProjectionState, pre_spikes: Array
    ) -> tuple[Float[Array, " n_post"], Any]:
        """This step's summed weighted events at the postsynaptic side, and the delay state."""
        return transmit(self.conn, self.delay, state.delay, pre_spikes, self.impl)

    def update(self, state, pre_spikes, t, dt) -> ProjectionState:
        if self.delay is not None:
            self.delay.check_dt(dt)
        stp_state = state.stp
        if self.stp is not None:
            stp_state, efficacy = self.stp.step(state.stp, pre_spikes, dt)
            pre_spikes = pre_spikes.astype(efficacy.dtype) * efficacy
        x, dstate = self.propagate(state, pre_spikes)
        return ProjectionState(self.synapse.step(state.synapse, x, t, dt), dstate, stp_state)
