"""Wilson-Cowan excitatory/inhibitory populations, coupled through delays."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..core._abstract import AbstractDynamics
from ..core._errors import check_positive
from ..core._integrators import AbstractIntegrator, get_integrator
from ._common import check_count, check_vector
from ._delayed import DelayedCoupling


class WilsonCowanState(eqx.Module):
    """Activities of the E and I populations of every node, and the E history."""

    e: Float[Array, " n"]
    i: Float[Array, " n"]
    buffer: Float[Array, "length n"]
    ptr: Int[Array, ""]


def wc_sigmoid(x: Array, gain: Array, threshold: Array) -> Array:
    """Wilson and Cowan's sigmoid, shifted so that `S(0) = 0`."""
    return jnp.reciprocal(1 + jnp.exp(-gain * (x - threshold))) - jnp.reciprocal(
        1 + jnp.exp(gain * threshold)
    )


class WilsonCowan(AbstractDynamics):
    """Wilson-Cowan (1972) nodes: for each node,

    `tau_e dE/dt = -E + (k_e - r_e E) S_e(c_ee E - c_ei I + P + G sum_j C_ij E_j(t - d_ij))`,
    `tau_i dI/dt = -I + (k_i - r_i I) S_i(c_ie E - c_ii I + Q)`,

    with `S(x) = 1/(1 + exp(-a (x - theta))) - 1/(1 + exp(a theta))` and `k` its
    supremum. The defaults (Wilson and Cowan 1972, Fig. 9) give a limit cycle.

    **Arguments:**

    - `n`: number of nodes.
    - `tau_e`, `tau_i`: time constants (ms).
    - `c_ee`, `c_ei`, `c_ie`, `c_ii`: local coupling strengths.
    - `a_e`, `theta_e`, `a_i`, `theta_i`: sigmoid gains and thresholds.
    - `r_e`, `r_i`: refractory factors; `p`, `q`: external drives to E and I.
    - `coupling`: `C`, `(n, n)`, into the E populations (default none);
      `global_coupling`: G; `delays`: ms (scalar or `(n, n)`); `dt`: the step (ms)
      the delays are counted in.
    - `e_init`, `i_init`: initial activities.
    - `method`: integrator, `"rk4"` (default) or `"euler"`.

    The input of `step` is an extra drive to E (scalar or `(n,)`) or `None`; it outputs E.
    """

    n: int = eqx.field(static=True)
    tau_e: Float[Array, "*n"]
    tau_i: Float[Array, "*n"]
    c_ee: Float[Array, "*n"]
    c_ei: Float[Array, "*n"]
    c_ie: Float[Array, "*n"]
    c_ii: Float[Array, "*n"]
    a_e: Float[Array, "*n"]
    theta_e: Float[Array, "*n"]
    a_i: Float[Array, "*n"]
    theta_i: Float[Array, "*n"]
    r_e: Float[Array, "*n"]
    r_i: Float[Array, "*n"]
    p: Float[Array, "*n"]
    q: Float[Array, "*n"]
    global_coupling: Float[Array, ""]
    network: DelayedCoupling
    e_init: Float[Array, "*n"]
    i_init: Float[Array, "*n"]
    method: AbstractIntegrator

    def __init__(
        self,
        n: int = 1,
        *,
        tau_e=10.0,
        tau_i=10.0,
        c_ee=16.0,
        c_ei=12.0,
        c_ie=15.0,
        c_ii=3.0,
        a_e=1.3,
        theta_e=4.0,
        a_i=2.0,
        theta_i=3.7,
        r_e=1.0,
        r_i=1.0,
        p=1.25,
        q=0.0,
        coupling=None,
        global_coupling=1.0,
        delays=0.0,
        dt: float = 0.1,
        e_init=0.1,
        i_init=0.05,
        method: str | AbstractIntegrator = "rk4",
    ):
        self.n = check_count("n", n)
        check_positive("tau_e", tau_e)
        check_positive("tau_i", tau_i)
        v = {
            name: check_vector(name, value, n)
            for name, value in dict(
                tau_e=tau_e, tau_i=tau_i, c_ee=c_ee, c_ei=c_ei, c_ie=c_ie, c_ii=c_ii,
                a_e=a_e, theta_e=theta_e, a_i=a_i, theta_i=theta_i, r_e=r_e, r_i=r_i,
                p=p, q=q, e_init=e_init, i_init=i_init,
            ).items()
        }  # fmt: skip
        self.tau_e, self.tau_i = v["tau_e"], v["tau_i"]
        self.c_ee, self.c_ei, self.c_ie, self.c_ii = v["c_ee"], v["c_ei"], v["c_ie"], v["c_ii"]
        self.a_e, self.theta_e, self.a_i, self.theta_i = (
            v["a_e"], v["theta_e"], v["a_i"], v["theta_i"]
        )  # fmt: skip
        self.r_e, self.r_i, self.p, self.q = v["r_e"], v["r_i"], v["p"], v["q"]
        self.e_init, self.i_init = v["e_init"], v["i_init"]
        self.global_coupling = check_vector("global_coupling", global_coupling, 1)
        weights = jnp.zeros((n, n)) if coupling is None else coupling
        self.network = DelayedCoupling(n, weights, delays, dt)
        self.method = get_integrator(method)

    def min_time_constant(self):
        return jnp.minimum(jnp.min(self.tau_e), jnp.min(self.tau_i))

    def init_state(self, *, key) -> WilsonCowanState:
        del key
        e = jnp.broadcast_to(self.e_init, (self.n,))
        i = jnp.broadcast_to(self.i_init, (self.n,))
        return WilsonCowanState(e, i, self.network.init_buffer(e), jnp.zeros((), jnp.int32))

    def vector_field(self, t, y, args):
        """`y = (E, I)`; `args` = the external drive to E plus the delayed network input."""
        e, i = y
        drive = args
        if self.network.instantaneous:
            drive = drive + self.global_coupling * self.network.now(e)
        k_e = wc_sigmoid(jnp.asarray(jnp.inf, e.dtype), self.a_e, self.theta_e)
        k_i = wc_sigmoid(jnp.asarray(jnp.inf, e.dtype), self.a_i, self.theta_i)
        s_e = wc_sigmoid(self.c_ee * e - self.c_ei * i + self.p + drive, self.a_e, self.theta_e)
        s_i = wc_sigmoid(self.c_ie * e - self.c_ii * i + self.q, self.a_i, self.theta_i)
        de = (-e + (k_e - self.r_e * e) * s_e) / self.tau_e
        di = (-i + (k_i - self.r_i * i) * s_i) / self.tau_i
        return de, di

    def step(self, state: WilsonCowanState, inputs, t, dt) -> tuple[WilsonCowanState, Array]:
        self.network.check_dt(dt)
        dtype = state.e.dtype
        drive = jnp.zeros((), dtype) if inputs is None else jnp.asarray(inputs, dtype)
        drive = jnp.broadcast_to(drive, (self.n,))
        if not self.network.instantaneous:
            delayed = self.network.read(state.buffer, state.ptr)
            drive = drive + self.global_coupling * delayed
        e, i = self.method.step(self.vector_field, t, (state.e, state.i), drive, dt)
        buffer, ptr = self.network.push(state.buffer, state.ptr, e)
        return WilsonCowanState(e, i, buffer, ptr), e
