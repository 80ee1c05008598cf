"""`integrate`: equals a Python loop over `step`, records as asked, checks its input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.core import Normal
from brainsim.neurons import LIF


def _neuron(n=5):
    return LIF(n, tau_m=10.0, tau_ref=2.0, i_bias=12.0, v_init=Normal(-55.0, 4.0))


def _loop(model, state, inputs, dt, n_steps):
    vs, spikes = [], []
    for i in range(n_steps):
        x = None if inputs is None else inputs[i]
        state, s = model.step(state, x, i * dt, dt)
        vs.append(np.asarray(state.v))
        spikes.append(np.asarray(s) > 0)
    n = model.n
    return state, np.reshape(vs, (n_steps, n)), np.reshape(spikes, (n_steps, n))


def test_integrate_equals_python_loop(getkey):
    model = _neuron()
    s0 = model.init_state(key=getkey())
    inputs = jnp.asarray(np.random.default_rng(0).normal(0, 3, (200, 5)), jnp.float32)
    sol = bs.integrate(
        model, s0, inputs, dt=0.1, n_steps=200, save=(bs.SpikeMonitor(), bs.StateMonitor("v"))
    )
    _, vs, spikes = _loop(model, s0, inputs, 0.1, 200)
    np.testing.assert_allclose(np.asarray(sol.traces["v"]), vs, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(sol.traces["spikes"]), spikes)
    assert spikes.sum() > 0
    assert sol.result == bs.RESULTS.successful


@pytest.mark.parametrize("n_steps", [0, 7, 30, 33])
def test_monitor_intervals_and_subsets(getkey, n_steps):
    model = _neuron()
    s0 = model.init_state(key=getkey())
    mons = (
        bs.StateMonitor("v", indices=[1, 3], every=3),
        bs.SpikeMonitor(indices=[0, 4]),
        bs.StateMonitor("refractory_left", every=5),
    )
    sol = bs.integrate(model, s0, dt=0.1, n_steps=n_steps, save=mons)
    _, vs, spikes = _loop(model, s0, None, 0.1, n_steps)
    assert sol.traces["v"].shape == (n_steps // 3, 2)
    np.testing.assert_allclose(np.asarray(sol.traces["v"]), vs[2::3][:, [1, 3]], rtol=1e-6)
    assert sol.traces["refractory_left"].shape == (n_steps // 5, 5)
    np.testing.assert_array_equal(np.asarray(sol.traces["spikes"]), spikes[:, [0, 4]])


def test_jit_equals_eager_and_no_retrace(getkey):
    model = _neuron()
    s0 = model.init_state(key=getkey())

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model, s0):
        return bs.integrate(model, s0, dt=0.1, n_steps=50, save=(bs.StateMonitor("v"),))

    a = run(model, s0)
    b = run(
        eqx.tree_at(lambda m: m.i_bias, model, jnp.asarray(14.0, jnp.float32)), s0
    )  # new values, same trace
    eager = bs.integrate(model, s0, dt=0.1, n_steps=50, save=(bs.StateMonitor("v"),))
    np.testing.assert_allclose(a.traces["v"], eager.traces["v"], rtol=1e-6)
    assert not np.allclose(a.traces["v"], b.traces["v"])


def test_vmap_over_parameters_equals_loop(getkey):
    s0 = _neuron().init_state(key=getkey())
    taus = jnp.asarray([5.0, 10.0, 20.0])

    def final_v(tau):
        model = eqx.tree_at(lambda m: m.tau_m, _neuron(), tau)
        return bs.integrate(model, s0, dt=0.1, n_steps=100).state.v

    batched = jax.vmap(final_v)(taus)
    for k, tau in enumerate(taus):
        np.testing.assert_allclose(batched[k], final_v(tau), rtol=1e-6)


def test_bad_arguments_raise_before_running(getkey):
    model = _neuron()
    s0 = model.init_state(key=getkey())
    with pytest.raises(ValueError, match="dt must be positive"):
        bs.integrate(model, s0, dt=0.0, n_steps=10)
    with pytest.raises(
        ValueError, match=r"dt \(20.0 ms\) must not exceed the smallest time constant \(10.0 ms\)"
    ):
        bs.integrate(model, s0, dt=20.0, n_steps=10)
    with pytest.raises(ValueError, match="n_steps"):
        bs.integrate(model, s0, dt=0.1, n_steps=-1)
    with pytest.raises(ValueError, match="leading time axis"):
        bs.integrate(model, s0, jnp.zeros((9, 5)), dt=0.1, n_steps=10)
    with pytest.raises(ValueError, match="no component 'w'"):
        bs.integrate(model, s0, dt=0.1, n_steps=10, save=(bs.StateMonitor("w"),))


def test_traced_bad_dt_raises_with_the_same_words(getkey):
    model = _neuron()
    s0 = model.init_state(key=getkey())
    run = jax.jit(lambda dt: bs.integrate(model, s0, dt=dt, n_steps=5).state.v)
    assert np.all(np.isfinite(run(0.1)))
    with pytest.raises(Exception, match="dt must not exceed the smallest time constant"):
        jax.block_until_ready(run(50.0))


def test_check_finite_reports_the_step(getkey):
    model = _neuron(3)
    s0 = model.init_state(key=getkey())
    inputs = np.zeros((40, 3), np.float32)
    inputs[17, 1] = np.nan
    sol = bs.integrate(
        model, s0, jnp.asarray(inputs), dt=0.1, n_steps=40, throw=False, check_finite=True
    )
    assert sol.result == bs.RESULTS.nonfinite_state
    assert int(sol.nonfinite_step["state"]) == 17
    with pytest.raises(Exception, match="NaN or infinite"):
        jax.block_until_ready(
            bs.integrate(
                model, s0, jnp.asarray(inputs), dt=0.1, n_steps=40, check_finite=True
            ).state
        )


def test_same_key_same_run_other_key_other_run():
    model = _neuron(50)

    def spikes(seed):
        s0 = model.init_state(key=jr.key(seed))
        return np.asarray(
            bs.integrate(model, s0, dt=0.1, n_steps=300, save=(bs.SpikeMonitor(),)).traces["spikes"]
        )

    assert np.array_equal(spikes(1), spikes(1))
    assert not np.array_equal(spikes(1), spikes(2))


def test_activity_monitor_is_the_mean_of_the_raster(getkey):
    model = _neuron(7)
    s0 = model.init_state(key=getkey())
    sol = bs.integrate(
        model, s0, dt=0.1, n_steps=400, save=(bs.SpikeMonitor(), bs.ActivityMonitor())
    )
    raster = np.asarray(sol.traces["spikes"])
    assert raster.any()
    activity = np.asarray(sol.traces["activity"])
    assert activity.shape == (400,)
    np.testing.assert_allclose(activity, raster.mean(axis=1), rtol=1e-6)


def test_activity_monitor_of_an_unknown_population_raises(getkey):
    net = bs.Network({"E": _neuron(3)}, {})
    with pytest.raises(ValueError, match="ActivityMonitor: unknown population 'X'"):
        bs.integrate(
            net, net.init_state(key=getkey()), dt=0.1, n_steps=3, save=(bs.ActivityMonitor("X"),)
        )
