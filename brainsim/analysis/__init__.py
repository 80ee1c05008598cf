"""Host-side spike-train analysis: rates, ISI variability, Fano factors, correlations, spectra.

All functions take NumPy arrays of spike times (ms) and, where needed, neuron indices in
`[0, n)`, as `brainsim.simulate` returns them per population; rates are in Hz.
"""

from ._spectral import mean_pairwise_correlation as mean_pairwise_correlation
from ._spectral import rate_power_spectrum as rate_power_spectrum
from ._spectral import spike_count_correlations as spike_count_correlations
from ._spiketrains import binned_population_rate as binned_population_rate
from ._spiketrains import cv_isi as cv_isi
from ._spiketrains import fano_factor as fano_factor
from ._spiketrains import firing_rates as firing_rates
from ._spiketrains import mean_cv_isi as mean_cv_isi
from ._spiketrains import population_rate as population_rate
from ._spiketrains import spikes_to_binned as spikes_to_binned
