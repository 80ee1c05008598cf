"""Connectivity builders: closed-form statistics, exact structure, determinism, errors.

The statistical checks compare against closed forms (Binomial counts and degrees,
uniform `k`-subsets, `c * exp(-(D / lam)^2)` per distance); each uses a fixed seed and
thresholds of 4 to 5 standard deviations, or a chi-square p-value above 1e-4.
"""

import itertools
import time

import numpy as np
import pytest
import scipy.special
import scipy.stats

import brainsim.connect as bc
from brainsim.connect._builders import _stable_argsort
from brainsim.connect._random import _bernoulli_indices


def _pairs(conn) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(conn.pre_ids).reshape(-1), np.asarray(conn.post_ids).reshape(-1)


def _rows(conn) -> list[np.ndarray]:
    indptr, indices = np.asarray(conn.indptr), np.asarray(conn.indices)
    return [indices[a:b] for a, b in itertools.pairwise(indptr)]


def _assert_rows_strictly_increasing(conn) -> None:
    """Sorted within every row and no duplicated pair."""
    indptr, indices = np.asarray(conn.indptr), np.asarray(conn.indices)
    steps = np.diff(indices)
    row_starts = indptr[1:-1][(indptr[1:-1] > 0) & (indptr[1:-1] < indices.size)]
    inner = np.ones(steps.size, bool)
    inner[row_starts - 1] = False
    assert np.all(steps[inner] > 0)


def _same(a, b) -> bool:
    return (
        type(a) is type(b)
        and a.major == b.major
        and all(
            np.array_equal(np.asarray(x), np.asarray(y))
            for x, y in zip((a.indices, a.weights), (b.indices, b.weights))
        )
        and (not isinstance(a, bc.CSR) or np.array_equal(a.indptr, b.indptr))
    )


def _normal_weight(rng, size):
    return rng.normal(1.0, 0.5, size)


# ----------------------------------------------------------------------------- fixed_probability


@pytest.mark.parametrize("allow_self", [True, False])
def test_fixed_probability_count_and_degrees_binomial(allow_self):
    n, p = 2000, 0.02
    conn = bc.fixed_probability(n, n, p, seed=1, allow_self=allow_self)
    m = n - (0 if allow_self else 1)  # candidate sources per target
    mean, var = n * m * p, n * m * p * (1 - p)
    assert abs(conn.nnz - mean) < 4 * np.sqrt(var)
    _assert_rows_strictly_increasing(conn)
    pre, post = _pairs(conn)
    if not allow_self:
        assert not np.any(pre == post)
    for degrees in (np.diff(conn.indptr), np.bincount(pre, minlength=n)):  # in and out
        d_mean, d_var = m * p, m * p * (1 - p)
        assert abs(degrees.mean() - d_mean) < 4 * np.sqrt(d_var / n)
        # sd of the sample variance: sqrt(2 var^2 / (n - 1) + kurtosis term), about var*0.032
        assert abs(degrees.var(ddof=1) - d_var) < 4 * d_var * np.sqrt(2.0 / (n - 1)) * 1.1
    # the full in-degree histogram against the Binomial pmf (bins with expectation >= 5)
    degrees = np.diff(conn.indptr)
    ks = np.arange(m + 1)
    expected = n * scipy.stats.binom.pmf(ks, m, p)
    keep = expected >= 5
    obs = np.bincount(degrees, minlength=m + 1)
    f_obs = np.append(obs[keep], obs[~keep].sum())
    f_exp = np.append(expected[keep], expected[~keep].sum())
    assert scipy.stats.chisquare(f_obs, f_exp * f_obs.sum() / f_exp.sum()).pvalue > 1e-4


class _ShortDraws:
    """A generator whose `geometric` returns at most 2 gaps, forcing many chunks."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def geometric(self, p, size):
        return self._rng.geometric(p, min(size, 2))


@pytest.mark.parametrize("chunked", [False, True])
def test_bernoulli_indices_is_a_bernoulli_process(chunked):
    """Each of 12 trials succeeds with probability p, independently (count ~ Binomial)."""
    rng = _ShortDraws(0) if chunked else np.random.default_rng(0)
    total, p, reps = 12, 0.3, 4000
    hits = np.zeros((reps, total), bool)
    for r in range(reps):
        hits[r, _bernoulli_indices(rng, total, p)] = True
    se = np.sqrt(p * (1 - p) / reps)
    assert np.all(np.abs(hits.mean(0) - p) < 4.5 * se)
    counts = np.bincount(hits.sum(1), minlength=total + 1)
    expected = reps * scipy.stats.binom.pmf(np.arange(total + 1), total, p)
    keep = expected >= 5
    f_obs = np.append(counts[keep], counts[~keep].sum())
    f_exp = np.append(expected[keep], expected[~keep].sum())
    assert scipy.stats.chisquare(f_obs, f_exp * reps / f_exp.sum()).pvalue > 1e-4
    # neighbouring trials independent: P(both) = p^2
    both = (hits[:, :-1] & hits[:, 1:]).mean()
    assert abs(both - p * p) < 4.5 * np.sqrt(p * p * (1 - p * p) / (reps * (total - 1)))


def test_fixed_probability_extremes():
    assert bc.fixed_probability(50, 40, 0.0, seed=0).nnz == 0
    full = bc.fixed_probability(7, 5, 1.0, seed=0)
    np.testing.assert_array_equal(full.to_dense(), np.ones((7, 5)))
    no_self = bc.fixed_probability(6, 6, 1.0, seed=0, allow_self=False)
    np.testing.assert_array_equal(no_self.to_dense(), 1 - np.eye(6))
    # a tiny p over 10^10 pairs: no overflow in the geometric gaps, about 0.01 synapses
    assert bc.fixed_probability(10**5, 10**5, 1e-12, seed=0).nnz <= 2
    for n_pre, n_post in [(0, 0), (0, 3), (3, 0), (1, 1)]:
        conn = bc.fixed_probability(n_pre, n_post, 0.5, seed=0)
        assert conn.indptr.shape == (n_post + 1,)
    assert bc.fixed_probability(1, 1, 1.0, seed=0, allow_self=False).nnz == 0


def test_fixed_probability_same_synapses_for_either_major():
    post = bc.fixed_probability(300, 200, 0.05, seed=3, weight=_normal_weight)
    pre = bc.fixed_probability(300, 200, 0.05, seed=3, weight=_normal_weight, major="pre")
    assert pre.major == "pre" and pre.indptr.shape == (301,)
    _assert_rows_strictly_increasing(pre)
    assert _same(post.to_major("pre"), pre)
    np.testing.assert_array_equal(pre.to_dense(), post.to_dense())


def test_fixed_probability_determinism():
    a = bc.fixed_probability(500, 400, 0.05, seed=7, weight=_normal_weight)
    b = bc.fixed_probability(500, 400, 0.05, seed=7, weight=_normal_weight)
    c = bc.fixed_probability(500, 400, 0.05, seed=8, weight=_normal_weight)
    assert _same(a, b)
    assert not np.array_equal(a.indices, c.indices)
    g = bc.fixed_probability(500, 400, 0.05, seed=np.random.default_rng(7), weight=_normal_weight)
    assert _same(a, g)  # a Generator seeded alike gives the same synapses
    rng = np.random.default_rng(7)
    first = bc.fixed_probability(500, 400, 0.05, seed=rng)
    second = bc.fixed_probability(500, 400, 0.05, seed=rng)  # the generator has advanced
    assert not np.array_equal(first.indices, second.indices)


def test_fixed_probability_is_fast():
    bc.fixed_probability(100, 100, 0.1, seed=0)
    start = time.perf_counter()
    conn = bc.fixed_probability(4000, 4000, 0.02, seed=0)
    assert time.perf_counter() - start < 0.5
    assert conn.nnz > 0


def test_fixed_probability_64k_neurons():
    """5M synapses (64,000 neurons, p = 0.00125) in a few seconds, count ~ Binomial."""
    n, p = 64_000, 0.00125
    start = time.perf_counter()
    conn = bc.fixed_probability(n, n, p, seed=0)
    assert time.perf_counter() - start < 5.0
    mean = n * n * p
    assert abs(conn.nnz - mean) < 4 * np.sqrt(mean * (1 - p))
    degrees = np.diff(np.asarray(conn.indptr))
    assert abs(degrees.mean() - n * p) < 4 * np.sqrt(n * p * (1 - p) / n)


# ------------------------------------------------------------------------------- fixed degrees


@pytest.mark.parametrize("which", ["in", "out"])
@pytest.mark.parametrize("allow_self", [True, False])
@pytest.mark.parametrize("k", [0, 1, 30, 150, 199])  # sparse redraw path and dense key path
def test_fixed_degree_exact_k_distinct(which, allow_self, k):
    build = bc.fixed_in_degree if which == "in" else bc.fixed_out_degree
    n = 200
    conn = build(n, n, k, seed=k, allow_self=allow_self)
    rows = n
    assert isinstance(conn, bc.ELL)
    assert conn.major == ("post" if which == "in" else "pre")
    assert conn.indices.shape == (rows, k)
    idx = np.asarray(conn.indices)
    assert np.all(np.diff(idx, axis=1) > 0)  # distinct and ascending
    assert idx.size == 0 or (idx.min() >= 0 and idx.max() < n)
    if not allow_self:
        assert not np.any(idx == np.arange(rows)[:, None])


@pytest.mark.parametrize("which", ["in", "out"])
@pytest.mark.parametrize(
    ("n", "k", "allow_self"),
    [(5, 2, True), (5, 3, True), (6, 2, False), (6, 3, False)],
)
def test_fixed_degree_uniform_subsets(which, n, k, allow_self):
    """Every k-subset of the allowed candidates is equally likely (chi-square).

    With self connections one build has 12,000 rows drawing from `n` candidates; without,
    both sides have `n` neurons, so rows are pooled over 400 seeds, per row.
    """
    build = bc.fixed_in_degree if which == "in" else bc.fixed_out_degree
    if allow_self:
        n_rows, reps = 12_000, 1
    else:
        n_rows, reps = n, 400
    sizes = (n, n_rows) if which == "in" else (n_rows, n)
    tables = [
        np.asarray(build(*sizes, k, seed=s, allow_self=allow_self).indices) for s in range(reps)
    ]
    subsets = np.concatenate(tables)
    row = np.tile(np.arange(n_rows), reps)
    if not allow_self:
        assert not np.any(subsets == row[:, None])
    codes = (subsets * n ** np.arange(k)).sum(1) + (0 if allow_self else row * n**k)
    _, obs = np.unique(codes, return_counts=True)
    n_subsets = scipy.special.comb(n if allow_self else n - 1, k, exact=True)
    assert obs.size == n_subsets * (1 if allow_self else n)  # every allowed subset occurs
    assert scipy.stats.chisquare(obs).pvalue > 1e-4


def test_fixed_in_degree_source_usage_binomial():
    """Each source is picked by each target with probability k / n_pre, independently."""
    n_pre, n_post, k = 1000, 4000, 40
    conn = bc.fixed_in_degree(n_pre, n_post, k, seed=5)
    uses = np.bincount(np.asarray(conn.indices).reshape(-1), minlength=n_pre)
    q = k / n_pre
    assert uses.sum() == n_post * k
    var = n_post * q * (1 - q)
    assert abs(uses.var(ddof=1) - var) < 4 * var * np.sqrt(2.0 / (n_pre - 1)) * 1.1


@pytest.mark.parametrize("which", ["in", "out"])
def test_fixed_degree_layouts_agree(which):
    build = bc.fixed_in_degree if which == "in" else bc.fixed_out_degree
    natural = "post" if which == "in" else "pre"
    other = "pre" if which == "in" else "post"
    ell = build(120, 90, 7, seed=4, weight=_normal_weight)
    same = build(120, 90, 7, seed=4, weight=_normal_weight, layout="csr", major=natural)
    flipped = build(120, 90, 7, seed=4, weight=_normal_weight, layout="csr", major=other)
    assert isinstance(same, bc.CSR) and isinstance(flipped, bc.CSR)
    assert _same(ell.to_csr(), same)
    assert _same(same.to_major(other), flipped)
    _assert_rows_strictly_increasing(flipped)
    assert ell.n_pre == 120 and ell.n_post == 90
    assert ell.weights.shape == ell.indices.shape


def test_fixed_degree_determinism():
    a = bc.fixed_in_degree(300, 300, 20, seed=1, weight=_normal_weight)
    b = bc.fixed_in_degree(300, 300, 20, seed=1, weight=_normal_weight)
    c = bc.fixed_in_degree(300, 300, 20, seed=2, weight=_normal_weight)
    assert _same(a, b)
    assert not np.array_equal(a.indices, c.indices)
    a = bc.fixed_out_degree(300, 300, 250, seed=1, allow_self=False)
    b = bc.fixed_out_degree(300, 300, 250, seed=1, allow_self=False)
    c = bc.fixed_out_degree(300, 300, 250, seed=2, allow_self=False)
    assert _same(a, b)
    assert not np.array_equal(a.indices, c.indices)


# ------------------------------------------------------------------------------- spatial


def test_grid_positions():
    np.testing.assert_array_equal(
        bc.grid_positions((2, 3)), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    )
    pos = bc.grid_positions((10, 10, 10))
    assert pos.shape == (1000, 3) and np.issubdtype(pos.dtype, np.integer)
    np.testing.assert_array_equal(pos, np.stack(np.unravel_index(np.arange(1000), (10,) * 3), 1))
    assert bc.grid_positions((15, 3, 3)).shape == (135, 3)
    assert bc.grid_positions((0, 4)).shape == (0, 2)


@pytest.mark.parametrize("allow_self", [True, False])
def test_distance_dependent_probability_matches_closed_form(allow_self):
    """Maass et al. (2002): lambda = 2, C = 0.3 on a 10 x 10 x 10 grid."""
    c, lam = 0.3, 2.0
    pos = bc.grid_positions((10, 10, 10))
    conn = bc.distance_dependent(pos, pos, c=c, lam=lam, seed=2, allow_self=allow_self)
    _assert_rows_strictly_increasing(conn)
    pre, post = _pairs(conn)
    if not allow_self:
        assert not np.any(pre == post)
    # every pair grouped by its exact squared distance (integers on the grid)
    d2_all = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1)
    if not allow_self:
        d2_all[np.arange(1000), np.arange(1000)] = -1  # excluded pairs
    n_pairs = np.bincount(d2_all[d2_all >= 0], minlength=300)
    d2_syn = ((pos[pre] - pos[post]) ** 2).sum(-1)
    n_syn = np.bincount(d2_syn, minlength=300)
    prob = c * np.exp(-np.arange(300) / lam**2)
    expected = n_pairs * prob
    big = expected >= 10
    assert big.sum() >= 8  # distances 0 (with self), 1, sqrt(2), sqrt(3), 2, ... are tested
    z = (n_syn[big] - expected[big]) / np.sqrt(n_pairs[big] * prob[big] * (1 - prob[big]))
    assert np.all(np.abs(z) < 4.5), z
    tail_var = (n_pairs * prob * (1 - prob))[~big].sum()
    assert abs(n_syn[~big].sum() - expected[~big].sum()) < 4.5 * np.sqrt(tail_var) + 1
    chi2 = (z**2).sum()
    assert scipy.stats.chi2.sf(chi2, z.size) > 1e-4


def test_distance_dependent_edge_cases():
    pos = bc.grid_positions((4, 5)).astype(float)
    # lam tiny: only coincident positions connect, with probability c = 1
    ident = bc.distance_dependent(pos, pos, c=1.0, lam=1e-3, seed=0)
    np.testing.assert_array_equal(ident.to_dense(), np.eye(20))
    assert bc.distance_dependent(pos, pos, c=0.0, lam=5.0, seed=0).nnz == 0
    # c = 1 and huge lam: everything connects; different sizes on each side
    full = bc.distance_dependent(pos[:7], pos, c=1.0, lam=1e9, seed=0)
    np.testing.assert_array_equal(full.to_dense(), np.ones((7, 20)))
    a = bc.distance_dependent(pos, pos, c=0.5, lam=2.0, seed=9, weight=_normal_weight)
    b = bc.distance_dependent(pos, pos, c=0.5, lam=2.0, seed=9, weight=_normal_weight)
    d = bc.distance_dependent(pos, pos, c=0.5, lam=2.0, seed=10, weight=_normal_weight)
    pre = bc.distance_dependent(
        pos, pos, c=0.5, lam=2.0, seed=9, weight=_normal_weight, major="pre"
    )
    assert _same(a, b) and _same(a.to_major("pre"), pre)
    assert not np.array_equal(a.indices, d.indices)
    empty = bc.distance_dependent(np.zeros((0, 3)), np.zeros((4, 3)), c=0.5, lam=1.0, seed=0)
    assert empty.nnz == 0 and empty.indptr.shape == (5,)


# ------------------------------------------------------------------------- deterministic ones


@pytest.mark.parametrize("major", ["pre", "post"])
def test_one_to_one_and_all_to_all(major):
    np.testing.assert_array_equal(
        bc.one_to_one(4, weight=2.5, major=major).to_dense(), 2.5 * np.eye(4)
    )
    assert bc.one_to_one(0).nnz == 0
    full = bc.all_to_all(3, 4, weight=0.5, major=major)
    np.testing.assert_array_equal(full.to_dense(), 0.5 * np.ones((3, 4)))
    _assert_rows_strictly_increasing(full)
    no_self = bc.all_to_all(5, 5, allow_self=False, major=major)
    np.testing.assert_array_equal(no_self.to_dense(), 1 - np.eye(5))
    _assert_rows_strictly_increasing(no_self)
    assert bc.all_to_all(0, 3).nnz == 0


def test_all_to_all_callable_weight_in_post_major_order():
    w = bc.all_to_all(3, 2, weight=lambda rng, n: np.arange(n, dtype=float), seed=0)
    # post-major order: post 0 gets pre 0, 1, 2 (weights 0, 1, 2), post 1 gets 3, 4, 5
    np.testing.assert_array_equal(w.to_dense(), [[0, 3], [1, 4], [2, 5]])
    a = bc.all_to_all(6, 6, weight=_normal_weight, seed=3, major="pre")
    b = bc.all_to_all(6, 6, weight=_normal_weight, seed=3, major="post")
    np.testing.assert_array_equal(a.to_dense(), b.to_dense())


@pytest.mark.parametrize("major", ["pre", "post"])
def test_from_arrays_sorted_stable_and_dense(major):
    rng = np.random.default_rng(0)
    n_pre, n_post, nnz = 6, 5, 40  # many duplicated pairs
    pre, post = rng.integers(0, n_pre, nnz), rng.integers(0, n_post, nnz)
    w = np.arange(nnz, dtype=float)  # exactly representable: sums are exact
    conn = bc.from_arrays(pre, post, w, n_pre=n_pre, n_post=n_post, major=major)
    dense = np.zeros((n_pre, n_post))
    np.add.at(dense, (pre, post), w)
    np.testing.assert_array_equal(conn.to_dense(), dense)
    rows, cols = (pre, post) if major == "pre" else (post, pre)
    got_w = np.asarray(conn.weights)
    for r, (a, b) in enumerate(itertools.pairwise(np.asarray(conn.indptr))):
        mine = np.flatnonzero(rows == r)
        expect = mine[np.argsort(cols[mine], kind="stable")]  # by the other index, stable
        np.testing.assert_array_equal(np.asarray(conn.indices)[a:b], cols[expect])
        np.testing.assert_array_equal(got_w[a:b], w[expect])
    scalar = bc.from_arrays(pre, post, 2.0, n_pre=n_pre, n_post=n_post, major=major)
    assert scalar.weights.shape == ()
    empty = bc.from_arrays([], [], 1.0, n_pre=3, n_post=2, major=major)
    assert empty.nnz == 0


@pytest.mark.parametrize("bound", [1, 7, 2**16, 2**16 + 1, 2**33])
def test_stable_argsort_matches_numpy(bound):
    keys = np.random.default_rng(bound).integers(0, bound, 5000)
    np.testing.assert_array_equal(_stable_argsort(keys, bound), np.argsort(keys, kind="stable"))


# ----------------------------------------------------------------------------------- errors

POS = bc.grid_positions((2, 2))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: bc.fixed_probability(5, 5, 1.5, seed=0),
            r"p must be a probability in \[0, 1\], got 1.5",
        ),
        (lambda: bc.fixed_probability(5, 5, -0.1, seed=0), r"^p must be a probability"),
        (lambda: bc.fixed_probability(5, 5, float("nan"), seed=0), r"^p must be"),
        (
            lambda: bc.fixed_probability(-1, 5, 0.1, seed=0),
            r"^n_pre must be a non-negative integer",
        ),
        (lambda: bc.fixed_probability(5, 2.5, 0.1, seed=0), r"^n_post must be a non-negative"),
        (
            lambda: bc.fixed_probability(5, 4, 0.1, seed=0, allow_self=False),
            "^allow_self must be True",
        ),
        (lambda: bc.fixed_probability(5, 5, 0.1, seed=0, major="row"), "^major must be"),
        (lambda: bc.fixed_probability(5, 5, 0.1, seed="a"), "^seed must be"),
        (lambda: bc.fixed_probability(5, 5, 0.1, seed=0, weight="x"), "^weight must be"),
        (lambda: bc.fixed_probability(5, 5, 0.1, seed=0, weight=np.inf), "^weight must be finite"),
        (
            lambda: bc.fixed_probability(9, 9, 1.0, seed=0, weight=lambda rng, n: np.ones(3)),
            r"^weight must return an array of shape \(81,\)",
        ),
        (lambda: bc.fixed_in_degree(5, 5, 6, seed=0), "^k must be at most n_pre"),
        (
            lambda: bc.fixed_in_degree(5, 5, 5, seed=0, allow_self=False),
            "^k must be at most n_pre - 1",
        ),
        (lambda: bc.fixed_in_degree(5, 5, -1, seed=0), "^k must be a non-negative integer"),
        (lambda: bc.fixed_out_degree(5, 3, 4, seed=0), "^k must be at most n_post"),
        (
            lambda: bc.fixed_out_degree(5, 4, 1, seed=0, allow_self=False),
            "^allow_self must be True",
        ),
        (lambda: bc.fixed_in_degree(5, 5, 2, seed=0, layout="coo"), "^layout must be"),
        (
            lambda: bc.fixed_in_degree(5, 5, 2, seed=0, major="pre"),
            "^major must be 'post' with layout='ell'",
        ),
        (
            lambda: bc.fixed_out_degree(5, 5, 2, seed=0, major="post"),
            "^major must be 'pre' with layout='ell'",
        ),
        (lambda: bc.fixed_out_degree(5, 5, 2, seed=0, layout="csr", major="x"), "^major must be"),
        (lambda: bc.all_to_all(3, 4, allow_self=False), "^allow_self must be True"),
        (lambda: bc.one_to_one(-2), "^n must be"),
        (lambda: bc.distance_dependent(POS[0], POS, c=0.3, lam=2.0, seed=0), "^pos_pre must be"),
        (lambda: bc.distance_dependent(POS, POS[:, :1], c=0.3, lam=2.0, seed=0), "pos_post"),
        (
            lambda: bc.distance_dependent(POS, POS, c=-0.3, lam=2.0, seed=0),
            "^c must be a probability",
        ),
        (
            lambda: bc.distance_dependent(POS, POS, c=1.3, lam=2.0, seed=0),
            "^c must be a probability",
        ),
        (lambda: bc.distance_dependent(POS, POS, c=0.3, lam=-2.0, seed=0), "^lam must be positive"),
        (lambda: bc.distance_dependent(POS, POS, c=0.3, lam=0.0, seed=0), "^lam must be positive"),
        (
            lambda: bc.distance_dependent(POS, POS[:3], c=0.3, lam=1.0, seed=0, allow_self=False),
            "allow_self",
        ),
        (lambda: bc.grid_positions((3, -1)), "^shape must be"),
        (
            lambda: bc.from_arrays([0, 5], [0, 1], 1.0, n_pre=5, n_post=2),
            r"^pre must lie in \[0, 5\)",
        ),
        (lambda: bc.from_arrays([0, 1], [0, -1], 1.0, n_pre=5, n_post=2), "^post must lie"),
        (lambda: bc.from_arrays([0, 1], [0], 1.0, n_pre=5, n_post=2), "^pre and post must have"),
        (lambda: bc.from_arrays([0.5], [0], 1.0, n_pre=5, n_post=2), "^pre must hold integers"),
        (lambda: bc.from_arrays([0, 1], [0, 1], [1.0], n_pre=5, n_post=2), "^weights must be"),
    ],
)
def test_validation_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()
