"""End-to-end gradients through a small network against central finite differences."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR
from jax.flatten_util import ravel_pytree

import brainsim as bs
from brainsim.core import Surrogate
from brainsim.network import Network, Projection
from brainsim.neurons import LIF
from brainsim.synapses import COBA, CUBA, Exponential


def _net():
    smooth = Surrogate("sigmoid", alpha=0.5, smooth=True)
    rng = np.random.default_rng(0)
    w_in = rng.uniform(0.5, 2.0, 12)
    conn_in = CSR(
        np.arange(0, 13, 3), rng.integers(0, 4, 12), w_in, n_pre=4, n_post=4, major="post"
    )
    conn_rec = CSR(
        np.arange(0, 13, 3), rng.integers(0, 4, 12), 0.3, n_pre=4, n_post=4, major="post"
    )
    return Network(
        {
            "A": LIF(
                4,
                tau_m=8.0,
                i_bias=jnp.asarray([8.0, 10.0, 12.0, 14.0]),
                spike_fn=smooth,
                detach_reset=False,
            ),
            "B": LIF(4, tau_m=12.0, spike_fn=smooth, detach_reset=False),
        },
        {
            "AB": Projection("A", "B", conn_in, Exponential(4, 5.0), CUBA()),
            "BB": Projection("B", "B", conn_rec, Exponential(4, 10.0), COBA(0.0)),
        },
    )


@eqx.filter_jit
def loss(params, static, state0):
    net = eqx.combine(params, static)
    sol = bs.integrate(net, state0, dt=0.5, n_steps=60, save=(bs.StateMonitor("B.v", every=1),))
    return jnp.mean((sol.traces["B.v"] + 55.0) ** 2)


def test_grad_matches_finite_differences(x64):
    net = _net()
    state0 = net.init_state(key=jr.key(0))

    def select(n):
        return n.projections["AB"].conn.weights, n.populations["A"].i_bias, n.populations["B"].tau_m

    filt = jax.tree_util.tree_map(lambda _: False, net)
    filt = eqx.tree_at(select, filt, (True, True, True))
    params, static = eqx.partition(net, filt)
    grads = eqx.filter_grad(loss)(params, static, state0)
    flat, unravel = ravel_pytree(params)
    gflat, _ = ravel_pytree(grads)
    assert np.count_nonzero(np.asarray(gflat)) > 10
    eps = 1e-6
    for i in range(flat.size):
        e = jnp.zeros_like(flat).at[i].set(eps)
        fd = (loss(unravel(flat + e), static, state0) - loss(unravel(flat - e), static, state0)) / (
            2 * eps
        )
        assert float(gflat[i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)
