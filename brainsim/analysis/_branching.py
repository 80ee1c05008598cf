"""The branching factor of a spiking network: descendants per ancestor spike.

This is the measure of Ivanov & Michmizos (2021, NALSM), restated from the authors'
description of their script. For a spike of neuron `i` at step `t`:

    descendants = spikes of i's postsynaptic targets in steps t+1 .. t+window
    ancestors   = spikes of i's presynaptic sources in steps t-window .. t-1
    ratio       = descendants / max(1, ancestors)

Ratios are averaged over the spikes of each neuron, then over the neurons that spiked,
then over samples (trials). Only spikes at `window <= t < T - window` count, after
`skip` steps are dropped at both ends of each sample. The paper uses `window = 4` (ms,
at dt = 1 ms) and `skip = 25` over 250-ms samples. A value near 1 marks a network near
criticality: a spike causes about one spike downstream.
"""

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy is imported on first use: `import brainsim` stays light
    import scipy.sparse as sp


def _adjacency(conn: Any, n: int) -> "sp.csr_matrix":
    """`A[i, j] = 1` when neuron `i` reaches neuron `j`, as a scipy CSR matrix."""
    import scipy.sparse as sp

    if hasattr(conn, "pre_ids") and hasattr(conn, "post_ids"):
        if conn.n_pre != n or conn.n_post != n:
            raise ValueError(
                f"conn must connect the raster's {n} neurons to themselves, got n_pre="
                f"{conn.n_pre} and n_post={conn.n_post}"
            )
        pre = np.asarray(conn.pre_ids).reshape(-1)
        post = np.asarray(conn.post_ids).reshape(-1)
    else:
        dense = np.asarray(conn)
        if dense.shape != (n, n):
            raise ValueError(
                f"conn must be an ({n}, {n}) matrix (pre x post) or a CSR/ELL layout for the "
                f"raster's {n} neurons, got shape {dense.shape}"
            )
        pre, post = np.nonzero(dense)
    a = sp.csr_matrix((np.ones(pre.size), (pre, post)), shape=(n, n))
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


def _check(raster: Any, window: int, skip: int) -> np.ndarray:
    x = np.asarray(raster)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"raster must be (time, neurons) or (samples, time, neurons), got shape {x.shape}"
        )
    if not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive number of steps, got {window!r}")
    if not isinstance(skip, int | np.integer) or skip < 0:
        raise ValueError(f"skip must be a non-negative number of steps, got {skip!r}")
    steps = x.shape[-2] - 2 * skip
    if steps <= 2 * window:
        raise ValueError(
            f"raster has {x.shape[-2]} steps: after skipping {skip} at each end, at least "
            f"{2 * window + 1} are needed for window={window}"
        )
    x = x[..., skip : x.shape[-2] - skip, :]
    return (x != 0).astype(np.float64)


def _shifted_sum(x: "sp.csr_matrix", shifts: range) -> "sp.csr_matrix":
    """`sum_d x[t - d]` over `d` in `shifts` (rows outside the raster count as zero)."""
    import scipy.sparse as sp

    steps, n = x.shape
    total = sp.csr_matrix((steps, n))
    for d in shifts:
        if d > 0:
            moved = sp.vstack([sp.csr_matrix((d, n)), x[: steps - d]])
        else:
            moved = sp.vstack([x[-d:], sp.csr_matrix((-d, n))])
        total = total + moved
    return sp.csr_matrix(total)


def _sample_ratios(x: np.ndarray, adj: "sp.csr_matrix", window: int) -> np.ndarray:
    """Mean ratio per neuron for one `(T, n)` sample; NaN where a neuron did not spike.

    Everything stays sparse: the windowed spike counts, their sums over sources and
    targets, and the events.
    """
    import scipy.sparse as sp

    steps, n = x.shape
    spikes = sp.csr_matrix(x)
    past = _shifted_sum(spikes, range(1, window + 1))  # row t: spikes in [t - window, t)
    future = _shifted_sum(spikes, range(-1, -window - 1, -1))  # row t: [t + 1, t + window]
    ancestors = sp.csr_matrix(past @ adj)  # [t, i]: sum over sources j -> i
    descendants = sp.csr_matrix(future @ adj.T)  # [t, i]: sum over targets i -> j
    t, i = np.nonzero(x)
    keep = (t >= window) & (t < steps - window)
    t, i = t[keep], i[keep]
    out = np.full(n, np.nan)
    if t.size == 0:
        return out
    anc = np.asarray(ancestors[t, i]).reshape(-1)
    desc = np.asarray(descendants[t, i]).reshape(-1)
    ratio = desc / np.maximum(anc, 1.0)
    n_events = np.bincount(i, minlength=n)
    total = np.bincount(i, weights=ratio, minlength=n)
    spiking = n_events > 0
    out[spiking] = total[spiking] / n_events[spiking]
    return out


def branching_ratios(raster: Any, conn: Any, *, window: int = 4, skip: int = 0) -> np.ndarray:
    """Each neuron's mean descendants per ancestor spike (see the module docstring).

    **Arguments:**

    - `raster`: spikes as a `(time, neurons)` or `(samples, time, neurons)` array, bool
      or 0/1, NumPy or JAX (`SpikeMonitor` traces have this layout).
    - `conn`: which neurons each neuron reaches: an `(n, n)` matrix whose nonzero
      `conn[i, j]` means `i -> j` (presynaptic rows), or a `brainsim.kernels` `CSR` /
      `ELL` layout within the population (weights are ignored).
    - `window`: steps after a spike that count as its descendants, and before it that
      count as its ancestors (4 in the NALSM paper, at dt = 1 ms).
    - `skip`: steps dropped at the start and the end of each sample (25 in the paper).

    **Returns:** `(n,)` ratios, or `(samples, n)`; NaN for a neuron without a counted
    spike.

    >>> import numpy as np
    >>> raster = np.zeros((6, 2), bool)
    >>> raster[2, 0] = raster[3, 1] = True          # 0 fires, then its target 1
    >>> branching_ratios(raster, np.array([[0, 1], [0, 0]]), window=1).tolist()
    [1.0, 0.0]
    """
    x = _check(raster, window, skip)
    adj = _adjacency(conn, x.shape[-1])
    if x.ndim == 2:
        return _sample_ratios(x, adj, window)
    return np.stack([_sample_ratios(s, adj, window) for s in x])


def branching_factor(raster: Any, conn: Any, *, window: int = 4, skip: int = 0) -> float:
    """The network's branching factor, as measured in the NALSM paper.

    The per-neuron ratios of `branching_ratios`, averaged over the neurons that spiked
    in each sample, then over samples.

    **Arguments:**

    - `raster`, `conn`, `window`, `skip`: as for `branching_ratios`.

    **Returns:** the branching factor (a float); NaN when no spike was counted.

    >>> import numpy as np
    >>> raster = np.zeros((8, 3), bool)
    >>> raster[2, 0] = raster[3, 1] = raster[3, 2] = True  # 0 fires, both targets follow
    >>> conn = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]])
    >>> branching_factor(raster, conn, window=1)  # neuron 0: 2, neurons 1 and 2: 0
    0.6666666666666666
    """
    ratios = branching_ratios(raster, conn, window=window, skip=skip)
    ratios = ratios.reshape(-1, ratios.shape[-1])
    per_sample = []
    for r in ratios:
        counted = r[~np.isnan(r)]
        if counted.size:
            per_sample.append(counted.mean())
    return float(np.mean(per_sample)) if per_sample else float("nan")
