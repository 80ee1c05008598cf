"""The G-ChI astrocyte: calcium and IP3 dynamics driven by synaptic glutamate.

De Pitta et al. (2009) add IP3 metabolism to the Li-Rinzel calcium model, with the
glutamate that synapses release as the agonist (the form used by Stimberg et al. 2018):

    dy/dt       = omega_c (y_bias - y),  y += y_per_spike at each presynaptic spike
    dgamma_a/dt = o_n y (1 - gamma_a) - omega_n (1 + zeta c / (c + k_kc)) gamma_a
    dip3/dt     = J_beta + J_delta - J_3K - J_5P + J_gap
        J_beta  = o_beta gamma_a                                (PLCbeta, via mGluRs)
        J_delta = o_delta / (1 + ip3 / kappa_delta) c^2 / (c^2 + k_delta^2)   (PLCdelta)
        J_3K    = o_3k c^4 / (c^4 + k_d^4) ip3 / (ip3 + k_3k)   (IP3 3-kinase)
        J_5P    = omega_5p ip3                                  (IP 5-phosphatase)
        J_gap   = sum_j F_ji (ip3_j - ip3_i)                    (gap junctions)

and `c`, `h` follow `LiRinzel` at the current `ip3`. `y` is the glutamate (uM) in the
astrocyte's territory, `gamma_a` the fraction of its activated metabotropic receptors.
Because IP3 production and degradation depend on calcium, IP3 oscillates with it, and
diffusion of IP3 through gap junctions couples the oscillations of neighbouring cells.

Units: uM, 1/s and uM/s for parameters; `t`, `dt` in ms.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ..core._abstract import AbstractDynamics
from ..core._errors import as_param, check_nonnegative, check_positive
from ..core._init import AbstractInitializer, as_initializer
from ..core._integrators import AbstractIntegrator, get_integrator
from ._coupling import IP3Coupling
from ._li_rinzel import PER_MS, LiRinzel, _n


class GChIState(eqx.Module):
    """Calcium `c` (uM), gate `h`, IP3 `ip3` (uM), receptor activation `gamma_a` and
    territory glutamate `y` (uM) of each astrocyte."""

    c: Float[Array, " n"]
    h: Float[Array, " n"]
    ip3: Float[Array, " n"]
    gamma_a: Float[Array, " n"]
    y: Float[Array, " n"]


_POSITIVE = ("kappa_delta", "k_delta", "k_d", "k_3k", "k_kc", "omega_c")
_NONNEGATIVE = (
    "o_beta",
    "o_n",
    "omega_n",
    "zeta",
    "o_delta",
    "omega_5p",
    "o_3k",
    "y_per_spike",
    "y_bias",
)


class GChI(AbstractDynamics):
    """`n` G-ChI astrocytes whose IP3 is made by synaptic activity (De Pitta et al. 2009).

    `step(state, spikes, t, dt) -> (state, c)`: `spikes` is the number of presynaptic
    spikes that released glutamate into each astrocyte's territory during this step
    (scalar or `(n,)`, floats allowed), or `None`. Each adds `y_per_spike` uM of
    glutamate before the step is integrated. The output is the new calcium.

    **Arguments** (defaults: Stimberg et al. 2018, Fig. 2, after De Pitta et al. 2009):

    - `n`: number of astrocytes.
    - `cicr`: the calcium part, a `LiRinzel(n, ...)`; default: `r_c` 6, `r_l` 0.1,
      `c_t` 2, `rho_a` 0.18, `v_er` 0.9, `k_er` 0.1, `d1` 0.13, `d2` 1.05, `d3` 0.9434,
      `d5` 0.08, `a2` 0.2, `c_init` 0.05 uM, `h_init` 0.9 (its `ip3` is not used).
    - `o_beta`: maximal IP3 production by PLCbeta (uM/s), 5.
    - `o_n`: glutamate binding rate (1/(uM s)), 0.3; `omega_n`: receptor inactivation
      rate (1/s), 0.5; `zeta`: its maximal increase by PKC, 10; `k_kc`: calcium
      affinity of PKC (uM), 0.5.
    - `o_delta`: maximal IP3 production by PLCdelta (uM/s), 0.2; `kappa_delta`: its
      inhibition by IP3 (uM), 1.5; `k_delta`: its calcium affinity (uM), 0.3.
    - `o_3k`: maximal degradation by IP3 3-kinase (uM/s), 4.5; `k_d`: its calcium
      affinity (uM), 0.5; `k_3k`: its IP3 affinity (uM), 1.
    - `omega_5p`: degradation rate by IP 5-phosphatase (1/s), 0.1.
    - `omega_c`: glutamate clearance rate (1/s), 40.
    - `y_per_spike`: glutamate one presynaptic spike releases into the territory (uM),
      500 (vesicle-to-extracellular volume ratio 0.001 times 500 mM).
    - `y_bias`: ambient glutamate (uM), 0. Values of about 0.02-0.2 uM make an
      unstimulated astrocyte oscillate with the default parameters.
    - `coupling`: an `IP3Coupling` among these astrocytes, or `None`.
    - `ip3_init`: initial IP3 (uM), 0.1.
    - `method`: integrator, `"rk4"` (default), `"euler"` or `"exp_euler"`.
    """

    n: int = eqx.field(static=True)
    cicr: LiRinzel
    o_beta: Float[Array, "*n"]
    o_n: Float[Array, "*n"]
    omega_n: Float[Array, "*n"]
    zeta: Float[Array, "*n"]
    k_kc: Float[Array, "*n"]
    o_delta: Float[Array, "*n"]
    kappa_delta: Float[Array, "*n"]
    k_delta: Float[Array, "*n"]
    o_3k: Float[Array, "*n"]
    k_d: Float[Array, "*n"]
    k_3k: Float[Array, "*n"]
    omega_5p: Float[Array, "*n"]
    omega_c: Float[Array, "*n"]
    y_per_spike: Float[Array, "*n"]
    y_bias: Float[Array, "*n"]
    coupling: IP3Coupling | None
    ip3_init: AbstractInitializer
    method: AbstractIntegrator

    def __init__(
        self,
        n: int,
        *,
        cicr: LiRinzel | None = None,
        o_beta=5.0,
        o_n=0.3,
        omega_n=0.5,
        zeta=10.0,
        k_kc=0.5,
        o_delta=0.2,
        kappa_delta=1.5,
        k_delta=0.3,
        o_3k=4.5,
        k_d=0.5,
        k_3k=1.0,
        omega_5p=0.1,
        omega_c=40.0,
        y_per_spike=500.0,
        y_bias=0.0,
        coupling: IP3Coupling | None = None,
        ip3_init=0.1,
        method: str | AbstractIntegrator = "rk4",
    ):
        self.n = _n(n)
        if cicr is None:
            cicr = LiRinzel(
                n, r_l=0.1, rho_a=0.18, d2=1.05, d5=0.08, c_init=0.05, h_init=0.9, method=method
            )
        if not isinstance(cicr, LiRinzel) or cicr.n != n:
            raise ValueError(f"cicr must be a LiRinzel of size n ({n}), got {cicr!r}")
        if coupling is not None:
            if not isinstance(coupling, IP3Coupling) or coupling.n != n:
                raise ValueError(f"coupling must be an IP3Coupling of size n ({n})")
        values = dict(
            o_beta=o_beta,
            o_n=o_n,
            omega_n=omega_n,
            zeta=zeta,
            k_kc=k_kc,
            o_delta=o_delta,
            kappa_delta=kappa_delta,
            k_delta=k_delta,
            o_3k=o_3k,
            k_d=k_d,
            k_3k=k_3k,
            omega_5p=omega_5p,
            omega_c=omega_c,
            y_per_spike=y_per_spike,
            y_bias=y_bias,
        )
        for name in _POSITIVE:
            check_positive(name, values[name])
        for name in _NONNEGATIVE:
            check_nonnegative(name, values[name])
        check_nonnegative("ip3_init", ip3_init)
        self.cicr = cicr
        self.o_beta = as_param(o_beta, "o_beta", n)
        self.o_n = as_param(o_n, "o_n", n)
        self.omega_n = as_param(omega_n, "omega_n", n)
        self.zeta = as_param(zeta, "zeta", n)
        self.k_kc = as_param(k_kc, "k_kc", n)
        self.o_delta = as_param(o_delta, "o_delta", n)
        self.kappa_delta = as_param(kappa_delta, "kappa_delta", n)
        self.k_delta = as_param(k_delta, "k_delta", n)
        self.o_3k = as_param(o_3k, "o_3k", n)
        self.k_d = as_param(k_d, "k_d", n)
        self.k_3k = as_param(k_3k, "k_3k", n)
        self.omega_5p = as_param(omega_5p, "omega_5p", n)
        self.omega_c = as_param(omega_c, "omega_c", n)
        self.y_per_spike = as_param(y_per_spike, "y_per_spike", n)
        self.y_bias = as_param(y_bias, "y_bias", n)
        self.coupling = coupling
        self.ip3_init = as_initializer(ip3_init)
        self.method = get_integrator(method)

    def ip3_fluxes(self, c: Array, ip3: Array, gamma_a: Array) -> dict[str, Array]:
        """The IP3 production and degradation terms (uM/s), by name.

        **Arguments:**

        - `c`, `ip3`, `gamma_a`: `(n,)` calcium (uM), IP3 (uM), receptor activation.

        **Returns:** a dict with `"beta"`, `"delta"`, `"3k"`, `"5p"` and `"gap"` (zero
        without coupling); `dip3/dt = beta + delta - 3k - 5p + gap`.
        """
        c2 = c**2
        c4 = c2**2
        fluxes = {
            "beta": self.o_beta * gamma_a,
            "delta": self.o_delta / (1 + ip3 / self.kappa_delta) * c2 / (c2 + self.k_delta**2),
            "3k": self.o_3k * c4 / (c4 + self.k_d**4) * ip3 / (ip3 + self.k_3k),
            "5p": self.omega_5p * ip3,
        }
        fluxes["gap"] = jnp.zeros_like(ip3) if self.coupling is None else self.coupling.flux(ip3)
        return fluxes

    def vector_field(self, t, y: GChIState, args) -> GChIState:
        """The time derivative of the whole state, per ms (`args` is unused)."""
        dc, dh = self.cicr.fluxes(y.c, y.h, y.ip3)
        f = self.ip3_fluxes(y.c, y.ip3, y.gamma_a)
        dip3 = f["beta"] + f["delta"] - f["3k"] - f["5p"] + f["gap"]
        inactivation = self.omega_n * (1 + self.zeta * y.c / (y.c + self.k_kc))
        dgamma = self.o_n * y.y * (1 - y.gamma_a) - inactivation * y.gamma_a
        dy = self.omega_c * (self.y_bias - y.y)
        return GChIState(
            c=dc * PER_MS,
            h=dh * PER_MS,
            ip3=dip3 * PER_MS,
            gamma_a=dgamma * PER_MS,
            y=dy * PER_MS,
        )

    def min_time_constant(self) -> Array:
        """The fastest relaxation time (ms) among calcium, receptors, IP3, glutamate.

        Receptor binding `o_n y` grows with the glutamate `y` itself; right after a
        spike it reaches `o_n y_per_spike` (150/s by default), so keep `dt` near 1 ms
        when synapses drive the astrocytes.
        """
        ip3_rate = self.o_3k / self.k_3k + self.omega_5p + self.o_delta / self.kappa_delta
        rates = [
            self.cicr.rate_bound(),
            jnp.max(self.omega_c),
            jnp.max(self.omega_n * (1 + self.zeta)),
            jnp.max(ip3_rate),
        ]
        if self.coupling is not None:
            rates.append(self.coupling.max_rate())
        return 1.0 / (jnp.max(jnp.stack(rates)) * PER_MS)

    def init_state(self, *, key) -> GChIState:
        kc, ki = jr.split(key)
        ca = self.cicr.init_state(key=kc)
        dtype = ca.c.dtype
        zeros = jnp.zeros((self.n,), dtype)
        return GChIState(
            c=ca.c,
            h=ca.h,
            ip3=self.ip3_init(self.n, dtype, key=ki),
            gamma_a=zeros,
            y=jnp.broadcast_to(self.y_bias, (self.n,)).astype(dtype),
        )

    def step(self, state: GChIState, inputs, t, dt) -> tuple[GChIState, Array]:
        if inputs is not None:
            spikes = jnp.asarray(inputs).astype(state.y.dtype)
            state = eqx.tree_at(lambda s: s.y, state, state.y + self.y_per_spike * spikes)
        new = self.method.step(self.vector_field, t, state, None, dt)
        return new, new.c
