"""Integrators against closed forms: orders of convergence, exactness, diffrax adapter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.core import RK4, Euler, ExponentialEuler, get_integrator, solve_with_diffrax


def field(t, y, args):
    """dy/dt = -y / tau + sin(t): a linear ODE with a closed-form solution."""
    return -y / args + jnp.sin(t)


def exact(t, tau, y0):
    # y' = -y/tau + sin t  =>  y = A sin t + B cos t + C exp(-t/tau)
    a = 1 / tau
    A, B = a / (1 + a**2), -1 / (1 + a**2)
    return A * np.sin(t) + B * np.cos(t) + (y0 - B) * np.exp(-a * t)


def integrate(method, dt, t1=3.0, tau=0.5, y0=1.0):
    n = int(round(t1 / dt))

    def body(y, i):
        return method.step(field, i * dt, y, tau, dt), None

    y, _ = jax.lax.scan(body, jnp.asarray(y0), jnp.arange(n, dtype=jnp.float64))
    return float(y)


@pytest.mark.parametrize("method, order", [(Euler(), 1), (RK4(), 4), (ExponentialEuler(), 1)])
def test_convergence_order(x64, method, order):
    errors = [abs(integrate(method, dt) - exact(3.0, 0.5, 1.0)) for dt in (0.02, 0.01)]
    assert errors[0] / errors[1] == pytest.approx(2.0**order, rel=0.2)


def test_exponential_euler_is_exact_for_a_linear_leak(x64):
    leak = lambda t, y, tau: (-(y + 60.0) + 15.0) / tau  # noqa: E731
    y, dt, tau = jnp.asarray(-70.0), 0.5, 10.0
    for _ in range(40):
        y = ExponentialEuler().step(leak, 0.0, y, tau, dt)
    closed = -45.0 + (-70.0 + 45.0) * np.exp(-20.0 / tau)
    assert float(y) == pytest.approx(closed, rel=1e-12)


def test_exponential_euler_on_a_pytree_uses_each_leaf_own_rate(x64):
    def two(t, y, args):
        return {"a": -y["a"] / 2.0, "b": -y["b"] / 5.0 + y["a"]}

    y = {"a": jnp.asarray(1.0), "b": jnp.asarray(0.0)}
    out = ExponentialEuler().step(two, 0.0, y, None, 0.1)
    assert float(out["a"]) == pytest.approx(np.exp(-0.05), rel=1e-12)
    assert float(out["b"]) == pytest.approx(5.0 * np.expm1(0.1 / 5.0 * -1) * -1, rel=1e-12)


def test_diffrax_adapter_matches_closed_form(x64):
    ts = jnp.linspace(0.0, 2.0, 5)
    sol = solve_with_diffrax(
        field, jnp.asarray(1.0), 0.5, t0=0.0, t1=2.0, saveat=ts, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(sol.ys), exact(np.asarray(ts), 0.5, 1.0), rtol=1e-8, atol=1e-10
    )


def test_get_integrator_names():
    assert isinstance(get_integrator("rk4"), RK4)
    with pytest.raises(ValueError, match="method must be one of"):
        get_integrator("heun")
