"""Diehl & Cook (2015): unsupervised digit learning with STDP, the network and one sample.

784 Poisson inputs drive `n` conductance-based excitatory LIF neurons with adaptive
thresholds (`AdaptiveThreshold(LIF)`); each excitatory neuron excites its own inhibitory
neuron, which inhibits every other excitatory neuron (soft winner-take-all). The input
-> excitatory weights learn by the trace rule of the authors' Brian code (a `TripletSTDP`
with nearest-spike traces: `w -= nu_pre x_post1` at an input spike, `w += nu_post x_pre
x_post2` at an excitatory spike) and are normalised per neuron before each sample.

A sample is shown for 350 ms (rates `pixel / 8 * intensity` Hz), followed by 150 ms of
rest; if the excitatory neurons fire fewer than 5 spikes the intensity rises by one
(about 32 Hz at the brightest pixel) and the sample is shown again. `present` does all
of that in one jitted function (a `lax.while_loop` over attempts, a `lax.scan` over the
steps of each); `train_block` scans `present` over a block of samples.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from ..core._abstract import SynapticInput
from ..neurons import LIF
from ..neurons._lif import LIFState
from ..plasticity import (
    AdaptiveThreshold,
    AdaptiveThresholdState,
    TripletSTDP,
    TripletSTDPState,
    check_normalization,
    normalize_incoming,
)
from ..plasticity._dc_delayed import (
    DelayLine,
    delayed_stdp_step,
    delayed_transmit,
    empty_delay_line,
    init_delay_line,
)
from ..plasticity._dc_dense import dense_stdp_step, spike_indices, transmit_dense
from ..synapses import COBA, Exponential

N_INPUT = 784
_LONG_AGO = 1e6  # ms since the last spike, initially
_OUT_OF_REACH = 1e9  # mV added to a locked-out neuron's threshold


@dataclasses.dataclass(frozen=True)
class DiehlCookParams:
    """The network and protocol (defaults: Diehl & Cook's Brian code, `dt = 0.5` ms).

    - `n_neurons`: excitatory (= inhibitory) neurons.
    - `dt`, `t_present`, `t_rest`: step, presentation and rest (ms).
    - `intensity`, `intensity_step`: input rate is `pixel / 8 * intensity` Hz (2 ->
      63.75 Hz at 255); raised by `intensity_step` while fewer than `min_spikes`
      excitatory spikes answer, at most `max_attempts` presentations per sample.
    - `nu_pre`, `nu_post`, `tau_pre`, `tau_post1`, `tau_post2`, `w_max`: the STDP rule.
    - `theta_plus`, `tau_theta`: adaptive threshold (mV per spike, ms); the decay is
      applied once per presentation (`decay_thresholds`).
    - `theta_offset`: the authors' threshold is `v > theta - theta_offset - 52 mV`, with
      `theta` starting at `theta_offset` (20 mV) and decaying towards 0 with
      `tau_theta` while it learns: every threshold starts at -52 mV and falls by
      `theta_offset (1 - exp(-t / tau_theta))` over training (about 19 mV over a pass
      of 60,000 images). Without the fall the thresholds of a 100-neuron network climb
      until most images need brighter repeats. 0 gives BindsNET's fixed -52 mV base.
    - `norm_target`: sum of each neuron's input weights (78.4 = 0.1 x 784).
    - `w_init_low`, `w_init_high`: initial input weights, uniform.
    - `w_ei`, `w_ie`: excitatory -> inhibitory (one-to-one) and inhibitory ->
      excitatory (all but self) conductance jumps.
    - `max_input_events`: input spikes per step handled by the event path (a step with
      more takes further passes; the result is the same).
    - `t_lockout`: after a spike an excitatory neuron cannot fire again for this long
      (ms). The authors' code has a 5 ms refractory clamp of `v` and a threshold
      condition `timer > 5 ms` with `dtimer/dt = 100.0`; under `brian_no_units` the
      timer passes 5 ms one step after the spike, so only the refractory period
      remains (5, as BindsNET). Brian2 ports that read the rate as 0.1 block firing for
      50 ms (`t_lockout=50`).
    - `input_delay`: the longest input -> excitatory transmission delay (ms). Each
      synapse gets its own delay, uniform over the whole steps `0 .. input_delay / dt`,
      and learns from the spikes as they arrive (`brainsim.plasticity._dc_delayed`);
      the authors' code draws them from 0-10 ms. 0 (the default) transmits in the step
      of the spike, as BindsNET does.
    """

    n_neurons: int = 100
    dt: float = 0.5
    t_present: float = 350.0
    t_rest: float = 150.0
    intensity: float = 2.0
    intensity_step: float = 1.0
    min_spikes: int = 5
    max_attempts: int = 20
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 20.0
    tau_post1: float = 20.0
    tau_post2: float = 40.0
    w_max: float = 1.0
    theta_plus: float = 0.05
    tau_theta: float = 1e7
    theta_offset: float = 20.0
    norm_target: float = 78.4
    w_init_low: float = 0.003
    w_init_high: float = 0.303
    w_ei: float = 10.4
    w_ie: float = 17.0
    max_input_events: int = 32
    t_lockout: float = 5.0
    input_delay: float = 0.0

    def __post_init__(self):
        positive = ("dt", "t_present", "tau_pre", "tau_post1", "tau_post2", "tau_theta")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)!r}")
        for name in ("n_neurons", "max_attempts", "max_input_events"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)!r}")
        for name in ("t_rest", "intensity", "intensity_step", "min_spikes", "nu_pre", "nu_post"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be non-negative, got {getattr(self, name)!r}")
        for name in ("theta_plus", "theta_offset", "w_ei", "w_ie", "t_lockout", "input_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be non-negative, got {getattr(self, name)!r}")
        if self.dt >= 1.0:
            raise ValueError(f"dt: must be below the 1 ms conductance time constant, got {self.dt}")
        if not 0 <= self.w_init_low <= self.w_init_high <= self.w_max:
            raise ValueError(
                f"w_init_low, w_init_high: need 0 <= w_init_low <= w_init_high <= w_max, got "
                f"{self.w_init_low}, {self.w_init_high}, w_max={self.w_max}"
            )
        check_normalization(self.norm_target, np.full((1,), N_INPUT), 0.0, self.w_max)


class DiehlCookState(eqx.Module):
    """Input weights `w` `(784, n)`, both populations, conductances and STDP traces;
    `line` holds the input delays and the spikes in flight (`None` without delays)."""

    w: Float[Array, "784 n"]
    exc: AdaptiveThresholdState
    inh: LIFState
    ge_exc: Float[Array, " n"]
    gi_exc: Float[Array, " n"]
    ge_inh: Float[Array, " n"]
    traces: TripletSTDPState
    since_spike: Float[Array, " n"]
    line: DelayLine | None = None


def receptive_field_contrast(w: Float[Array, "784 n"]) -> Float[Array, " n"]:
    """Each neuron's largest input weight over its mean input weight.

    The uniform start gives about 2 (0.2 against 0.1 after normalisation); a neuron that
    has learned a digit has a few weights near `w_max` and scores 3 to 10. A partly
    trained network has both kinds, with few neurons between 2.5 and 3.
    """
    return jnp.max(w, axis=0) / jnp.mean(w, axis=0)


def _euler_tau(tau: float, dt: float) -> float:
    """The time constant whose exact decay over `dt` equals one forward-Euler step.

    Brian 1 integrates these (nonlinear) equations with forward Euler, so a conductance
    shrinks by `1 - dt / tau` per step (0.5 for 1 ms at dt = 0.5 ms), which keeps its
    time integral `w tau` exact; an `Exponential` synapse with this `tau` does the same.
    The membranes, however, step by exponential Euler: with forward Euler a step where
    many inhibitory neurons fire together (`g_i = 17 k`, `dt g_i / tau_m > 1` once
    `k > 23`) overshoots the reversal potential and fires every neuron, which we saw
    wreck a 400-neuron run within 300 images.
    """
    return float(-dt / np.log1p(-dt / tau))


class DiehlCook(eqx.Module):
    """The Diehl & Cook network: parameters only; the state is a `DiehlCookState`.

    **Arguments:**

    - `params`: a `DiehlCookParams`.
    """

    exc: AdaptiveThreshold
    inh: LIF
    rule: TripletSTDP
    syn_e: Exponential
    syn_i: Exponential
    to_exc_e: COBA
    to_exc_i: COBA
    to_inh_e: COBA
    w_ei: Float[Array, ""]
    w_ie: Float[Array, ""]
    norm_target: Float[Array, ""]
    intensity: Float[Array, ""]
    intensity_step: Float[Array, ""]
    params: DiehlCookParams = eqx.field(static=True)

    def __init__(self, params: DiehlCookParams):
        p, n = params, params.n_neurons
        self.params = p
        v_th = -52.0 - p.theta_offset
        lif_e = LIF(
            n, tau_m=100.0, v_rest=-65.0, v_th=v_th, v_reset=-65.0, tau_ref=5.0, method="exp_euler"
        )
        self.exc = AdaptiveThreshold(lif_e, theta_plus=p.theta_plus, tau_theta=p.tau_theta)
        self.inh = LIF(
            n, tau_m=10.0, v_rest=-60.0, v_th=-40.0, v_reset=-45.0, tau_ref=2.0, method="exp_euler"
        )
        self.rule = TripletSTDP(
            a2_plus=0.0,
            a3_plus=p.nu_post,
            a2_minus=p.nu_pre,
            a3_minus=0.0,
            tau_plus=p.tau_pre,
            tau_x=p.tau_pre,
            tau_minus=p.tau_post1,
            tau_y=p.tau_post2,
            w_min=0.0,
            w_max=p.w_max,
            pairing="nearest",
        )
        self.syn_e = Exponential(n, _euler_tau(1.0, p.dt))
        self.syn_i = Exponential(n, _euler_tau(2.0, p.dt))
        self.to_exc_e, self.to_exc_i, self.to_inh_e = COBA(0.0), COBA(-100.0), COBA(0.0)
        dtype = jnp.result_type(float)
        self.w_ei, self.w_ie = jnp.asarray(p.w_ei, dtype), jnp.asarray(p.w_ie, dtype)
        self.norm_target = jnp.asarray(p.norm_target, dtype)
        self.intensity = jnp.asarray(p.intensity, dtype)
        self.intensity_step = jnp.asarray(p.intensity_step, dtype)

    @property
    def n(self) -> int:
        return self.params.n_neurons

    @property
    def n_present(self) -> int:
        return int(round(self.params.t_present / self.params.dt))

    @property
    def n_rest(self) -> int:
        return int(round(self.params.t_rest / self.params.dt))

    @property
    def delay_steps(self) -> int:
        """The longest input delay in steps (0: no delay line)."""
        return int(round(self.params.input_delay / self.params.dt))

    def init_state(self, *, key: PRNGKeyArray) -> DiehlCookState:
        """Weights uniform in `[w_init_low, w_init_high]`, thresholds at `theta_offset`,
        input delays (if any) uniform, everything else at rest."""
        p = self.params
        dtype = jnp.result_type(float)
        w = jr.uniform(key, (N_INPUT, self.n), dtype, p.w_init_low, p.w_init_high)
        z = jnp.zeros((self.n,), dtype)
        exc = self.exc.init_state(key=key)
        exc = AdaptiveThresholdState(exc.neuron, exc.theta + p.theta_offset)
        inh = self.inh.init_state(key=key)
        traces = self.rule.init_state(N_INPUT, self.n)
        line = None
        if self.delay_steps:
            k_delay = jr.fold_in(key, 1)
            line = init_delay_line(N_INPUT, self.n, self.delay_steps, key=k_delay, dtype=dtype)
        return DiehlCookState(w, exc, inh, z, z, z, traces, z + _LONG_AGO, line)

    def at_rest(self, state: DiehlCookState) -> DiehlCookState:
        """`state` with everything but the weights, thresholds and delays back at rest."""
        fresh = self.init_state(key=jr.key(0))
        exc = AdaptiveThresholdState(fresh.exc.neuron, state.exc.theta)
        line = state.line
        if line is not None:
            line = empty_delay_line(line.delays, line.size, state.w.dtype)
        return dataclasses.replace(fresh, w=state.w, exc=exc, line=line)  # type: ignore[type-var]

    def silence(self, state: DiehlCookState, neurons: Bool[Array, " n"]) -> DiehlCookState:
        """`state` in which the excitatory `neurons` cannot fire (threshold out of reach):
        the network as if they were not there."""
        theta = jnp.where(neurons, state.exc.theta + _OUT_OF_REACH, state.exc.theta)
        return eqx.tree_at(lambda s: s.exc.theta, state, theta)

    def normalize(self, state: DiehlCookState) -> DiehlCookState:
        """Scale each neuron's input weights to sum to `norm_target`."""
        post = jnp.broadcast_to(jnp.arange(self.n, dtype=jnp.int32)[None, :], state.w.shape)
        w = normalize_incoming(state.w, post, self.n, self.norm_target)
        return eqx.tree_at(lambda s: s.w, state, w)

    def step(
        self,
        state: DiehlCookState,
        pre_idx: Int[Array, " k"] | None,
        pre_spikes: Array | None,
        *,
        learn: bool,
    ) -> tuple[DiehlCookState, Float[Array, " n"]]:
        """One step of `dt`; `pre_spikes=None` is a step without input (rest).

        **Returns:** `(state, excitatory spikes)`.
        """
        dt = self.params.dt
        v_e, v_i = state.exc.v, state.inh.v
        drive_e = self.to_exc_e(state.ge_exc, v_e) + self.to_exc_i(state.gi_exc, v_e)
        drive_i: SynapticInput = self.to_inh_e(state.ge_inh, v_i)
        # the lockout: the threshold is out of reach until t_lockout after a spike
        since = state.since_spike + dt
        block = jnp.where(since > self.params.t_lockout, 0.0, _OUT_OF_REACH)
        theta = state.exc.theta
        neuron, s_e = self.exc.with_theta(theta + block).step(state.exc.neuron, drive_e, 0.0, dt)
        if learn:  # testing keeps the learned thresholds; `show` applies the decay
            theta = theta + self.exc.theta_plus * s_e
        exc = AdaptiveThresholdState(neuron, theta)
        since_spike = jnp.where(s_e > 0, 0.0, since)
        inh, s_i = self.inh.step(state.inh, drive_i, 0.0, dt)
        w, traces, line = state.w, state.traces, state.line
        k = self.params.max_input_events
        if line is not None and learn:
            traces, w, line, x = delayed_stdp_step(
                self.rule, traces, w, line, pre_spikes, s_e, dt, k
            )
        elif line is not None:
            line, x = delayed_transmit(w, line, pre_spikes, k)
        elif learn:
            traces, w, x = dense_stdp_step(self.rule, traces, w, pre_idx, pre_spikes, s_e, dt)
        elif pre_spikes is None:
            x = jnp.zeros((self.n,), w.dtype)
        else:  # testing: the rows of the inputs that spiked
            x = transmit_dense(w, pre_spikes, k)
        ge_exc = self.syn_e.step(state.ge_exc, x, 0.0, dt)
        gi_exc = self.syn_i.step(state.gi_exc, self.w_ie * (jnp.sum(s_i) - s_i), 0.0, dt)
        ge_inh = self.syn_e.step(state.ge_inh, self.w_ei * s_e, 0.0, dt)
        new = DiehlCookState(w, exc, inh, ge_exc, gi_exc, ge_inh, traces, since_spike, line)
        return new, s_e

    def rates(self, image: Array) -> Float[Array, " 784"]:
        """Input rates (Hz) at intensity 1: `pixel / 8`."""
        return image.reshape(-1).astype(self.w_ei.dtype) / 8.0

    def present(
        self, state: DiehlCookState, image: Array, key: PRNGKeyArray, *, learn: bool
    ) -> tuple[DiehlCookState, Float[Array, " n"], Int[Array, ""]]:
        """Show one image (presentation + rest, again at a higher intensity while fewer
        than `min_spikes` excitatory spikes answer).

        **Arguments:**

        - `state`: the network state; `image`: `(28, 28)` or `(784,)` pixels in 0..255.
        - `key`: PRNG key of this sample (attempt `a` uses `fold_in(key, a)`).
        - `learn`: STDP, normalisation before each presentation and threshold adaptation
          on (training) or off (labelling and testing).

        **Returns:** `(state, counts, attempts)`: the `(n,)` excitatory spike counts of
        the last presentation and the number of presentations.
        """
        p = self.params

        def attempt(carry):
            state, a, _ = carry
            state, counts = self.show(state, image, key, a, learn=learn)
            return state, a + 1, counts

        def again(carry):
            _, a, counts = carry
            low = jnp.sum(counts) < p.min_spikes
            return (a == 0) | (low & (a < p.max_attempts))

        counts0 = jnp.zeros((self.n,), self.w_ei.dtype)
        state, attempts, counts = jax.lax.while_loop(
            again, attempt, (state, jnp.asarray(0, jnp.int32), counts0)
        )
        return state, counts, attempts

    def show(
        self,
        state: DiehlCookState,
        image: Array,
        key: PRNGKeyArray,
        attempt: Int[Array, ""],
        *,
        learn: bool,
    ) -> tuple[DiehlCookState, Float[Array, " n"]]:
        """Presentation number `attempt` (0, 1, ...) of an image, then the rest.

        The intensity is `intensity + attempt * intensity_step` and the input spikes are
        drawn with `fold_in(key, attempt)`; with `learn`, the weights are normalised first.

        **Returns:** `(state, counts)`: the `(n,)` excitatory spike counts.
        """
        p = self.params
        dtype = self.w_ei.dtype
        if learn:
            state = self.normalize(state)
        prob = self.rates(image) * (self.intensity + attempt.astype(dtype) * self.intensity_step)
        prob = prob * (p.dt * 1e-3)
        u = jr.uniform(jr.fold_in(key, attempt), (self.n_present, N_INPUT), dtype)
        spikes = u < prob[None, :]
        idx = spike_indices(spikes, p.max_input_events) if learn and state.line is None else None

        def on(s, xs):
            s, s_e = self.step(s, *xs, learn=learn)
            return s, s_e

        state, s_e = jax.lax.scan(on, state, (idx, spikes))
        state = self.rest(state, learn=learn)
        if learn:
            state = self.decay_thresholds(state, (self.n_present + self.n_rest) * p.dt)
        return state, jnp.sum(s_e, axis=0)

    def decay_thresholds(self, state: DiehlCookState, elapsed: float) -> DiehlCookState:
        """`theta` decayed by `exp(-elapsed / tau_theta)`.

        Applied once per presentation rather than per step: with tau_theta = 1e7 ms the
        per-step factor `1 - 5e-8` is below float32's resolution, and `theta` lost one
        unit in the last place per step instead (1.2-2.4x too fast). Over a 500-ms
        presentation the factor is `1 - 5e-5`, which float32 resolves to 0.3 %; a spike's
        `theta_plus` lands at most one presentation before its decay starts.
        """
        theta = state.exc.theta * jnp.exp(-elapsed / self.exc.tau_theta)
        return eqx.tree_at(lambda s: s.exc.theta, state, theta)

    def rest(self, state: DiehlCookState, *, learn: bool) -> DiehlCookState:
        """Run the resting period (no input) step by step."""

        def on(s, _):
            s, _ = self.step(s, None, None, learn=learn)
            return s, None

        state, _ = jax.lax.scan(on, state, None, length=self.n_rest)
        return state


def _in_order(model: DiehlCook, state: DiehlCookState, images, keys, *, learn: bool):
    """`present` the images one after another, the state carried over: `(state,
    (counts, attempts))`."""

    def one(s, xs):
        image, key = xs
        s, counts, attempts = model.present(s, image, key, learn=learn)
        return s, (counts, attempts)

    return jax.lax.scan(one, state, (images, keys))


@eqx.filter_jit
def train_block(
    model: DiehlCook,
    state: DiehlCookState,
    images: Int[Array, "b 28 28"],
    keys: PRNGKeyArray,
) -> tuple[DiehlCookState, Float[Array, "b n"], Int[Array, " b"]]:
    """Train on a block of images in order, one sample after another.

    **Returns:** `(state, counts, attempts)`: per-sample spike counts `(b, n)` and
    presentations `(b,)`.
    """

    state, (counts, attempts) = _in_order(model, state, images, keys, learn=True)
    return state, counts, attempts


@eqx.filter_jit
def respond(
    model: DiehlCook,
    state: DiehlCookState,
    images: Int[Array, "b 28 28"],
    keys: PRNGKeyArray,
) -> tuple[Float[Array, "b n"], Int[Array, " b"]]:
    """Spike counts of the trained network, learning off, for a batch of images.

    Each image is shown to the network at rest (learned weights and thresholds, every
    other variable reset), so the images are independent and run as one `vmap`.

    **Returns:** `(counts, attempts)`: `(b, n)` and `(b,)`.
    """
    start = model.at_rest(state)

    def one(image, key):
        _, counts, attempts = model.present(start, image, key, learn=False)
        return counts, attempts

    return jax.vmap(one)(images, keys)


@eqx.filter_jit
def respond_once(
    model: DiehlCook,
    state: DiehlCookState,
    images: Int[Array, "b 28 28"],
    keys: PRNGKeyArray,
    attempt: Int[Array, ""],
) -> Float[Array, "b n"]:
    """Presentation number `attempt` of each image, from rest, learning off.

    `respond` runs every image of a batch until the last one has answered, so a batch
    costs its largest number of presentations; calling this for attempt 0, then again
    with only the images that answered with fewer than `min_spikes` spikes, costs the
    presentations needed (`stdp_mnist` evaluates this way). It differs from `respond`
    only in that a repeated presentation starts from rest rather than after a rest.

    **Returns:** `(b, n)` spike counts.
    """
    start = model.at_rest(state)

    def one(image, key):
        return model.show(start, image, key, attempt, learn=False)[1]

    return jax.vmap(one)(images, keys)


@eqx.filter_jit
def respond_in_sequence(
    model: DiehlCook,
    state: DiehlCookState,
    images: Int[Array, "b length 28 28"],
    keys: PRNGKeyArray,
) -> tuple[Float[Array, "b length n"], Int[Array, "b length"]]:
    """Spike counts with learning off, each of `b` chains of images shown in order.

    As the authors test: every image of a chain starts where the one before (and its
    rest) left the network, repeated brighter while fewer than `min_spikes` spikes
    answer, as in training. Each chain starts from rest (`at_rest`); the chains are
    independent and run as one `vmap`, a single chain (`b = 1`, the authors' test)
    without it: at 6400 neurons one chain costs half as much per image unbatched. A
    partly trained network can have neurons whose thresholds sit near the resting
    potential and which only the lingering inhibition of the image before holds down:
    `respond` starts every image from rest and lets them fire, and in a long chain those
    below the reset potential fire on and on once they break out. Test such a network
    without them (`receptive_field_contrast`, `DiehlCook.silence`).

    **Arguments:**

    - `images`: `(b, length, 28, 28)`; `keys`: `(b, length)` keys, one per image.

    **Returns:** `(counts, attempts)`: `(b, length, n)` and `(b, length)`.
    """
    start = model.at_rest(state)

    def chain(im, k):
        return _in_order(model, start, im, k, learn=False)[1]

    if images.shape[0] == 1:  # one chain: no vmap, whose batched loops cost 2x here
        return jax.tree.map(lambda a: a[None], chain(images[0], keys[0]))
    return jax.vmap(chain)(images, keys)
