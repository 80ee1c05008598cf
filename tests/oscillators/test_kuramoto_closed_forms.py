"""The classic Kuramoto model against its closed-form results (models.md section 5)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.stats import norm

import brainsim as bs
from brainsim.oscillators import (
    Kuramoto,
    ott_antonsen_order_parameter,
    stationary_order_parameter,
)

GAMMA = 1.0


def lorentzian_quantiles(n: int, gamma: float) -> np.ndarray:
    k = np.arange(1, n + 1)
    return gamma * np.tan(np.pi * (k - 0.5) / n - np.pi / 2)


@eqx.filter_jit
def _r_traces(omega, theta0, ks, dt, n_steps, every):
    def run(k, w):
        model = Kuramoto(theta0.shape[0], omega=w, coupling=k, theta_init=theta0)
        state0 = model.init_state(key=jr.key(0))
        save = (bs.StateMonitor("r", every=every),)
        return bs.integrate(model, state0, None, dt=dt, n_steps=n_steps, save=save).traces["r"]

    return jax.vmap(run)(ks, omega)


def r_traces(omega, theta0, ks, *, dt, n_steps, every):
    """r(t) for each coupling in `ks` (vmapped), recorded every `every` steps."""
    omega = jnp.broadcast_to(jnp.asarray(omega, jnp.float32), (len(ks), len(theta0)))
    theta0 = jnp.asarray(theta0, jnp.float32)
    return np.asarray(_r_traces(omega, theta0, jnp.asarray(ks, jnp.float32), dt, n_steps, every))


def test_lorentzian_stationary_coherence():
    n = 10_000
    omega = lorentzian_quantiles(n, GAMMA)
    theta0 = np.asarray(jr.uniform(jr.key(1), (n,), maxval=2 * np.pi))
    ks = np.array([1.0, 1.6, 3.0, 4.0, 6.0]) * GAMMA
    r = r_traces(omega, theta0, ks, dt=0.2, n_steps=100, every=5)
    r_stat = r[:, -8:].mean(axis=1)  # the last 8 time units
    expected = np.asarray(stationary_order_parameter(ks, GAMMA))
    above = ks > 2 * GAMMA
    np.testing.assert_allclose(r_stat[above], expected[above], atol=0.02)
    assert np.all(r[~above, -8:] < 5 / np.sqrt(n)), r[~above, -8:]


def wrapped_cauchy_quantiles(n: int, rho: float) -> np.ndarray:
    """Deterministic quantiles of the wrapped Cauchy law with mean resultant `rho`."""
    u = (np.arange(1, n + 1) - 0.5) / n
    return 2 * np.arctan((1 - rho) / (1 + rho) * np.tan(np.pi * (u - 0.5)))


def ott_antonsen_initial_state(n: int, r0: float, pairing: str):
    """Lorentzian frequencies and wrapped-Cauchy phases, independent of each other.

    `"random"`: both quantile-sampled, paired by a random permutation. `"lattice"`: 500
    frequency quantiles, each carrying the same 20 phase quantiles, which removes the
    finite-N fluctuations that the unstable incoherent state would amplify (small r0).
    """
    if pairing == "random":
        perm = np.asarray(jr.permutation(jr.key(3), n))
        return lorentzian_quantiles(n, GAMMA), wrapped_cauchy_quantiles(n, r0)[perm]
    m = n // 20
    return np.repeat(lorentzian_quantiles(m, GAMMA), 20), np.tile(
        wrapped_cauchy_quantiles(20, r0), m
    )


@pytest.mark.parametrize("r0, pairing", [(0.1, "lattice"), (0.9, "random")])
def test_ott_antonsen_transient(r0, pairing):
    omega, theta0 = ott_antonsen_initial_state(10_000, r0, pairing)
    np.testing.assert_allclose(np.abs(np.mean(np.exp(1j * theta0))), r0, atol=1e-6)
    ks = np.array([1.0, 3.0, 5.0]) * GAMMA
    dt, every, n_steps = 0.05, 4, 160
    r = r_traces(omega, theta0, ks, dt=dt, n_steps=n_steps, every=every)
    t = dt * every * np.arange(1, r.shape[1] + 1)
    for k, rk in zip(ks, r):
        expected = np.asarray(ott_antonsen_order_parameter(t, r0, k, GAMMA))
        np.testing.assert_allclose(rk, expected, atol=0.02, err_msg=f"K = {k}")
    # the transient is visible: r changes by far more than the tolerance
    assert np.ptp(r[0]) > 0.05 and np.ptp(r[2]) > 0.05


def test_critical_coupling_gaussian_and_uniform():
    n = 20_000
    u = (np.arange(1, n + 1) - 0.5) / n
    gauss = norm.ppf(u)  # sigma = 1: g(0) = 1 / sqrt(2 pi)
    uniform = -1.0 + 2.0 * u  # a = 1: g(0) = 1/2
    kc_gauss, kc_uniform = 2 / (np.pi / np.sqrt(2 * np.pi)), 2 / (np.pi * 0.5)
    ratios_gauss = np.array([0.95, 1.0, 1.05, 1.1])
    ratios_uniform = np.array([0.95, 0.98, 1.02])
    ks = np.concatenate([kc_gauss * ratios_gauss, kc_uniform * ratios_uniform])
    omegas = np.concatenate([np.tile(gauss, (4, 1)), np.tile(uniform, (3, 1))])
    theta0 = np.asarray(jr.uniform(jr.key(1), (n,), maxval=2 * np.pi))
    r = r_traces(omegas, theta0, ks, dt=0.5, n_steps=200, every=10)
    r_stat = r[:, -4:].mean(axis=1)  # the last 20 time units
    for ratios, rs in ((ratios_gauss, r_stat[:4]), (ratios_uniform, r_stat[4:])):
        first = ratios[np.argmax(rs > 0.1)]
        assert np.any(rs > 0.1) and abs(first - 1.0) <= 0.1, (ratios, rs)
        assert np.all(np.diff(rs[ratios >= first]) > 0)  # r grows with K past K_c
    # uniform: a jump from incoherence to r > 0.5 within a 5 % increase of K around K_c
    r_uniform = r_stat[4:]
    assert r_uniform[1] < 0.1 and r_uniform[2] > 0.5, r_uniform
    assert ratios_uniform[2] / ratios_uniform[1] < 1.05
    # gaussian: supercritical; r at 1.1 K_c near the small-mu law sqrt(16 mu / (pi Kc^3 (-g''(0))))
    g2 = 1 / np.sqrt(2 * np.pi)
    approx = np.sqrt(16 * 0.1 / (np.pi * kc_gauss**3 * g2))
    assert abs(r_stat[3] - approx) < 0.1, (r_stat[3], approx)


def locking_run(delta_omega, k, *, dt=0.01, n_steps=20_000):
    model = Kuramoto(2, omega=jnp.array([delta_omega / 2, -delta_omega / 2]), coupling=k,
                     theta_init=jnp.zeros(2))  # fmt: skip
    state0 = model.init_state(key=jr.key(0))
    save = (bs.StateMonitor("theta", every=10),)
    theta = bs.integrate(model, state0, None, dt=dt, n_steps=n_steps, save=save).traces["theta"]
    return np.asarray(theta[:, 0] - theta[:, 1], np.float64), dt * 10


@pytest.mark.parametrize("delta_omega", [0.3, 0.99])
def test_two_oscillators_lock_at_predicted_phase(x64, delta_omega):
    phi, _ = locking_run(delta_omega, 1.0)
    np.testing.assert_allclose(phi[-100:], np.arcsin(delta_omega), atol=1e-6)


@pytest.mark.parametrize("delta_omega", [1.05, 1.5, -2.0])
def test_two_oscillators_drift_with_predicted_period(x64, delta_omega):
    phi, step = locking_run(delta_omega, 1.0)
    period = 2 * np.pi / np.sqrt(delta_omega**2 - 1.0)
    # times at which phi crosses successive multiples of 2 pi, linearly interpolated
    turns = np.floor(np.abs(phi) / (2 * np.pi))
    idx = np.nonzero(np.diff(turns))[0]
    assert len(idx) >= 3, "no drift"
    frac = (2 * np.pi * turns[idx + 1] - np.abs(phi[idx])) / np.abs(phi[idx + 1] - phi[idx])
    crossings = step * (idx + 1 + frac)
    np.testing.assert_allclose(np.diff(crossings), period, rtol=2e-3)
    mean_period = (crossings[-1] - crossings[0]) / (len(crossings) - 1)
    np.testing.assert_allclose(mean_period, period, rtol=2e-4)
