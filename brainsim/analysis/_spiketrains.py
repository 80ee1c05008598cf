"""First-order spike-train statistics: binning, firing rates, ISI variability, Fano factors.

Everything here runs on the host in NumPy. Spike data come as two 1-D arrays of equal length,
`times` (ms) and `indices` (neuron index in `[0, n)`), as `brainsim.simulate` returns them per
population. Windows are half-open, `[t_start, t_stop)`, and rates are in Hz.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- validation


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n ({n!r}) must be a positive integer")
    return int(n)


def _check_real(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} ({value!r}) must be a finite real number")
    return float(value)


def _check_window(t_start: float, t_stop: float) -> tuple[float, float]:
    t_start = _check_real("t_start", t_start)
    t_stop = _check_real("t_stop", t_stop)
    if not t_stop > t_start:
        raise ValueError(f"t_stop ({t_stop}) must be greater than t_start ({t_start})")
    return t_start, t_stop


def _check_times(times: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(times)
    if arr.ndim != 1:
        raise ValueError(f"times must be one-dimensional; got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iuf":
        raise ValueError(f"times must be real numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)][0]
        raise ValueError(f"times must be finite; got {bad}")
    return arr


def _check_indices(indices: npt.ArrayLike, n: int, name: str = "indices") -> IntArray:
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be integers; got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.floor(arr))):
        bad = arr[~(np.isfinite(arr) & (arr == np.floor(arr)))][0]
        raise ValueError(f"{name} must be integers; got {bad}")
    out_of_range = (arr < 0) | (arr >= n)
    if np.any(out_of_range):
        raise ValueError(f"{name} must lie in [0, n) = [0, {n}); got {arr[out_of_range][0]}")
    return arr.astype(np.int64)


def _check_spikes(
    times: npt.ArrayLike, indices: npt.ArrayLike, n: int
) -> tuple[FloatArray, IntArray, int]:
    n = _check_n(n)
    t = _check_times(times)
    i = _check_indices(indices, n)
    if t.shape != i.shape:
        raise ValueError(
            f"times (length {t.size}) and indices (length {i.size}) must have the same length"
        )
    return t, i, n


def _bin_edges(t_start: float, t_stop: float, bin_ms: float, min_bins: int = 1) -> FloatArray:
    """Edges `t_start + k * bin_ms` of the complete bins that fit in `[t_start, t_stop)`."""
    bin_ms = _check_real("bin_ms", bin_ms)
    if bin_ms <= 0:
        raise ValueError(f"bin_ms ({bin_ms}) must be positive")
    ratio = (t_stop - t_start) / bin_ms
    # Tolerate round-off so that e.g. a 0.3 ms window holds three 0.1 ms bins.
    n_bins = round(ratio) if math.isclose(ratio, round(ratio), rel_tol=1e-9) else math.floor(ratio)
    if n_bins < min_bins:
        raise ValueError(
            f"bin_ms ({bin_ms}) must fit at least {min_bins} bin(s) in the window "
            f"[{t_start}, {t_stop}) ms"
        )
    edges = t_start + bin_ms * np.arange(n_bins + 1, dtype=np.float64)
    edges[-1] = min(edges[-1], t_stop)  # never count spikes at or after t_stop
    return edges


def _bin_of(times: FloatArray, edges: FloatArray) -> IntArray:
    """Bin number of each spike; -1 for spikes outside the complete bins."""
    k = np.searchsorted(edges, times, side="right") - 1
    return np.where((k >= 0) & (k < edges.size - 1), k, -1).astype(np.int64)


def _binned(
    t: FloatArray, i: IntArray, n: int, t_start: float, t_stop: float, bin_ms: float, min_bins: int
) -> IntArray:
    edges = _bin_edges(t_start, t_stop, bin_ms, min_bins)
    n_bins = edges.size - 1
    k = _bin_of(t, edges)
    keep = k >= 0
    flat = np.bincount(k[keep] * n + i[keep], minlength=n_bins * n)
    return flat.reshape(n_bins, n).astype(np.int64)


# --------------------------------------------------------------------------- public API


def spikes_to_binned(
    times: npt.ArrayLike,
    indices: npt.ArrayLike,
    *,
    n: int,
    t_start: float,
    t_stop: float,
    bin_ms: float,
) -> IntArray:
    """Count the spikes of each neuron in consecutive time bins.

    Bin `k` is `[t_start + k * bin_ms, t_start + (k + 1) * bin_ms)`. Only complete bins are kept:
    if the window is not a multiple of `bin_ms`, the trailing partial bin (and its spikes) is
    dropped. Spikes outside the bins are ignored.

    **Arguments:**

    - `times`: spike times in ms, shape `(s,)`.
    - `indices`: neuron index of each spike in `[0, n)`, shape `(s,)`.
    - `n`: number of neurons.
    - `t_start`, `t_stop`: analysis window in ms.
    - `bin_ms`: bin width in ms.

    **Returns:**

    Integer spike counts of shape `(n_bins, n)`.

    ```python
    >>> spikes_to_binned([0.0, 1.5, 2.0, 9.9], [0, 1, 1, 0], n=2, t_start=0.0, t_stop=4.0,
    ...                  bin_ms=2.0)
    array([[1, 1],
           [0, 1]])

    ```
    """
    t, i, n = _check_spikes(times, indices, n)
    t_start, t_stop = _check_window(t_start, t_stop)
    return _binned(t, i, n, t_start, t_stop, bin_ms, min_bins=1)


def firing_rates(
    times: npt.ArrayLike, indices: npt.ArrayLike, *, n: int, t_start: float, t_stop: float
) -> FloatArray:
    """Firing rate of each neuron over a window.

    **Arguments:**

    - `times`: spike times in ms, shape `(s,)`.
    - `indices`: neuron index of each spike in `[0, n)`, shape `(s,)`.
    - `n`: number of neurons.
    - `t_start`, `t_stop`: window `[t_start, t_stop)` in ms; spikes outside it are ignored.

    **Returns:**

    Rates in Hz, shape `(n,)`.

    ```python
    >>> firing_rates([10.0, 20.0, 30.0, 2000.0], [0, 0, 1, 1], n=3, t_start=0.0, t_stop=1000.0)
    array([2., 1., 0.])

    ```
    """
    t, i, n = _check_spikes(times, indices, n)
    t_start, t_stop = _check_window(t_start, t_stop)
    inside = (t >= t_start) & (t < t_stop)
    counts = np.bincount(i[inside], minlength=n)
    return counts / ((t_stop - t_start) / 1000.0)


def population_rate(times: npt.ArrayLike, *, n: int, t_start: float, t_stop: float) -> float:
    """Mean firing rate per neuron of a population over a window.

    **Arguments:**

    - `times`: spike times in ms of all neurons, shape `(s,)`.
    - `n`: number of neurons in the population.
    - `t_start`, `t_stop`: window `[t_start, t_stop)` in ms; spikes outside it are ignored.

    **Returns:**

    The rate in Hz: spikes in the window / (`n` * window length in s).
    """
    n = _check_n(n)
    t = _check_times(times)
    t_start, t_stop = _check_window(t_start, t_stop)
    count = np.count_nonzero((t >= t_start) & (t < t_stop))
    return float(count / (n * (t_stop - t_start) / 1000.0))


def binned_population_rate(
    times: npt.ArrayLike, *, n: int, t_start: float, t_stop: float, bin_ms: float
) -> tuple[FloatArray, FloatArray]:
    """Population rate per neuron as a time series, in bins of `bin_ms`.

    Bins are as in [`spikes_to_binned`][]; a trailing partial bin is dropped.

    **Arguments:**

    - `times`: spike times in ms of all neurons, shape `(s,)`.
    - `n`: number of neurons in the population.
    - `t_start`, `t_stop`: analysis window in ms.
    - `bin_ms`: bin width in ms.

    **Returns:**

    `(bin_centres_ms, rate_hz)`, both of shape `(n_bins,)`; `rate_hz[k]` is the spike count in
    bin `k` / (`n` * `bin_ms` in s).

    ```python
    >>> centres, rate = binned_population_rate([1.0, 2.0, 3.0, 12.0], n=2, t_start=0.0,
    ...                                        t_stop=20.0, bin_ms=10.0)
    >>> centres, rate
    (array([ 5., 15.]), array([150.,  50.]))

    ```
    """
    n = _check_n(n)
    t = _check_times(times)
    t_start, t_stop = _check_window(t_start, t_stop)
    counts = _binned(t, np.zeros(t.size, np.int64), 1, t_start, t_stop, bin_ms, min_bins=1)[:, 0]
    edges = _bin_edges(t_start, t_stop, bin_ms)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return centres, counts / (n * bin_ms / 1000.0)


def cv_isi(times: npt.ArrayLike, indices: npt.ArrayLike, *, n: int) -> FloatArray:
    """Coefficient of variation of the inter-spike intervals of each neuron.

    The CV is `std(ISI) / mean(ISI)` with the population standard deviation (`ddof=0`). Spikes
    need not be sorted. All spikes are used; select a window beforehand if needed.

    **Arguments:**

    - `times`: spike times in ms, shape `(s,)`.
    - `indices`: neuron index of each spike in `[0, n)`, shape `(s,)`.
    - `n`: number of neurons.

    **Returns:**

    CVs of shape `(n,)`; NaN for neurons with fewer than 3 spikes (fewer than 2 intervals) or
    whose intervals are all zero.

    ```python
    >>> cv_isi([0.0, 10.0, 20.0, 30.0, 0.0, 10.0, 30.0, 5.0], [0, 0, 0, 0, 1, 1, 1, 2], n=3)
    array([0.        , 0.33333333,        nan])

    ```
    """
    t, i, n = _check_spikes(times, indices, n)
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    same = i[1:] == i[:-1]
    isi, owner = (t[1:] - t[:-1])[same], i[1:][same]
    count = np.bincount(owner, minlength=n)
    mean = np.bincount(owner, weights=isi, minlength=n) / np.maximum(count, 1)
    var = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n) / np.maximum(count, 1)
    valid = (count >= 2) & (mean > 0)
    cv = np.full(n, np.nan)
    cv[valid] = np.sqrt(var[valid]) / mean[valid]
    return cv


def mean_cv_isi(times: npt.ArrayLike, indices: npt.ArrayLike, *, n: int) -> float:
    """Mean over neurons of the ISI coefficient of variation (see [`cv_isi`][]).

    **Arguments:**

    - `times`: spike times in ms, shape `(s,)`.
    - `indices`: neuron index of each spike in `[0, n)`, shape `(s,)`.
    - `n`: number of neurons.

    **Returns:**

    The mean CV over neurons with a defined CV (at least 3 spikes); NaN if there are none.
    """
    cv = cv_isi(times, indices, n=n)
    finite = cv[np.isfinite(cv)]
    return float(finite.mean()) if finite.size else math.nan


def fano_factor(
    times: npt.ArrayLike,
    indices: npt.ArrayLike,
    *,
    n: int,
    t_start: float,
    t_stop: float,
    bin_ms: float,
) -> float:
    """Mean Fano factor of the neurons' spike counts in time bins.

    For each neuron, the spike counts in the bins of [`spikes_to_binned`][] give the Fano factor
    `var(counts) / mean(counts)` (population variance, `ddof=0`); the result is the average of
    these over the neurons with a nonzero mean count, as is usual in network studies (Poisson
    trains give 1, perfectly regular trains with `bin_ms` equal to the period give 0).

    **Arguments:**

    - `times`: spike times in ms, shape `(s,)`.
    - `indices`: neuron index of each spike in `[0, n)`, shape `(s,)`.
    - `n`: number of neurons.
    - `t_start`, `t_stop`: analysis window in ms.
    - `bin_ms`: bin width in ms; the window must hold at least 2 bins.

    **Returns:**

    The mean Fano factor (dimensionless); NaN if no neuron spiked in the bins.
    """
    t, i, n = _check_spikes(times, indices, n)
    t_start, t_stop = _check_window(t_start, t_stop)
    counts = _binned(t, i, n, t_start, t_stop, bin_ms, min_bins=2).astype(np.float64)
    mean = counts.mean(axis=0)
    active = mean > 0
    if not np.any(active):
        return math.nan
    var = counts[:, active].var(axis=0)
    return float(np.mean(var / mean[active]))
