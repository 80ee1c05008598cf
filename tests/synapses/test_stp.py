"""Tsodyks-Markram short-term plasticity against the iterated map and its steady state.

The references below are written from the TM equations alone: between spikes
`u(t) = u+ exp(-D/tau_f)` and `1 - x(t) = (1 - x+) exp(-D/tau_d)`; at a spike
`u <- u + U (1 - u)`, release `u x`, `x <- x (1 - u)`; a rested synapse has u = 0, x = 1.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR

import brainsim as bs
from brainsim.inputs import SpikeGenerator
from brainsim.network import Network, Projection
from brainsim.neurons import LIF
from brainsim.synapses import CUBA, Delta, Exponential, TsodyksMarkram

DEPRESSING = dict(U=0.5, tau_f=0.0, tau_d=800.0)
FACILITATING = dict(U=0.1, tau_f=1000.0, tau_d=100.0)


def _tm_map(U, tau_f, tau_d, interval, n_spikes):
    """Efficacies `u_n x_n` of a regular train, by iterating the TM equations spike to spike."""
    decay_f = np.exp(-interval / tau_f) if tau_f > 0 else 0.0
    decay_d = np.exp(-interval / tau_d) if tau_d > 0 else 0.0
    u, x = 0.0, 1.0  # rested, just before the first spike
    out = []
    for _ in range(n_spikes):
        u = u + U * (1 - u)
        out.append(u * x)
        x = x * (1 - u)
        u = u * decay_f
        x = 1 - (1 - x) * decay_d
    return np.array(out)


def _tm_steady_state(U, tau_f, tau_d, interval):
    """Fixed point of the map, by hand.

    u* = U / (1 - (1 - U) e^{-D/tau_f}),  x* = (1 - e^{-D/tau_d}) / (1 - (1 - u*) e^{-D/tau_d}).
    """
    ef = np.exp(-interval / tau_f) if tau_f > 0 else 0.0
    ed = np.exp(-interval / tau_d)
    u = U / (1 - (1 - U) * ef)
    x = (1 - ed) / (1 - (1 - u) * ed)
    return u * x


def _efficacies(stp, interval, n_spikes, dt):
    """Run `stp.step` over a regular train on every neuron; efficacies at the spike steps."""
    period = int(round(interval / dt))
    n_steps = period * (n_spikes - 1) + 1
    spikes = np.zeros((n_steps, stp.n_pre))
    spikes[::period] = 1.0

    def body(state, s):
        state, eff = stp.step(state, s, dt)
        return state, eff * s

    _, released = jax.lax.scan(body, stp.init_state(), jnp.asarray(spikes, stp.U.dtype))
    return np.asarray(released)[::period]


@pytest.mark.parametrize("params", [DEPRESSING, FACILITATING], ids=["depressing", "facilitating"])
@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_regular_train_matches_iterated_map(x64, params, dt):
    stp = TsodyksMarkram(1, **params)
    got = _efficacies(stp, 50.0, 10, dt)[:, 0]  # 20 Hz, 10 spikes
    want = _tm_map(params["U"], params["tau_f"], params["tau_d"], 50.0, 10)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got[0] == pytest.approx(params["U"])
    if params is DEPRESSING:
        assert np.all(np.diff(got) < 0)
    else:
        assert got[4] > got[0]


def test_vector_parameters_and_tiny_tau_f(x64):
    # Per-neuron parameters; tau_f -> 0 behaves like tau_f = 0 (u = U at every spike).
    stp = TsodyksMarkram(
        3, U=[0.5, 0.5, 0.1], tau_f=[0.0, 1e-3, 1000.0], tau_d=[800.0, 800.0, 100.0]
    )
    got = _efficacies(stp, 50.0, 10, 0.5)
    np.testing.assert_allclose(got[:, 0], _tm_map(0.5, 0.0, 800.0, 50.0, 10), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], got[:, 0], rtol=1e-12)
    np.testing.assert_allclose(got[:, 2], _tm_map(0.1, 1000.0, 100.0, 50.0, 10), rtol=1e-12)


@pytest.mark.parametrize("params", [DEPRESSING, FACILITATING], ids=["depressing", "facilitating"])
@pytest.mark.parametrize("rate_hz", [5.0, 20.0, 50.0])
def test_steady_state_amplitude(x64, params, rate_hz):
    interval = 1000.0 / rate_hz
    got = _efficacies(TsodyksMarkram(1, **params), interval, 150, dt=1.0)[:, 0]
    want = _tm_steady_state(params["U"], params["tau_f"], params["tau_d"], interval)
    np.testing.assert_allclose(got[-1], want, rtol=1e-6)


def test_gradient_against_finite_differences(x64):
    # d(sum of efficacies)/dU of the facilitating train vs a central difference of the map.
    def total(U):
        stp = TsodyksMarkram(1, U=U, tau_f=1000.0, tau_d=100.0)
        return jnp.sum(jnp.asarray(_efficacies_traced(stp, 50, 10)))

    grad = jax.jit(jax.grad(total))(jnp.asarray(0.1))
    h = 1e-6
    fd = (
        _tm_map(0.1 + h, 1000.0, 100.0, 50.0, 10).sum()
        - _tm_map(0.1 - h, 1000.0, 100.0, 50.0, 10).sum()
    ) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7)


def _efficacies_traced(stp, period, n_spikes):
    spikes = jnp.zeros((period * (n_spikes - 1) + 1, 1)).at[::period].set(1.0)

    def body(state, s):
        state, eff = stp.step(state, s, 1.0)
        return state, eff * s

    return jax.lax.scan(body, stp.init_state(), spikes)[1]


def test_projection_scales_spikes_by_efficacy(x64):
    # 20 Hz train from a SpikeGenerator; a Delta synapse shows w * u x in each spike's step.
    dt, w = 0.5, 2.0
    times = 10.0 + 50.0 * np.arange(10)
    steps = np.rint(times / dt).astype(int)
    src = SpikeGenerator(1, times, np.zeros(10, int))
    post = LIF(2, v_th=1e6)  # no spikes
    conn = CSR([0, 2], [0, 1], w, n_pre=1, n_post=2, major="pre")
    proj = Projection("src", "post", conn, Delta(2), CUBA(), stp=TsodyksMarkram(1, **FACILITATING))
    net = Network({"src": src, "post": post}, {"proj": proj})
    n_steps = int(round(500 / dt))
    sol = bs.integrate(
        net,
        net.init_state(key=jax.random.key(0)),
        dt=dt,
        n_steps=n_steps,
        save=(bs.StateMonitor("proj.synapse"), bs.StateMonitor("proj.stp.x")),
    )
    trace = np.asarray(sol.traces["proj.synapse"])
    want = w * _tm_map(0.1, 1000.0, 100.0, 50.0, 10)
    np.testing.assert_allclose(trace[steps, 0], want, rtol=1e-12)
    np.testing.assert_allclose(trace[steps, 1], want, rtol=1e-12)
    assert np.count_nonzero(trace[:, 0]) == 10
    assert sol.traces["proj.stp.x"].shape == (n_steps, 1)


def test_projection_without_stp_is_unchanged(x64):
    # U = 1 with instant recovery (tau_d = 0): every spike has efficacy 1, as without STP.
    src = SpikeGenerator(1, [1.0], [0])
    conn = CSR([0, 1], [0], 1.5, n_pre=1, n_post=1, major="pre")
    post = LIF(1, v_th=1e6)
    runs = []
    for stp in (None, TsodyksMarkram(1, U=1.0, tau_f=0.0, tau_d=0.0)):
        proj = Projection("src", "post", conn, Exponential(1, 5.0), CUBA(), stp=stp)
        net = Network({"src": src, "post": post}, {"proj": proj})
        sol = bs.integrate(
            net,
            net.init_state(key=jax.random.key(0)),
            dt=0.1,
            n_steps=100,
            save=(bs.StateMonitor("post.v"),),
        )
        runs.append(np.asarray(sol.traces["post.v"]))
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-14)
    assert runs[0].max() > -60.0 + 1e-3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(U=1.5), "U"),
        (dict(U=-0.1), "U"),
        (dict(tau_f=-1.0), "tau_f"),
        (dict(tau_d=float("inf")), "tau_d"),
        (dict(U=[0.1, 0.2, 0.3]), "U"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TsodyksMarkram(2, **kwargs)


def test_projection_rejects_stp_of_wrong_size():
    conn = CSR([0, 1, 2], [0, 0], 1.0, n_pre=2, n_post=1, major="pre")
    with pytest.raises(ValueError, match="stp size"):
        Projection("a", "b", conn, Delta(1), CUBA(), stp=TsodyksMarkram(3))
