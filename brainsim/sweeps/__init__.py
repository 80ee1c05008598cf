"""Parameter sweeps: `vmap` over model leaves and seeds, chunked, resumable, sharded."""

from ._points import (
    Points as Points,
    grid as grid,
    latin_hypercube as latin_hypercube,
    parse_range as parse_range,
    point_list as point_list,
    random_samples as random_samples,
)
from ._summaries import (
    CVISI as CVISI,
    AbstractSummary as AbstractSummary,
    MeanRate as MeanRate,
    OrderParameter as OrderParameter,
    Synchrony as Synchrony,
    golomb_synchrony as golomb_synchrony,
    mean_cv_isi as mean_cv_isi,
    mean_rate as mean_rate,
)
from ._sweep import (
    SweepResult as SweepResult,
    check_targets as check_targets,
    set_leaves as set_leaves,
    sweep as sweep,
)
