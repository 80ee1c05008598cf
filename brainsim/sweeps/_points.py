"""The points of a sweep: a grid, a list, random or Latin-hypercube samples.

A `Points` is a table: one column per swept name, one row per point. It is plain
NumPy; the sweep turns each row into model leaves inside `vmap`.
"""

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Points:
    """Named parameter values, one row per point.

    - `names`: the swept names (model paths such as `"populations.E.tau_m"`).
    - `values`: `(n_points, len(names))` float64.
    - `shape`: the grid's shape (one length per name) for a grid, else `None`.
    - `axes`: a grid's values along each name, else `None`.
    """

    names: tuple[str, ...]
    values: np.ndarray
    shape: tuple[int, ...] | None = None
    axes: tuple[np.ndarray, ...] | None = None

    def __post_init__(self):
        if not self.names:
            raise ValueError("params: at least one swept name is needed")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"params: a name appears twice in {list(self.names)}")
        if self.values.ndim != 2 or self.values.shape[1] != len(self.names):
            raise ValueError(
                f"params: values must have shape (n_points, {len(self.names)}), "
                f"got {self.values.shape}"
            )
        if self.values.shape[0] == 0:
            raise ValueError("params: the sweep has no points (an empty range?)")
        if not np.all(np.isfinite(self.values)):
            raise ValueError("params: values must be finite")

    def __len__(self) -> int:
        return int(self.values.shape[0])


def _values(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name}: empty range of values")
    return arr


def grid(params: Mapping[str, Sequence[float] | np.ndarray]) -> Points:
    """The cartesian product of named value lists (the last name varies fastest).

    **Arguments:**

    - `params`: name -> 1-D values.

    **Returns:** a `Points` with `shape` and `axes` set.

    ```python
    >>> grid({"a": [1.0, 2.0], "b": [0.5, 1.5, 2.5]}).values.shape
    (6, 2)

    ```
    """
    if not params:
        raise ValueError("params: at least one swept name is needed")
    axes = tuple(_values(k, v) for k, v in params.items())
    rows = np.array(list(itertools.product(*axes)), dtype=np.float64)
    return Points(tuple(params), rows, tuple(len(a) for a in axes), axes)


def point_list(params: Mapping[str, Sequence[float] | np.ndarray]) -> Points:
    """Points given column by column: name -> one value per point (equal lengths).

    **Arguments:**

    - `params`: name -> 1-D values, all of one length.

    **Returns:** a `Points`.
    """
    cols = [_values(k, v) for k, v in params.items()]
    if len({c.size for c in cols}) > 1:
        sizes = {k: c.size for k, c in zip(params, cols)}
        raise ValueError(f"params: every name needs one value per point, got lengths {sizes}")
    return Points(tuple(params), np.stack(cols, axis=1) if cols else np.zeros((0, 0)))


def _bounds(params: Mapping[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    if not params:
        raise ValueError("params: at least one swept name is needed")
    lo, hi = [], []
    for name, bounds in params.items():
        low, high = (float(b) for b in bounds)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"{name}: bounds must be finite with low < high, got {bounds}")
        lo.append(low)
        hi.append(high)
    return np.array(lo), np.array(hi)


def random_samples(params: Mapping[str, tuple[float, float]], n: int, *, seed: int) -> Points:
    """`n` points drawn uniformly in a box.

    **Arguments:**

    - `params`: name -> `(low, high)`.
    - `n`: number of points; `seed`: NumPy seed.

    **Returns:** a `Points`.
    """
    if n < 1:
        raise ValueError(f"n: must be a positive number of points, got {n}")
    lo, hi = _bounds(params)
    u = np.random.default_rng(seed).random((n, lo.size))
    return Points(tuple(params), lo + u * (hi - lo))


def latin_hypercube(params: Mapping[str, tuple[float, float]], n: int, *, seed: int) -> Points:
    """`n` Latin-hypercube points in a box: each name's range is cut into `n` equal
    strata and every stratum holds exactly one point.

    **Arguments:**

    - `params`: name -> `(low, high)`.
    - `n`: number of points; `seed`: NumPy seed.

    **Returns:** a `Points`.
    """
    if n < 1:
        raise ValueError(f"n: must be a positive number of points, got {n}")
    lo, hi = _bounds(params)
    rng = np.random.default_rng(seed)
    strata = np.stack([rng.permutation(n) for _ in range(lo.size)], axis=1)
    u = (strata + rng.random((n, lo.size))) / n
    return Points(tuple(params), lo + u * (hi - lo))


def parse_range(name: str, spec: str) -> np.ndarray:
    """Values from a command-line range: `start:stop:num` (inclusive, like `linspace`),
    a comma-separated list, or one number.

    ```python
    >>> parse_range("w", "0:1:3").tolist()
    [0.0, 0.5, 1.0]

    ```
    """
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num < 1:
                raise ValueError(f"{name}: empty range {spec!r} (num must be >= 1)")
            return np.linspace(start, stop, num)
        values = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError as e:
        if str(e).startswith(name):
            raise
        raise ValueError(
            f"{name}: cannot read the range {spec!r} (use start:stop:num, a,b,c or a number)"
        ) from None
    if not values:
        raise ValueError(f"{name}: empty range {spec!r}")
    return np.array(values)
