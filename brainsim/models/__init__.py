"""Training wrappers and the task registry that `brainsim train` runs.

- Surrogate-gradient classifiers: `SpikingNetwork` (task `snn_classifier`).
- Liquid state machines: `Liquid`, `LSM`, `NALSM`, readouts, the zero-shot LSM
  (tasks `lsm`, `nalsm`).
- Diehl & Cook (2015) unsupervised STDP: `DiehlCook` (task `stdp_mnist`).
- DCLS learnable delays: `DCLSNet` (task `dcls`).
- AKOrN: `SudokuAKOrN`, `ObjectAKOrN` (tasks `akorn_sudoku`, `akorn_objects`).
"""

from ._akorn import (
    ObjectAKOrN as ObjectAKOrN,
    SudokuAKOrN as SudokuAKOrN,
    evaluate_objects as evaluate_objects,
    evaluate_sudoku as evaluate_sudoku,
    fg_ari as fg_ari,
    make_shapes as make_shapes,
    make_sudoku_set as make_sudoku_set,
    solve_sudoku as solve_sudoku,
)
from ._dcls import DCLSLayer as DCLSLayer, DCLSNet as DCLSNet, to_network as to_network
from ._diehl_cook import (
    DiehlCook as DiehlCook,
    DiehlCookParams as DiehlCookParams,
    respond as respond,
    train_block as train_block,
)
from ._diehl_cook_readout import assign_labels as assign_labels, classify as classify
from ._liquid import Liquid as Liquid, build_liquid as build_liquid
from ._liquid_readout import (
    LinearReadout as LinearReadout,
    ridge_readout as ridge_readout,
    train_linear_readout as train_linear_readout,
)
from ._liquid_zeroshot import (
    ProjectionHeads as ProjectionHeads,
    info_nce as info_nce,
    train_projection_heads as train_projection_heads,
    zero_shot_accuracy as zero_shot_accuracy,
)
from ._lsm import LSM as LSM
from ._nalsm import NALSM as NALSM, branching_factors as branching_factors
from ._snn import SpikingLayer as SpikingLayer, SpikingNetwork as SpikingNetwork
from ._tasks import (
    Task as Task,
    TrainConfig as TrainConfig,
    TrainRun as TrainRun,
    known_tasks as known_tasks,
    load_train_config as load_train_config,
    register_task as register_task,
    run_task as run_task,
)
