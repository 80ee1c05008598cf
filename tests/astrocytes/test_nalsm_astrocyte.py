"""The NALSM astrocyte against its closed-form solution."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.astrocytes._nalsm import NALSMAstrocyte


@eqx.filter_jit
def _scan(astro, liquid, inp, dt, n_steps):
    def body(state, _):
        state, a = astro.step(state, (liquid, inp), 0.0, dt)
        return state, a

    return jax.lax.scan(body, astro.init_state(), None, length=n_steps)[1]


def _run(astro, liquid, inp, n_steps, dt):
    return np.asarray(_scan(astro, liquid, inp, jnp.asarray(dt), n_steps))


@pytest.mark.parametrize("dt", [1.0, 0.25])
@pytest.mark.parametrize(("n_liquid_spikes", "n_input_spikes"), [(30, 10), (3, 12), (0, 0)])
def test_settles_where_its_equation_says(x64, dt, n_liquid_spikes, n_input_spikes):
    """Constant input: A_n = A* + (A0 - A*) (1 - dt/tau)^n, A* = w D + b."""
    astro = NALSMAstrocyte(tau=100.0, w=0.015, bias=0.15, a0=0.05)
    liquid = jnp.zeros(1000).at[:n_liquid_spikes].set(1.0)
    inp = jnp.zeros(784).at[:n_input_spikes].set(1.0)
    n = 4000  # 40 time constants at dt = 1, 10 at dt = 0.25
    trace = _run(astro, liquid, inp, n, dt)
    d = n_liquid_spikes - n_input_spikes
    a_star = 0.015 * d + 0.15
    steps = np.arange(1, n + 1)
    expected = a_star + (0.05 - a_star) * (1 - dt / 100.0) ** steps
    np.testing.assert_allclose(trace, expected, rtol=1e-12, atol=1e-14)
    assert float(astro.fixed_point(d)) == pytest.approx(a_star, rel=1e-12)
    # settled: within (1 - dt/tau)^n of the distance it started at
    assert abs(trace[-1] - a_star) <= abs(0.05 - a_star) * (1 - dt / 100.0) ** n + 1e-14
    if dt == 1.0:
        assert trace[-1] == pytest.approx(a_star, abs=1e-14)


def test_only_spike_totals_enter(getkey):
    astro = NALSMAstrocyte()
    s = astro.init_state()
    a1 = astro.step(s, (jnp.ones(7), jnp.zeros(3)), 0.0, 1.0)[1]
    a2 = astro.step(s, (jnp.zeros(50).at[10:17].set(1.0), jnp.zeros(9, bool)), 0.0, 1.0)[1]
    assert float(a1) == float(a2) == pytest.approx(0.15 + 0.015 * 7 / 100.0)


def test_liquid_above_input_raises_the_depression_rate():
    astro = NALSMAstrocyte()
    up = _run(astro, jnp.ones(20), jnp.ones(5), 10, 1.0)
    down = _run(astro, jnp.ones(5), jnp.ones(20), 10, 1.0)
    assert np.all(np.diff(up) > 0) and np.all(np.diff(down) < 0)
    assert up[0] > 0.15 > down[0]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"tau": 0.0}, "tau"),
        ({"tau": -5.0}, "tau"),
        ({"w": float("nan")}, "w"),
        ({"bias": float("inf")}, "bias"),
        ({"tau": jnp.ones(3)}, "tau must be a scalar"),
    ],
)
def test_bad_parameters(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        NALSMAstrocyte(**kwargs)
