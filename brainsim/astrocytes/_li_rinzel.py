"""The Li-Rinzel model of calcium-induced calcium release (CICR) in an astrocyte.

Li & Rinzel (1994) reduced the De Young-Keizer IP3-receptor model to two variables:
the cytosolic calcium `c` (uM) and the fraction `h` of IP3 receptors not inactivated
by calcium. In the notation of De Pitta et al. (2009):

    m_inf = ip3 / (ip3 + d1) * c / (c + d5)
    dc/dt = (r_c m_inf^3 h^3 + r_l) (c_t - (1 + rho_a) c) - v_er c^2 / (c^2 + k_er^2)
    dh/dt = a2 (q2 (1 - h) - c h),        q2 = d2 (ip3 + d1) / (ip3 + d3)

The first term is calcium release from the ER through IP3 receptors plus a leak (the ER
holds `(c_t - c) / rho_a`), the second the SERCA pump. With IP3 held fixed, low IP3
gives a stable low-calcium steady state, an intermediate band gives calcium
oscillations (two Hopf bifurcations, near 0.355 and 0.65 uM for the default
parameters), and high IP3 a stable high-calcium steady state.

Units: concentrations in uM and rates in 1/s or uM/s as in the papers; time arguments
`t` and `dt` in ms, as everywhere in brainsim, so `vector_field` returns rates per ms.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ..core._abstract import AbstractDynamics
from ..core._errors import as_param, check_nonnegative, check_positive
from ..core._init import AbstractInitializer, as_initializer
from ..core._integrators import AbstractIntegrator, get_integrator

PER_MS = 1e-3
"""Rates are given per second; brainsim's time unit is the millisecond."""


class LiRinzelState(eqx.Module):
    """Cytosolic calcium `c` (uM) and the IP3-receptor de-inactivation `h` (0..1)."""

    c: Float[Array, " n"]
    h: Float[Array, " n"]


def _n(n) -> int:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return n


class LiRinzel(AbstractDynamics):
    """Li-Rinzel calcium dynamics of `n` astrocytes at a given IP3 concentration.

    `step(state, ip3, t, dt) -> (state, c)`: `ip3` is this step's IP3 concentration
    (uM, scalar or `(n,)`), or `None` for the fixed parameter `ip3`. The output is the
    new calcium concentration. The IP3-driven model, with IP3 made by synaptic activity,
    is `GChI`, which uses this class for its calcium part.

    **Arguments** (defaults: Li & Rinzel 1994, as tabulated by De Pitta et al. 2009):

    - `n`: number of astrocytes.
    - `ip3`: IP3 concentration used when `step` gets `None` (uM).
    - `r_c`: maximal rate of calcium release through IP3 receptors (1/s), 6.
    - `r_l`: calcium leak rate from the ER (1/s), 0.11.
    - `c_t`: total free calcium, cytosol plus ER scaled to cytosol (uM), 2.0.
    - `rho_a`: ER-to-cytosol volume ratio, 0.185.
    - `v_er`: maximal SERCA uptake rate (uM/s), 0.9; `k_er`: its affinity (uM), 0.1.
    - `d1`, `d2`, `d3`, `d5`: IP3 receptor dissociation constants (uM), 0.13, 1.049,
      0.9434, 0.08234.
    - `a2`: rate of IP3-receptor inactivation by calcium (1/(uM s)), 0.2.
    - `c_init`, `h_init`: initial values (numbers or initializers), 0.1 uM and 0.7.
    - `method`: integrator, `"rk4"` (default), `"euler"` or `"exp_euler"`.
    """

    n: int = eqx.field(static=True)
    ip3: Float[Array, "*n"]
    r_c: Float[Array, "*n"]
    r_l: Float[Array, "*n"]
    c_t: Float[Array, "*n"]
    rho_a: Float[Array, "*n"]
    v_er: Float[Array, "*n"]
    k_er: Float[Array, "*n"]
    d1: Float[Array, "*n"]
    d2: Float[Array, "*n"]
    d3: Float[Array, "*n"]
    d5: Float[Array, "*n"]
    a2: Float[Array, "*n"]
    c_init: AbstractInitializer
    h_init: AbstractInitializer
    method: AbstractIntegrator

    def __init__(
        self,
        n: int,
        *,
        ip3=0.2,
        r_c=6.0,
        r_l=0.11,
        c_t=2.0,
        rho_a=0.185,
        v_er=0.9,
        k_er=0.1,
        d1=0.13,
        d2=1.049,
        d3=0.9434,
        d5=0.08234,
        a2=0.2,
        c_init=0.1,
        h_init=0.7,
        method: str | AbstractIntegrator = "rk4",
    ):
        self.n = _n(n)
        check_nonnegative("ip3", ip3)
        for name, value in (("r_c", r_c), ("r_l", r_l), ("rho_a", rho_a), ("v_er", v_er)):
            check_nonnegative(name, value)
        for name, value in (("c_t", c_t), ("k_er", k_er), ("a2", a2)):
            check_positive(name, value)
        for name, value in (("d1", d1), ("d2", d2), ("d3", d3), ("d5", d5)):
            check_positive(name, value)
        self.ip3 = as_param(ip3, "ip3", n)
        self.r_c = as_param(r_c, "r_c", n)
        self.r_l = as_param(r_l, "r_l", n)
        self.c_t = as_param(c_t, "c_t", n)
        self.rho_a = as_param(rho_a, "rho_a", n)
        self.v_er = as_param(v_er, "v_er", n)
        self.k_er = as_param(k_er, "k_er", n)
        self.d1 = as_param(d1, "d1", n)
        self.d2 = as_param(d2, "d2", n)
        self.d3 = as_param(d3, "d3", n)
        self.d5 = as_param(d5, "d5", n)
        self.a2 = as_param(a2, "a2", n)
        self.c_init = as_initializer(c_init)
        self.h_init = as_initializer(h_init)
        self.method = get_integrator(method)

    def fluxes(self, c: Array, h: Array, ip3: Array) -> tuple[Array, Array]:
        """`(dc/dt, dh/dt)` per second at calcium `c`, gate `h` and IP3 `ip3` (uM).

        **Arguments:**

        - `c`, `h`, `ip3`: `(n,)` arrays.

        **Returns:** the two time derivatives, in uM/s and 1/s.
        """
        m_inf = ip3 / (ip3 + self.d1) * c / (c + self.d5)
        er_gradient = self.c_t - (1 + self.rho_a) * c
        release = (self.r_c * m_inf**3 * h**3 + self.r_l) * er_gradient
        pump = self.v_er * c**2 / (c**2 + self.k_er**2)
        q2 = self.d2 * (ip3 + self.d1) / (ip3 + self.d3)
        dh = self.a2 * (q2 * (1 - h) - c * h)
        return release - pump, dh

    def rate_bound(self) -> Array:
        """An upper bound (1/s) on the calcium and gate relaxation rates.

        Used for `min_time_constant`: the release and leak terms relax `c` at most at
        `(r_c + r_l)(1 + rho_a)`, the pump at most at `0.65 v_er / k_er` (the largest
        slope of the Hill function), and `h` at `a2 (d2 d1 / d3 + c_t)` or less.
        """
        calcium = (self.r_c + self.r_l) * (1 + self.rho_a) + 0.65 * self.v_er / self.k_er
        gate = self.a2 * (self.d2 * jnp.maximum(1.0, self.d1 / self.d3) + self.c_t)
        return jnp.max(jnp.maximum(calcium, gate))

    def min_time_constant(self) -> Array:
        return 1.0 / (self.rate_bound() * PER_MS)

    def init_state(self, *, key) -> LiRinzelState:
        dtype = self.c_t.dtype
        kc, kh = jr.split(key)
        return LiRinzelState(
            c=self.c_init(self.n, dtype, key=kc), h=self.h_init(self.n, dtype, key=kh)
        )

    def vector_field(self, t, y: LiRinzelState, args) -> LiRinzelState:
        """`d(c, h)/dt` per ms; `args` is the IP3 concentration (uM)."""
        dc, dh = self.fluxes(y.c, y.h, args)
        return LiRinzelState(c=dc * PER_MS, h=dh * PER_MS)

    def step(self, state: LiRinzelState, inputs, t, dt) -> tuple[LiRinzelState, Array]:
        dtype = state.c.dtype
        ip3 = self.ip3 if inputs is None else jnp.asarray(inputs, dtype)
        ip3 = jnp.broadcast_to(ip3, (self.n,))
        new = self.method.step(self.vector_field, t, state, ip3, dt)
        return new, new.c
