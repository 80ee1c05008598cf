"""Artificial Kuramoto oscillatory neurons (Miyato et al., ICLR 2025): the vector update.

Each oscillator is a unit vector `x_i` in R^D. One step of size `gamma` (the `dt` of
`step`) is `x <- normalise(x + gamma dx/dt)` with

    dx_i/dt = Omega_i x_i + P_{x_i}(c_i + sum_j J_ij x_j),   P_x(y) = y - <y, x> x,

`Omega_i` antisymmetric (a rotation generator) and `c_i` a conditional stimulus. For
`D = 2`, `c = 0`, `J_ij = K/N` and `Omega_i` the rotation at rate `omega_i`, the phase
`theta_i` of `x_i` obeys the classic Kuramoto model, and the update is its projected
Euler discretisation (first order in `gamma`). Time is dimensionless here: `gamma` is
the step, as in the paper. This model takes a dense `J`; the convolution and attention
couplings, the block and the read-out for feature maps are in `_akorn_layers.py`.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ..core._abstract import AbstractDynamics
from ..core._errors import check_finite
from ._common import check_count, check_matrix


class AKOrNState(eqx.Module):
    """The oscillators, unit vectors `(n, dim)`."""

    x: Float[Array, "n dim"]

    @property
    def theta(self) -> Float[Array, " n"]:
        """The phase of each oscillator in its first two components (rad)."""
        return jnp.arctan2(self.x[:, 1], self.x[:, 0])


def _normalise(x: Array) -> Array:
    norm = jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True))
    return x / jnp.maximum(norm, jnp.asarray(1e-12, x.dtype))


def _rotation_generators(omega, n: int, dim: int) -> Array:
    """`omega` as `(n, dim, dim)` matrices: scalar/(n,) rates for dim 2, else matrices."""
    dtype = jnp.result_type(float)
    shape = jnp.shape(omega)
    if shape in ((), (n,)) and dim == 2:
        w = jnp.broadcast_to(jnp.asarray(omega, dtype), (n,))
        zero = jnp.zeros((n,), dtype)
        return jnp.stack([jnp.stack([zero, -w], -1), jnp.stack([w, zero], -1)], -2)
    if shape in ((dim, dim), (n, dim, dim)):
        return jnp.broadcast_to(jnp.asarray(omega, dtype), (n, dim, dim))
    allowed = f"a scalar, ({n},), " if dim == 2 else ""
    raise ValueError(
        f"omega must be {allowed}({dim}, {dim}) or ({n}, {dim}, {dim}), got shape {shape}"
    )


class AKOrN(AbstractDynamics):
    """Vector oscillators on the sphere with dense coupling (the AKOrN update).

    **Arguments:**

    - `n`: number of oscillators; `dim`: oscillator dimension D (>= 1; 2 gives phases).
    - `coupling`: `J`, an `(n, n)` matrix (row `i`: the couplings into `i`), applied to
      every component alike.
    - `omega`: natural frequencies: for `dim = 2` a rate (scalar or `(n,)`, rad per unit
      time), or `(dim, dim)` / `(n, dim, dim)` matrices whose antisymmetric part is used.
    - `x_init`: initial vectors `(n, dim)` (normalised); default uniform on the sphere.

    The input of `step` is the stimulus `c` (`(n, dim)`, or `None` for none); `dt` is
    the step `gamma`. `step` returns the new state and the energy before the step.
    """

    n: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    coupling: Float[Array, "n n"]
    omega: Float[Array, "n dim dim"]
    x_init: Float[Array, "n dim"] | None

    def __init__(self, n: int, dim: int = 2, *, coupling, omega=0.0, x_init=None):
        self.n = check_count("n", n)
        self.dim = check_count("dim", dim, minimum=1)
        self.coupling = check_matrix("coupling", coupling, n)
        self.omega = _rotation_generators(omega, n, dim)
        check_finite("omega", self.omega)
        if x_init is not None:
            if jnp.shape(x_init) != (n, dim):
                raise ValueError(f"x_init must have shape ({n}, {dim}), got {jnp.shape(x_init)}")
            x_init = _normalise(jnp.asarray(x_init, jnp.result_type(float)))
        self.x_init = x_init

    def init_state(self, *, key) -> AKOrNState:
        if self.x_init is not None:
            return AKOrNState(self.x_init)
        x = jr.normal(key, (self.n, self.dim), self.omega.dtype)
        return AKOrNState(_normalise(x))

    def _field(self, x: Array, c: Array) -> Array:
        return c + self.coupling @ x

    def vector_field(self, t, y, args):
        """`dx/dt = Omega x + P_x(c + J x)` for `y = x` `(n, dim)` and `args = c`."""
        antisym = (self.omega - jnp.swapaxes(self.omega, -1, -2)) / 2
        rotation = jnp.einsum("nij,nj->ni", antisym, y)
        y_in = self._field(y, args)
        tangent = y_in - jnp.sum(y_in * y, axis=-1, keepdims=True) * y
        return rotation + tangent

    def energy(self, x: Float[Array, "n dim"], c=None) -> Float[Array, ""]:
        """`E = -sum_i <x_i, c_i> - 1/2 sum_ij J_ij <x_i, x_j>`: for symmetric `J` and no
        rotation, a Lyapunov function of the flow (`dE/dt = -sum_i |P_{x_i}(c_i + (J x)_i)|^2`)."""
        c = jnp.zeros_like(x) if c is None else jnp.asarray(c, x.dtype)
        return -jnp.sum(x * c) - 0.5 * jnp.sum(x * (self.coupling @ x))

    def step(self, state: AKOrNState, inputs, t, dt) -> tuple[AKOrNState, Array]:
        x = state.x
        c = jnp.zeros_like(x) if inputs is None else jnp.broadcast_to(inputs, x.shape)
        x_new = _normalise(x + dt * self.vector_field(t, x, c))
        return AKOrNState(x_new), self.energy(x, c)
