"""`LearnableDelay` as a projection option: the step-by-step ring buffer equals the
whole-sequence delay convolution, rounding equals an integer `Delay`, gradients reach
the delays, and bad delays fail at construction."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR
from brainsim.kernels.delay_conv import delay_conv

import brainsim as bs
from brainsim.inputs import SpikeGenerator
from brainsim.network import Delay, LearnableDelay, Network, Projection, round_delays
from brainsim.neurons import LIF
from brainsim.synapses import CUBA, Delta

N_PRE, N_POST, N_TAPS, T, DT = 3, 2, 5, 14, 0.5


def _dense_csr(w):
    n_pre, n_post = w.shape
    indptr = np.arange(n_pre + 1) * n_post
    indices = np.tile(np.arange(n_post), n_pre)
    return CSR(indptr, indices, jnp.reshape(w, -1), n_pre=n_pre, n_post=n_post, major="pre")


def _raster(key):
    return np.asarray(jr.uniform(key, (T, N_PRE)) < 0.35, np.float64)


def _synaptic_trace(delay, w, raster):
    """The Delta synapse's value after each step of a Network replaying `raster`."""
    steps, units = np.nonzero(raster)
    net = Network(
        {"in": SpikeGenerator(N_PRE, steps * DT, units), "out": LIF(N_POST, v_th=1e9)},
        {"p": Projection("in", "out", _dense_csr(w), Delta(N_POST), CUBA(), delay=delay)},
    )

    def run(net):
        state = net.init_state(key=jr.key(0))

        def step(state, t):
            state, _ = net.step(state, None, t, DT)
            return state, state.projections["p"].synapse

        return jax.lax.scan(step, state, jnp.arange(T, dtype=jnp.float64) * DT)[1]

    return run, net


@pytest.mark.parametrize("sigma", [0.7, None])
def test_ring_buffer_equals_the_delay_convolution(x64, getkey, sigma):
    w = jr.normal(getkey(), (N_PRE, N_POST), jnp.float64)
    d = jr.uniform(getkey(), (N_PRE, N_POST), jnp.float64, maxval=N_TAPS - 1.0)
    raster = _raster(getkey())
    delay = LearnableDelay(d.reshape(-1), n_taps=N_TAPS, dt=DT, sigma=sigma)
    run, net = _synaptic_trace(delay, w, raster)
    expected = delay_conv(jnp.asarray(raster), w, d, sigma, n_taps=N_TAPS, impl="reference")
    np.testing.assert_allclose(jax.jit(run)(net), expected, rtol=1e-12, atol=1e-12)


def test_rounded_delays_equal_an_integer_delay_exactly(x64, getkey):
    w = jr.normal(getkey(), (N_PRE, N_POST), jnp.float64)
    d = jr.uniform(getkey(), (N_PRE, N_POST), jnp.float64, maxval=N_TAPS - 1.0)
    raster = _raster(getkey())
    learnable = LearnableDelay(d.reshape(-1), n_taps=N_TAPS, dt=DT)  # sigma None: rounded
    integer = Delay(np.rint(np.asarray(d)).reshape(-1) * DT, dt=DT, max_ms=(N_TAPS - 1) * DT)
    assert np.array_equal(learnable.rounded().steps, integer.steps)
    assert learnable.rounded().length == integer.length == N_TAPS
    run_a, net_a = _synaptic_trace(learnable, w, raster)
    run_b, net_b = _synaptic_trace(integer, w, raster)
    a, b = run_a(net_a), run_b(net_b)
    np.testing.assert_array_equal(a, b)
    assert np.any(a != 0)
    proj = net_a.projections["p"]
    assert isinstance(round_delays(proj).delay, Delay)
    assert round_delays(net_b.projections["p"]) is net_b.projections["p"]


def test_gradient_reaches_the_delays_through_a_simulation(x64, getkey):
    w = jr.normal(getkey(), (N_PRE, N_POST), jnp.float64)
    d = jr.uniform(getkey(), (N_PRE, N_POST), jnp.float64, minval=0.5, maxval=N_TAPS - 1.5)
    raster = _raster(getkey()) + 0.0
    probe = jr.normal(getkey(), (T, N_POST), jnp.float64)
    run, net = _synaptic_trace(
        LearnableDelay(d.reshape(-1), n_taps=N_TAPS, dt=DT, sigma=0.8), w, raster
    )

    @jax.jit
    def loss(steps):
        n = eqx.tree_at(lambda n: n.projections["p"].delay.steps, net, steps)
        return jnp.sum(jnp.sin(run(n)) * probe)

    steps0 = d.reshape(-1)
    g = jax.grad(loss)(steps0)
    direction = jr.normal(getkey(), steps0.shape, jnp.float64)
    eps = 1e-6
    fd = (loss(steps0 + eps * direction) - loss(steps0 - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(jnp.vdot(g, direction), fd, rtol=1e-6)
    assert np.all(np.asarray(g) != 0)


def test_simulate_runs_a_learnable_delay_projection():
    delay = LearnableDelay(jnp.array([2.0]), n_taps=3, dt=1.0, sigma=0.5)
    proj = Projection("in", "out", _dense_csr(jnp.ones((1, 1))), Delta(1), CUBA(), delay=delay)
    net = Network({"in": SpikeGenerator(1, [0.0], [0]), "out": LIF(1, v_th=1e9)}, {"p": proj})
    sol = bs.integrate(net, net.init_state(key=jr.key(0)), None, dt=1.0, n_steps=3)
    assert sol.state.projections["p"].delay.buffer.shape == (3, 1)
    # the spike of step 0 spread over taps (0, 1, 2) around 2 ms; after step 2: the last tap
    x = jnp.zeros((3, 1)).at[0, 0].set(1.0)
    expected = delay_conv(x, jnp.ones((1, 1)), jnp.full((1, 1), 2.0), 0.5, n_taps=3)[-1]
    np.testing.assert_allclose(sol.state.projections["p"].synapse, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        (dict(steps=[0.0, 5.0]), "inside the kernel"),
        (dict(steps=[-0.5, 1.0]), "inside the kernel"),
        (dict(n_taps=0), "n_taps"),
        (dict(sigma=0.0), "sigma"),
        (dict(dt=-1.0), "dt"),
        (dict(steps=[[1.0]]), "1-D"),
    ],
)
def test_bad_delays_fail_at_construction(kwargs, needle):
    args = dict(steps=[0.0, 1.0], n_taps=3, dt=1.0, sigma=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=needle):
        LearnableDelay(args.pop("steps"), **args)


def test_projection_checks_the_delay_shape_and_dt():
    conn = _dense_csr(jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="shape of conn.indices"):
        Projection("a", "b", conn, Delta(2), CUBA(), delay=LearnableDelay([0.0], n_taps=2, dt=1.0))
    with pytest.raises(ValueError, match="dt"):
        LearnableDelay([0.0], n_taps=2, dt=1.0).check_dt(0.5)
