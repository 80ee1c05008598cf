"""`event_matvec` against a dense NumPy matmul oracle; gradients, vmap, jit and errors.

The oracle is built independently of `formats`: a float64 dense matrix accumulated with
`np.add.at` from the synapse lists, then `W.T @ s` (or `W @ s` with `transpose=True`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR, event_matvec
from brainsim.kernels.event_matvec.reference import event_matvec_reference
from hypothesis import given, settings, strategies as st
from random_layouts import assert_close_to_oracle, random_layout

SIZES = (0, 1, 7, 300)
NNZ = (0, 1, 40, 2000)
DEGREES = (0, 1, 3)
DENSITIES = (0.0, 1e-3, 0.1, 1.0)


def _spikes(rng, n, density, kind, dtype):
    fired = rng.random(n) < density
    if kind == "bool":
        return jnp.asarray(fired), fired.astype(np.float64)
    values = np.where(fired, rng.uniform(0.5, 1.5, n), 0.0)
    return jnp.asarray(values, dtype), values


def assert_matches_oracle(conn, dense, spikes, s64, transpose, dtype):
    out = event_matvec(conn, spikes, transpose=transpose)
    expected = dense @ s64 if transpose else dense.T @ s64
    bound = (np.abs(dense) @ np.abs(s64)) if transpose else (np.abs(dense).T @ np.abs(s64))
    assert_close_to_oracle(out, expected, bound, dtype)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    fmt=st.sampled_from(["csr", "ell"]),
    major=st.sampled_from(["pre", "post"]),
    n_pre=st.sampled_from(SIZES),
    n_post=st.sampled_from(SIZES),
    size_bucket=st.integers(0, 3),
    scalar=st.booleans(),
    kind=st.sampled_from(["bool", "float"]),
    x64=st.booleans(),
    density=st.sampled_from(DENSITIES),
    transpose=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_dense_oracle(
    fmt, major, n_pre, n_post, size_bucket, scalar, kind, x64, density, transpose, seed
):
    rng = np.random.default_rng(seed)
    size = (DEGREES if fmt == "ell" else NNZ)[min(size_bucket, 2 if fmt == "ell" else 3)]
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        conn, dense = random_layout(rng, fmt, major, n_pre, n_post, size, scalar, dtype)
        spikes, s64 = _spikes(rng, n_post if transpose else n_pre, density, kind, dtype)
        assert_matches_oracle(conn, dense, spikes, s64, transpose, dtype)


def test_every_layout_direction_and_density():
    """A fixed sweep, so every combination is covered whatever hypothesis draws."""
    rng = np.random.default_rng(0)
    for fmt in ("csr", "ell"):
        for major in ("pre", "post"):
            for scalar in (True, False):
                size = 3 if fmt == "ell" else 900
                conn, dense = random_layout(rng, fmt, major, 200, 150, size, scalar, jnp.float32)
                for transpose in (False, True):
                    for density in DENSITIES:
                        for kind in ("bool", "float"):
                            n_in = 150 if transpose else 200
                            spikes, s64 = _spikes(rng, n_in, density, kind, jnp.float32)
                            assert_matches_oracle(conn, dense, spikes, s64, transpose, jnp.float32)


def _layouts(rng, dtype):
    for fmt in ("csr", "ell"):
        for major in ("pre", "post"):
            size = 2 if fmt == "ell" else 14
            yield random_layout(rng, fmt, major, 6, 5, size, False, dtype)


def _central_difference(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(jnp.asarray(x + step)) - f(jnp.asarray(x - step))) / (2 * eps)
    return grad


@pytest.mark.parametrize("fmt", ["csr", "ell"])
@pytest.mark.parametrize("major", ["pre", "post"])
@pytest.mark.parametrize("transpose", [False, True])
def test_grad_matches_finite_differences(x64, fmt, major, transpose):
    """d/dweights and d/dspikes of a smooth loss of the output, against central differences."""
    rng = np.random.default_rng(1)
    conn, _ = random_layout(rng, fmt, major, 6, 5, 2 if fmt == "ell" else 14, False, jnp.float64)
    n_in, n_out = (conn.n_post, conn.n_pre) if transpose else (conn.n_pre, conn.n_post)
    spikes = jnp.asarray(rng.uniform(0, 1, n_in) * (rng.random(n_in) < 0.7))
    r = jnp.asarray(rng.normal(size=n_out))

    def loss(c, s):
        return jnp.sum(jnp.tanh(event_matvec(c, s, transpose=transpose)) * r)

    def loss_w(w):
        return loss(conn.with_weights(w), spikes)

    def loss_s(s):
        return loss(conn, s)

    grad_w = jax.grad(loss_w)(conn.weights)
    np.testing.assert_allclose(grad_w, _central_difference(loss_w, conn.weights), atol=1e-8)
    np.testing.assert_allclose(
        jax.grad(loss_s)(spikes), _central_difference(loss_s, spikes), atol=1e-8
    )
    # the same gradient through the layout pytree (what training a projection does)
    by_tree = eqx.filter_grad(loss)(conn, spikes)
    np.testing.assert_allclose(by_tree.weights, grad_w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_vmap_over_spikes_equals_loop(kind):
    rng = np.random.default_rng(2)
    for conn, _ in _layouts(rng, jnp.float32):
        for transpose in (False, True):
            n_in = conn.n_post if transpose else conn.n_pre
            batch = [_spikes(rng, n_in, 0.4, kind, jnp.float32)[0] for _ in range(4)]
            f = lambda s, conn=conn, t=transpose: event_matvec(conn, s, transpose=t)  # noqa: E731
            batched = jax.vmap(f)(jnp.stack(batch))
            looped = jnp.stack([f(s) for s in batch])
            np.testing.assert_allclose(batched, looped, rtol=1e-6, atol=1e-6)


def test_jit_equals_eager_and_impls_agree():
    rng = np.random.default_rng(3)
    jitted = eqx.filter_jit(event_matvec)
    for conn, _ in _layouts(rng, jnp.float32):
        for transpose in (False, True):
            n_in = conn.n_post if transpose else conn.n_pre
            s = jnp.asarray(rng.random(n_in) < 0.5)
            eager = event_matvec(conn, s, transpose=transpose)
            np.testing.assert_allclose(
                jitted(conn, s, transpose=transpose), eager, rtol=1e-6, atol=1e-6
            )
            np.testing.assert_array_equal(
                event_matvec(conn, s, transpose=transpose, impl="reference"), eager
            )
            np.testing.assert_array_equal(
                event_matvec_reference(conn, s, transpose=transpose), eager
            )


def test_errors_name_the_argument():
    conn = CSR([0, 1, 1], [2], 1.0, n_pre=3, n_post=2, major="post")
    with pytest.raises(ValueError, match=r"^spikes must have shape \(3,\)"):
        event_matvec(conn, jnp.zeros(2, bool))
    with pytest.raises(ValueError, match=r"^spikes must have shape \(2,\)"):
        event_matvec(conn, jnp.zeros(3, bool), transpose=True)
    with pytest.raises(ValueError, match="^spikes must have shape"):
        event_matvec(conn, jnp.zeros((1, 3), bool))
    with pytest.raises(ValueError, match="^impl must be one of"):
        event_matvec(conn, jnp.zeros(3, bool), impl="cuda")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^conn must be a CSR, ELL or ProceduralFanOut"):
        event_matvec(np.ones((3, 2)), jnp.zeros(3, bool))  # type: ignore[arg-type]
