"""`event_dense_matmat` (spikes through a dense weight matrix) against a float64 oracle.

Forward for spike densities 0, 1e-3, 0.1 and 1, sizes down to 0 and 1, float32 and
float64, both implementations; JVP, gradients (against the reference and central
differences) and a Hessian-vector product; vmap over spikes, weights and both, nested,
against a loop; jit against eager; that the native kernels are what runs; bad input; the
fallback when the native library is missing.
"""

import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import _native, event_dense_matmat
from brainsim.kernels.event_dense import cpu as dense_cpu

needs_native = pytest.mark.skipif(
    dense_cpu._registered() is not None,
    reason=f"native event_dense kernels not available: {dense_cpu._registered()}",
)

DENSITIES = (0.0, 1e-3, 0.1, 1.0)
# n covers the kernels' column blocks (64 float32 or 32 float64 columns) and remainders.
SHAPES = (
    (0, 3, 4),
    (3, 0, 4),
    (3, 4, 0),
    (1, 1, 1),
    (5, 8, 3),
    (37, 70, 9),
    (64, 300, 20),
    (9, 40, 64),
    (7, 33, 150),
)
# Large enough that the native kernels split the work over XLA's intra-op threads.
LARGE = (400, 700, 280)
IMPLS = ("cpu", "reference")


def _spikes(rng, shape, density, dtype, *, binary=False):
    fired = rng.random(shape) < density
    values = np.ones(shape) if binary else rng.uniform(-1.5, 1.5, shape)
    return jnp.asarray(np.where(fired, values, 0.0), dtype)


def _weights(rng, shape, dtype):
    return jnp.asarray(rng.normal(size=shape), dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_float64_oracle(impl, double, density, shape):
    if impl == "cpu" and dense_cpu._registered() is not None:
        pytest.skip("native event_dense kernels not available")
    m, k, n = shape
    rng = np.random.default_rng(hash((shape, density, double)) % 2**32)
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        for binary in (True, False):
            s = _spikes(rng, (m, k), density, dtype, binary=binary)
            w = _weights(rng, (k, n), dtype)
            out = event_dense_matmat(s, w, impl=impl)
            s64, w64 = np.asarray(s, np.float64), np.asarray(w, np.float64)
            expected = s64 @ w64
            assert out.dtype == dtype and out.shape == (m, n)
            eps = 1e-6 if not double else 1e-14
            bound = eps * (1 + np.abs(s64) @ np.abs(w64))
            np.testing.assert_array_less(np.abs(np.asarray(out, np.float64) - expected), bound)


@needs_native
@pytest.mark.parametrize("density", (0.05, 1.0))
def test_large_product_and_weight_gradient_match_oracle(density):
    """Sizes at which the kernels run on several threads (when XLA has them)."""
    m, k, n = LARGE
    rng = np.random.default_rng(4)
    s = _spikes(rng, (m, k), density, jnp.float32, binary=True)
    w = _weights(rng, (k, n), jnp.float32)
    g = _weights(rng, (m, n), jnp.float32)
    y, vjp = jax.vjp(lambda w: event_dense_matmat(s, w, impl="cpu"), w)
    (dw,) = vjp(g)
    s64 = np.asarray(s, np.float64)
    w64, g64 = np.asarray(w, np.float64), np.asarray(g, np.float64)
    for out, expected, bound in (
        (y, s64 @ w64, 1e-6 * (1 + np.abs(s64) @ np.abs(w64))),
        (dw, s64.T @ g64, 1e-6 * (1 + np.abs(s64).T @ np.abs(g64))),
    ):
        np.testing.assert_array_less(np.abs(np.asarray(out, np.float64) - expected), bound)


@needs_native
def test_native_kernels_run_forward_and_in_the_weight_gradient():
    s = jnp.zeros((4, 6), jnp.float32).at[1, 2].set(1.0)
    w = jnp.ones((6, 3), jnp.float32)
    fwd = str(jax.make_jaxpr(event_dense_matmat)(s, w))
    grad = str(jax.make_jaxpr(jax.grad(lambda w: jnp.sum(event_dense_matmat(s, w))))(w))
    assert "brainsim_spike_matmul" in fwd
    assert "brainsim_spike_outer" in grad
    ref = str(jax.make_jaxpr(lambda s, w: event_dense_matmat(s, w, impl="reference"))(s, w))
    assert "brainsim_spike" not in ref


def test_bool_and_integer_spikes_count_as_numbers():
    w = jnp.arange(12.0, dtype=jnp.float32).reshape(4, 3)
    b = jnp.array([[True, False, True, False]])
    for impl in IMPLS:
        np.testing.assert_array_equal(event_dense_matmat(b, w, impl=impl), [[6.0, 8.0, 10.0]])
        i = jnp.array([[2, 0, 0, -1]], jnp.int32)
        np.testing.assert_array_equal(event_dense_matmat(i, w, impl=impl), [[-9.0, -8.0, -7.0]])


def _loss(impl, c):
    """A smooth scalar function of the product (so central differences are accurate)."""

    def loss(s, w):
        return jnp.sum(jnp.sin(event_dense_matmat(s, w, impl=impl)) * c)

    return loss


@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("shape", ((1, 1, 1), (5, 8, 3), (20, 31, 7)))
def test_gradients_match_reference_and_finite_differences(density, shape, x64):
    m, k, n = shape
    rng = np.random.default_rng(7)
    s = _spikes(rng, (m, k), density, jnp.float64)
    w = _weights(rng, (k, n), jnp.float64)
    c = jnp.asarray(rng.normal(size=(m, n)))
    ref = jax.grad(_loss("reference", c), argnums=(0, 1))(s, w)
    impls = IMPLS if dense_cpu._registered() is None else ("reference",)
    for impl in impls:
        loss = _loss(impl, c)
        grads = jax.grad(loss, argnums=(0, 1))(s, w)
        for g, r in zip(grads, ref):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
        # Central differences along random directions, for each argument.
        for arg in (0, 1):
            for _ in range(3):
                primal = (s, w)[arg]
                v = jnp.asarray(rng.normal(size=primal.shape))
                h = 1e-6

                def at(x, arg=arg, loss=loss):
                    return loss(x, w) if arg == 0 else loss(s, x)

                fd = (at(primal + h * v) - at(primal - h * v)) / (2 * h)
                np.testing.assert_allclose(jnp.vdot(grads[arg], v), fd, rtol=1e-6, atol=1e-8)


@needs_native
@pytest.mark.parametrize("double", [False, True])
def test_jvp_and_hessian_vector_product_match_reference(double):
    rng = np.random.default_rng(3)
    with jax.enable_x64(double):
        dtype = jnp.float64 if double else jnp.float32
        tol = 1e-12 if double else 2e-5
        s = _spikes(rng, (9, 13), 0.2, dtype)
        w = _weights(rng, (13, 6), dtype)
        ds = _weights(rng, (9, 13), dtype)
        dw = _weights(rng, (13, 6), dtype)
        c = jnp.asarray(rng.normal(size=(9, 6)), dtype)
        out = {}
        for impl in IMPLS:
            y, ty = jax.jvp(lambda s, w, i=impl: event_dense_matmat(s, w, impl=i), (s, w), (ds, dw))
            grad = jax.grad(_loss(impl, c), argnums=(0, 1))
            _, hvp = jax.jvp(grad, (s, w), (ds, dw))
            out[impl] = (y, ty, *hvp)
        for a, b in zip(out["cpu"], out["reference"]):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("impl", IMPLS)
def test_vmap_equals_loop(impl):
    rng = np.random.default_rng(11)
    s = _spikes(rng, (3, 10, 12), 0.15, jnp.float32)
    w = _weights(rng, (3, 12, 5), jnp.float32)

    def f(s, w):
        return event_dense_matmat(s, w, impl=impl)

    loops = {
        "spikes": (jax.vmap(f, (0, None))(s, w[0]), [f(x, w[0]) for x in s]),
        "weights": (jax.vmap(f, (None, 0))(s[0], w), [f(s[0], x) for x in w]),
        "both": (jax.vmap(f)(s, w), [f(a, b) for a, b in zip(s, w)]),
        "spikes axis 1": (
            jax.vmap(f, (1, None))(jnp.swapaxes(s, 0, 1), w[0]),
            [f(x, w[0]) for x in s],
        ),
    }
    for name, (mapped, loop) in loops.items():
        np.testing.assert_allclose(mapped, jnp.stack(loop), rtol=1e-6, atol=1e-6, err_msg=name)
    nested = jax.vmap(jax.vmap(f, (0, None)), (None, 0))(s, w)
    expected = jnp.stack([jnp.stack([f(a, b) for a in s]) for b in w])
    np.testing.assert_allclose(nested, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
def test_per_example_gradients_under_vmap_equal_loop(impl):
    rng = np.random.default_rng(5)
    s = _spikes(rng, (4, 6, 9), 0.3, jnp.float32)
    w = _weights(rng, (9, 7), jnp.float32)
    c = jnp.asarray(rng.normal(size=(6, 7)), jnp.float32)
    grad = jax.grad(_loss(impl, c), argnums=(0, 1))
    mapped = jax.vmap(grad, (0, None))(s, w)
    loop = [grad(x, w) for x in s]
    for arg in (0, 1):
        np.testing.assert_allclose(
            mapped[arg], jnp.stack([g[arg] for g in loop]), rtol=1e-5, atol=1e-5
        )
    # The weight gradient of a batch-summed loss is one merged outer product.
    summed = jax.grad(lambda w: jnp.sum(jax.vmap(lambda x: _loss(impl, c)(x, w))(s)))(w)
    np.testing.assert_allclose(summed, sum(g[1] for g in loop), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_jit_equals_eager(impl):
    rng = np.random.default_rng(2)
    s = _spikes(rng, (16, 40), 0.1, jnp.float32, binary=True)
    w = _weights(rng, (40, 8), jnp.float32)
    c = jnp.asarray(rng.normal(size=(16, 8)), jnp.float32)
    f = lambda s, w: event_dense_matmat(s, w, impl=impl)  # noqa: E731
    np.testing.assert_array_equal(jax.jit(f)(s, w), f(s, w))
    g = jax.grad(_loss(impl, c), argnums=(0, 1))
    for a, b in zip(jax.jit(g)(s, w), g(s, w)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_inside_scan_with_gradient_matches_reference():
    """A recurrent use: spikes of one step drive the next, through a surrogate-free tanh."""
    rng = np.random.default_rng(9)
    w = _weights(rng, (12, 12), jnp.float32) * 0.3
    x = _spikes(rng, (5, 3, 12), 0.2, jnp.float32, binary=True)

    def loss(w, impl):
        def body(h, xt):
            h = jnp.tanh(event_dense_matmat(h + xt, w, impl=impl))
            return h, h

        _, hs = jax.lax.scan(body, jnp.zeros((3, 12), jnp.float32), x)
        return jnp.sum(hs**2)

    for a, b in zip(jax.value_and_grad(loss)(w, "cpu"), jax.value_and_grad(loss)(w, "reference")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("spikes", "weights", "match"),
    [
        (jnp.zeros((2, 3)), jnp.zeros((4, 5)), "spikes must have shape"),
        (jnp.zeros((3,)), jnp.zeros((3, 5)), "spikes must have shape"),
        (jnp.zeros((2, 3)), jnp.zeros((3,)), "weights must be a"),
        (jnp.zeros((2, 3)), jnp.zeros((3, 5), jnp.int32), "weights must have a floating"),
        (jnp.zeros((2, 3), jnp.complex64), jnp.zeros((3, 5)), "spikes must be bool"),
    ],
)
def test_bad_input_is_a_value_error(spikes, weights, match):
    with pytest.raises(ValueError, match=match):
        event_dense_matmat(spikes, weights)


def test_bad_impl_is_a_value_error():
    with pytest.raises(ValueError, match="impl must be one of"):
        event_dense_matmat(jnp.zeros((2, 3)), jnp.zeros((3, 4)), impl="gpu")  # type: ignore[arg-type]


def test_missing_library_falls_back_to_reference_with_one_warning(monkeypatch):
    monkeypatch.setattr(dense_cpu, "_registered", lambda: "no library (test)")
    dense_cpu._warn_unavailable.cache_clear()
    s = jnp.array([[0.0, 1.0], [1.0, 1.0]], jnp.float32)
    w = jnp.array([[1.0, 2.0], [3.0, 4.0]], jnp.float32)
    with pytest.warns(_native.NativeKernelWarning, match="no library"):
        out = event_dense_matmat(s, w, impl="cpu")
    np.testing.assert_array_equal(out, [[3.0, 4.0], [4.0, 6.0]])
    assert "brainsim_spike" not in str(jax.make_jaxpr(event_dense_matmat)(s, w))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        event_dense_matmat(s, w, impl="cpu")  # warned once only
    dense_cpu._warn_unavailable.cache_clear()


PORTABLE_CHECK = textwrap.dedent(
    """
    import jax, numpy as np
    from brainsim.kernels import event_dense_matmat
    from brainsim.kernels.event_dense import cpu
    assert cpu._registered() is None, cpu._registered()
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        for dtype in (np.float32, np.float64):
            for m, k, n in ((5, 13, 3), (40, 70, 72), (30, 50, 256), (400, 700, 150)):
                s = np.where(rng.random((m, k)) < 0.1, rng.uniform(-1, 1, (m, k)), 0.0)
                s, w = s.astype(dtype), rng.normal(size=(k, n)).astype(dtype)
                g = rng.normal(size=(m, n)).astype(dtype)
                y, vjp = jax.vjp(lambda w: event_dense_matmat(s, w, impl="cpu"), w)
                (dw,) = vjp(g)
                tol = 1e-4 if dtype == np.float32 else 1e-10
                np.testing.assert_allclose(y, s.astype(float) @ w, rtol=tol, atol=tol)
                np.testing.assert_allclose(dw, s.T.astype(float) @ g, rtol=tol, atol=tol)
    print("portable ok")
    """
)


@needs_native
def test_portable_path_matches_oracle():
    """The kernels' baseline x86-64 path (the AVX2 one runs elsewhere in this file)."""
    env = dict(os.environ, BRAINSIM_KERNELS_PORTABLE="1", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", PORTABLE_CHECK], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "portable ok" in out.stdout


def test_unsupported_weight_dtype_runs_the_reference_without_warning():
    s = jnp.array([[1.0, 0.0], [0.0, 1.0]], jnp.bfloat16)
    w = jnp.array([[1.0, 2.0], [3.0, 4.0]], jnp.bfloat16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = event_dense_matmat(s, w, impl="cpu")
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(out, np.float32), [[1.0, 2.0], [3.0, 4.0]])
    assert "brainsim_spike" not in str(jax.make_jaxpr(event_dense_matmat)(s, w))
