"""Fixed-step integrators for a model's vector field.

A model exposes `vector_field(t, y, args) -> dy/dt` over its continuous state `y` (a
pytree of arrays with one entry per neuron). An integrator advances `y` by one step of
`dt`. Thresholds, resets and refractory clamps are the model's business, not the
integrator's.

`ExponentialEuler` follows Brian2's `exponential_euler` and brainstate's
`exp_euler_step`: each variable is treated as `dx/dt = a + b x` with `a` and `b`
taken at the current state (`b` is the diagonal of the Jacobian, found with one JVP
per state leaf), which is exact for the leak of LIF-type models, for exponential
synapses and for Hodgkin-Huxley gates (Rush-Larsen).
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

VectorField = Callable[[Any, Any, Any], Any]


class AbstractIntegrator(eqx.Module):
    """Advances `y` by one step: `step(vector_field, t, y, args, dt) -> y_next`."""

    @abc.abstractmethod
    def step(self, vector_field: VectorField, t: Any, y: Any, args: Any, dt: Any) -> Any:
        """One step of size `dt` from time `t`."""


def _axpy(a: Any, x: Any, y: Any) -> Any:
    return jtu.tree_map(lambda xi, yi: yi + a * xi, x, y)


class Euler(AbstractIntegrator):
    """Forward Euler, first order."""

    def step(self, vector_field, t, y, args, dt):
        return _axpy(dt, vector_field(t, y, args), y)


class RK4(AbstractIntegrator):
    """The classic fourth-order Runge-Kutta method."""

    def step(self, vector_field, t, y, args, dt):
        k1 = vector_field(t, y, args)
        k2 = vector_field(t + dt / 2, _axpy(dt / 2, k1, y), args)
        k3 = vector_field(t + dt / 2, _axpy(dt / 2, k2, y), args)
        k4 = vector_field(t + dt, _axpy(dt, k3, y), args)
        return jtu.tree_map(
            lambda yi, a, b, c, d: yi + dt / 6 * (a + 2 * b + 2 * c + d), y, k1, k2, k3, k4
        )


def _phi1(z: jax.Array) -> jax.Array:
    """`(exp(z) - 1) / z`, with its limit 1 at z = 0 (accurate for small |z|).

    `z` is capped at 50: beyond that the variable runs away within the step anyway (a
    spike upswing), and the cap keeps values and gradients finite.
    """
    z = jnp.minimum(z, 50.0)
    small = jnp.abs(z) < 1e-6
    safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2, jnp.expm1(safe) / safe)


class ExponentialEuler(AbstractIntegrator):
    """Exponential Euler: exact when each variable's equation is linear in itself."""

    def step(self, vector_field, t, y, args, dt):
        leaves, treedef = jtu.tree_flatten(y)
        f = vector_field(t, y, args)
        f_leaves = treedef.flatten_up_to(f)
        out = []
        for k, (yk, fk) in enumerate(zip(leaves, f_leaves)):
            tangent = [
                jnp.ones_like(x) if i == k else jnp.zeros_like(x) for i, x in enumerate(leaves)
            ]
            _, jv = jax.jvp(
                lambda *ls: vector_field(t, jtu.tree_unflatten(treedef, ls), args),
                tuple(leaves),
                tuple(tangent),
            )
            bk = treedef.flatten_up_to(jv)[k]
            out.append(yk + dt * fk * _phi1(bk * dt))
        return jtu.tree_unflatten(treedef, out)


INTEGRATORS: dict[str, type[AbstractIntegrator]] = {
    "euler": Euler,
    "exp_euler": ExponentialEuler,
    "rk4": RK4,
}


def get_integrator(name: str | AbstractIntegrator) -> AbstractIntegrator:
    """An integrator from its name (`"euler"`, `"exp_euler"`, `"rk4"`) or itself."""
    if isinstance(name, AbstractIntegrator):
        return name
    if name not in INTEGRATORS:
        raise ValueError(f"method must be one of {sorted(INTEGRATORS)}, got {name!r}")
    return INTEGRATORS[name]()


def solve_with_diffrax(
    vector_field: VectorField,
    y0: Any,
    args: Any,
    *,
    t0: float,
    t1: float,
    saveat: jax.Array | None = None,
    solver: Any = None,
    rtol: float = 1e-8,
    atol: float = 1e-8,
    dt0: float | None = None,
    max_steps: int = 1_000_000,
) -> Any:
    """Solve a model's vector field with diffrax (adaptive steps, any diffrax solver).

    **Arguments:**

    - `vector_field`: `f(t, y, args)`, e.g. a neuron's `vector_field` method.
    - `y0`, `args`: initial state pytree and the constant arguments (input).
    - `t0`, `t1`: start and end times (ms).
    - `saveat`: times to save (defaults to `t1` only).
    - `solver`: a diffrax solver (default `Tsit5()`); `rtol`, `atol`: tolerances.

    **Returns:** the diffrax `Solution` (`sol.ts`, `sol.ys`).
    """
    import diffrax

    solver = diffrax.Tsit5() if solver is None else solver
    save = diffrax.SaveAt(t1=True) if saveat is None else diffrax.SaveAt(ts=saveat)
    return diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        solver,
        t0=t0,
        t1=t1,
        dt0=dt0,
        y0=y0,
        args=args,
        saveat=save,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
    )
