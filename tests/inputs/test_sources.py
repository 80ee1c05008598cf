"""Spike sources and current helpers against their definitions."""

import doctest

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.inputs import PoissonSource, SpikeGenerator, _currents, step_current, timed_current


def test_poisson_counts_match_the_binomial_law():
    n, steps, dt, rate = 500, 4000, 0.1, 25.0
    src = PoissonSource(n, rate)
    sol = bs.integrate(
        src, src.init_state(key=jr.key(0)), dt=dt, n_steps=steps, save=(bs.SpikeMonitor(),)
    )
    counts = np.asarray(sol.traces["spikes"]).sum(axis=0)
    p = rate * dt * 1e-3
    mean, var = steps * p, steps * p * (1 - p)
    # the mean over 500 trains lies within 4 standard errors of the Binomial mean
    assert abs(counts.mean() - mean) < 4 * np.sqrt(var / n)
    assert counts.var() == pytest.approx(var, rel=0.2)


def test_poisson_rate_per_neuron_and_per_step():
    src = PoissonSource(3, jnp.asarray([0.0, 10000.0, 0.0]))
    sol = bs.integrate(
        src, src.init_state(key=jr.key(1)), dt=0.1, n_steps=50, save=(bs.SpikeMonitor(),)
    )
    spikes = np.asarray(sol.traces["spikes"])
    assert spikes[:, 1].all() and not spikes[:, [0, 2]].any()
    rates = np.zeros((50, 3), np.float32)
    rates[20:, 2] = 10000.0  # a time-varying rate replaces the constant one
    sol = bs.integrate(
        src,
        src.init_state(key=jr.key(1)),
        jnp.asarray(rates),
        dt=0.1,
        n_steps=50,
        save=(bs.SpikeMonitor(),),
    )
    spikes = np.asarray(sol.traces["spikes"])
    assert spikes[20:, 2].all() and not spikes[:20, 2].any() and not spikes[:, 1].any()


def test_poisson_same_key_same_trains():
    src = PoissonSource(20, 100.0)

    def run(seed):
        return np.asarray(
            bs.integrate(
                src,
                src.init_state(key=jr.key(seed)),
                dt=0.1,
                n_steps=200,
                save=(bs.SpikeMonitor(),),
            ).traces["spikes"]
        )

    assert np.array_equal(run(4), run(4)) and not np.array_equal(run(4), run(5))


def test_spike_generator_emits_in_the_step_that_contains_the_time():
    gen = SpikeGenerator(3, times_ms=[0.0, 0.25, 0.3, 1.0, 1.05], indices=[0, 1, 2, 0, 0])
    sol = bs.integrate(
        gen, gen.init_state(key=jr.key(0)), dt=0.1, n_steps=12, save=(bs.SpikeMonitor(),)
    )
    steps, idx = np.nonzero(np.asarray(sol.traces["spikes"]))
    assert list(zip(steps.tolist(), idx.tolist())) == [(0, 0), (2, 1), (3, 2), (10, 0)]


def test_bad_sources():
    with pytest.raises(ValueError, match="rate_hz"):
        PoissonSource(3, -1.0)
    with pytest.raises(ValueError, match="same length"):
        SpikeGenerator(3, [1.0, 2.0], [0])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        SpikeGenerator(3, [1.0], [3])
    with pytest.raises(ValueError, match="ends"):
        step_current([(5.0, 1.0, 2.0)], dt=0.1, n_steps=10)
    with pytest.raises(ValueError, match="value_dt"):
        timed_current([1.0], value_dt=0.0, dt=0.1, n_steps=3)


def test_current_helpers():
    i = step_current([(1.0, 3.0, 2.0), (2.0, 4.0, 1.0)], dt=0.5, n_steps=10, n=2)
    assert i.shape == (10, 2)
    np.testing.assert_allclose(i[:, 0], [0, 0, 2, 2, 3, 3, 1, 1, 0, 0])
    np.testing.assert_allclose(
        timed_current([[1.0, 2.0], [3.0, 4.0]], value_dt=1.0, dt=0.25, n_steps=6)[:, 1],
        [2, 2, 2, 2, 4, 4],
    )
    assert doctest.testmod(_currents).failed == 0
