"""AKOrN training wrappers (Miyato et al., ICLR 2025): the `akorn_sudoku` and
`akorn_objects` tasks of `brainsim train`.

The layers (oscillator features, tangent projection, rotation, convolution and
attention couplings, the Kuramoto block, read-out) live in
`brainsim.oscillators._akorn_layers`; the Sudoku model, puzzle generator and task in
`_akorn_sudoku*.py`; the object-discovery model, shape dataset, clustering and FG-ARI in
`_akorn_objects*.py`. Importing this module registers both tasks.
"""

from ._akorn_objects import (
    AKOrNObjectsConfig as AKOrNObjectsConfig,
    ObjectAKOrN as ObjectAKOrN,
    adjusted_rand_index as adjusted_rand_index,
    evaluate_objects as evaluate_objects,
    fg_ari as fg_ari,
    kmeans as kmeans,
    nt_xent as nt_xent,
)
from ._akorn_objects_data import make_shapes as make_shapes
from ._akorn_sudoku import (
    AKOrNSudokuConfig as AKOrNSudokuConfig,
    SudokuAKOrN as SudokuAKOrN,
    evaluate_sudoku as evaluate_sudoku,
    sudoku_loss as sudoku_loss,
)
from ._akorn_sudoku_data import (
    make_puzzle as make_puzzle,
    make_sudoku_set as make_sudoku_set,
    solve_sudoku as solve_sudoku,
)
