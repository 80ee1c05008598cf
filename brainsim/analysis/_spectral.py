"""Second-order spike-train statistics: pairwise count correlations and rate power spectra.

Host-side NumPy, with the data conventions of `brainsim.analysis._spiketrains`: times in ms,
neuron indices in `[0, n)`, half-open windows `[t_start, t_stop)`, complete bins only.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._spiketrains import (
    FloatArray,
    _bin_edges,
    _binned,
    _check_indices,
    _check_n,
    _check_spikes,
    _check_times,
    _check_window,
)


def spike_count_correlations(
    times: npt.ArrayLike,
    indices: npt.ArrayLike,
    *,
    n: int,
    t_start: float,
    t_stop: float,
    bin_ms: float,
    neurons: npt.ArrayLike | None = None,
) -> FloatArray:
    """Pearson correlation matrix of the binned spike counts of chosen neurons.

    Counts are binned as in [`spikes_to_binned`][]. The covariances are computed exactly in
    integer arithmetic, so neurons with identical spike trains have a correlation of exactly 1.

    **Arguments:**

    - `times`: spike times in ms, shape `(s,)`.
    - `indices`: neuron index of each spike in `[0, n)`, shape `(s,)`.
    - `n`: number of neurons.
    - `t_start`, `t_stop`: analysis window in ms.
    - `bin_ms`: bin width in ms; the window must hold at least 2 bins.
    - `neurons`: indices in `[0, n)` of the `m` neurons to correlate, in the order of the
        result; all `n` neurons if `None`.

    **Returns:**

    The `(m, m)` correlation matrix, with ones on the diagonal. Rows and columns of neurons whose
    counts do not vary across bins (silent neurons, in particular) are NaN.

    ```python
    >>> times = [1.0, 2.0, 13.0, 1.0, 2.0, 13.0, 5.0, 25.0]
    >>> spike_count_correlations(times, [0, 0, 0, 1, 1, 1, 2, 2], n=4, t_start=0.0,
    ...                          t_stop=30.0, bin_ms=10.0)
    array([[ 1.,  1.,  0., nan],
           [ 1.,  1.,  0., nan],
           [ 0.,  0.,  1., nan],
           [nan, nan, nan, nan]])

    ```
    """
    t, i, n = _check_spikes(times, indices, n)
    t_start, t_stop = _check_window(t_start, t_stop)
    chosen = np.arange(n) if neurons is None else _check_indices(neurons, n, "neurons")
    counts = _binned(t, i, n, t_start, t_stop, bin_ms, min_bins=2)[:, chosen].astype(np.float64)
    # n_bins^2 * covariance, from integer-valued floats: exact while the sums stay below 2^53.
    n_bins = counts.shape[0]
    sums = counts.sum(axis=0)
    scaled_cov = n_bins * (counts.T @ counts) - np.outer(sums, sums)
    var = np.diag(scaled_cov).copy()
    varying = var > 0
    corr = np.full(scaled_cov.shape, np.nan)
    both = np.outer(varying, varying)
    corr[both] = scaled_cov[both] / np.sqrt(np.outer(var, var)[both])
    np.clip(corr, -1.0, 1.0, out=corr)
    corr[np.diag_indices_from(corr)] = np.where(varying, 1.0, np.nan)
    return corr


def mean_pairwise_correlation(
    times: npt.ArrayLike,
    indices: npt.ArrayLike,
    *,
    n: int,
    t_start: float,
    t_stop: float,
    bin_ms: float,
    neurons: npt.ArrayLike | None = None,
) -> float:
    """Mean spike-count correlation over distinct pairs of neurons.

    **Arguments:**

    As for [`spike_count_correlations`][].

    **Returns:**

    The mean of the finite off-diagonal entries of the correlation matrix (pairs involving a
    neuron with constant counts are left out); NaN if there are none.
    """
    corr = spike_count_correlations(
        times, indices, n=n, t_start=t_start, t_stop=t_stop, bin_ms=bin_ms, neurons=neurons
    )
    pairs = corr[np.triu_indices_from(corr, k=1)]
    pairs = pairs[np.isfinite(pairs)]
    return float(pairs.mean()) if pairs.size else math.nan


def rate_power_spectrum(
    times: npt.ArrayLike, *, n: int, t_start: float, t_stop: float, bin_ms: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """Power spectral density of the population rate.

    The population rate `r` (Hz per neuron, in bins of `bin_ms` as in
    [`binned_population_rate`][]) has its mean subtracted, is multiplied by a periodic Hann
    window `w` and Fourier transformed. With `N` bins and sampling rate `fs = 1000 / bin_ms` Hz,
    the one-sided PSD is `P[k] = c[k] * |FFT(w * (r - mean(r)))[k]|^2 / (fs * sum(w^2))`, with
    `c[k] = 2` except at 0 Hz and (for even `N`) the Nyquist frequency, where `c[k] = 1`. Its
    units are Hz^2/Hz, and `sum(P) * fs / N` is the windowed variance of the rate. This is
    `scipy.signal.periodogram(r, fs, window="hann", detrend="constant")`.

    **Arguments:**

    - `times`: spike times in ms of all neurons, shape `(s,)`.
    - `n`: number of neurons in the population.
    - `t_start`, `t_stop`: analysis window in ms.
    - `bin_ms`: bin width in ms (the sampling period of the rate); at least 2 bins are needed.

    **Returns:**

    `(freqs_hz, power)`, both of shape `(N // 2 + 1,)`: frequencies from 0 Hz in steps of
    `fs / N`, and the PSD in Hz^2/Hz.
    """
    n = _check_n(n)
    t = _check_times(times)
    t_start, t_stop = _check_window(t_start, t_stop)
    counts = _binned(t, np.zeros(t.size, np.int64), 1, t_start, t_stop, bin_ms, min_bins=2)[:, 0]
    n_bins = _bin_edges(t_start, t_stop, bin_ms).size - 1
    rate = counts / (n * bin_ms / 1000.0)
    fs = 1000.0 / bin_ms
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_bins) / n_bins)
    spectrum = np.fft.rfft(window * (rate - rate.mean()))
    power = np.abs(spectrum) ** 2 / (fs * np.sum(window**2))
    power[1 : (n_bins + 1) // 2] *= 2.0
    freqs = np.fft.rfftfreq(n_bins, d=bin_ms / 1000.0).astype(np.float64)
    return freqs, power
