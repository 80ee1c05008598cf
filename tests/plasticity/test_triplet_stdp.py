"""Triplet STDP: the frequency dependence of the pairing protocol (Sjöström et al. 2001)."""

import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.plasticity import TripletSTDP

# Pfister & Gerstner (2006), Table 4: minimal all-to-all model, visual cortex.
TAU_PLUS, TAU_MINUS, TAU_X, TAU_Y = 16.8, 33.7, 101.0, 125.0
A2P, A3P, A2M, A3M = 5e-10, 6.2e-3, 7e-3, 0.0
FREQS_HZ = [0.1, 1.0, 5.0, 10.0, 20.0, 40.0, 50.0]
N_PAIRS = 60


def pairing_times(freq_hz, delta_ms):
    """60 pairs at `freq_hz`: pre at `t0 + k T`, post `delta_ms` later (ms)."""
    period = 1000.0 / freq_hz
    pre = 20.0 + period * np.arange(N_PAIRS)
    return pre, pre + delta_ms


def predicted_change(pre, post):
    """The model's total weight change, summed directly over spike-time differences.

    At a post spike: `r1 (A2+ + A3+ o2)`; at a pre spike: `-o1 (A2- + A3- r2)`, with
    `r1 = sum exp(-(t - t_pre)/tau+)` over earlier pre spikes, `o2` over earlier post
    spikes with tau_y, `o1` with tau-, `r2` with tau_x (all-to-all interactions).
    """
    total = 0.0
    for t in post:
        r1 = np.sum(np.exp(-(t - pre[pre < t]) / TAU_PLUS))
        o2 = np.sum(np.exp(-(t - post[post < t]) / TAU_Y))
        total += r1 * (A2P + A3P * o2)
    for t in pre:
        o1 = np.sum(np.exp(-(t - post[post < t]) / TAU_MINUS))
        r2 = np.sum(np.exp(-(t - pre[pre < t]) / TAU_X))
        total -= o1 * (A2M + A3M * r2)
    return total


def event_driven_run(driver, pre, post):
    """Step the rule from spike time to spike time (the traces decay exactly)."""
    times = np.unique(np.concatenate([pre, post]))
    dts = np.diff(np.concatenate([[0.0], times]))
    s_pre = np.isin(times, pre).astype(np.float64)[:, None]
    s_post = np.isin(times, post).astype(np.float64)[:, None]
    rule = TripletSTDP(w_min=-1.0, w_max=1.0)
    one = jnp.zeros((1,), jnp.int32)
    _, w, _ = driver(rule, jnp.zeros((1,)), one, one, s_pre, s_post, dts)
    return float(w[0])


def test_default_parameters_are_the_visual_cortex_fit(x64):
    rule = TripletSTDP()
    got = [float(getattr(rule, k)) for k in ("a2_plus", "a3_plus", "a2_minus", "a3_minus")]
    assert got == [A2P, A3P, A2M, A3M]
    taus = [float(getattr(rule, k)) for k in ("tau_plus", "tau_minus", "tau_x", "tau_y")]
    assert taus == [TAU_PLUS, TAU_MINUS, TAU_X, TAU_Y]


def test_frequency_dependence_of_pairing(x64, driver):
    plus = [event_driven_run(driver, *pairing_times(f, 10.0)) for f in FREQS_HZ]
    minus = [event_driven_run(driver, *pairing_times(f, -10.0)) for f in FREQS_HZ]
    want_plus = [predicted_change(*pairing_times(f, 10.0)) for f in FREQS_HZ]
    want_minus = [predicted_change(*pairing_times(f, -10.0)) for f in FREQS_HZ]
    np.testing.assert_allclose(plus, want_plus, rtol=1e-9)
    np.testing.assert_allclose(minus, want_minus, rtol=1e-9)
    # Sjöström et al. 2001: potentiation grows with the pairing frequency at +10 ms; at
    # -10 ms frequencies up to 20 Hz depress and 40-50 Hz potentiate.
    assert np.all(np.diff(plus) > 0)
    freqs = np.asarray(FREQS_HZ)
    assert np.all(np.asarray(minus)[freqs <= 20] < 0)
    assert np.all(np.asarray(minus)[freqs >= 40] > 0)
    assert np.all(np.asarray(plus) > np.asarray(minus))
    # at 0.1 Hz pairs do not interact: 60 times the pair window
    np.testing.assert_allclose(plus[0], N_PAIRS * (A2P + 0.0) * np.exp(-10 / TAU_PLUS), rtol=1e-6)
    np.testing.assert_allclose(minus[0], -N_PAIRS * A2M * np.exp(-10 / TAU_MINUS), rtol=1e-6)


@pytest.mark.parametrize("freq_hz", [20.0, 50.0])
def test_fixed_step_grid_agrees(x64, driver, freq_hz):
    dt = 0.5
    pre, post = pairing_times(freq_hz, 10.0)
    n_steps = int(round((post[-1] + 5) / dt))
    s_pre = np.zeros((n_steps, 1))
    s_post = np.zeros((n_steps, 1))
    s_pre[np.rint(pre / dt).astype(int), 0] = 1.0
    s_post[np.rint(post / dt).astype(int), 0] = 1.0
    rule = TripletSTDP(w_min=-1.0, w_max=1.0)
    one = jnp.zeros((1,), jnp.int32)
    _, w, _ = driver(rule, jnp.zeros((1,)), one, one, s_pre, s_post, dt)
    np.testing.assert_allclose(float(w[0]), predicted_change(pre, post), rtol=1e-9)
