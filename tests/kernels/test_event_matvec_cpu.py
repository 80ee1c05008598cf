"""The native CPU path of `event_matvec` against the reference and a dense NumPy oracle.

Forward (every layout, direction, dtype, weight kind, spike kind and density, sizes down
to 0), JVP and gradients (against the reference and central differences), vmap (over
spikes, weights and whole layouts, nested), jit, scan, memory safety with indices the
layouts would reject, and the fallbacks (unsupported dtype, missing library).
"""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR, ELL, _native, event_matvec
from hypothesis import given, settings, strategies as st
from random_layouts import random_layout

needs_native = pytest.mark.skipif(
    not _native.native_available(),
    reason=f"native CPU kernels not built: {_native.native_unavailable_reason()}",
)

DENSITIES = (0.0, 1e-3, 0.1, 1.0)


def _spikes(rng, n, density, kind, dtype):
    fired = rng.random(n) < density
    if kind == "bool":
        return jnp.asarray(fired)
    return jnp.asarray(np.where(fired, rng.uniform(-1.5, 1.5, n), 0.0), dtype)


def assert_forward_matches(conn, dense, spikes, transpose):
    """cpu against the dense oracle (error bound from |W| |s|) and against the reference."""
    out = event_matvec(conn, spikes, transpose=transpose, impl="cpu")
    ref = event_matvec(conn, spikes, transpose=transpose, impl="reference")
    s64 = np.asarray(spikes, np.float64)
    mat = dense if transpose else dense.T
    expected = mat @ s64
    assert out.dtype == ref.dtype == conn.weights.dtype and out.shape == expected.shape
    eps = 1e-6 if conn.weights.dtype == jnp.float32 else 1e-14
    bound = eps * (1 + np.abs(mat) @ np.abs(s64))
    np.testing.assert_array_less(np.abs(np.asarray(out, np.float64) - expected), bound)
    np.testing.assert_array_less(np.abs(np.asarray(out, np.float64) - np.asarray(ref)), 2 * bound)


def _uses_native(fn, *args) -> bool:
    return "brainsim_event_matvec" in str(jax.make_jaxpr(fn)(*args))


@needs_native
@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(
    fmt=st.sampled_from(["csr", "ell"]),
    major=st.sampled_from(["pre", "post"]),
    n_pre=st.sampled_from([0, 1, 7, 120]),
    n_post=st.sampled_from([0, 1, 5, 90]),
    size=st.sampled_from([0, 1, 4, 300]),
    scalar=st.booleans(),
    kind=st.sampled_from(["bool", "float"]),
    double=st.booleans(),
    density=st.sampled_from(DENSITIES),
    transpose=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_layouts_match_oracle_and_reference(
    fmt, major, n_pre, n_post, size, scalar, kind, double, density, transpose, seed
):
    rng = np.random.default_rng(seed)
    size = min(size, 6) if fmt == "ell" else size
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        conn, dense = random_layout(rng, fmt, major, n_pre, n_post, size, scalar, dtype)
        spikes = _spikes(rng, n_post if transpose else n_pre, density, kind, dtype)
        assert_forward_matches(conn, dense, spikes, transpose)


@needs_native
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("fmt", ["csr", "ell"])
def test_every_combination(fmt, double):
    """A fixed sweep, so every combination runs whatever hypothesis draws."""
    rng = np.random.default_rng(0)
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        for major in ("pre", "post"):
            for scalar in (True, False):
                size = 9 if fmt == "ell" else 1500
                conn, dense = random_layout(rng, fmt, major, 200, 150, size, scalar, dtype)
                assert _uses_native(lambda s, c=conn: event_matvec(c, s), jnp.zeros(200, bool))
                for transpose in (False, True):
                    for density in DENSITIES:
                        for kind in ("bool", "float"):
                            spikes = _spikes(rng, 150 if transpose else 200, density, kind, dtype)
                            assert_forward_matches(conn, dense, spikes, transpose)


@needs_native
def test_repeated_targets_and_empty_rows():
    """All of a row's synapses on one target add up; rows without synapses give 0."""
    indptr = np.array([0, 0, 4, 4, 6])
    indices = np.array([2, 2, 2, 2, 0, 2])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    conn = CSR(indptr, indices, weights, n_pre=4, n_post=3, major="pre", dtype=jnp.float32)
    out = event_matvec(conn, jnp.array([True, True, True, True]), impl="cpu")
    np.testing.assert_array_equal(out, [5.0, 0.0, 16.0])
    back = event_matvec(
        conn, jnp.array([1.0, 10.0, 100.0], jnp.float32), transpose=True, impl="cpu"
    )
    np.testing.assert_array_equal(back, [0.0, 1000.0, 0.0, 605.0])
    ell = ELL(np.full((3, 4), 1), 0.5, n_pre=3, n_post=2, major="pre", dtype=jnp.float32)
    np.testing.assert_array_equal(event_matvec(ell, jnp.ones(3, bool), impl="cpu"), [0.0, 6.0])


def _grad_layouts(rng, scalar):
    for fmt in ("csr", "ell"):
        for major in ("pre", "post"):
            size = 3 if fmt == "ell" else 20
            yield random_layout(rng, fmt, major, 7, 6, size, scalar, jnp.float64)[0]


def _derivatives(conn, transpose, impl, s, s_bool, r, tangents):
    """d/dweights and d/dspikes (float spikes), d/dweights (bool spikes), forward mode."""

    def loss(w, s):
        y = event_matvec(conn.with_weights(w), s, transpose=transpose, impl=impl)
        return jnp.sum(jnp.tanh(y) * r)

    w = conn.weights
    return jax.grad(loss, (0, 1))(w, s), jax.grad(loss)(w, s_bool), jax.jvp(loss, (w, s), tangents)


@needs_native
@pytest.mark.parametrize("scalar", [False, True])
def test_grad_and_jvp_match_reference(x64, scalar):
    rng = np.random.default_rng(1)
    for conn in _grad_layouts(rng, scalar):
        args = {}
        for transpose in (False, True):
            n_in, n_out = (conn.n_post, conn.n_pre) if transpose else (conn.n_pre, conn.n_post)
            s = jnp.asarray(rng.uniform(-1, 1, n_in) * (rng.random(n_in) < 0.6))
            s_bool = jnp.asarray(rng.random(n_in) < 0.5)
            r = jnp.asarray(rng.normal(size=n_out))
            tangents = (jnp.ones_like(conn.weights), jnp.asarray(rng.normal(size=n_in)))
            args[transpose] = (s, s_bool, r, tangents)

        @eqx.filter_jit
        def both(conn, args):  # one compilation per layout
            return {
                (t, impl): _derivatives(conn, t, impl, *args[t])
                for t in (False, True)
                for impl in ("cpu", "reference")
            }

        out = both(conn, args)
        for t in (False, True):
            got, want = jax.tree.leaves(out[t, "cpu"]), jax.tree.leaves(out[t, "reference"])
            for g, h in zip(got, want):
                np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-13)


def _central_difference(f, x, eps=1e-6):
    """d f / d x by central differences: shape `f(x).shape + x.shape`."""
    x = np.asarray(x, np.float64)
    columns = []
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        columns.append(
            (np.asarray(f(jnp.asarray(x + step))) - np.asarray(f(jnp.asarray(x - step))))
            / (2 * eps)
        )
    out = np.stack(columns, axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


@needs_native
@pytest.mark.parametrize("fmt", ["csr", "ell"])
@pytest.mark.parametrize("transpose", [False, True])
def test_grad_matches_finite_differences(x64, fmt, transpose):
    """Through the layout pytree, as training a projection does, for both orientations."""
    rng = np.random.default_rng(2)
    for major in ("pre", "post"):
        size = 2 if fmt == "ell" else 14
        conn, _ = random_layout(rng, fmt, major, 6, 5, size, False, jnp.float64)
        n_in, n_out = (conn.n_post, conn.n_pre) if transpose else (conn.n_pre, conn.n_post)
        s = jnp.asarray(rng.uniform(0, 1, n_in) * (rng.random(n_in) < 0.7))
        r = jnp.asarray(rng.normal(size=n_out))

        def loss(c, s, t=transpose, r=r):
            return jnp.sum(jnp.tanh(event_matvec(c, s, transpose=t, impl="cpu")) * r)

        loss_w = jax.jit(lambda w, c=conn, s=s: loss(c.with_weights(w), s))
        loss_s = jax.jit(lambda s, c=conn: loss(c, s))
        grad_s = jax.jit(jax.grad(loss_s))
        grads = eqx.filter_jit(eqx.filter_grad(loss))(conn, s)
        np.testing.assert_allclose(
            grads.weights, _central_difference(loss_w, conn.weights), atol=1e-8
        )
        np.testing.assert_allclose(grad_s(s), _central_difference(loss_s, s), atol=1e-8)
        # second order: the transpose rules are themselves differentiable
        hess = jax.jit(jax.hessian(loss_s))(s)
        fd_h = _central_difference(grad_s, s, eps=1e-5)
        np.testing.assert_allclose(hess, fd_h, atol=1e-6)


def assert_vmap_equals_loop(rng, conn, transpose, kind):
    n_in = conn.n_post if transpose else conn.n_pre
    n_cols = conn.n_post if conn.major == "pre" else conn.n_pre
    spikes = jnp.stack([_spikes(rng, n_in, 0.4, kind, jnp.float32) for _ in range(4)])
    ws = jnp.asarray(rng.normal(size=(4, *conn.weights.shape)), jnp.float32)
    other = eqx.tree_at(  # same shapes, other targets: a batch of two layouts
        lambda c: c.indices,
        conn,
        jnp.asarray(rng.integers(0, n_cols, conn.indices.shape), jnp.int32),
    )

    @eqx.filter_jit
    def f(c, s):
        return event_matvec(c, s, transpose=transpose, impl="cpu")

    @jax.jit
    def f_w(w, s):
        return f(conn.with_weights(w), s)

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

    close(jax.vmap(f, (None, 0))(conn, spikes), jnp.stack([f(conn, s) for s in spikes]))
    close(jax.vmap(f_w, (0, None))(ws, spikes[0]), jnp.stack([f_w(w, spikes[0]) for w in ws]))
    close(jax.vmap(f_w)(ws, spikes), jnp.stack([f_w(w, s) for w, s in zip(ws, spikes)]))
    nested = jax.vmap(jax.vmap(f_w, (None, 0)), (0, None))(ws, spikes)
    close(nested, jnp.stack([jnp.stack([f_w(w, s) for s in spikes]) for w in ws]))
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), conn, other)
    close(
        eqx.filter_vmap(f)(stacked, spikes[:2]),
        jnp.stack([f(conn, spikes[0]), f(other, spikes[1])]),
    )


@needs_native
def test_vmap_equals_loop():
    """Over spikes (a matmat), over weights, over whole layouts, and nested.

    Bool spikes forward and float ones transposed: both kinds reach both directions.
    """
    rng = np.random.default_rng(3)
    for fmt in ("csr", "ell"):
        for major in ("pre", "post"):
            size = 3 if fmt == "ell" else 25
            conn, _ = random_layout(rng, fmt, major, 9, 8, size, False, jnp.float32)
            for transpose in (False, True):
                assert_vmap_equals_loop(rng, conn, transpose, "float" if transpose else "bool")


@needs_native
def test_grad_through_vmap_and_vmap_of_grad(x64):
    """A loss summed over a batch of trials, and per-trial gradients, against the reference."""
    rng = np.random.default_rng(4)
    for scalar in (False, True):
        for conn in _grad_layouts(rng, scalar):
            shape = (3, conn.n_pre)
            spikes = jnp.asarray(rng.uniform(0, 1, shape) * (rng.random(shape) < 0.5))

            @eqx.filter_jit
            def grads(conn, spikes):
                def loss(w, s, impl):
                    return jnp.sum(jnp.sin(event_matvec(conn.with_weights(w), s, impl=impl)))

                def batch_loss(w, ss, impl):  # shared weights, a batch of spike trains
                    return jnp.sum(jax.vmap(lambda s: loss(w, s, impl))(ss))

                def sweep_loss(ws, s, impl):  # a batch of weights, shared spikes
                    return jnp.sum(jax.vmap(lambda w: loss(w, s, impl))(ws))

                ws = jnp.stack([conn.weights, 2 * conn.weights])
                return {
                    impl: (
                        jax.grad(batch_loss, (0, 1))(conn.weights, spikes, impl),
                        jax.grad(sweep_loss, (0, 1))(ws, spikes[0], impl),
                        jax.vmap(jax.grad(loss, (0, 1)), (None, 0, None))(
                            conn.weights, spikes, impl
                        ),
                    )
                    for impl in ("cpu", "reference")
                }

            out = grads(conn, spikes)
            for g, h in zip(jax.tree.leaves(out["cpu"]), jax.tree.leaves(out["reference"])):
                np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-13)


@needs_native
def test_jit_equals_eager_and_scan():
    """jit (with a stable trace count) and a lax.scan of event steps, against the reference."""
    rng = np.random.default_rng(5)
    conn, _ = random_layout(rng, "ell", "pre", 300, 200, 20, False, jnp.float32)
    csr = conn.to_csr()
    trains = jnp.asarray(rng.random((50, 300)) < 0.02)
    for c in (conn, csr):
        jitted = jax.jit(eqx.debug.assert_max_traces(lambda c, s: event_matvec(c, s), max_traces=1))
        for s in trains[:3]:
            np.testing.assert_allclose(jitted(c, s), event_matvec(c, s, impl="cpu"), rtol=1e-6)

        def run(c, impl):
            def body(v, s):
                v = 0.9 * v + event_matvec(c, s, impl=impl)  # noqa: B023
                return v, jnp.sum(v)

            return jax.lax.scan(body, jnp.zeros(200, jnp.float32), trains)

        (v_cpu, tr_cpu), (v_ref, tr_ref) = (
            jax.jit(run, static_argnums=1)(c, "cpu"),
            run(c, "reference"),
        )
        np.testing.assert_allclose(v_cpu, v_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tr_cpu, tr_ref, rtol=1e-5, atol=1e-4)


@needs_native
def test_out_of_range_indices_are_skipped_not_written():
    """Indices the layouts would reject (swapped in under them) never reach memory."""
    rng = np.random.default_rng(6)
    conn, _ = random_layout(rng, "ell", "pre", 50, 40, 4, False, jnp.float32)
    bad = np.asarray(conn.indices).copy()
    bad[::3, 0] = 40 + 10**6
    bad[1::3, 1] = -5
    broken = eqx.tree_at(lambda c: c.indices, conn, jnp.asarray(bad))
    keep = (bad >= 0) & (bad < 40)
    clean = conn.with_weights(jnp.where(keep, conn.weights, 0.0))  # same synapses, bad ones 0
    s = jnp.ones(50, bool)
    np.testing.assert_allclose(
        event_matvec(broken, s, impl="cpu"), event_matvec(clean, s), rtol=1e-6
    )
    back = jnp.asarray(rng.normal(size=40), jnp.float32)
    np.testing.assert_allclose(
        event_matvec(broken, back, transpose=True, impl="cpu"),
        event_matvec(clean, back, transpose=True),
        rtol=1e-5,
        atol=1e-6,
    )
    csr = conn.to_csr()
    wild = eqx.tree_at(
        lambda c: c.indptr, csr, jnp.asarray(np.r_[0, rng.integers(-500, 500, 50)], jnp.int32)
    )
    for transpose, n in ((False, 50), (True, 40)):
        out = event_matvec(wild, jnp.ones(n, jnp.float32), transpose=transpose, impl="cpu")
        assert np.all(np.isfinite(out))


@needs_native
def test_unsupported_dtypes_fall_back_to_reference():
    """float16 weights run the reference; integer spikes are cast as the reference casts them."""
    rng = np.random.default_rng(7)
    half, _ = random_layout(rng, "csr", "pre", 20, 10, 60, False, jnp.float16)
    s = jnp.asarray(rng.random(20) < 0.5)
    assert not _uses_native(lambda s: event_matvec(half, s, impl="cpu"), s)
    np.testing.assert_array_equal(
        event_matvec(half, s, impl="cpu"), event_matvec(half, s, impl="reference")
    )
    conn, dense = random_layout(rng, "ell", "pre", 20, 10, 3, False, jnp.float32)
    counts = jnp.asarray(rng.integers(0, 3, 20), jnp.int32)
    assert _uses_native(lambda s: event_matvec(conn, s, impl="cpu"), counts)
    np.testing.assert_allclose(
        event_matvec(conn, counts, impl="cpu"), dense.T @ np.asarray(counts), rtol=1e-5
    )


def test_missing_library_warns_once_and_runs_reference(monkeypatch):
    """Where the build made no library, "auto" and "cpu" run the reference after one warning."""
    monkeypatch.setattr(_native, "_load", lambda: (None, "test: no library"))
    _native.warn_native_unavailable.cache_clear()
    rng = np.random.default_rng(8)
    conn, dense = random_layout(rng, "csr", "pre", 30, 20, 100, False, jnp.float32)
    s = jnp.asarray(rng.random(30) < 0.3)
    try:
        match = r"not available \(test: no library\); using the pure-JAX reference"
        with pytest.warns(_native.NativeKernelWarning, match=match):
            out = event_matvec(conn, s)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once: no second warning
            out_cpu = event_matvec(conn, s, impl="cpu")
            assert not _uses_native(lambda s: event_matvec(conn, s), s)
    finally:
        _native.warn_native_unavailable.cache_clear()
    np.testing.assert_array_equal(out, event_matvec(conn, s, impl="reference"))
    np.testing.assert_array_equal(out_cpu, out)
    np.testing.assert_allclose(out, dense.T @ np.asarray(s, np.float64), rtol=1e-5)
