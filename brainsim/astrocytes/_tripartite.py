"""The tripartite synapse: astrocytic calcium releases gliotransmitter, which changes the
release probability of the synapses the astrocyte ensheathes (De Pitta et al. 2011).

Gliotransmission, per astrocyte (the form of Stimberg et al. 2018, Fig. 3):

- a release event each time `c` rises through `c_theta` (one event per crossing): a
  fraction `u_a` of the available gliotransmitter resources `x_a` is released,
  `g_a += g_per_release * u_a * x_a` and `x_a -= u_a * x_a`;
- between events `dx_a/dt = omega_a (1 - x_a)` and `dg_a/dt = -omega_e g_a`;
- presynaptic receptors bind it: `dgamma_s/dt = o_g g_a (1 - gamma_s) - omega_g gamma_s`;
- the synapses' release probability becomes `U = (1 - gamma_s) u0 + alpha gamma_s`:
  `alpha > u0` facilitates release (glutamate, via NMDA/mGluR), `alpha < u0` depresses
  it (ATP/adenosine, via A1 receptors).
"""

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from ..core._abstract import AbstractDynamics, SynapticInput
from ..core._errors import as_param, check_nonnegative, check_positive, check_probability
from ..core._integrators import AbstractIntegrator, get_integrator
from ..network._projection import AbstractProjection, Projection
from ._gchi import GChI
from ._li_rinzel import PER_MS, LiRinzel, _n


class GliotransmissionState(eqx.Module):
    """Available resources `x_a`, extracellular gliotransmitter `g_a` (uM), activated
    presynaptic receptors `gamma_s`, and whether `c` is above threshold."""

    x_a: Float[Array, " n"]
    g_a: Float[Array, " n"]
    gamma_s: Float[Array, " n"]
    above: Bool[Array, " n"]


class _Continuous(eqx.Module):
    x_a: Array
    g_a: Array
    gamma_s: Array


class Gliotransmission(AbstractDynamics):
    """Calcium-triggered gliotransmitter release and its presynaptic receptors.

    `step(state, c, t, dt) -> (state, gamma_s)`: `c` is the astrocytes' calcium (uM)
    after this step. A crossing of `c_theta` from below releases gliotransmitter at the
    end of the step; the continuous variables are integrated before it.

    **Arguments** (defaults: Stimberg et al. 2018, Fig. 3):

    - `n`: number of astrocytes.
    - `c_theta`: calcium threshold of exocytosis (uM), 0.5.
    - `u_a`: release probability of gliotransmitter, 0.6.
    - `omega_a`: gliotransmitter recycling rate (1/s), 0.6.
    - `g_per_release`: concentration of all resources released at once (uM), 130
      (vesicle-to-extracellular volume ratio 6.5e-4 times 200 mM).
    - `omega_e`: gliotransmitter clearance rate (1/s), 60.
    - `o_g`: binding rate of presynaptic receptors (1/(uM s)), 1.5.
    - `omega_g`: their unbinding rate (1/s), 0.5/60.
    - `alpha`: release probability at full receptor activation, in [0, 1], 0.
    - `method`: integrator of the continuous part, `"rk4"` by default.
    """

    n: int = eqx.field(static=True)
    c_theta: Float[Array, "*n"]
    u_a: Float[Array, "*n"]
    omega_a: Float[Array, "*n"]
    g_per_release: Float[Array, "*n"]
    omega_e: Float[Array, "*n"]
    o_g: Float[Array, "*n"]
    omega_g: Float[Array, "*n"]
    alpha: Float[Array, "*n"]
    method: AbstractIntegrator

    def __init__(
        self,
        n: int,
        *,
        c_theta=0.5,
        u_a=0.6,
        omega_a=0.6,
        g_per_release=130.0,
        omega_e=60.0,
        o_g=1.5,
        omega_g=0.5 / 60,
        alpha=0.0,
        method: str | AbstractIntegrator = "rk4",
    ):
        self.n = _n(n)
        check_nonnegative("c_theta", c_theta)
        check_probability("u_a", u_a)
        check_probability("alpha", alpha)
        check_positive("omega_e", omega_e)
        for name, value in (
            ("omega_a", omega_a),
            ("g_per_release", g_per_release),
            ("o_g", o_g),
            ("omega_g", omega_g),
        ):
            check_nonnegative(name, value)
        self.c_theta = as_param(c_theta, "c_theta", n)
        self.u_a = as_param(u_a, "u_a", n)
        self.omega_a = as_param(omega_a, "omega_a", n)
        self.g_per_release = as_param(g_per_release, "g_per_release", n)
        self.omega_e = as_param(omega_e, "omega_e", n)
        self.o_g = as_param(o_g, "o_g", n)
        self.omega_g = as_param(omega_g, "omega_g", n)
        self.alpha = as_param(alpha, "alpha", n)
        self.method = get_integrator(method)

    def min_time_constant(self) -> Array:
        return 1.0 / (jnp.max(self.omega_e) * PER_MS)

    def init_state(self, *, key=None) -> GliotransmissionState:
        """Rested: all resources available, no gliotransmitter, calcium below threshold."""
        dtype = self.c_theta.dtype
        zeros = jnp.zeros((self.n,), dtype)
        return GliotransmissionState(
            jnp.ones((self.n,), dtype), zeros, zeros, jnp.zeros((self.n,), bool)
        )

    def vector_field(self, t, y: _Continuous, args) -> _Continuous:
        dx = self.omega_a * (1 - y.x_a)
        dg = -self.omega_e * y.g_a
        dgamma = self.o_g * y.g_a * (1 - y.gamma_s) - self.omega_g * y.gamma_s
        return _Continuous(dx * PER_MS, dg * PER_MS, dgamma * PER_MS)

    def step(self, state: GliotransmissionState, inputs, t, dt):
        c = jnp.broadcast_to(jnp.asarray(inputs, self.c_theta.dtype), (self.n,))
        y = self.method.step(
            self.vector_field, t, _Continuous(state.x_a, state.g_a, state.gamma_s), None, dt
        )
        above = jax.lax.stop_gradient(c) > self.c_theta
        event = (above & ~state.above).astype(c.dtype)
        released = event * self.u_a * y.x_a
        new = GliotransmissionState(
            x_a=y.x_a - released,
            g_a=y.g_a + self.g_per_release * released,
            gamma_s=y.gamma_s,
            above=above,
        )
        return new, new.gamma_s

    def release_probability(self, gamma_s: Array, u0: Array) -> Array:
        """`(1 - gamma_s) u0 + alpha gamma_s`: the modulated release probability.

        **Arguments:**

        - `gamma_s`: `(n,)` fraction of activated presynaptic receptors.
        - `u0`: the resting release probability, scalar or `(n,)`.

        **Returns:** `(n,)` release probabilities.
        """
        return (1 - gamma_s) * u0 + self.alpha * gamma_s


class TripartiteState(eqx.Module):
    """State of a `TripartiteProjection`: the wrapped projection, astrocytes, release."""

    projection: Any
    astrocytes: Any
    release: GliotransmissionState


class TripartiteProjection(AbstractProjection):
    """A `Projection` whose synapses are ensheathed by astrocytes (tripartite synapses).

    Every presynaptic neuron's synapses lie in the territory of one astrocyte (or of
    none). Each step:

    1. the astrocytes' current receptor activation `gamma_s` sets the release
       probability `U = (1 - gamma_s) u0 + alpha gamma_s` of the synapses in their
       territory. With a `TsodyksMarkram` on the projection its `U` is replaced by this
       value (its own `U` is the resting `u0`); without one, each spike is scaled by
       `U / u0`, so that the weights stand for transmission at the resting `u0`;
    2. the wrapped projection takes the spikes;
    3. the astrocytes take the presynaptic spikes of their territory (glutamate that
       drives IP3 production, for `GChI`) and advance;
    4. gliotransmission takes the new calcium.

    **Arguments:**

    - `projection`: the chemical `Projection` (any synapse, output rule and delay).
    - `astrocytes`: a `GChI(n_astro)` (synaptic spikes drive IP3) or a
      `LiRinzel(n_astro)` (fixed IP3, no feedback from the synapses).
    - `release`: a `Gliotransmission(n_astro)`; default with its default parameters.
    - `territory`: `(n_pre,)` integers, the astrocyte of each presynaptic neuron, `-1`
      for none. Default: all on one astrocyte if `n_astro == 1`, one each if
      `n_astro == n_pre`.
    - `u0`: resting release probability of each presynaptic neuron's synapses, in
      (0, 1], scalar or `(n_pre,)`, 0.6; not allowed with a `TsodyksMarkram`, whose `U`
      it is.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    projection: Projection
    astrocytes: GChI | LiRinzel
    release: Gliotransmission
    territory: Int[Array, " n_pre"]
    u0: Float[Array, "*n_pre"]
    reads_pre_voltage: ClassVar[bool] = False

    def __init__(
        self,
        projection: Projection,
        astrocytes: GChI | LiRinzel,
        release: Gliotransmission | None = None,
        territory=None,
        u0=None,
    ):
        if not isinstance(projection, Projection):
            raise ValueError(f"projection must be a Projection, got {type(projection).__name__}")
        if not isinstance(astrocytes, GChI | LiRinzel):
            raise ValueError(
                f"astrocytes must be a GChI or LiRinzel, got {type(astrocytes).__name__}"
            )
        n_astro, n_pre = astrocytes.n, projection.conn.n_pre
        release = Gliotransmission(n_astro) if release is None else release
        if not isinstance(release, Gliotransmission) or release.n != n_astro:
            raise ValueError(f"release must be a Gliotransmission of size {n_astro}")
        if territory is None:
            if n_astro == 1:
                territory = np.zeros(n_pre, np.int32)
            elif n_astro == n_pre:
                territory = np.arange(n_pre, dtype=np.int32)
            else:
                raise ValueError(
                    f"territory is required when the number of astrocytes ({n_astro}) is "
                    f"neither 1 nor the presynaptic size ({n_pre})"
                )
        t = np.asarray(territory)
        if t.shape != (n_pre,) or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(
                f"territory must be {n_pre} integers (one per presynaptic neuron), got "
                f"shape {t.shape} and dtype {t.dtype}"
            )
        if t.size and (t.min() < -1 or t.max() >= n_astro):
            raise ValueError(
                f"territory values must lie in [-1, {n_astro}), got {t.min()}..{t.max()}"
            )
        self.pre, self.post = projection.pre, projection.post
        self.projection = projection
        self.astrocytes = astrocytes
        self.release = release
        self.territory = jnp.asarray(np.where(t < 0, n_astro, t), jnp.int32)
        if projection.stp is not None:
            if u0 is not None:
                raise ValueError("u0 must not be given with a TsodyksMarkram: its U is u0")
            self.u0 = jnp.broadcast_to(projection.stp.U, (n_pre,))
        else:
            u0 = 0.6 if u0 is None else u0
            check_probability("u0", u0)
            check_positive("u0", u0)
            self.u0 = as_param(u0, "u0", n_pre)

    @property
    def conn(self):
        """The wrapped projection's connectivity (what `WeightMonitor` reads)."""
        return self.projection.conn

    def min_time_constant(self) -> Any:
        taus = [self.projection.min_time_constant(), self.astrocytes.min_time_constant()]
        return jnp.min(jnp.stack([jnp.asarray(x) for x in taus if x is not None]))

    def init_state(self, *, key) -> TripartiteState:
        kp, ka = jax.random.split(key)
        return TripartiteState(
            self.projection.init_state(key=kp),
            self.astrocytes.init_state(key=ka),
            self.release.init_state(),
        )

    def deliver(self, state: TripartiteState, pre_state, post_state) -> SynapticInput:
        return self.projection.deliver(state.projection, pre_state, post_state)

    def _per_pre(self, per_astro: Array, pad: float) -> Array:
        """Spread a per-astrocyte value to the presynaptic neurons (`pad` for none)."""
        x = jnp.broadcast_to(per_astro, (self.astrocytes.n,))
        return jnp.concatenate([x, jnp.full((1,), pad, x.dtype)])[self.territory]

    def release_probability(self, state: TripartiteState) -> Float[Array, " n_pre"]:
        """The modulated release probability `U` of each presynaptic neuron's synapses.

        **Arguments:**

        - `state`: the projection's state.

        **Returns:** `(n_pre,)` values `(1 - gamma_s) u0 + alpha gamma_s` (`u0` for a
        neuron outside every territory).
        """
        gamma = self._per_pre(state.release.gamma_s, 0.0)
        alpha = self._per_pre(self.release.alpha, 0.0)
        return (1 - gamma) * self.u0 + alpha * gamma

    def update(self, state: TripartiteState, pre_spikes, t, dt) -> TripartiteState:
        u = self.release_probability(state)
        proj = self.projection
        spikes = pre_spikes
        if proj.stp is not None:
            proj = eqx.tree_at(lambda p: p.stp.U, proj, u)  # type: ignore[union-attr]
        else:
            spikes = pre_spikes.astype(u.dtype) * (u / self.u0)
        proj_state = proj.update(state.projection, spikes, t, dt)
        n = self.astrocytes.n
        drive = jnp.zeros((n + 1,), u.dtype).at[self.territory].add(pre_spikes.astype(u.dtype))
        astro_in = drive[:n] if isinstance(self.astrocytes, GChI) else None
        astro_state, c = self.astrocytes.step(state.astrocytes, astro_in, t, dt)
        release_state, _ = self.release.step(state.release, c, t, dt)
        return TripartiteState(proj_state, astro_state, release_state)
