"""Stuart-Landau oscillators against closed forms and scipy; fitting a coupling matrix."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.oscillators import Kuramoto, StuartLandau


def test_uncoupled_stuart_landau_closed_form(x64):
    """`dr/dt = a r - r^3`, `dphi/dt = omega`: r^2(t) = a / (1 + (a / r0^2 - 1) e^{-2 a t})."""
    a, omega, r0 = np.array([1.0, 0.5, 2.0]), np.array([2.0, -1.0, 0.3]), 0.2
    model = StuartLandau(3, a=a, omega=omega, z_init=np.full(3, r0 + 0j))
    dt, n_steps = 0.01, 400
    sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps,
                       save=(bs.StateMonitor("amplitude"), bs.StateMonitor("phase")))  # fmt: skip
    t = dt * np.arange(1, n_steps + 1)[:, None]
    r = np.sqrt(a / (1 + (a / r0**2 - 1) * np.exp(-2 * a * t)))
    np.testing.assert_allclose(sol.traces["amplitude"], r, rtol=1e-8)
    np.testing.assert_allclose(sol.traces["phase"], np.angle(np.exp(1j * omega * t)), atol=1e-8)


@pytest.mark.parametrize("matrix", [False, True])
def test_coupled_stuart_landau_matches_solve_ivp(x64, matrix):
    rng = np.random.default_rng(0)
    n = 6
    a, omega = rng.uniform(-0.5, 1.0, n), rng.normal(1.0, 0.3, n)
    j = rng.uniform(0, 0.4, (n, n)) if matrix else np.full((n, n), 0.8 / n)
    z0 = rng.normal(size=n) + 1j * rng.normal(size=n)
    model = StuartLandau(n, a=a, omega=omega, coupling=j if matrix else 0.8, z_init=z0)
    dt, n_steps = 0.01, 300

    def f(t, y):
        z = y[:n] + 1j * y[n:]
        dz = (a + 1j * omega - np.abs(z) ** 2) * z + j @ z - j.sum(axis=1) * z
        return np.concatenate([dz.real, dz.imag])

    t = dt * np.arange(1, n_steps + 1)
    ref = solve_ivp(f, (0, t[-1]), np.concatenate([z0.real, z0.imag]), t_eval=t,
                    method="DOP853", rtol=1e-12, atol=1e-12)  # fmt: skip
    sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps,
                       save=(bs.StateMonitor("x"), bs.StateMonitor("y")))  # fmt: skip
    np.testing.assert_allclose(sol.traces["x"], ref.y[:n].T, atol=1e-6)
    np.testing.assert_allclose(sol.traces["y"], ref.y[n:].T, atol=1e-6)


def test_stuart_landau_bad_input():
    with pytest.raises(ValueError, match="coupling"):
        StuartLandau(3, coupling=np.ones((3, 2)))
    with pytest.raises(ValueError, match="omega"):
        StuartLandau(3, omega=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="z_init"):
        StuartLandau(3, z_init=np.ones(2))


def test_fit_coupling_matrix_to_a_phase_pattern():
    """Train J of 5 oscillators (optax Adam through the RK4 rollout) to lock at a target
    pattern of phase differences relative to oscillator 0, held over the second half."""
    n, dt, n_steps = 5, 0.1, 300
    target = jnp.array([0.0, 0.4, -0.3, 0.8, 0.2])
    omega = jnp.array([0.1, -0.05, 0.0, 0.08, -0.1])
    theta0 = jr.uniform(jr.key(7), (n,), maxval=2 * jnp.pi)
    model = Kuramoto(n, omega=omega, coupling=jnp.full((n, n), 0.2), theta_init=theta0)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    # train only the coupling matrix
    train = jax.tree_util.tree_map(lambda _: False, params)
    train = eqx.tree_at(lambda m: m.coupling, train, True)
    params, frozen = eqx.partition(params, train)

    def phase_errors(p, n_steps=n_steps):
        m = eqx.combine(p, frozen, static)
        sol = bs.integrate(m, m.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps,
                           save=(bs.StateMonitor("theta", every=10),))  # fmt: skip
        late = sol.traces["theta"][-15:]  # the second half: a locked pattern, not a transient
        rel = late - late[:, :1]
        d = rel - target[None, :]
        return jnp.arctan2(jnp.sin(d), jnp.cos(d))

    @eqx.filter_jit
    def loss_fn(p):
        return jnp.mean(1 - jnp.cos(phase_errors(p)))

    opt = optax.adam(0.05)
    state = opt.init(params)

    @eqx.filter_jit
    def update(p, s):
        loss, g = eqx.filter_value_and_grad(loss_fn)(p)
        with jax.numpy_dtype_promotion("standard"):  # optax is not strict-promotion clean
            updates, s = opt.update(g, s, p)
        return eqx.apply_updates(p, updates), s, loss

    loss0 = float(loss_fn(params))
    for _ in range(150):
        params, state, _ = update(params, state)
    loss1 = float(loss_fn(params))
    assert loss1 < loss0 / 1000, (loss0, loss1)
    np.testing.assert_allclose(phase_errors(params), 0.0, atol=0.02)
    # the pattern is a stable locked state: it persists over a run twice as long
    np.testing.assert_allclose(phase_errors(params, 2 * n_steps), 0.0, atol=0.05)
