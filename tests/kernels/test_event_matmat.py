"""`event_matmat` (a batch of spike vectors through one layout) against a dense oracle.

The oracle is the float64 dense matrix of `random_layout` (built with `np.add.at` from
the synapse lists, independently of `formats`), multiplied by the batch of spikes. The
native path is one call that walks the events of all batch rows; it must equal the
reference, `vmap` of `event_matvec`, and a Python loop.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR, event_matmat, event_matvec
from brainsim.kernels._native import native_available
from hypothesis import given, settings, strategies as st
from random_layouts import assert_close_to_oracle, random_layout

DENSITIES = (0.0, 1e-3, 0.1, 1.0)
IMPLS = ("cpu", "reference") if native_available() else ("reference",)


def _batch(rng, batch, n, density, kind, dtype):
    fired = rng.random((batch, n)) < density
    if kind == "bool":
        return jnp.asarray(fired), fired.astype(np.float64)
    values = np.where(fired, rng.uniform(0.5, 1.5, (batch, n)), 0.0)
    return jnp.asarray(values, dtype), values


def assert_matches_oracle(conn, dense, spikes, s64, transpose, impl):
    out = event_matmat(conn, spikes, transpose=transpose, impl=impl)
    expected = s64 @ dense.T if transpose else s64 @ dense
    bound = np.abs(s64) @ (np.abs(dense).T if transpose else np.abs(dense))
    assert_close_to_oracle(out, expected, bound, conn.weights.dtype)


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(
    fmt=st.sampled_from(["csr", "ell"]),
    major=st.sampled_from(["pre", "post"]),
    n_pre=st.sampled_from([0, 1, 9, 70]),
    n_post=st.sampled_from([0, 1, 5, 40]),
    batch=st.sampled_from([0, 1, 3]),
    scalar=st.booleans(),
    kind=st.sampled_from(["bool", "float"]),
    double=st.booleans(),
    density=st.sampled_from(DENSITIES),
    transpose=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_batches_match_dense_oracle(
    fmt, major, n_pre, n_post, batch, scalar, kind, double, density, transpose, seed
):
    rng = np.random.default_rng(seed)
    size = 3 if fmt == "ell" else 150
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        conn, dense = random_layout(rng, fmt, major, n_pre, n_post, size, scalar, dtype)
        n_in = n_post if transpose else n_pre
        spikes, s64 = _batch(rng, batch, n_in, density, kind, dtype)
        for impl in IMPLS:
            assert_matches_oracle(conn, dense, spikes, s64, transpose, impl)


@pytest.mark.parametrize("fmt", ["csr", "ell"])
def test_every_combination_and_vmap_of_matvec(fmt):
    """A fixed sweep over orientation, weights, direction, density and spike kind.

    `vmap(event_matvec)` over spikes must give the same batch (it is the same kernel).
    """
    rng = np.random.default_rng(0)
    for major in ("pre", "post"):
        for scalar in (True, False):
            size = 5 if fmt == "ell" else 700
            conn, dense = random_layout(rng, fmt, major, 90, 60, size, scalar, jnp.float32)
            for transpose in (False, True):
                n_in = 60 if transpose else 90
                for density in DENSITIES:
                    for kind in ("bool", "float"):
                        spikes, s64 = _batch(rng, 5, n_in, density, kind, jnp.float32)
                        for impl in IMPLS:
                            assert_matches_oracle(conn, dense, spikes, s64, transpose, impl)
                        mapped = jax.vmap(
                            lambda s, c=conn, t=transpose: event_matvec(c, s, transpose=t)
                        )
                        np.testing.assert_allclose(
                            mapped(spikes),
                            event_matmat(conn, spikes, transpose=transpose),
                            rtol=1e-6,
                            atol=1e-6,
                        )


def test_signed_zero_nan_and_block_edges():
    """The native scan tests 8 inputs at a time by their bits: -0.0 is no event, NaN is one.

    Events at every position of a 8-block and in the tail (19 inputs) are all found.
    """
    rng = np.random.default_rng(1)
    conn, dense = random_layout(rng, "ell", "pre", 19, 7, 3, False, jnp.float32)
    x = np.zeros((21, 19), np.float32)
    for b in range(19):
        x[b, b] = 1.0 + b  # one event per batch row, at every position
    x[19, :] = -0.0
    x[20, 5] = np.nan
    for impl in IMPLS:
        out = np.asarray(event_matmat(conn, jnp.asarray(x), impl=impl))
        np.testing.assert_allclose(out[:19], x[:19].astype(np.float64) @ dense, rtol=1e-6)
        assert np.all(out[19] == 0.0) and not np.any(np.signbit(out[19]))
        targets = np.asarray(conn.indices)[5]
        assert np.all(np.isnan(out[20, targets]))
        assert np.all(out[20, np.setdiff1d(np.arange(7), targets)] == 0.0)


def test_vmap_with_per_point_weights_equals_loop(x64):
    """A sweep: every point has its own weights (scalar or per synapse) and spikes."""
    rng = np.random.default_rng(2)
    for fmt in ("csr", "ell"):
        for scalar in (True, False):
            conn, _ = random_layout(
                rng, fmt, "pre", 30, 20, 4 if fmt == "ell" else 90, scalar, jnp.float64
            )
            ws = jnp.asarray(rng.normal(size=(6, *conn.weights.shape)))
            spikes = jnp.asarray(rng.random((6, 30)) < 0.3)

            @jax.jit
            def f(w, s, conn=conn):
                return event_matvec(conn.with_weights(w), s)

            looped = jnp.stack([f(w, s) for w, s in zip(ws, spikes)])
            np.testing.assert_allclose(jax.vmap(f)(ws, spikes), looped, rtol=1e-13, atol=1e-13)
            nested = jax.vmap(jax.vmap(f, (None, 0)), (0, None))(ws[:2], spikes[:3])
            loop2 = jnp.stack([jnp.stack([f(w, s) for s in spikes[:3]]) for w in ws[:2]])
            np.testing.assert_allclose(nested, loop2, rtol=1e-13, atol=1e-13)


def _central_difference(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(jnp.asarray(x + step)) - f(jnp.asarray(x - step))) / (2 * eps)
    return grad


@pytest.mark.parametrize("transpose", [False, True])
def test_grads_match_reference_and_finite_differences(x64, transpose):
    rng = np.random.default_rng(3)
    for fmt in ("csr", "ell"):
        conn, _ = random_layout(
            rng, fmt, "pre", 6, 5, 2 if fmt == "ell" else 14, False, jnp.float64
        )
        n_in, n_out = (5, 6) if transpose else (6, 5)
        spikes = jnp.asarray(rng.uniform(0, 1, (3, n_in)) * (rng.random((3, n_in)) < 0.7))
        r = jnp.asarray(rng.normal(size=(3, n_out)))

        @eqx.filter_jit
        def grads(conn, spikes, r=r):
            def loss(w, s, impl):
                y = event_matmat(conn.with_weights(w), s, transpose=transpose, impl=impl)
                return jnp.sum(jnp.tanh(y) * r)

            return {impl: jax.grad(loss, (0, 1))(conn.weights, spikes, impl) for impl in IMPLS}

        out = grads(conn, spikes)
        for g, h in zip(jax.tree.leaves(out[IMPLS[0]]), jax.tree.leaves(out["reference"])):
            np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-13)

        def loss_w(w, c=conn, s=spikes, r=r):
            return jnp.sum(jnp.tanh(event_matmat(c.with_weights(w), s, transpose=transpose)) * r)

        def loss_s(s, c=conn, r=r):
            return jnp.sum(jnp.tanh(event_matmat(c, s, transpose=transpose)) * r)

        g_w, g_s = out[IMPLS[0]]
        np.testing.assert_allclose(
            g_w, _central_difference(jax.jit(loss_w), conn.weights), atol=1e-8
        )
        np.testing.assert_allclose(g_s, _central_difference(jax.jit(loss_s), spikes), atol=1e-8)


def test_jit_equals_eager_with_one_trace():
    rng = np.random.default_rng(4)
    conn, _ = random_layout(rng, "csr", "pre", 40, 30, 200, False, jnp.float32)
    jitted = jax.jit(eqx.debug.assert_max_traces(lambda c, s: event_matmat(c, s), max_traces=1))
    for _ in range(3):
        s = jnp.asarray(rng.random((4, 40)) < 0.2)
        np.testing.assert_allclose(jitted(conn, s), event_matmat(conn, s), rtol=1e-6, atol=1e-6)


def test_errors_name_the_argument():
    conn = CSR([0, 1, 1], [2], 1.0, n_pre=3, n_post=2, major="post")
    with pytest.raises(ValueError, match=r"^spikes must have shape \(batch, 3\)"):
        event_matmat(conn, jnp.zeros((4, 2), bool))
    with pytest.raises(ValueError, match=r"^spikes must have shape \(batch, 2\)"):
        event_matmat(conn, jnp.zeros(2, bool), transpose=True)
    with pytest.raises(ValueError, match="^impl must be one of"):
        event_matmat(conn, jnp.zeros((1, 3), bool), impl="cuda")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^conn must be a CSR, ELL or ProceduralFanOut"):
        event_matmat(np.ones((3, 2)), jnp.zeros((1, 3), bool))  # type: ignore[arg-type]
