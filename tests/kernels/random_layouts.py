"""Random sparse layouts and their float64 dense matrices, shared by the kernel tests."""

import numpy as np
from brainsim.kernels import CSR, ELL


def random_layout(rng, fmt, major, n_pre, n_post, size, scalar, dtype):
    """A random layout (duplicates and empty rows likely) and its float64 dense matrix.

    `size` is the row length `k` for ELL and the number of synapses for CSR.
    """
    n_rows, n_cols = (n_pre, n_post) if major == "pre" else (n_post, n_pre)
    if n_cols == 0:
        size = 0
    if fmt == "ell":
        idx = rng.integers(0, max(n_cols, 1), (n_rows, size))
        rows = np.repeat(np.arange(n_rows)[:, None], size, 1)
        w = 0.75 if scalar else rng.normal(size=(n_rows, size))
        conn = ELL(idx, w, n_pre=n_pre, n_post=n_post, major=major, dtype=dtype)
    else:
        size = size if n_rows else 0
        rows = np.sort(rng.integers(0, max(n_rows, 1), size))
        idx = rng.integers(0, max(n_cols, 1), size)
        indptr = np.searchsorted(rows, np.arange(n_rows + 1))
        w = 0.75 if scalar else rng.normal(size=size)
        conn = CSR(indptr, idx, w, n_pre=n_pre, n_post=n_post, major=major, dtype=dtype)
    pre, post = (rows, idx) if major == "pre" else (idx, rows)
    dense = np.zeros((n_pre, n_post))
    np.add.at(dense, (pre.ravel(), post.ravel()), np.broadcast_to(w, np.shape(idx)).ravel())
    return conn, dense


def assert_close_to_oracle(out, expected, bound, dtype):
    """`out` equals the float64 `expected` up to rounding: a relative error of 1e-6
    (float32) or 1e-14 (float64) of `bound`, the sum of the absolute terms."""
    assert out.dtype == dtype and out.shape == expected.shape
    eps = 1e-6 if np.dtype(dtype) == np.float32 else 1e-14
    np.testing.assert_array_less(np.abs(np.asarray(out, np.float64) - expected), eps * (1 + bound))
