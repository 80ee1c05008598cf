"""CSR and ELL layouts: validation, dense oracle (NumPy `add.at`), orientation changes."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR, ELL


def _dense(pre, post, w, n_pre, n_post) -> np.ndarray:
    out = np.zeros((n_pre, n_post))
    np.add.at(out, (np.asarray(pre), np.asarray(post)), np.broadcast_to(w, np.shape(pre)))
    return out


def _random_csr(rng, n_pre, n_post, nnz, major, *, scalar=False):
    """Random synapses (duplicates likely), sorted into rows by hand, plus their dense matrix."""
    pre, post = rng.integers(0, n_pre, nnz), rng.integers(0, n_post, nnz)
    w = 1.5 if scalar else rng.normal(size=nnz)
    rows, cols = (pre, post) if major == "pre" else (post, pre)
    n_rows = n_pre if major == "pre" else n_post
    order = np.argsort(rows, kind="stable")
    indptr = np.searchsorted(rows[order], np.arange(n_rows + 1))
    conn = CSR(
        indptr, cols[order], w if scalar else w[order], n_pre=n_pre, n_post=n_post, major=major
    )
    return conn, _dense(pre, post, w, n_pre, n_post)


def _triples(conn) -> list:
    ids = (conn.pre_ids, conn.post_ids, conn.synapse_weights())
    return sorted(zip(*(np.asarray(a).tolist() for a in ids)))


# A 3 x 4 example, post-major: post 0 <- {0, 2}, post 1 <- {}, post 2 <- {1, 1}, post 3 <- {2}
INDPTR, INDICES, W = [0, 2, 2, 4, 5], [0, 2, 1, 1, 2], [1.0, 2.0, 3.0, 4.0, 5.0]


def test_csr_small_example():
    conn = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post")
    assert conn.nnz == 5
    np.testing.assert_array_equal(conn.row_ids, [0, 0, 2, 2, 3])
    np.testing.assert_array_equal(conn.pre_ids, INDICES)
    np.testing.assert_array_equal(conn.post_ids, [0, 0, 2, 2, 3])
    expected = [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 7.0, 0.0], [2.0, 0.0, 0.0, 5.0]]
    np.testing.assert_array_equal(conn.to_dense(), expected)
    assert conn.indptr.dtype == jnp.int32 and conn.indices.dtype == jnp.int32
    assert conn.weights.dtype == jnp.float32
    scalar = CSR(INDPTR, INDICES, 2.0, n_pre=3, n_post=4, major="post")
    assert scalar.weights.shape == ()
    np.testing.assert_array_equal(scalar.synapse_weights(), np.full(5, 2.0))
    np.testing.assert_array_equal(scalar.to_dense(), [[2, 0, 0, 0], [0, 0, 4, 0], [2, 0, 0, 2]])


def test_dtypes(x64):
    conn = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post")
    assert conn.weights.dtype == jnp.float64
    conn32 = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post", dtype=jnp.float32)
    assert conn32.weights.dtype == jnp.float32
    assert conn32.to_major("pre").weights.dtype == jnp.float32
    assert conn32.with_weights(np.ones(5)).weights.dtype == jnp.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(indices=[0, 2, 1, 1, 3]), r"^indices must lie in \[0, 3\), got values in \[0, 3\]"),
        (dict(indices=[0, -1, 1, 1, 2]), r"^indices must lie in \[0, 3\)"),
        (dict(indices=[0.0, 2.0, 1.0, 1.0, 2.0]), "^indices must hold integers"),
        (dict(indptr=[0, 2, 2, 5]), r"^indptr must have shape \(5,\)"),
        (dict(indptr=[1, 2, 2, 4, 5]), "^indptr must start at 0 and never decrease"),
        (dict(indptr=[0, 2, 1, 4, 5]), "^indptr must start at 0 and never decrease"),
        (dict(indptr=[0, 2, 2, 4, 4]), r"^indptr\[-1\] \(4\) must equal len\(indices\) \(5\)"),
        (dict(weights=[1.0, 2.0]), r"^weights must be a scalar or have shape \(5,\)"),
        (dict(weights=np.ones((5, 1))), "^weights must be a scalar"),
        (dict(major="row"), "^major must be 'pre' or 'post'"),
        (dict(n_pre=2), r"^indices must lie in \[0, 2\)"),  # sources beyond n_pre
        (dict(n_post=3), r"^indptr must have shape \(4,\)"),
    ],
)
def test_csr_validation(kwargs, match):
    args = dict(indptr=INDPTR, indices=INDICES, weights=W, n_pre=3, n_post=4, major="post")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        CSR(args.pop("indptr"), args.pop("indices"), args.pop("weights"), **args)


def test_with_weights_validates():
    conn = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post")
    doubled = conn.with_weights(2 * np.asarray(W))
    np.testing.assert_array_equal(doubled.to_dense(), 2 * np.asarray(conn.to_dense()))
    with pytest.raises(ValueError, match="^weights must be"):
        conn.with_weights(np.ones(4))
    ell = ELL(np.zeros((3, 2), int), 1.0, n_pre=4, n_post=3, major="post")
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        ell.with_weights(np.ones(6))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(indices=np.zeros((3,), int)), r"^indices must have shape \(4, k\)"),
        (dict(indices=np.zeros((3, 2), int)), r"^indices must have shape \(4, k\)"),
        (dict(indices=np.full((4, 2), 5)), r"^indices must lie in \[0, 5\)"),
        (dict(indices=np.full((4, 2), -1)), r"^indices must lie in \[0, 5\)"),
        (dict(weights=np.ones(8)), r"^weights must be a scalar or have shape \(4, 2\)"),
        (dict(major="both"), "^major must be"),
    ],
)
def test_ell_validation(kwargs, match):
    args = dict(indices=np.zeros((4, 2), int), weights=1.0, n_pre=5, n_post=4, major="post")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ELL(args.pop("indices"), args.pop("weights"), **args)


@pytest.mark.parametrize("major", ["pre", "post"])
@pytest.mark.parametrize(
    ("n_pre", "n_post", "nnz"), [(0, 0, 0), (1, 1, 1), (5, 0, 0), (4, 7, 30), (9, 3, 2)]
)
@pytest.mark.parametrize("scalar", [False, True])
def test_csr_to_dense_and_to_major_round_trip(major, n_pre, n_post, nnz, scalar):
    rng = np.random.default_rng(n_pre * 100 + nnz)
    conn, dense = _random_csr(rng, n_pre, n_post, nnz, major, scalar=scalar)
    np.testing.assert_allclose(conn.to_dense(), dense, rtol=1e-6, atol=1e-6)
    other = "post" if major == "pre" else "pre"
    flipped = conn.to_major(other)
    assert flipped.major == other and flipped.nnz == nnz
    assert flipped.indptr.shape == ((n_pre if other == "pre" else n_post) + 1,)
    assert flipped.weights.shape == conn.weights.shape
    np.testing.assert_array_equal(flipped.to_dense(), conn.to_dense())
    back = flipped.to_major(major)
    np.testing.assert_array_equal(back.to_dense(), conn.to_dense())
    assert conn.to_major(major) is conn
    # every synapse keeps its weight: the (pre, post, w) triples are the same multiset
    assert _triples(flipped) == _triples(conn)


def test_to_major_is_stable_and_sorted():
    """Post-major with ascending sources becomes pre-major with ascending targets."""
    conn = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post")
    pre = conn.to_major("pre")
    np.testing.assert_array_equal(pre.indptr, [0, 1, 3, 5])
    np.testing.assert_array_equal(pre.indices, [0, 2, 2, 0, 3])
    np.testing.assert_array_equal(pre.weights, [1.0, 3.0, 4.0, 2.0, 5.0])  # duplicates keep order
    back = pre.to_major("post")
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(conn)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("major", ["pre", "post"])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_ell_to_dense_and_to_csr(major, k):
    rng = np.random.default_rng(k)
    n_pre, n_post = 6, 4
    rows = n_pre if major == "pre" else n_post
    idx = rng.integers(0, n_post if major == "pre" else n_pre, (rows, k))  # repeats allowed
    w = rng.normal(size=(rows, k))
    ell = ELL(idx, w, n_pre=n_pre, n_post=n_post, major=major)
    assert ell.k == k and ell.nnz == rows * k
    r = np.repeat(np.arange(rows)[:, None], k, 1)
    pre, post = (r, idx) if major == "pre" else (idx, r)
    np.testing.assert_array_equal(ell.pre_ids, pre)
    np.testing.assert_array_equal(ell.post_ids, post)
    dense = _dense(pre.ravel(), post.ravel(), w.ravel(), n_pre, n_post)
    np.testing.assert_allclose(ell.to_dense(), dense, rtol=1e-6, atol=1e-6)
    csr = ell.to_csr()
    assert csr.major == major and (csr.n_pre, csr.n_post) == (n_pre, n_post)
    np.testing.assert_array_equal(csr.indptr, np.arange(rows + 1) * k)
    np.testing.assert_array_equal(csr.indices, idx.ravel())
    np.testing.assert_array_equal(csr.to_dense(), ell.to_dense())
    scalar = ELL(idx, 0.5, n_pre=n_pre, n_post=n_post, major=major)
    assert scalar.to_csr().weights.shape == ()
    np.testing.assert_allclose(
        scalar.to_dense(), _dense(pre.ravel(), post.ravel(), 0.5, n_pre, n_post)
    )


def test_traced_construction_matches_concrete():
    """Under jit the row ids come from `searchsorted`; they must equal the host ones."""
    indptr = np.array([0, 0, 3, 3, 4, 6, 6])
    indices = np.array([1, 0, 2, 1, 1, 0])

    @jax.jit
    def build(ip, ix):
        return CSR(ip, ix, 1.0, n_pre=3, n_post=6, major="post").row_ids

    host = CSR(indptr, indices, 1.0, n_pre=3, n_post=6, major="post").row_ids
    np.testing.assert_array_equal(host, [1, 1, 1, 3, 4, 4])
    np.testing.assert_array_equal(build(indptr, indices), host)


def test_layouts_are_pytrees_with_static_shapes():
    conn = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post")
    leaves = jax.tree_util.tree_leaves(conn)
    assert len(leaves) == 4 and all(isinstance(x, jax.Array) for x in leaves)
    dense = eqx.filter_jit(lambda c: c.to_dense())(conn)
    np.testing.assert_array_equal(dense, conn.to_dense())
    scaled = jax.tree_util.tree_map(lambda x: x * 2 if x.dtype == jnp.float32 else x, conn)
    np.testing.assert_array_equal(scaled.to_dense(), 2 * np.asarray(conn.to_dense()))
    ell = ELL(np.array([[0, 1], [2, 2]]), 1.0, n_pre=3, n_post=2, major="post")
    assert len(jax.tree_util.tree_leaves(ell)) == 2
    np.testing.assert_array_equal(ell.to_dense(), [[1, 0], [1, 0], [0, 2]])


def test_csr_rows_are_contiguous_slices():
    conn = CSR(INDPTR, INDICES, W, n_pre=3, n_post=4, major="post")
    rows = [np.asarray(conn.indices)[a:b].tolist() for a, b in itertools.pairwise(INDPTR)]
    assert rows == [[0, 2], [], [1, 1], [2]]
