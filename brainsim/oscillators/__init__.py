"""Oscillators: phase (Kuramoto), amplitude (Stuart-Landau), vector (AKOrN) and
neural-mass (Wilson-Cowan, Jansen-Rit) models, with their order parameters."""

from ._akorn import AKOrN as AKOrN, AKOrNState as AKOrNState
from ._akorn_layers import (
    AttentionCoupling as AttentionCoupling,
    ConvCoupling as ConvCoupling,
    KuramotoBlock as KuramotoBlock,
    ReadOut as ReadOut,
    Rotation as Rotation,
    group_norm as group_norm,
    normalise_groups as normalise_groups,
    project_tangent as project_tangent,
)
from ._common import (
    local_order_parameter as local_order_parameter,
    order_parameter as order_parameter,
)
from ._delayed import DelayedCoupling as DelayedCoupling
from ._jansen_rit import JansenRit as JansenRit, JansenRitState as JansenRitState
from ._kuramoto import (
    Kuramoto as Kuramoto,
    KuramotoState as KuramotoState,
    ott_antonsen_order_parameter as ott_antonsen_order_parameter,
    stationary_order_parameter as stationary_order_parameter,
)
from ._stuart_landau import (
    StuartLandau as StuartLandau,
    StuartLandauState as StuartLandauState,
)
from ._wilson_cowan import WilsonCowan as WilsonCowan, WilsonCowanState as WilsonCowanState
