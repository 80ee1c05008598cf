"""Stuart-Landau oscillators: the normal form of a supercritical Hopf bifurcation."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ..core._abstract import AbstractDynamics
from ..core._integrators import AbstractIntegrator, get_integrator
from ._common import check_count, check_matrix, check_vector, order_parameter


class StuartLandauState(eqx.Module):
    """The complex amplitude `z = x + i y` as two real arrays (strict dtypes stay real)."""

    x: Float[Array, " n"]
    y: Float[Array, " n"]

    @property
    def amplitude(self) -> Float[Array, " n"]:
        """`|z|`."""
        return jnp.hypot(self.x, self.y)

    @property
    def phase(self) -> Float[Array, " n"]:
        """`arg z` (rad)."""
        return jnp.arctan2(self.y, self.x)

    @property
    def r(self) -> Float[Array, ""]:
        """The phase coherence (Kuramoto order parameter of the phases)."""
        return order_parameter(self.phase)[0]


class StuartLandau(AbstractDynamics):
    """`dz_i/dt = (a_i + i omega_i - |z_i|^2) z_i + sum_j J_ij (z_j - z_i) + I_i(t)`.

    An uncoupled oscillator with `a > 0` settles on the circle `|z| = sqrt(a)` and turns
    at `omega` rad/ms; with `a < 0` it decays to 0. A scalar `coupling` K means
    all-to-all diffusive coupling `J_ij = K / N` (O(N), through the mean of `z`).

    **Arguments:**

    - `n`: number of oscillators.
    - `a`: bifurcation parameter (1/ms), scalar or `(n,)`.
    - `omega`: angular frequencies (rad/ms), scalar or `(n,)`.
    - `coupling`: scalar K or an `(n, n)` matrix (1/ms), row `i` into oscillator `i`.
    - `z_init`: optional initial complex amplitudes `(n,)`; default uniform phases on
      the unit circle from the key.
    - `method`: integrator, `"rk4"` (default) or `"euler"`.

    The input of `step` is a real drive added to `dx/dt` (scalar, `(n,)`) or `None`.
    """

    n: int = eqx.field(static=True)
    a: Float[Array, "*n"]
    omega: Float[Array, "*n"]
    coupling: Float[Array, "*n n"]
    z_init: tuple[Array, Array] | None
    method: AbstractIntegrator

    def __init__(
        self,
        n: int,
        *,
        a=1.0,
        omega=0.0,
        coupling=0.0,
        z_init=None,
        method: str | AbstractIntegrator = "rk4",
    ):
        self.n = check_count("n", n)
        self.a = check_vector("a", a, n)
        self.omega = check_vector("omega", omega, n)
        if jnp.ndim(coupling) == 0:
            self.coupling = check_vector("coupling", coupling, n)
        else:
            self.coupling = check_matrix("coupling", coupling, n)
        if z_init is not None:
            z = jnp.asarray(z_init)
            if z.shape != (n,):
                raise ValueError(f"z_init must have shape ({n},), got shape {z.shape}")
            dtype = jnp.result_type(float)
            z_init = (jnp.real(z).astype(dtype), jnp.imag(z).astype(dtype))
        self.z_init = z_init
        self.method = get_integrator(method)

    def init_state(self, *, key) -> StuartLandauState:
        if self.z_init is not None:
            return StuartLandauState(*self.z_init)
        phase = jr.uniform(key, (self.n,), self.a.dtype, 0.0, 2 * jnp.pi)
        return StuartLandauState(jnp.cos(phase), jnp.sin(phase))

    def _couple(self, u: Array) -> Array:
        if self.coupling.ndim == 2:
            return self.coupling @ u - jnp.sum(self.coupling, axis=1) * u
        return self.coupling * (jnp.mean(u) - u)

    def vector_field(self, t, y, args):
        x, v = y
        growth = self.a - (x * x + v * v)
        dx = growth * x - self.omega * v + self._couple(x) + args
        dv = growth * v + self.omega * x + self._couple(v)
        return dx, dv

    def step(self, state: StuartLandauState, inputs, t, dt) -> tuple[StuartLandauState, Array]:
        dtype = state.x.dtype
        drive = jnp.zeros((), dtype) if inputs is None else jnp.asarray(inputs, dtype)
        drive = jnp.broadcast_to(drive, (self.n,))
        x, v = self.method.step(self.vector_field, t, (state.x, state.y), drive, dt)
        return StuartLandauState(x, v), x
