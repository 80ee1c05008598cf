"""`delay_conv`: every impl against a loop-over-synapses numpy oracle, gradients against
finite differences (float64), lean against reference (forward, grad, vmap, jit), and the
lean form's memory."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels.delay_conv import delay_conv, gaussian_taps

IMPLS = ("reference", "lean")


def _oracle(x, w, d, sigma, n_taps):
    """Synapse by synapse, tap by tap, in numpy float64 (independent of the jnp code)."""
    x, w, d = (np.asarray(a, np.float64) for a in (x, w, d))
    t_len, c_in = x.shape
    y = np.zeros((t_len, w.shape[1]))
    for i in range(c_in):
        for o in range(w.shape[1]):
            if sigma is None:
                g = np.zeros(n_taps)
                g[int(np.rint(d[i, o]))] = 1.0
            else:
                g = np.exp(-0.5 * ((np.arange(n_taps) - d[i, o]) / sigma) ** 2)
                g /= g.sum()
            for n in range(n_taps):
                y[n:, o] += w[i, o] * g[n] * x[: t_len - n, i]
    return y


def _problem(key, t_len=9, c_in=3, c_out=4, n_taps=5, density=0.4, dtype=jnp.float32):
    k1, k2, k3 = jr.split(key, 3)
    x = (jr.uniform(k1, (t_len, c_in)) < density).astype(dtype)
    w = jr.normal(k2, (c_in, c_out), dtype)
    d = jr.uniform(k3, (c_in, c_out), dtype, minval=0.0, maxval=n_taps - 1.0)
    return x, w, d


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sigma", [0.6, 2.0, None])
@pytest.mark.parametrize(("t_len", "c_in", "c_out", "n_taps"), [(9, 3, 4, 5), (6, 1, 2, 1)])
def test_matches_the_synapse_loop_oracle(getkey, impl, sigma, t_len, c_in, c_out, n_taps):
    x, w, d = _problem(getkey(), t_len, c_in, c_out, n_taps)
    y = jax.jit(lambda *a: delay_conv(*a, sigma, n_taps=n_taps, impl=impl))(x, w, d)
    assert y.shape == (t_len, c_out) and y.dtype == jnp.float32
    np.testing.assert_allclose(y, _oracle(x, w, d, sigma, n_taps), rtol=1e-5, atol=1e-5)


def test_hand_computed_gaussian_taps():
    # d = 1, sigma = 1, three taps: g = (e^-1/2, 1, e^-1/2) / (1 + 2 e^-1/2)
    e = np.exp(-0.5)
    expected = np.array([e, 1.0, e]) / (1 + 2 * e)
    np.testing.assert_allclose(gaussian_taps(jnp.array(1.0), jnp.array(1.0), 3), expected, 1e-6)
    x = jnp.zeros((5, 1)).at[1, 0].set(1.0)  # one spike in step 1, weight 2
    y = delay_conv(x, jnp.full((1, 1), 2.0), jnp.ones((1, 1)), 1.0, n_taps=3)
    np.testing.assert_allclose(y[:, 0], [0.0, *(2 * expected), 0.0], rtol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients_match_finite_differences(x64, getkey, impl):
    x, w, d = _problem(getkey(), 8, 3, 2, 5, dtype=jnp.float64)
    x = x + 0.3 * jr.uniform(getkey(), x.shape, jnp.float64)  # smooth inputs, not just 0/1
    args = (x, w, d, jnp.array(0.9))
    probe = jr.normal(getkey(), (8, 2), jnp.float64)

    @jax.jit
    def loss(*a):
        return jnp.sum(jnp.sin(delay_conv(*a, n_taps=5, impl=impl)) * probe)

    grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(*args)
    eps = 1e-6
    for i, (v0, g) in enumerate(zip(args, grads)):  # x, weights, delays, sigma in turn
        direction = jr.normal(getkey(), jnp.shape(v0), jnp.float64)
        plus = list(args)
        minus = list(args)
        plus[i], minus[i] = v0 + eps * direction, v0 - eps * direction
        fd = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(jnp.vdot(g, direction), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sigma", [1.3, None])
def test_lean_equals_reference_batched_with_grad_vmap_and_jit(getkey, sigma):
    k = getkey()
    x = (jr.uniform(k, (2, 3, 11, 4)) < 0.3).astype(jnp.float32)
    _, w, d = _problem(getkey(), c_in=4, c_out=5, n_taps=6)

    def run(impl, x, w, d):
        return delay_conv(x, w, d, sigma, n_taps=6, impl=impl)

    ref = jax.jit(run, static_argnums=0)("reference", x, w, d)
    eager = run("lean", x, w, d)
    np.testing.assert_allclose(eager, ref, rtol=1e-5, atol=1e-5)
    jitted = jax.jit(run, static_argnums=0)("lean", x, w, d)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)
    vmapped = jax.vmap(lambda xb: run("lean", xb, w, d))(x)
    np.testing.assert_allclose(vmapped, ref, rtol=1e-5, atol=1e-5)

    def loss(impl, w, d):
        return jnp.sum(jnp.tanh(run(impl, x, w, d)))

    grad = jax.jit(jax.grad(loss, argnums=(1, 2)), static_argnums=0)
    g_ref, g_lean = grad("reference", w, d), grad("lean", w, d)
    for a, b in zip(g_lean, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    if sigma is None:  # rounded delays carry no gradient
        assert not np.any(np.asarray(g_lean[1]))


def test_lean_form_holds_no_dense_kernel():
    b, t_len, c_in, c_out, n_taps = 2, 20, 64, 128, 25
    x, w, d = jnp.zeros((b, t_len, c_in)), jnp.zeros((c_in, c_out)), jnp.zeros((c_in, c_out))

    def temp_bytes(impl):
        def loss(w, d):
            return jnp.sum(delay_conv(x, w, d, 2.0, n_taps=n_taps, impl=impl) ** 2)

        compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(w, d).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    dense_kernel = n_taps * c_in * c_out * 4
    assert temp_bytes("lean") < dense_kernel < temp_bytes("reference")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (dict(n_taps=0), "n_taps"),
        (dict(impl="cuda"), "impl"),
        (dict(weights=jnp.ones((3, 2))), "weights and delays"),
        (dict(x=jnp.ones((5, 3))), "x: must be"),
        (dict(sigma=jnp.ones(2)), "sigma"),
        (dict(delays=jnp.ones((2, 2), jnp.int32)), "float dtype"),
    ],
)
def test_bad_input_names_the_argument(change, needle):
    args = dict(x=jnp.ones((5, 2)), weights=jnp.ones((2, 2)), delays=jnp.ones((2, 2)), sigma=1.0)
    args.update(n_taps=3, impl="auto")
    args.update(change)
    with pytest.raises(ValueError, match=needle):
        delay_conv(**args)
