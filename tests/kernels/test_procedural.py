"""Procedural fixed fan-out: the hash against plain Python, the kernel against the builder.

The specification (`brainsim.kernels.procedural.reference`) is checked against an
independent pure-Python implementation on integers. The native kernel, which stores
nothing, must then give exactly the in-degrees of the materialised `ELL` (all weights
1, so sums are exact), and the reference product within float rounding, in every
direction, batched, and under `grad`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import ELL, ProceduralFanOut, event_matvec, materialize, procedural_matvec
from brainsim.kernels._native import native_available
from hypothesis import given, settings, strategies as st

IMPLS = ("cpu", "reference") if native_available() else ("reference",)
M32 = 2**32 - 1


def _mix_py(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    return x ^ (x >> 16)


def _synapse_py(seed: int, i: int, k: int, n_post: int, spread: float) -> tuple[int, float]:
    key = _mix_py((seed + _mix_py(i)) & M32)
    c = (key + (k + 1) * 0x9E3779B9) & M32
    target = (_mix_py(c) * n_post) >> 32
    u = (_mix_py(c ^ 0x85EBCA6B) >> 8) / 2**24
    return target, 1.0 + spread * (2 * u - 1)


def test_hash_matches_plain_python(x64):
    for seed, n_pre, n_post, fan_out in ((0, 3, 7, 4), (2**32 - 1, 5, 1, 3), (123456, 4, 10**6, 6)):
        conn = ProceduralFanOut(
            2.0, n_pre=n_pre, n_post=n_post, fan_out=fan_out, seed=seed, spread=0.25
        )
        ell = materialize(conn)
        indices, weights = np.asarray(ell.indices), np.asarray(ell.weights)
        for i in range(n_pre):
            for k in range(fan_out):
                target, factor = _synapse_py(seed, i, k, n_post, 0.25)
                assert indices[i, k] == target
                np.testing.assert_allclose(weights[i, k], 2.0 * factor, rtol=1e-15)


def test_targets_are_uniform_and_seeds_differ():
    """One neuron with 200,000 synapses onto 10 targets: each count within 5 sigma."""
    conn = ProceduralFanOut(1.0, n_pre=1, n_post=10, fan_out=200_000, seed=5)
    counts = np.bincount(np.asarray(materialize(conn).indices).ravel(), minlength=10)
    sigma = np.sqrt(200_000 * 0.1 * 0.9)
    assert np.all(np.abs(counts - 20_000) < 5 * sigma), counts
    a = materialize(ProceduralFanOut(1.0, n_pre=50, n_post=1000, fan_out=20, seed=1)).indices
    b = materialize(ProceduralFanOut(1.0, n_pre=50, n_post=1000, fan_out=20, seed=2)).indices
    assert np.mean(np.asarray(a) == np.asarray(b)) < 0.01


@pytest.mark.parametrize("impl", IMPLS)
def test_kernel_regenerates_the_materialised_synapses_exactly(impl):
    """Unit weights: row b of a one-hot batch is row b's target histogram, sums exact."""
    for n_pre, n_post, fan_out in ((37, 23, 9), (1, 1, 3), (20, 1000, 50)):
        conn = ProceduralFanOut(
            1.0, n_pre=n_pre, n_post=n_post, fan_out=fan_out, seed=99, dtype=jnp.float32
        )
        idx = np.asarray(materialize(conn).indices)
        hist = np.stack([np.bincount(row, minlength=n_post) for row in idx]).astype(np.float32)
        one_hot = jnp.eye(n_pre, dtype=jnp.bool_)
        np.testing.assert_array_equal(procedural_matvec(conn, one_hot, impl=impl), hist)
        np.testing.assert_array_equal(
            procedural_matvec(conn, jnp.ones(n_pre, jnp.float32), impl=impl), hist.sum(0)
        )
        back = procedural_matvec(conn, jnp.ones(n_post, bool), transpose=True, impl=impl)
        np.testing.assert_array_equal(back, np.full(n_pre, float(fan_out), np.float32))


def _dense(conn):
    ell = materialize(conn)
    dense = np.zeros((conn.n_pre, conn.n_post))
    rows = np.repeat(np.arange(conn.n_pre), conn.fan_out)
    w = np.broadcast_to(np.asarray(ell.weights, np.float64), ell.indices.shape).ravel()
    np.add.at(dense, (rows, np.asarray(ell.indices).ravel()), w)
    return dense


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(
    n_pre=st.sampled_from([0, 1, 9, 60]),
    n_post=st.sampled_from([1, 5, 40]),
    fan_out=st.sampled_from([0, 1, 7]),
    spread=st.sampled_from([0.0, 0.3]),
    kind=st.sampled_from(["bool", "float"]),
    double=st.booleans(),
    density=st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
    transpose=st.booleans(),
    batch=st.sampled_from([None, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_cases_match_dense_oracle(
    n_pre, n_post, fan_out, spread, kind, double, density, transpose, batch, seed
):
    rng = np.random.default_rng(seed % 1000)
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        conn = ProceduralFanOut(
            0.7, n_pre=n_pre, n_post=n_post, fan_out=fan_out, seed=seed, spread=spread, dtype=dtype
        )
        dense = _dense(conn)
        n_in = n_post if transpose else n_pre
        shape = (n_in,) if batch is None else (batch, n_in)
        fired = rng.random(shape) < density
        s64 = fired * (1.0 if kind == "bool" else rng.uniform(0.5, 1.5, shape))
        spikes = jnp.asarray(fired) if kind == "bool" else jnp.asarray(s64, dtype)
        expected = s64 @ (dense.T if transpose else dense)
        bound = np.abs(s64) @ (np.abs(dense).T if transpose else np.abs(dense))
        eps = 1e-6 if dtype == jnp.float32 else 1e-14
        for impl in IMPLS:
            out = procedural_matvec(conn, spikes, transpose=transpose, impl=impl)
            assert out.dtype == dtype and out.shape == expected.shape
            err = np.abs(np.asarray(out, np.float64) - expected)
            np.testing.assert_array_less(err, eps * (1 + bound))


def _central_difference(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(jnp.asarray(x + step)) - f(jnp.asarray(x - step))) / (2 * eps)
    return grad


@pytest.mark.parametrize("transpose", [False, True])
def test_grads_and_jvp(x64, transpose):
    """d/dweight and d/dspikes: native equals reference, both equal finite differences."""
    rng = np.random.default_rng(1)
    conn = ProceduralFanOut(0.8, n_pre=7, n_post=6, fan_out=4, seed=3, spread=0.5)
    n_in, n_out = (6, 7) if transpose else (7, 6)
    s = jnp.asarray(rng.uniform(0, 1, n_in) * (rng.random(n_in) < 0.7))
    r = jnp.asarray(rng.normal(size=n_out))

    def loss(w, s, impl):
        y = procedural_matvec(conn.with_weights(w), s, transpose=transpose, impl=impl)
        return jnp.sum(jnp.tanh(y) * r)

    @jax.jit
    def derivatives(w, s):
        return {
            impl: (
                jax.grad(loss, (0, 1))(w, s, impl),
                jax.jvp(lambda w, s, i=impl: loss(w, s, i), (w, s), (jnp.ones_like(w), s)),
            )
            for impl in IMPLS
        }

    out = derivatives(conn.weights, s)
    for g, h in zip(jax.tree.leaves(out[IMPLS[0]]), jax.tree.leaves(out["reference"])):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-13)
    (g_w, g_s), _ = out[IMPLS[0]]
    f_w = jax.jit(lambda w: loss(w, s, IMPLS[0]))
    f_s = jax.jit(lambda s: loss(conn.weights, s, IMPLS[0]))
    np.testing.assert_allclose(g_w, _central_difference(f_w, conn.weights), atol=1e-8)
    np.testing.assert_allclose(g_s, _central_difference(f_s, s), atol=1e-8)


def test_vmap_over_seeds_weights_and_spikes_equals_loop():
    """A sweep over connectivity instances (seeds) needs no stored synapses either."""
    rng = np.random.default_rng(2)
    conn = ProceduralFanOut(1.0, n_pre=30, n_post=20, fan_out=5, seed=0, spread=0.2)
    seeds = jnp.arange(4, dtype=jnp.uint32) * 1000
    ws = jnp.asarray(rng.uniform(0.5, 2.0, 4), jnp.float32)
    spikes = jnp.asarray(rng.random((4, 30)) < 0.3)

    @jax.jit
    def f(seed, w, s):
        c = eqx.tree_at(lambda c: (c.seed, c.weights), conn, (seed, w))
        return procedural_matvec(c, s)

    looped = jnp.stack([f(*args) for args in zip(seeds, ws, spikes)])
    np.testing.assert_allclose(jax.vmap(f)(seeds, ws, spikes), looped, rtol=1e-6)
    np.testing.assert_allclose(
        jax.vmap(f, (0, None, None))(seeds, ws[0], spikes[0]),
        jnp.stack([f(sd, ws[0], spikes[0]) for sd in seeds]),
        rtol=1e-6,
    )
    mapped = jax.vmap(lambda s: event_matvec(conn, s, transpose=True))
    back = jnp.asarray(rng.normal(size=(3, 20)), jnp.float32)
    np.testing.assert_allclose(
        mapped(back), procedural_matvec(conn, back, transpose=True, impl="reference"), rtol=1e-5
    )


def test_jit_equals_eager_and_network_equals_materialised():
    """A projection on procedural connectivity spikes exactly as on its materialised ELL."""
    from brainsim.network import Network, Projection
    from brainsim.neurons import LIF
    from brainsim.synapses import COBA, Exponential

    conn = ProceduralFanOut(0.5, n_pre=40, n_post=40, fan_out=8, seed=11, dtype=jnp.float32)
    jitted = jax.jit(eqx.debug.assert_max_traces(lambda c, s: event_matvec(c, s), max_traces=1))
    rng = np.random.default_rng(3)
    for _ in range(2):
        s = jnp.asarray(rng.random(40) < 0.3)
        np.testing.assert_array_equal(jitted(conn, s), event_matvec(conn, s))

    def network(layout):
        lif = LIF(40, tau_m=20.0, v_rest=-60.0, v_th=-50.0, v_reset=-60.0, i_bias=12.0)
        proj = Projection("E", "E", layout, Exponential(40, 5.0), COBA(0.0))
        return Network({"E": lif}, {"EE": proj})

    @eqx.filter_jit
    def run(net):
        state = net.init_state(key=jax.random.key(0))
        state = eqx.tree_at(lambda s: s.populations["E"].v, state, jnp.linspace(-60, -50.5, 40))

        def body(state, t):
            state, spikes = net.step(state, None, t, 0.1)
            return state, spikes["E"]

        return jax.lax.scan(body, state, 0.1 * jnp.arange(300, dtype=jnp.float32))[1]

    procedural, stored = run(network(conn)), run(network(materialize(conn)))
    assert int(procedural.sum()) > 40
    np.testing.assert_array_equal(procedural, stored)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="^n_pre must be a non-negative integer"):
        ProceduralFanOut(1.0, n_pre=-1, n_post=3, fan_out=2, seed=0)
    with pytest.raises(ValueError, match="^fan_out must be 0 when n_post is 0"):
        ProceduralFanOut(1.0, n_pre=2, n_post=0, fan_out=2, seed=0)
    with pytest.raises(ValueError, match=r"^seed must lie in \[0, 2\*\*32\)"):
        ProceduralFanOut(1.0, n_pre=2, n_post=3, fan_out=2, seed=2**32)
    with pytest.raises(ValueError, match="^seed must be one integer"):
        ProceduralFanOut(1.0, n_pre=2, n_post=3, fan_out=2, seed=1.5)
    with pytest.raises(ValueError, match=r"^spread must lie in \[0, 1\]"):
        ProceduralFanOut(1.0, n_pre=2, n_post=3, fan_out=2, seed=0, spread=2.0)
    with pytest.raises(ValueError, match="^weights must be a scalar"):
        ProceduralFanOut(jnp.ones(3), n_pre=2, n_post=3, fan_out=2, seed=0)
    conn = ProceduralFanOut(1.0, n_pre=2, n_post=3, fan_out=2, seed=0)
    with pytest.raises(ValueError, match=r"^spikes must have shape \(2,\) or \(batch, 2\)"):
        procedural_matvec(conn, jnp.zeros(3, bool))
    with pytest.raises(ValueError, match="^impl must be one of"):
        procedural_matvec(conn, jnp.zeros(2, bool), impl="gpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^conn must be a ProceduralFanOut"):
        procedural_matvec(ELL([[0]], 1.0, n_pre=1, n_post=1, major="pre"), jnp.zeros(1, bool))
