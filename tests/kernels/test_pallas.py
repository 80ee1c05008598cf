"""The Pallas GPU kernels, run by Pallas's interpreter on the CPU, against the references.

Interpret mode is slow: the shapes are tiny and the block small (16 synapses), so that
a layout spans several blocks and the last block is padded. On a GPU machine the same
kernels run natively through `impl="pallas"` (not available when these tests were
written: they have only run interpreted).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import ProceduralFanOut, event_matmat, event_matvec
from brainsim.kernels.event_matvec.pallas_gpu import BlockSizes, event_matvec_pallas
from brainsim.kernels.event_matvec.reference import event_matvec_reference
from brainsim.kernels.procedural.pallas_gpu import procedural_matvec_pallas
from brainsim.kernels.procedural.reference import procedural_matvec_reference
from random_layouts import random_layout

BLOCK = BlockSizes(synapses=16)


def _pallas(conn, s, transpose):
    return event_matvec_pallas(conn, s, transpose=transpose, block_sizes=BLOCK, interpret=True)


def test_forward_matches_reference_and_dense_oracle():
    """Both formats and orientations, both directions, densities 0, 0.1 and 1, repeats.

    float32 here; float64 runs in the gradient tests below.
    """
    rng = np.random.default_rng(0)
    dtype, eps = jnp.float32, 1e-6
    for fmt, major in (("csr", "pre"), ("csr", "post"), ("ell", "pre"), ("ell", "post")):
        size = 3 if fmt == "ell" else 40
        conn, dense = random_layout(rng, fmt, major, 12, 9, size, fmt == "ell", dtype)
        for transpose in (False, True):
            n_in = 9 if transpose else 12
            fired = rng.random((3, n_in)) < np.array([[0.0], [0.1], [1.0]])  # densities
            s64 = fired * rng.uniform(0.5, 1.5, (3, n_in))
            spikes = jnp.asarray(s64, dtype)
            out = jax.vmap(lambda s, c=conn, t=transpose: _pallas(c, s, t))(spikes)
            ref = event_matmat(conn, spikes, transpose=transpose, impl="reference")
            expected = s64 @ (dense.T if transpose else dense)
            assert out.dtype == dtype and out.shape == expected.shape
            np.testing.assert_allclose(out, ref, rtol=10 * eps, atol=10 * eps)
            np.testing.assert_allclose(out, expected, rtol=10 * eps, atol=10 * eps)


def test_sizes_zero_and_one():
    rng = np.random.default_rng(1)
    for n_pre, n_post, size in ((0, 3, 5), (3, 0, 5), (1, 1, 4), (4, 3, 0)):
        conn, dense = random_layout(rng, "csr", "pre", n_pre, n_post, size, False, jnp.float32)
        out = _pallas(conn, jnp.ones(n_pre, bool), False)
        np.testing.assert_allclose(out, dense.sum(0), rtol=1e-6)


def test_grad_and_vmap_match_reference(x64):
    """custom_vjp: d/dweights and d/dspikes; vmap of the kernel equals a loop."""
    rng = np.random.default_rng(2)
    conn, _ = random_layout(rng, "csr", "pre", 7, 6, 20, False, jnp.float64)
    s = jnp.asarray(rng.uniform(0, 1, 7) * (rng.random(7) < 0.7))
    r = jnp.asarray(rng.normal(size=6))

    def loss(w, s, fn):
        return jnp.sum(jnp.tanh(fn(conn.with_weights(w), s)) * r)

    def ref(c, s):
        return event_matvec_reference(c, s)

    def kernel(c, s):
        return _pallas(c, s, False)

    got = jax.grad(loss, (0, 1))(conn.weights, s, kernel)
    want = jax.grad(loss, (0, 1))(conn.weights, s, ref)
    for g, h in zip(got, want):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-13)
    batch = jnp.asarray(rng.random((3, 7)) < 0.5)
    mapped = jax.vmap(lambda s: kernel(conn, s))(batch)
    np.testing.assert_allclose(mapped, jnp.stack([kernel(conn, b) for b in batch]), rtol=1e-12)
    np.testing.assert_allclose(mapped, event_matmat(conn, batch, impl="reference"), rtol=1e-12)


def test_procedural_forward_grad_and_batch(x64):
    rng = np.random.default_rng(3)
    conn = ProceduralFanOut(0.6, n_pre=9, n_post=7, fan_out=5, seed=21, spread=0.4)

    def kernel(c, s, t=False):
        return procedural_matvec_pallas(c, s, transpose=t, block_sizes=BLOCK, interpret=True)

    for transpose in (False, True):
        s = jnp.asarray(
            rng.uniform(0, 1, 7 if transpose else 9) * (rng.random(7 if transpose else 9) < 0.6)
        )
        np.testing.assert_allclose(
            kernel(conn, s, transpose),
            procedural_matvec_reference(conn, s, transpose=transpose),
            rtol=1e-13,
            atol=1e-13,
        )
    s = jnp.asarray(rng.uniform(0, 1, 9))
    r = jnp.asarray(rng.normal(size=7))

    def loss(w, s, fn):
        return jnp.sum(jnp.tanh(fn(conn.with_weights(w), s)) * r)

    got = jax.grad(loss, (0, 1))(conn.weights, s, kernel)
    want = jax.grad(loss, (0, 1))(conn.weights, s, procedural_matvec_reference)
    for g, h in zip(got, want):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-13)
    batch = jnp.asarray(rng.random((2, 9)) < 0.5)
    np.testing.assert_allclose(
        kernel(conn, batch), procedural_matvec_reference(conn, batch), rtol=1e-13
    )


def test_impl_pallas_off_gpu_runs_the_reference():
    """Without a GPU (and not interpreted) the Pallas path falls back to the reference."""
    rng = np.random.default_rng(4)
    conn, _ = random_layout(rng, "ell", "pre", 10, 8, 3, False, jnp.float32)
    s = jnp.asarray(rng.random(10) < 0.5)
    if jax.default_backend() == "gpu":
        pytest.skip("on a GPU impl='pallas' runs the kernel natively")
    np.testing.assert_array_equal(
        event_matvec(conn, s, impl="pallas"), event_matvec(conn, s, impl="reference")
    )
    proc = ProceduralFanOut(1.0, n_pre=10, n_post=8, fan_out=3, seed=0, dtype=jnp.float32)
    np.testing.assert_array_equal(
        event_matvec(proc, s, impl="pallas"), event_matvec(proc, s, impl="reference")
    )
    with pytest.raises(ValueError, match="^synapses must be a positive power of two"):
        BlockSizes(synapses=12)
