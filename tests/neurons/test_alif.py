"""ALIF: the adaptive threshold against its closed form, spike times against an
independent event loop on the same time grid, and the LIF limit beta = 0."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.core import SynapticInput
from brainsim.neurons import ALIF, LIF

V_REST, V_TH, V_RESET, TAU_M = -60.0, -50.0, -60.0, 20.0


def test_threshold_follows_closed_form_under_given_spike_train(x64):
    dt, n_steps, tau_a, beta = 0.1, 3000, 50.0, 2.0
    spike_steps = np.array([10, 12, 15, 200, 800, 801, 1500, 2900])
    jumps = np.zeros((n_steps, 1))
    jumps[spike_steps, 0] = 1000.0  # forces a spike on exactly these steps
    zeros = jnp.zeros((n_steps, 1))
    inputs = SynapticInput(zeros, zeros, jnp.asarray(jumps))
    model = ALIF(1, tau_a=tau_a, beta=beta, tau_m=TAU_M, v_rest=V_REST, v_th=V_TH, v_reset=V_RESET)
    sol = bs.integrate(
        model,
        model.init_state(key=jr.key(0)),
        inputs,
        dt=dt,
        n_steps=n_steps,
        save=(bs.SpikeMonitor(), bs.StateMonitor("a")),
    )
    np.testing.assert_array_equal(
        np.nonzero(np.asarray(sol.traces["spikes"][:, 0]))[0], spike_steps
    )
    # After step k (time t = (k+1) dt) the threshold is
    # v_th + beta * sum_{t_j <= t} exp(-(t - t_j) / tau_a).
    t = dt * (np.arange(n_steps) + 1)
    t_spk = dt * (spike_steps + 1)
    lag = t[:, None] - t_spk[None, :]
    a_exact = np.sum(np.where(lag >= -1e-9, np.exp(-np.maximum(lag, 0.0) / tau_a), 0.0), axis=1)
    threshold = V_TH + beta * np.asarray(sol.traces["a"][:, 0])
    np.testing.assert_allclose(threshold, V_TH + beta * a_exact, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(model.threshold(sol.state)), threshold[-1], rtol=1e-12)


@pytest.mark.parametrize("v_end, spikes", [(-48.10, 1.0), (-48.25, 0.0)])
def test_step_compares_with_the_decayed_threshold(x64, v_end, spikes):
    """With a = 1 at the start of a step, the spike test uses v_th + beta a e^{-dt/tau_a}
    (here -48.19 mV), the threshold at the end of the step, not v_th + beta (-48 mV)."""
    dt, tau_a, beta = 1.0, 10.0, 2.0
    model = ALIF(1, tau_a=tau_a, beta=beta, tau_m=TAU_M, v_rest=V_REST, v_th=V_TH)
    decay = np.exp(-dt / TAU_M)
    v_start = -45.0  # with I = 0: v(dt) = v_rest + (v_start - v_rest) e^{-dt/tau_m}
    current = (v_end - V_REST - (v_start - V_REST) * decay) / (1 - decay)
    state = model.init_state(key=jr.key(0))
    state = eqx.tree_at(lambda s: (s.v, s.a), state, (jnp.full(1, v_start), jnp.ones(1)))
    new, out = model.step(state, jnp.array([current]), 0.0, dt)
    assert float(out[0]) == spikes
    np.testing.assert_allclose(float(new.a[0]), np.exp(-dt / tau_a) + spikes, rtol=1e-14)


def _event_loop_spike_steps(i_bias, tau_a, beta, dt, n_steps):
    """Spike steps of the ALIF on the grid, from the closed-form solutions between spikes.

    After a spike at grid time t_s: v(t) = v_inf + (v_reset - v_inf) e^{-(t-t_s)/tau_m} and
    a(t) = a(t_s) e^{-(t-t_s)/tau_a}; the next spike is the first grid time with
    v(t) > v_th + beta a(t), and a then grows by 1.
    """
    v_inf = V_REST + i_bias
    k, v_start, a_start, out = 0, V_REST, 0.0, []
    while True:
        lag = dt * np.arange(1, n_steps - k + 1)
        v = v_inf + (v_start - v_inf) * np.exp(-lag / TAU_M)
        a = a_start * np.exp(-lag / tau_a)
        above = np.nonzero(v > V_TH + beta * a)[0]
        if len(above) == 0:
            return np.array(out)
        k += above[0] + 1
        out.append(k - 1)
        v_start, a_start = V_RESET, a[above[0]] + 1.0


@pytest.mark.parametrize("beta", [0.0, 1.5])
def test_spike_steps_match_event_loop(x64, beta):
    dt, n_steps, tau_a, i_bias = 0.5, 1000, 30.0, 14.0
    model = ALIF(
        1,
        tau_a=tau_a,
        beta=beta,
        tau_m=TAU_M,
        v_rest=V_REST,
        v_th=V_TH,
        v_reset=V_RESET,
        i_bias=i_bias,
    )
    sol = bs.integrate(
        model, model.init_state(key=jr.key(0)), dt=dt, n_steps=n_steps, save=(bs.SpikeMonitor(),)
    )
    steps = np.nonzero(np.asarray(sol.traces["spikes"][:, 0]))[0]
    expected = _event_loop_spike_steps(i_bias, tau_a, beta, dt, n_steps)
    assert len(expected) > 5
    np.testing.assert_array_equal(steps, expected)


def test_beta_zero_is_lif_and_adaptation_lowers_rate(getkey, x64):
    n_steps, dt = 4000, 0.1
    kwargs = dict(
        tau_m=jnp.array([10.0, 20.0, 30.0]),
        i_bias=jnp.array([12.0, 15.0, 25.0]),
        tau_ref=2.0,
        v_init=bs.core.Uniform(-60.0, -50.0),
    )
    key = getkey()
    inputs = 3.0 * jr.normal(getkey(), (n_steps, 3))
    run = eqx.filter_jit(bs.integrate)
    save = (bs.SpikeMonitor(), bs.StateMonitor("v"))

    def simulate(model):
        return run(model, model.init_state(key=key), inputs, dt=dt, n_steps=n_steps, save=save)

    lif = simulate(LIF(3, **kwargs))
    same = simulate(ALIF(3, beta=0.0, tau_a=100.0, **kwargs))
    adapted = simulate(ALIF(3, beta=2.0, tau_a=100.0, **kwargs))
    # Equal up to rounding: the two programs are compiled (and fused) separately.
    np.testing.assert_allclose(
        np.asarray(same.traces["v"]), np.asarray(lif.traces["v"]), rtol=1e-13
    )
    np.testing.assert_array_equal(
        np.asarray(same.traces["spikes"]), np.asarray(lif.traces["spikes"])
    )
    n_lif = np.asarray(lif.traces["spikes"]).sum(axis=0)
    n_adapted = np.asarray(adapted.traces["spikes"]).sum(axis=0)
    assert np.all(n_lif > 10)
    assert np.all(n_adapted < 0.8 * n_lif), (n_adapted, n_lif)


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(tau_a=0.0), "tau_a"), (dict(beta=np.ones(4)), "beta"), (dict(tau_m=-1.0), "tau_m")],
)
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ALIF(3, **kwargs)
