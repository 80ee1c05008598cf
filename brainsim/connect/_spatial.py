"""Distance-dependent connectivity on positions, and grid positions.

`distance_dependent` connects each pair independently with probability
`c * exp(-(D / lam)^2)`, `D` the Euclidean distance, as in the liquid state machine
of Maass, Natschlaeger and Markram (2002), where neurons sit on an integer grid
(`lam = 2`, `c = 0.3` between excitatory neurons). Pairs are visited in blocks of
postsynaptic rows, so memory stays bounded while time grows as `n_pre * n_post`.
"""

import numpy as np
from jaxtyping import Float, Int

from ..core._errors import check_finite, check_positive, check_probability
from ..kernels.formats import CSR
from ._builders import (
    Major,
    SeedLike,
    WeightLike,
    _as_rng,
    _check_major,
    _check_self,
    _check_weight,
    _csr,
    _draw_weights,
)

_BLOCK_PAIRS = 1 << 21  # pairs evaluated at once (a few tens of MB of temporaries)


def grid_positions(shape: tuple[int, ...]) -> Int[np.ndarray, "n d"]:
    """Integer coordinates of every point of a grid, in C order (last axis fastest).

    **Arguments:**

    - `shape`: grid size along each axis, e.g. `(15, 3, 3)`.

    **Returns:** an `(prod(shape), len(shape))` integer array.

    >>> grid_positions((2, 2)).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    shape = tuple(shape)
    if not shape or any(
        isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0 for s in shape
    ):
        raise ValueError(f"shape must be a non-empty tuple of non-negative integers, got {shape!r}")
    return np.indices(shape).reshape(len(shape), -1).T.copy()


def _positions(name: str, pos) -> np.ndarray:
    arr = np.asarray(pos)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"{name} must be a numeric (n, d) array of positions, got shape {arr.shape}"
        )
    arr = arr.astype(np.float64)
    check_finite(name, arr)
    return arr


def distance_dependent(
    pos_pre: Float[np.ndarray, "n_pre d"],
    pos_post: Float[np.ndarray, "n_post d"],
    *,
    c: float,
    lam: float,
    seed: SeedLike,
    weight: WeightLike = 1.0,
    allow_self: bool = True,
    major: Major = "post",
) -> CSR:
    """Connect each pair independently with probability `c * exp(-(D / lam)^2)`.

    **Arguments:**

    - `pos_pre`, `pos_post`: `(n_pre, d)` and `(n_post, d)` positions (any length unit).
    - `c`: the probability at distance zero, in [0, 1].
    - `lam`: the length scale `lambda`, > 0, in the unit of the positions.
    - `seed`: int or `numpy.random.Generator`.
    - `weight`: a number, or `weight(rng, size) -> (size,)`, drawn in post-major order.
    - `allow_self`: keep `i -> i`; `False` needs `n_pre == n_post`.
    - `major`: `"post"` (rows are targets) or `"pre"` (rows are sources).

    **Returns:** a `CSR`.
    """
    pre, post = _positions("pos_pre", pos_pre), _positions("pos_post", pos_post)
    if pre.shape[1] != post.shape[1]:
        raise ValueError(
            f"pos_pre and pos_post must have the same number of coordinates, got "
            f"pos_pre of shape {pre.shape} and pos_post of shape {post.shape}"
        )
    for name, value in (("c", c), ("lam", lam)):
        if np.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar, got shape {np.shape(value)}")
    check_probability("c", c)
    check_positive("lam", lam)
    n_pre, n_post = pre.shape[0], post.shape[0]
    _check_self(allow_self, n_pre, n_post)
    _check_major(major)
    _check_weight(weight)
    rng = _as_rng(seed)
    block = max(1, _BLOCK_PAIRS // max(n_pre, 1))
    rows, cols = [], []
    for start in range(0, n_post, block):
        stop = min(start + block, n_post)
        d2 = np.zeros((stop - start, n_pre))
        for axis in range(pre.shape[1]):
            d2 += np.square(post[start:stop, axis, None] - pre[None, :, axis])
        connect = rng.random(d2.shape) < float(c) * np.exp(-d2 / float(lam) ** 2)
        if not allow_self:
            diag = np.arange(start, stop)
            connect[diag - start, diag] = False
        r, col = np.nonzero(connect)
        rows.append(r + start)
        cols.append(col)
    post_ids = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    pre_ids = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, np.int64)
    w = _draw_weights(weight, rng, post_ids.size)
    return _csr(post_ids, pre_ids, w, n_pre=n_pre, n_post=n_post, rows_are="post", major=major)
