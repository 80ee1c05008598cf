"""Kuramoto model features: couplings, lag, forcing, noise, monitors, gradients, bad input."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.special import i0e, i1e

import brainsim as bs
from brainsim.oscillators import (
    Kuramoto,
    KuramotoState,
    local_order_parameter,
    order_parameter,
)


def dense_rhs(omega, j, alpha, f_amp=0.0, f_freq=0.0):
    """numpy: dtheta_i/dt = omega_i + sum_j J_ij sin(theta_j - theta_i - alpha) + forcing."""

    def f(t, th):
        diff = th[None, :] - th[:, None] - alpha
        return omega + np.sum(j * np.sin(diff), axis=1) + f_amp * np.sin(f_freq * t - th)

    return f


@eqx.filter_jit
def _run(model, n_steps, dt, key):
    state0 = model.init_state(key=key)
    save = (bs.StateMonitor("theta"),)
    return bs.integrate(model, state0, None, dt=dt, n_steps=n_steps, save=save)


def run(model, n_steps, dt, key=None):
    return _run(model, n_steps, dt, jr.key(0) if key is None else key)


def sparse_layout(j):
    """`J` (row i: into oscillator i) as a post-major CSR of `W[pre, post] = J[post, pre]`."""
    n = j.shape[0]
    post, pre = np.nonzero(j)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(post, minlength=n))])
    return CSR(indptr, pre, j[post, pre], n_pre=n, n_post=n, major="post")


@pytest.mark.parametrize("layout", ["mean_field", "dense", "sparse"])
def test_couplings_match_solve_ivp(x64, layout):
    rng = np.random.default_rng(1)
    n, dt, n_steps = 12, 0.01, 500
    omega = rng.normal(0, 1, n)
    theta0 = rng.uniform(0, 2 * np.pi, n)
    alpha = 0.3
    if layout == "mean_field":
        j = np.full((n, n), 2.0 / n)
        coupling = 2.0
    else:
        j = rng.uniform(0, 0.5, (n, n)) * (rng.random((n, n)) < 0.4)
        coupling = j if layout == "dense" else sparse_layout(j)
    model = Kuramoto(n, omega=omega, coupling=coupling, alpha=alpha, theta_init=theta0,
                     forcing_amplitude=0.5, forcing_frequency=1.3)  # fmt: skip
    theta = run(model, n_steps, dt).traces["theta"]
    t = dt * np.arange(1, n_steps + 1)
    ref = solve_ivp(dense_rhs(omega, j, alpha, 0.5, 1.3), (0, t[-1]), theta0, t_eval=t,
                    method="DOP853", rtol=1e-12, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(theta, ref.y.T, atol=1e-8)


def test_rk4_is_fourth_order(x64):
    rng = np.random.default_rng(2)
    n, t_end = 8, 2.0
    omega, theta0 = rng.normal(0, 1, n), rng.uniform(0, 2 * np.pi, n)
    model = Kuramoto(n, omega=omega, coupling=3.0, theta_init=theta0)
    ref = solve_ivp(dense_rhs(omega, np.full((n, n), 3.0 / n), 0.0), (0, t_end), theta0,
                    method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]  # fmt: skip
    errs = [float(jnp.max(jnp.abs(run(model, round(t_end / dt), dt).state.theta - ref)))
            for dt in (0.2, 0.1)]  # fmt: skip
    np.testing.assert_allclose(errs[0] / errs[1], 16.0, rtol=0.2)


def test_noise_diffusion_matches_brownian_motion(getkey):
    """Uncoupled oscillators with noise: theta(t) - omega t has variance sigma^2 t."""
    n, sigma, dt, n_steps = 4000, 0.5, 0.1, 100
    model = Kuramoto(n, omega=1.0, coupling=0.0, noise=sigma, theta_init=jnp.zeros(n))
    state = run(model, n_steps, dt, key=getkey()).state
    t = dt * n_steps
    drift = state.theta - 1.0 * t
    assert abs(float(jnp.mean(drift))) < 4 * sigma * np.sqrt(t / n)
    np.testing.assert_allclose(float(jnp.var(drift)), sigma**2 * t, rtol=0.1)
    # the key lives in the state: the same key gives the same path, another key another
    again = run(model, n_steps, dt, key=jr.key(0)).state.theta
    np.testing.assert_array_equal(again, run(model, n_steps, dt, key=jr.key(0)).state.theta)
    assert not np.allclose(again, run(model, n_steps, dt, key=jr.key(5)).state.theta)


def test_noise_destroys_synchrony_of_identical_oscillators():
    """Identical oscillators with noise D = sigma^2 / 2: the Fokker-Planck threshold is K = 2D."""
    n, dt = 2000, 0.05
    ks = jnp.array([0.5, 3.0])

    def r_final(k):
        model = Kuramoto(n, omega=0.0, coupling=k, noise=1.0, theta_init=jnp.zeros(n))
        sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=400,
                           save=(bs.StateMonitor("r", every=20),))  # fmt: skip
        return sol.traces["r"][-4:].mean()

    r = jax.vmap(r_final)(ks)
    assert float(r[0]) < 0.1  # K < 2D = 1: incoherent
    # K = 3 > 2D: the stationary density is von Mises, r = I1(K r / D) / I0(K r / D)
    expected = brentq(lambda x: x - i1e(6 * x) / i0e(6 * x), 0.1, 1.0)  # K / D = 6
    np.testing.assert_allclose(float(r[1]), expected, atol=0.02)


def test_forcing_entrains_an_oscillator(x64):
    """dphi/dt = (omega - Omega) - F sin(phi): locks at arcsin((omega - Omega)/F)."""
    model = Kuramoto(1, omega=1.2, coupling=0.0, forcing_amplitude=0.5, forcing_frequency=1.0,
                     theta_init=jnp.zeros(1))  # fmt: skip
    dt, n_steps = 0.01, 4000
    theta = run(model, n_steps, dt).state.theta[0]
    phi = float(theta) - 1.0 * dt * n_steps
    np.testing.assert_allclose(np.angle(np.exp(1j * phi)), np.arcsin(0.2 / 0.5), atol=1e-6)


def test_order_parameters_and_monitors():
    theta = jnp.array([0.0, 0.0, np.pi, np.pi / 2, np.pi / 2, np.pi / 2])
    modules = jnp.array([0, 0, 0, 1, 1, 2])
    r, psi = local_order_parameter(theta, modules, 4)
    np.testing.assert_allclose(r, [1 / 3, 1.0, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(psi[1:3], np.pi / 2, atol=1e-6)
    r_all, _ = order_parameter(theta)
    np.testing.assert_allclose(r_all, np.hypot(1.0, 3.0) / 6, atol=1e-6)
    # monitors read r, psi and local_r from the state
    model = Kuramoto(6, omega=0.0, coupling=0.0, theta_init=theta, modules=modules)
    sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=0.1, n_steps=3,
                       save=(bs.StateMonitor("r"), bs.StateMonitor("local_r")))  # fmt: skip
    np.testing.assert_allclose(sol.traces["r"], r_all, atol=1e-6)
    np.testing.assert_allclose(sol.traces["local_r"][-1], [1 / 3, 1.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="modules"):
        _ = KuramotoState(theta, jr.key(0)).local_r


def test_two_modules_synchronise_separately():
    """Two uncoupled dense blocks of identical oscillators: each locks, the whole does not."""
    n = 10
    j = np.zeros((n, n))
    j[:5, :5] = j[5:, 5:] = 0.5
    omega = np.r_[np.zeros(5), np.full(5, 1.0)]
    modules = np.r_[np.zeros(5), np.ones(5)].astype(int)
    model = Kuramoto(n, omega=omega, coupling=j, modules=modules)
    state = run(model, 1000, 0.05).state
    np.testing.assert_allclose(state.local_r, 1.0, atol=1e-4)
    assert float(state.r) < 0.999


def test_gradients_match_finite_differences(x64):
    """d(final r)/d(omega, sparse coupling weights, alpha) through the RK4 rollout."""
    rng = np.random.default_rng(3)
    n = 6
    theta0 = rng.uniform(0, 2 * np.pi, n)
    j = rng.uniform(0.1, 0.5, (n, n)) * (rng.random((n, n)) < 0.5)
    model = Kuramoto(n, omega=rng.normal(0, 0.5, n), coupling=sparse_layout(j), alpha=0.2,
                     theta_init=theta0)  # fmt: skip
    params, static = eqx.partition(model, eqx.is_inexact_array)

    @jax.jit
    def final_r(p):
        m = eqx.combine(p, static)
        return bs.integrate(m, m.init_state(key=jr.key(0)), None, dt=0.05, n_steps=100).state.r

    grads = jax.grad(final_r)(params)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    g_flat, _ = jax.flatten_util.ravel_pytree(grads)
    eps = 1e-6
    fd = np.array([
        (final_r(unravel(flat.at[i].add(eps))) - final_r(unravel(flat.at[i].add(-eps)))) / (2 * eps)
        for i in range(flat.shape[0])
    ])  # fmt: skip
    assert np.max(np.abs(fd)) > 1e-3
    np.testing.assert_allclose(g_flat, fd, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n=-1), "n"),
        (dict(n=3, coupling=np.ones((3, 4))), "coupling"),
        (dict(n=3, coupling=np.ones((2, 2))), "coupling"),
        (dict(n=3, omega=np.array([1.0, np.inf, 0.0])), "omega"),
        (dict(n=3, omega=np.ones(4)), "omega"),
        (dict(n=3, alpha=np.nan), "alpha"),
        (dict(n=3, coupling=CSR([0, 0, 0], [], 1.0, n_pre=2, n_post=2, major="pre")), "coupling"),
        (dict(n=3, modules=[0, -1, 1]), "modules"),
        (dict(n=3, noise=-1.0), "noise"),
        (dict(n=3, impl="gpu"), "impl"),
    ],
)
def test_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Kuramoto(**kwargs)
