"""Tests of `brainsim.analysis` against closed forms for regular, Poisson and Gamma trains."""

import doctest
import importlib

import numpy as np
import pytest
import scipy.signal

from brainsim.analysis import (
    binned_population_rate,
    cv_isi,
    fano_factor,
    firing_rates,
    mean_cv_isi,
    mean_pairwise_correlation,
    population_rate,
    rate_power_spectrum,
    spike_count_correlations,
    spikes_to_binned,
)

T_MS = 20_000.0


def renewal_trains(rng, n, t_ms, rate_hz, shape=1.0):
    """Gamma renewal trains (Poisson for shape 1) of `n` neurons on `[0, t_ms)`, sorted by time."""
    mean_isi = 1000.0 / rate_hz
    n_draw = int(t_ms / mean_isi * 1.5 + 50)
    isi = rng.gamma(shape, mean_isi / shape, size=(n, n_draw))
    times = np.cumsum(isi, axis=1)
    assert np.all(times[:, -1] >= t_ms), "draw more intervals"
    idx = np.broadcast_to(np.arange(n)[:, None], times.shape)
    keep = times < t_ms
    times, idx = times[keep], idx[keep]
    order = np.argsort(times, kind="stable")
    return times[order], idx[order]


def modulated_poisson(rng, n, t_ms, rate_hz, depth, freq_hz):
    """Inhomogeneous Poisson trains with rate `rate_hz * (1 + depth * sin(2 pi freq t))`."""
    r_max = rate_hz * (1.0 + depth)
    times, idx = renewal_trains(rng, n, t_ms, r_max)
    rate = rate_hz * (1.0 + depth * np.sin(2.0 * np.pi * freq_hz * times / 1000.0))
    keep = rng.uniform(size=times.size) < rate / r_max  # thinning
    return times[keep], idx[keep]


@pytest.fixture(scope="module")
def poisson():
    rng = np.random.default_rng(0)
    return renewal_trains(rng, 200, T_MS, 10.0)


def regular(n=4, t_ms=2000.0, period=50.0):
    """`n` perfectly regular 20 Hz trains with different phases; no spike on a bin edge."""
    phases = 1.0 + np.arange(n) * period / (n + 1)
    times = (phases[:, None] + np.arange(0.0, t_ms, period)[None, :]).ravel()
    idx = np.repeat(np.arange(n), int(t_ms / period))
    return times, idx


# ----------------------------------------------------------------------------- regular trains


def test_regular_train_rates_cv_fano_exact():
    times, idx = regular()
    window = dict(t_start=0.0, t_stop=2000.0)
    assert np.array_equal(firing_rates(times, idx, n=4, **window), np.full(4, 20.0))
    assert population_rate(times, n=4, **window) == 20.0
    centres, rate = binned_population_rate(times, n=4, bin_ms=50.0, **window)
    assert np.array_equal(centres, 25.0 + 50.0 * np.arange(40))
    assert np.array_equal(rate, np.full(40, 20.0))
    assert np.array_equal(cv_isi(times, idx, n=4), np.zeros(4))
    assert mean_cv_isi(times, idx, n=4) == 0.0
    assert fano_factor(times, idx, n=4, bin_ms=50.0, **window) == 0.0


def test_rates_ignore_spikes_outside_window():
    times, idx = regular(n=2)
    rates = firing_rates(times, idx, n=3, t_start=500.0, t_stop=1500.0)
    assert np.array_equal(rates, [20.0, 20.0, 0.0])
    assert population_rate(times, n=4, t_start=500.0, t_stop=1500.0) == 10.0


# ----------------------------------------------------------------------------- binning


def test_spikes_to_binned_edges_and_partial_bin():
    times = [0.0, 9.999, 10.0, 29.9, 30.0, 35.0, -1.0]
    idx = [0, 0, 1, 1, 0, 1, 1]
    counts = spikes_to_binned(times, idx, n=2, t_start=0.0, t_stop=35.0, bin_ms=10.0)
    # Bins [0, 10), [10, 20), [20, 30); [30, 35) is a partial bin and dropped.
    assert counts.dtype.kind == "i"
    assert np.array_equal(counts, [[2, 0], [0, 1], [0, 1]])


def test_spikes_to_binned_matches_histogram(poisson):
    times, idx = poisson
    counts = spikes_to_binned(times, idx, n=200, t_start=1000.0, t_stop=3000.0, bin_ms=7.0)
    edges = 1000.0 + 7.0 * np.arange(286)  # 285 complete bins
    for j in (0, 17, 199):
        expected, _ = np.histogram(times[(idx == j) & (times < edges[-1])], bins=edges)
        assert np.array_equal(counts[:, j], expected)


def test_bins_tolerate_round_off():
    counts = spikes_to_binned([0.25], [0], n=1, t_start=0.0, t_stop=0.3, bin_ms=0.1)
    assert np.array_equal(counts, [[0], [0], [1]])


# ----------------------------------------------------------------------------- Poisson / Gamma


def test_poisson_rate_cv_fano_correlation(poisson):
    times, idx = poisson
    window = dict(n=200, t_start=0.0, t_stop=T_MS)
    assert abs(population_rate(times, **window) - 10.0) < 0.2
    assert abs(mean_cv_isi(times, idx, n=200) - 1.0) < 0.05
    assert abs(fano_factor(times, idx, bin_ms=100.0, **window) - 1.0) < 0.1
    assert abs(mean_pairwise_correlation(times, idx, bin_ms=50.0, **window)) < 0.02


def test_fano_averages_per_neuron_ratios_over_active_neurons():
    # Neuron 0 regular (Fano 0 with period-long bins), 1 Poisson at 40 Hz (Fano 1), 2 silent.
    reg_t, _ = regular(n=1, t_ms=T_MS)
    poi_t, _ = renewal_trains(np.random.default_rng(0), 1, T_MS, 40.0)
    times = np.concatenate([reg_t, poi_t])
    idx = np.repeat([0, 1], [reg_t.size, poi_t.size])
    f = fano_factor(times, idx, n=3, t_start=0.0, t_stop=T_MS, bin_ms=50.0)
    assert abs(f - 0.5) < 0.1


@pytest.mark.parametrize("shape", [2.0, 4.0, 9.0])
def test_gamma_renewal_cv(shape):
    times, idx = renewal_trains(np.random.default_rng(0), 100, T_MS, 10.0, shape=shape)
    expected = 1.0 / np.sqrt(shape)
    assert abs(mean_cv_isi(times, idx, n=100) - expected) < 0.05 * expected


def test_cv_isi_order_independent_and_few_spikes():
    times, idx = renewal_trains(np.random.default_rng(0), 5, 2000.0, 10.0, shape=3.0)
    times = np.concatenate([times, [5.0, 7.0, 1.0]])
    idx = np.concatenate([idx, [5, 5, 6]])  # neuron 5: two spikes, 6: one, 7: none
    cv = cv_isi(times, idx, n=8)
    perm = np.random.default_rng(0).permutation(times.size)
    assert np.array_equal(cv_isi(times[perm], idx[perm], n=8), cv, equal_nan=True)
    for j in range(5):
        isi = np.diff(times[idx == j])
        assert cv[j] == pytest.approx(isi.std() / isi.mean(), rel=1e-12)
    assert np.all(np.isnan(cv[5:]))
    assert np.isnan(mean_cv_isi([1.0, 2.0], [0, 1], n=2))


# ----------------------------------------------------------------------------- correlations


def test_identical_trains_correlate_exactly(poisson):
    times, idx = poisson
    copy = idx == 3
    times2 = np.concatenate([times, times[copy]])
    idx2 = np.concatenate([idx, np.full(np.count_nonzero(copy), 200)])
    corr = spike_count_correlations(
        times2, idx2, n=202, t_start=0.0, t_stop=T_MS, bin_ms=13.0, neurons=[3, 200, 5, 201]
    )
    assert corr.shape == (4, 4)
    assert corr[0, 1] == 1.0 and corr[1, 0] == 1.0
    assert abs(corr[0, 2]) < 0.2
    assert np.array_equal(np.diag(corr)[:3], np.ones(3))
    assert np.all(np.isnan(corr[3])) and np.all(np.isnan(corr[:, 3]))  # 201 is silent
    assert np.array_equal(corr, corr.T, equal_nan=True)


def test_correlations_match_corrcoef(poisson):
    times, idx = poisson
    kw = dict(n=200, t_start=0.0, t_stop=5000.0, bin_ms=20.0)
    counts = spikes_to_binned(times, idx, **kw)
    corr = spike_count_correlations(times, idx, **kw, neurons=np.arange(0, 200, 10))
    assert np.allclose(corr, np.corrcoef(counts[:, ::10].T), atol=1e-12)


def test_shared_mother_process_correlation():
    # Independent thinnings (prob p) of one Poisson train: count correlation p for any bin.
    rng = np.random.default_rng(0)
    mother, _ = renewal_trains(rng, 1, T_MS, 50.0)
    p, n = 0.2, 50
    keep = rng.uniform(size=(n, mother.size)) < p
    idx, which = np.nonzero(keep)
    times = mother[which]
    r = mean_pairwise_correlation(times, idx, n=n, t_start=0.0, t_stop=T_MS, bin_ms=20.0)
    assert abs(r - p) < 0.03


# ----------------------------------------------------------------------------- spectra


def test_spectrum_peak_at_modulation_frequency():
    rng = np.random.default_rng(0)
    times, _ = modulated_poisson(rng, 100, 5000.0, 10.0, depth=0.5, freq_hz=40.0)
    freqs, power = rate_power_spectrum(times, n=100, t_start=0.0, t_stop=5000.0)
    df = freqs[1] - freqs[0]
    assert df == pytest.approx(0.2)
    peak = freqs[1:][np.argmax(power[1:])]
    assert abs(peak - 40.0) <= df


def test_spectrum_matches_scipy_periodogram(poisson):
    times, _ = poisson
    kw = dict(n=200, t_start=0.0, t_stop=2001.0, bin_ms=2.0)  # odd number of bins
    freqs, power = rate_power_spectrum(times, **kw)
    _, rate = binned_population_rate(times, **kw)
    f_ref, p_ref = scipy.signal.periodogram(rate, fs=500.0, window="hann", detrend="constant")
    assert np.allclose(freqs, f_ref) and np.allclose(power, p_ref, rtol=1e-10, atol=0)
    freqs, power = rate_power_spectrum(times, n=200, t_start=0.0, t_stop=2000.0)  # even
    _, rate = binned_population_rate(times, n=200, t_start=0.0, t_stop=2000.0, bin_ms=1.0)
    f_ref, p_ref = scipy.signal.periodogram(rate, fs=1000.0, window="hann", detrend="constant")
    assert np.allclose(freqs, f_ref) and np.allclose(power, p_ref, rtol=1e-10, atol=0)


def test_poisson_spectrum_is_white_at_2nu_over_n(poisson):
    # n independent Poisson trains at nu Hz: one-sided PSD of the mean rate is 2 nu / n Hz^2/Hz.
    times, _ = poisson
    _, power = rate_power_spectrum(times, n=200, t_start=0.0, t_stop=T_MS, bin_ms=1.0)
    nu = population_rate(times, n=200, t_start=0.0, t_stop=T_MS)
    assert np.mean(power[1:]) == pytest.approx(2.0 * nu / 200, rel=0.05)


# ----------------------------------------------------------------------------- silent / empty


def test_silent_population_gives_nan_without_warnings():
    empty = np.array([])
    kw = dict(n=3, t_start=0.0, t_stop=100.0, bin_ms=10.0)
    assert np.isnan(fano_factor(empty, empty, **kw))
    assert np.all(np.isnan(spike_count_correlations(empty, empty, **kw)))
    assert np.isnan(mean_pairwise_correlation(empty, empty, **kw))
    assert np.isnan(mean_cv_isi(empty, empty, n=3))
    assert population_rate(empty, n=3, t_start=0.0, t_stop=100.0) == 0.0
    freqs, power = rate_power_spectrum(empty, n=3, t_start=0.0, t_stop=100.0)
    assert freqs.shape == power.shape == (51,) and np.all(power == 0.0)


# ----------------------------------------------------------------------------- validation

GOOD = dict(times=np.array([1.0, 2.0, 3.0]), indices=np.array([0, 1, 2]))
WINDOW = dict(n=3, t_start=0.0, t_stop=100.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: firing_rates(**GOOD, n=3, t_start=10.0, t_stop=5.0),
            r"t_stop \(5\.0\) must be greater than t_start \(10\.0\)",
        ),
        (lambda: population_rate([1.0], n=1, t_start=0.0, t_stop=0.0), r"t_stop \(0\.0\)"),
        (lambda: firing_rates(**GOOD, n=3, t_start=np.inf, t_stop=5.0), r"t_start \(inf\)"),
        (lambda: firing_rates([1.0, 2.0], [0, 7], **WINDOW), r"indices .*\[0, 3\).* 7"),
        (lambda: cv_isi([1.0, 2.0], [-1, 0], n=3), r"indices .* -1"),
        (lambda: cv_isi([1.0, 2.0], [0.5, 0], n=3), r"indices must be integers; got 0\.5"),
        (lambda: cv_isi([1.0, 2.0, 3.0], [0, 1], n=3), r"times \(length 3\) and indices"),
        (lambda: cv_isi([1.0, np.nan], [0, 1], n=3), r"times must be finite; got nan"),
        (lambda: cv_isi([[1.0]], [0], n=3), r"times must be one-dimensional"),
        (lambda: cv_isi([1.0], [0], n=0), r"n \(0\) must be a positive integer"),
        (lambda: population_rate([1.0], n=2.5, t_start=0, t_stop=1), r"n \(2\.5\)"),
        (lambda: spikes_to_binned(**GOOD, **WINDOW, bin_ms=0.0), r"bin_ms \(0\.0\) must be pos"),
        (lambda: binned_population_rate([1.0], **WINDOW, bin_ms=-2.0), r"bin_ms \(-2\.0\)"),
        (lambda: spikes_to_binned(**GOOD, **WINDOW, bin_ms=200.0), r"bin_ms \(200\.0\)"),
        (lambda: fano_factor(**GOOD, **WINDOW, bin_ms=60.0), r"bin_ms \(60\.0\).* 2 bin"),
        (lambda: rate_power_spectrum([1.0], **WINDOW, bin_ms=100.0), r"bin_ms \(100\.0\)"),
        (
            lambda: spike_count_correlations(**GOOD, **WINDOW, bin_ms=10.0, neurons=[0, 3]),
            r"neurons must lie in \[0, n\) = \[0, 3\); got 3",
        ),
        (
            lambda: mean_pairwise_correlation(**GOOD, **WINDOW, bin_ms=10.0, neurons=[[0]]),
            r"neurons must be one-dimensional",
        ),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_keyword_only():
    with pytest.raises(TypeError):
        firing_rates([1.0], [0], 1, 0.0, 10.0)  # type: ignore[misc]


# ----------------------------------------------------------------------------- doctests


@pytest.mark.parametrize("name", ["_spiketrains", "_spectral"])
def test_doctests(name):
    module = importlib.import_module(f"brainsim.analysis.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
