"""Kuramoto(-Sakaguchi) phase oscillators: mean-field, dense or sparse coupling, noise.

Time is in ms, like the rest of brainsim, so frequencies are angular frequencies in
rad/ms (a 10 Hz rhythm has `omega = 2 pi * 0.01`). The closed-form results of the
classic model hold in any time unit: read "ms" as "one time unit" there.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, Int

from ..core._abstract import AbstractDynamics
from ..core._errors import check_nonnegative
from ..core._integrators import AbstractIntegrator, get_integrator
from ..kernels import CSR, ELL, event_matvec
from ..kernels.event_matvec import IMPLS
from ._common import (
    check_count,
    check_matrix,
    check_modules,
    check_vector,
    local_order_parameter,
    order_parameter,
)


class KuramotoState(eqx.Module):
    """Phases (rad), the noise key, and the module labels the local order parameter uses.

    `r`, `psi` and `local_r` are derived values that `StateMonitor("r")` (etc.) records.
    """

    theta: Float[Array, " n"]
    key: Any
    modules: Int[Array, " n"] | None = None
    n_modules: int = eqx.field(static=True, default=0)

    @property
    def r(self) -> Float[Array, ""]:
        """The global coherence `|mean_j e^{i theta_j}|`."""
        return order_parameter(self.theta)[0]

    @property
    def psi(self) -> Float[Array, ""]:
        """The mean phase (rad)."""
        return order_parameter(self.theta)[1]

    @property
    def local_r(self) -> Float[Array, " m"]:
        """The coherence within each module (needs `modules` on the model)."""
        if self.modules is None:
            raise ValueError("local_r needs module labels: build the model with modules=...")
        return local_order_parameter(self.theta, self.modules, self.n_modules)[0]


class Kuramoto(AbstractDynamics):
    """`dtheta_i/dt = omega_i + sum_j J_ij sin(theta_j - theta_i - alpha_i)
    + F sin(Omega t - theta_i) + I_i(t) + sigma xi_i(t)`.

    With a scalar `coupling` K the network is all-to-all with `J_ij = K / N`, computed in
    O(N) through the mean field `r e^{i psi}`: the sum is `K r sin(psi - theta_i - alpha_i)`.
    With an `(n, n)` matrix, row `i` holds the couplings into oscillator `i`. With a
    sparse `CSR`/`ELL` layout (`n_pre = n_post = n`, weight `W[j, i]` from `j` to `i`),
    the sum is `cos(theta_i + alpha_i) (W^T s)_i - sin(theta_i + alpha_i) (W^T c)_i` with
    `s = sin theta`, `c = cos theta`: two event-driven matvecs with float "spikes".

    **Arguments:**

    - `n`: number of oscillators.
    - `omega`: natural frequencies (rad/ms), scalar or `(n,)`.
    - `coupling`: scalar K (all-to-all, K/N), `(n, n)` matrix, or a `CSR`/`ELL` layout.
    - `alpha`: Sakaguchi phase lag (rad), scalar or `(n,)`.
    - `forcing_amplitude` F (rad/ms; `None`, the default, for no forcing) and
      `forcing_frequency` Omega (rad/ms).
    - `noise`: sigma (rad/sqrt(ms)); `None` (default) makes the model deterministic,
      otherwise steps are Euler-Maruyama with the key carried in the state.
    - `theta_init`: initial phases `(n,)` (rad); default uniform on [0, 2 pi) from the key.
    - `modules`: optional `(n,)` integer module labels for `KuramotoState.local_r`.
    - `method`: deterministic integrator, `"rk4"` (default), `"euler"` or an integrator.
    - `impl`: `event_matvec` implementation for sparse coupling.

    The input of `step` is an extra drive `I_i(t)` (rad/ms, scalar or `(n,)`) or `None`;
    `step` returns the new state and `sin theta` (the oscillators' "signal").
    """

    n: int = eqx.field(static=True)
    omega: Float[Array, "*n"]
    coupling: Any
    alpha: Float[Array, "*n"]
    forcing_amplitude: Float[Array, ""] | None
    forcing_frequency: Float[Array, ""] | None
    noise: Float[Array, ""]
    theta_init: Float[Array, " n"] | None
    modules: Int[Array, " n"] | None
    n_modules: int = eqx.field(static=True)
    stochastic: bool = eqx.field(static=True)
    method: AbstractIntegrator
    impl: str = eqx.field(static=True)

    def __init__(
        self,
        n: int,
        *,
        omega=0.0,
        coupling=1.0,
        alpha=0.0,
        forcing_amplitude=None,
        forcing_frequency=0.0,
        noise=None,
        theta_init=None,
        modules=None,
        method: str | AbstractIntegrator = "rk4",
        impl: str = "auto",
    ):
        self.n = check_count("n", n)
        self.omega = check_vector("omega", omega, n)
        if isinstance(coupling, CSR | ELL):
            if (coupling.n_pre, coupling.n_post) != (n, n):
                raise ValueError(
                    f"coupling must connect {n} oscillators to themselves, got a layout of "
                    f"n_pre = {coupling.n_pre}, n_post = {coupling.n_post}"
                )
            self.coupling = coupling
        elif jnp.ndim(coupling) == 0:
            self.coupling = check_vector("coupling", coupling, n)
        else:
            self.coupling = check_matrix("coupling", coupling, n)
        self.alpha = check_vector("alpha", alpha, n)
        if forcing_amplitude is None:
            self.forcing_amplitude = self.forcing_frequency = None
        else:
            self.forcing_amplitude = check_vector("forcing_amplitude", forcing_amplitude, 1)
            self.forcing_frequency = check_vector("forcing_frequency", forcing_frequency, 1)
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        if noise is not None:
            check_nonnegative("noise", noise)
        self.stochastic = noise is not None
        self.noise = check_vector("noise", 0.0 if noise is None else noise, 1)
        self.theta_init = None if theta_init is None else check_vector("theta_init", theta_init, n)
        if self.theta_init is not None and self.theta_init.shape != (n,):
            raise ValueError(f"theta_init must have shape ({n},), got shape ()")
        self.modules, self.n_modules = check_modules(modules, n)
        self.method = get_integrator(method)
        self.impl = impl

    def init_state(self, *, key) -> KuramotoState:
        k_theta, k_noise = jr.split(key)
        dtype = self.omega.dtype
        if self.theta_init is None:
            theta = jr.uniform(k_theta, (self.n,), dtype, 0.0, 2 * jnp.pi)
        else:
            theta = self.theta_init
        return KuramotoState(theta, k_noise, self.modules, self.n_modules)

    def coupling_term(self, theta: Float[Array, " n"]) -> Float[Array, " n"]:
        """`sum_j J_ij sin(theta_j - theta_i - alpha_i)` (rad/ms)."""
        return self._coupling(jnp.sin(theta), jnp.cos(theta))

    def _coupling(self, s: Array, c: Array) -> Array:
        if isinstance(self.coupling, CSR | ELL):
            ws = event_matvec(self.coupling, s, impl=self.impl)  # type: ignore[arg-type]
            wc = event_matvec(self.coupling, c, impl=self.impl)  # type: ignore[arg-type]
        elif self.coupling.ndim == 2:
            ws = self.coupling @ s
            wc = self.coupling @ c
        else:
            ws = self.coupling * jnp.mean(s)
            wc = self.coupling * jnp.mean(c)
        # sin(theta_j - theta_i - alpha) = sin(theta_j) cos(theta_i + alpha) - cos(theta_j) sin(...)
        ca, sa = jnp.cos(self.alpha), jnp.sin(self.alpha)
        return (c * ca - s * sa) * ws - (s * ca + c * sa) * wc

    def vector_field(self, t, y, args):
        # the barrier stops XLA from recomputing sin/cos in every fusion that reads them
        s, c = jax.lax.optimization_barrier((jnp.sin(y), jnp.cos(y)))
        dtheta = self.omega + self._coupling(s, c) + args
        if self.forcing_amplitude is None or self.forcing_frequency is None:
            return dtheta
        phase = self.forcing_frequency * t
        return dtheta + self.forcing_amplitude * (jnp.sin(phase) * c - jnp.cos(phase) * s)

    def step(self, state: KuramotoState, inputs, t, dt) -> tuple[KuramotoState, Array]:
        dtype = state.theta.dtype
        drive = jnp.zeros((), dtype) if inputs is None else jnp.asarray(inputs, dtype)
        drive = jnp.broadcast_to(drive, (self.n,))
        key = state.key
        if self.stochastic:
            key, sub = jr.split(key)
            xi = jr.normal(sub, (self.n,), dtype)
            f = self.vector_field(t, state.theta, drive)
            theta = state.theta + dt * f + self.noise * jnp.sqrt(jnp.asarray(dt, dtype)) * xi
        else:
            theta = self.method.step(self.vector_field, t, state.theta, drive, dt)
        new = KuramotoState(theta, key, state.modules, state.n_modules)
        return new, jnp.sin(theta)


def stationary_order_parameter(coupling: Any, gamma: Any) -> Float[Array, "*batch"]:
    """The N -> infinity stationary coherence for Lorentzian frequencies.

    `r = sqrt(1 - 2 gamma / K)` for `K > 2 gamma`, else 0 (Kuramoto 1975).

    **Arguments:**

    - `coupling`: K (rad/ms), any shape; `gamma`: the Lorentzian half width (rad/ms).

    **Returns:** r, the shape of `coupling`.
    """
    k = jnp.asarray(coupling, jnp.result_type(float))
    return jnp.sqrt(jnp.maximum(1.0 - 2.0 * gamma / k, 0.0))


def ott_antonsen_order_parameter(t: Any, r0: Any, coupling: Any, gamma: Any) -> Array:
    """The exact r(t) of the Ott-Antonsen reduction for Lorentzian frequencies.

    Solves `dr/dt = -gamma r + (K/2) r (1 - r^2)` in closed form: with `u = r^2`,
    `u(t) = u_inf / (1 + (u_inf / u0 - 1) exp(-2 (K/2 - gamma) t))`, `u_inf = 1 - 2 gamma/K`.

    **Arguments:**

    - `t`: times (ms); `r0`: r at `t = 0`; `coupling`: K; `gamma`: the half width.

    **Returns:** r at `t`, the shape of `t`.
    """
    t = jnp.asarray(t, jnp.result_type(float))
    lam = coupling / 2.0 - gamma
    u_inf = 1.0 - 2.0 * gamma / coupling
    u0 = r0**2
    # u(t) = u_inf u0 / (u0 + (u_inf - u0) e^{-2 lam t}), valid for either sign of u_inf
    decay = jnp.exp(-2.0 * lam * t)
    return jnp.sqrt(u_inf * u0 / (u0 + (u_inf - u0) * decay))
