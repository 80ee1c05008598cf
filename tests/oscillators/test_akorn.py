"""AKOrN: the vector update reduces to the classic Kuramoto model for D = 2."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.oscillators import AKOrN


def classic(theta0, omega, k, t_end):
    """The classic model, integrated accurately by scipy."""
    n = len(theta0)

    def f(t, th):
        return omega + k / n * np.sum(np.sin(th[None, :] - th[:, None]), axis=1)

    sol = solve_ivp(f, (0.0, t_end), theta0, method="DOP853", rtol=1e-12, atol=1e-12)
    return sol.y[:, -1]


def akorn_phases(theta0, omega, k, gamma, t_end):
    n = len(theta0)
    x0 = np.stack([np.cos(theta0), np.sin(theta0)], axis=1)
    model = AKOrN(n, 2, coupling=np.full((n, n), k / n), omega=omega, x_init=x0)
    n_steps = round(t_end / gamma)
    sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=gamma, n_steps=n_steps)
    return np.asarray(sol.state.theta)


def test_akorn_converges_to_classic_kuramoto_at_first_order(x64):
    rng = np.random.default_rng(0)
    n, k, t_end = 6, 1.5, 4.0
    theta0 = rng.uniform(0, 2 * np.pi, n)
    omega = rng.normal(0, 0.5, n)
    exact = classic(theta0, omega, k, t_end)
    gammas = [0.02, 0.01, 0.005, 0.0025]
    errors = []
    for g in gammas:
        diff = np.angle(np.exp(1j * (akorn_phases(theta0, omega, k, g, t_end) - exact)))
        errors.append(np.max(np.abs(diff)))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.2)
    assert errors[-1] < 1e-2


def test_akorn_stays_on_the_sphere_and_rotates(getkey):
    n, dim = 5, 4
    model = AKOrN(n, dim, coupling=jnp.zeros((n, n)), omega=jnp.zeros((dim, dim)))
    state = model.init_state(key=getkey())
    np.testing.assert_allclose(jnp.linalg.norm(state.x, axis=1), 1.0, rtol=1e-6)
    # a stimulus aligns the oscillators with itself; the energy decreases
    c = jnp.broadcast_to(jnp.array([1.0, 0.0, 0.0, 0.0]), (n, dim))
    sol = bs.integrate(model, state, jnp.broadcast_to(c, (200, n, dim)), dt=0.1, n_steps=200)
    np.testing.assert_allclose(jnp.linalg.norm(sol.state.x, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(sol.state.x[:, 0], 1.0, atol=1e-4)
    assert float(model.energy(sol.state.x, c)) < float(model.energy(state.x, c))


def test_akorn_natural_frequency_is_a_rotation(x64):
    model = AKOrN(1, 2, coupling=jnp.zeros((1, 1)), omega=0.7, x_init=jnp.array([[1.0, 0.0]]))
    sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=1e-4, n_steps=10_000)
    np.testing.assert_allclose(sol.state.theta, 0.7, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n=3, dim=-1, coupling=np.zeros((3, 3))), "dim"),
        (dict(n=3, dim=2, coupling=np.zeros((3, 2))), "coupling"),
        (dict(n=3, dim=2, coupling=np.zeros((3, 3)), omega=np.array([0.0, np.nan, 1.0])), "omega"),
        (dict(n=-2, dim=2, coupling=np.zeros((3, 3))), "n"),
    ],
)
def test_akorn_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AKOrN(**kwargs)
