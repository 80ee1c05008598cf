"""Host-side spike-train analysis: rates, ISI variability, Fano factors, correlations, spectra,
and the branching factor of a network.

All functions take NumPy arrays of spike times (ms) and, where needed, neuron indices in
`[0, n)`, as `brainsim.simulate` returns them per population; rates are in Hz. The
branching factor takes a spike raster (steps x neurons) and the connectivity instead.
"""

from ._branching import (
    branching_factor as branching_factor,
    branching_ratios as branching_ratios,
)
from ._spectral import (
    mean_pairwise_correlation as mean_pairwise_correlation,
    rate_power_spectrum as rate_power_spectrum,
    spike_count_correlations as spike_count_correlations,
)
from ._spiketrains import (
    binned_population_rate as binned_population_rate,
    cv_isi as cv_isi,
    fano_factor as fano_factor,
    firing_rates as firing_rates,
    mean_cv_isi as mean_cv_isi,
    population_rate as population_rate,
    spikes_to_binned as spikes_to_binned,
)
