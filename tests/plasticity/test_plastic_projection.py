"""PlasticProjection: transmission with the learned weights and the rule on sparse layouts."""

import types

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR, ELL

from brainsim.core import WeightMonitor
from brainsim.network import Delay
from brainsim.plasticity import PairSTDP, PlasticProjection
from brainsim.synapses import CUBA, Delta

N_PRE, N_POST, N_STEPS, A_PLUS, A_MINUS, TAU = 6, 5, 80, 0.01, 0.012, 20.0


def layouts(rng):
    mask = rng.random((N_PRE, N_POST)) < 0.5
    pre, post = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=N_PRE))])
    w = rng.uniform(0.2, 0.8, pre.size)
    csr = CSR(indptr, post, w, n_pre=N_PRE, n_post=N_POST, major="pre")
    targets = np.stack([rng.choice(N_POST, 3, replace=False) for _ in range(N_PRE)])
    ell = ELL(
        targets, rng.uniform(0.2, 0.8, targets.shape), n_pre=N_PRE, n_post=N_POST, major="pre"
    )
    return {"csr_pre": csr, "csr_post": csr.to_major("post"), "ell_pre": ell}


def oracle(pre_train, post_train):
    """All-to-all pair STDP summed over spike-time differences, `(n_pre, n_post)`."""
    dw = np.zeros((N_PRE, N_POST))
    for ti, i in zip(*np.nonzero(pre_train)):
        for tj, j in zip(*np.nonzero(post_train)):
            if tj > ti:
                dw[i, j] += A_PLUS * np.exp(-(tj - ti) / TAU)
            elif tj < ti:
                dw[i, j] -= A_MINUS * np.exp(-(ti - tj) / TAU)
    return dw


def run(proj, pre_train, post_train, dt=1.0, plastic=True):
    def body(state, xs):
        s_pre, s_post = xs
        w_before = state.weights
        if plastic:
            state = proj.update_plastic(state, s_pre, s_post, 0.0, dt)
        else:
            state = proj.update(state, s_pre, 0.0, dt)
        return state, (w_before, state.synapse)

    state0 = proj.init_state(key=jr.key(0))
    xs = (jnp.asarray(pre_train, jnp.float64), jnp.asarray(post_train, jnp.float64))
    return jax.lax.scan(body, state0, xs)


@pytest.mark.parametrize(
    "layout, event_chunk",
    [
        ("csr_pre", None),
        ("csr_post", None),
        ("ell_pre", None),
        ("csr_pre", 1),
        ("csr_post", 2),
        ("ell_pre", (6, 5)),
    ],
)
def test_learning_and_transmission(x64, layout, event_chunk):
    rng = np.random.default_rng(3)
    conn = layouts(rng)[layout]
    pre_train = rng.random((N_STEPS, N_PRE)) < 0.15
    post_train = rng.random((N_STEPS, N_POST)) < 0.15
    rule = PairSTDP(
        a_plus=A_PLUS, a_minus=A_MINUS, tau_plus=TAU, tau_minus=TAU, w_min=-5.0, w_max=5.0
    )
    proj = PlasticProjection("a", "b", conn, Delta(N_POST), CUBA(), rule, event_chunk=event_chunk)
    state, (w_before, syn) = run(proj, pre_train, post_train)
    pre_ids, post_ids = np.asarray(conn.pre_ids), np.asarray(conn.post_ids)
    w0 = np.asarray(conn.synapse_weights())
    expected = w0 + oracle(pre_train, post_train)[pre_ids, post_ids]
    np.testing.assert_allclose(np.asarray(state.weights), expected, rtol=1e-10)
    # each step transmits with the weights held before that step's learning
    for t in (5, 40, 79):
        dense = np.zeros((N_PRE, N_POST))
        np.add.at(dense, (pre_ids, post_ids), np.asarray(w_before[t]))
        np.testing.assert_allclose(np.asarray(syn[t]), pre_train[t] @ dense, rtol=1e-12)


def test_update_without_learning_and_monitor(x64):
    rng = np.random.default_rng(4)
    conn = layouts(rng)["csr_pre"]
    proj = PlasticProjection(
        "a", "b", conn, Delta(N_POST), CUBA(), PairSTDP(w_max=5.0), normalization=1.5
    )
    pre_train = rng.random((20, N_PRE)) < 0.3
    post_train = rng.random((20, N_POST)) < 0.3
    state, _ = run(proj, pre_train, post_train, plastic=False)
    np.testing.assert_array_equal(np.asarray(state.weights), np.asarray(conn.weights))
    model = types.SimpleNamespace(projections={"p": proj})
    recorded = WeightMonitor("p").select(
        model, types.SimpleNamespace(projections={"p": state}), None
    )
    np.testing.assert_array_equal(np.asarray(recorded), np.asarray(conn.weights))
    normed = proj.normalize(state)
    sums = np.bincount(
        np.asarray(conn.post_ids), weights=np.asarray(normed.weights), minlength=N_POST
    )
    np.testing.assert_allclose(sums[sums > 0], 1.5, rtol=1e-12)


def test_delay_shifts_transmission_not_learning(x64):
    rng = np.random.default_rng(5)
    conn = layouts(rng)["csr_pre"]
    rule = PairSTDP(
        a_plus=A_PLUS, a_minus=A_MINUS, tau_plus=TAU, tau_minus=TAU, w_min=-5.0, w_max=5.0
    )
    proj = PlasticProjection("a", "b", conn, Delta(N_POST), CUBA(), rule, delay=Delay(3.0, dt=1.0))
    pre_train = rng.random((N_STEPS, N_PRE)) < 0.15
    post_train = rng.random((N_STEPS, N_POST)) < 0.15
    state, (w_before, syn) = run(proj, pre_train, post_train)
    pre_ids, post_ids = np.asarray(conn.pre_ids), np.asarray(conn.post_ids)
    expected = np.asarray(conn.weights) + oracle(pre_train, post_train)[pre_ids, post_ids]
    np.testing.assert_allclose(np.asarray(state.weights), expected, rtol=1e-10)
    t = 50
    dense = np.zeros((N_PRE, N_POST))
    np.add.at(dense, (pre_ids, post_ids), np.asarray(w_before[t]))
    np.testing.assert_allclose(np.asarray(syn[t]), pre_train[t - 3] @ dense, rtol=1e-12)
