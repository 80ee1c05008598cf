"""Networks: populations and projections composed into one dynamical system."""

from ._delay import Delay as Delay, DelayState as DelayState
from ._gap import GapJunction as GapJunction, reverse as reverse, symmetrize as symmetrize
from ._learnable_delay import (
    LearnableDelay as LearnableDelay,
    round_delays as round_delays,
)
from ._network import Network as Network, NetworkState as NetworkState
from ._partition import (
    PartitionedNetwork as PartitionedNetwork,
    integrate_partitioned as integrate_partitioned,
    neuron_mesh as neuron_mesh,
    partition as partition,
)
from ._projection import (
    AbstractProjection as AbstractProjection,
    Projection as Projection,
    ProjectionState as ProjectionState,
)
