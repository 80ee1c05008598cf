"""Training: compiled train steps on optax, `fit`, checkpoints, losses, checkpointed scans."""

from ._checkpoint import Checkpoints as Checkpoints, checkpoint_position as checkpoint_position
from ._fit import FitResult as FitResult, fit as fit
from ._losses import (
    accuracy as accuracy,
    firing_rate_bounds as firing_rate_bounds,
    firing_rate_l2 as firing_rate_l2,
    max_membrane_cross_entropy as max_membrane_cross_entropy,
    spike_count_cross_entropy as spike_count_cross_entropy,
    spike_count_mse as spike_count_mse,
    sum_membrane_cross_entropy as sum_membrane_cross_entropy,
)
from ._scan import checkpointed_scan as checkpointed_scan
from ._step import (
    group_optimizer as group_optimizer,
    make_eval_step as make_eval_step,
    make_train_step as make_train_step,
)
