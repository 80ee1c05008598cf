"""Local learning rules: pair and triplet STDP, three-factor STDP, homeostasis.

Rules are `eqx.Module`s of parameters with a pure `step(state, w, pre_ids, post_ids,
pre_spikes, post_spikes, dt, modulation)`; `PlasticProjection` runs one on the synapses
of a sparse projection.
"""

from ._dc_dense import dense_stdp_step as dense_stdp_step, spike_indices as spike_indices
from ._events import EventIndex as EventIndex, apply_changes as apply_changes
from ._homeostasis import (
    AdaptiveThreshold as AdaptiveThreshold,
    AdaptiveThresholdState as AdaptiveThresholdState,
    check_normalization as check_normalization,
    normalize_incoming as normalize_incoming,
)
from ._plastic_projection import (
    PlasticProjection as PlasticProjection,
    PlasticProjectionState as PlasticProjectionState,
)
from ._stdp import (
    AbstractPlasticityRule as AbstractPlasticityRule,
    PairSTDP as PairSTDP,
    PairSTDPState as PairSTDPState,
)
from ._three_factor import (
    ThreeFactorSTDP as ThreeFactorSTDP,
    ThreeFactorSTDPState as ThreeFactorSTDPState,
)
from ._traces import add_spikes as add_spikes, decay as decay, pair_terms as pair_terms
from ._triplet import TripletSTDP as TripletSTDP, TripletSTDPState as TripletSTDPState
