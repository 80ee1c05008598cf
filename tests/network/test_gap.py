"""Gap junctions: closed-form decay of a voltage difference, solve_ivp, dense oracles.

In a `Network`, each step reads every membrane potential before the step, so a LIF
cell's exponential-Euler update sees its partners' potentials frozen over the step. The
coupled system is therefore solved to first order in `dt`; the tests check the error
against the exact solution, its first-order convergence, and the scheme's own one-step
factor derived by hand.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR, ELL
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.network import GapJunction, Network, reverse, symmetrize
from brainsim.neurons import LIF

V_REST = -60.0


def _run_network(net, v0: dict, dt, n_steps, paths):
    state = net.init_state(key=jax.random.key(0))
    for name, v in v0.items():
        v = jnp.asarray(v, jnp.result_type(float))
        state = eqx.tree_at(lambda s, name=name: s.populations[name].v, state, v)
    sol = bs.integrate(
        net, state, dt=dt, n_steps=n_steps, save=tuple(bs.StateMonitor(p) for p in paths)
    )
    return {p: np.asarray(sol.traces[p]) for p in paths}


def _pair(g, dt, t_end=30.0, tau=10.0):
    """Two identical LIF cells in one population coupled by `g`: v1 - v2 after each step."""
    conn = symmetrize(CSR([0, 1, 1], [1], g, n_pre=2, n_post=2, major="pre"))
    net = Network(
        {"E": LIF(2, tau_m=tau, v_rest=V_REST, v_th=1e6)}, {"gap": GapJunction("E", "E", conn)}
    )
    n_steps = int(round(t_end / dt))
    v = _run_network(net, {"E": [-50.0, -70.0]}, dt, n_steps, ["E.v"])["E.v"]
    t = (np.arange(n_steps) + 1) * dt  # the state after step j is at time (j + 1) dt
    return t, v[:, 0] - v[:, 1]


@pytest.mark.parametrize("g", [0.2, 1.0])
def test_voltage_difference_decays_at_closed_form_rate(x64, g):
    tau, d0 = 10.0, 20.0
    errs = []
    for dt in (0.02, 0.01):
        t, d = _pair(g, dt)
        exact = d0 * np.exp(-(1 + 2 * g) * t / tau)  # d(v1 - v2)/dt = -(1 + 2g)(v1 - v2)/tau
        errs.append(np.max(np.abs(d - exact)) / d0)
        # The scheme's own factor per step (partner frozen, own leak + coupling exact):
        # r = e^{-(1+g)h} - (1 - e^{-(1+g)h}) g / (1 + g), h = dt / tau.
        h = dt / tau
        e = np.exp(-(1 + g) * h)
        r = e - (1 - e) * g / (1 + g)
        np.testing.assert_allclose(d, d0 * r ** np.arange(1, t.size + 1), rtol=1e-9)
    assert errs[1] < 3e-4 * g, errs
    assert 1.8 < errs[0] / errs[1] < 2.2, errs  # first order in dt


def test_uncoupled_cells_do_not_interact(x64):
    t, d = _pair(0.0, 0.1)
    np.testing.assert_allclose(d, 20.0 * np.exp(-t / 10.0), rtol=1e-12)


def _chain_network(dt):
    tau = np.array([8.0, 12.0, 20.0])
    bias = np.array([5.0, 0.0, -3.0])
    # junctions 0-1 (g = 0.3) and 1-2 (g = 0.8), listed once and symmetrised
    conn = symmetrize(CSR([0, 1, 2, 2], [1, 2], [0.3, 0.8], n_pre=3, n_post=3, major="pre"))
    net = Network(
        {"E": LIF(3, tau_m=tau, v_rest=V_REST, v_th=1e6, i_bias=bias)},
        {"gap": GapJunction("E", "E", conn)},
    )
    return net, tau, bias


def test_chain_matches_solve_ivp(x64):
    v0 = np.array([-50.0, -65.0, -72.0])
    G = np.array([[0.0, 0.3, 0.0], [0.3, 0.0, 0.8], [0.0, 0.8, 0.0]])
    errs = []
    for dt in (0.02, 0.01):
        net, tau, bias = _chain_network(dt)
        n_steps = int(round(40.0 / dt))
        v = _run_network(net, {"E": v0}, dt, n_steps, ["E.v"])["E.v"]
        t = (np.arange(n_steps) + 1) * dt

        def rhs(_, y, tau=tau, bias=bias):
            coupling = G @ y - G.sum(axis=1) * y  # sum_j g_ij (v_j - v_i)
            return (-(y - V_REST) + bias + coupling) / tau

        ref = solve_ivp(
            rhs, (0.0, t[-1]), v0, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=t
        ).y.T
        errs.append(np.max(np.abs(v - ref)))
    assert errs[1] < 1e-3, errs  # mV, over a 22 mV initial spread
    assert 1.8 < errs[0] / errs[1] < 2.2, errs


def test_between_populations_with_reverse_equals_within(x64):
    g, dt, n_steps = 0.7, 0.05, 400
    one_way = CSR([0, 1], [0], g, n_pre=1, n_post=1, major="pre")
    lif = LIF(1, tau_m=10.0, v_rest=V_REST, v_th=1e6)
    gaps = {"ab": GapJunction("A", "B", one_way), "ba": GapJunction("B", "A", reverse(one_way))}
    net = Network({"A": lif, "B": lif}, gaps)
    out = _run_network(net, {"A": [-50.0], "B": [-70.0]}, dt, n_steps, ["A.v", "B.v"])
    _, d_within = _pair(g, dt, t_end=n_steps * dt)
    np.testing.assert_allclose(out["A.v"][:, 0] - out["B.v"][:, 0], d_within, rtol=1e-12)


@pytest.mark.parametrize("layout", ["csr_pre", "csr_post", "ell_post"])
def test_deliver_matches_dense_formula(x64, layout):
    rng = np.random.default_rng(1)
    n_pre, n_post = 6, 4
    if layout == "ell_post":
        idx = np.stack([rng.choice(n_pre, 3, replace=False) for _ in range(n_post)])
        w = rng.uniform(0.1, 1.0, idx.shape)
        conn = ELL(idx, w, n_pre=n_pre, n_post=n_post, major="post")
    else:
        mask = rng.random((n_pre, n_post)) < 0.5
        pre, post = np.nonzero(mask)
        w = rng.uniform(0.1, 1.0, pre.size)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n_pre))])
        conn = CSR(indptr, post, w, n_pre=n_pre, n_post=n_post, major="pre")
        if layout == "csr_post":
            conn = conn.to_major("post")
    W = np.zeros((n_pre, n_post))
    np.add.at(
        W,
        (np.asarray(conn.pre_ids).ravel(), np.asarray(conn.post_ids).ravel()),
        np.asarray(conn.synapse_weights()).ravel(),
    )
    v_pre, v_post = rng.normal(-60, 10, n_pre), rng.normal(-60, 10, n_post)
    gap = GapJunction("A", "B", conn)
    syn = gap.deliver(
        None,
        bs.neurons.LIFState(jnp.asarray(v_pre), jnp.zeros(n_pre)),
        bs.neurons.LIFState(jnp.asarray(v_post), jnp.zeros(n_post)),
    )
    want = (W * (v_pre[:, None] - v_post[None, :])).sum(axis=0)  # sum_j g_ji (v_j - v_i)
    np.testing.assert_allclose(syn.drive(jnp.asarray(v_post)), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(syn.conductance, W.sum(axis=0), rtol=1e-12)
    assert gap.init_state(key=None) is None
    assert gap.update(None, jnp.ones(n_pre), 0.0, 0.1) is None


def test_symmetrize_against_dense(x64):
    rng = np.random.default_rng(2)
    n = 7
    pre = rng.integers(0, n, 25)
    post = rng.integers(0, n, 25)  # random pairs: some both ways, some duplicated, some i == i
    w = rng.uniform(0.1, 1.0, 25)
    order = np.argsort(pre, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n))])
    conn = CSR(indptr, post[order], w[order], n_pre=n, n_post=n, major="pre")
    W = np.zeros((n, n))
    np.add.at(W, (pre, post), w)
    both = (W > 0) & (W.T > 0)
    want = np.where(both, (W + W.T) / 2, W + W.T)
    for c in (conn, conn.to_major("post")):
        sym = symmetrize(c)
        assert sym.major == c.major
        np.testing.assert_allclose(np.asarray(sym.to_dense()), want, rtol=1e-14)
        pairs = set(zip(np.asarray(sym.pre_ids).tolist(), np.asarray(sym.post_ids).tolist()))
        assert len(pairs) == sym.nnz  # no duplicates left


def test_symmetrize_keeps_a_scalar_weight():
    sym = symmetrize(CSR([0, 1, 2, 2], [1, 2], 0.4, n_pre=3, n_post=3, major="pre"))
    assert sym.weights.ndim == 0 and float(sym.weights) == pytest.approx(0.4)
    assert sym.nnz == 4


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: symmetrize(CSR([0, 1, 1], [0], 1.0, n_pre=2, n_post=1, major="pre")), "n_pre"),
        (lambda: symmetrize(ELL([[1], [0]], 1.0, n_pre=2, n_post=2, major="pre")), "CSR"),
        (
            lambda: GapJunction(
                "E", "E", CSR([0, 1, 1], [1], -0.5, n_pre=2, n_post=2, major="pre")
            ),
            "conductance",
        ),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()
