"""AKOrN tasks: the Sudoku generator and solver, the shapes set, clustering scores, the
contrastive loss, and both `brainsim train` tasks end to end at a tiny size."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from brainsim.models import TrainRun, load_train_config, run_task
from brainsim.models._akorn import (
    adjusted_rand_index,
    fg_ari,
    kmeans,
    make_shapes,
    make_sudoku_set,
    nt_xent,
    solve_sudoku,
)
from brainsim.models._akorn_sudoku_data import is_valid_solution

# A published puzzle with a unique solution (Wikipedia's "Sudoku" example).
PUZZLE = "530070000600195000098000060800060003400803001700020006060000280000419005000080079"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


def _grid(s):
    return np.array([int(ch) for ch in s]).reshape(9, 9)


def test_solver_finds_the_known_solution_and_detects_ambiguity():
    count, first = solve_sudoku(_grid(PUZZLE), limit=2)
    assert count == 1
    np.testing.assert_array_equal(first, _grid(SOLUTION))
    # a "deadly pattern": rows 0 and 3, columns 3 and 4 hold 6 7 / 7 6 in two boxes, so
    # blanking those four cells leaves exactly two solutions
    ambiguous = _grid(SOLUTION)
    ambiguous[[0, 0, 3, 3], [3, 4, 3, 4]] = 0
    assert solve_sudoku(ambiguous, limit=3)[0] == 2
    assert solve_sudoku(np.zeros((9, 9), int), limit=2)[0] == 2
    bad = _grid(SOLUTION)
    bad[0, 1] = bad[0, 0]  # a repeated digit in row 0
    assert solve_sudoku(bad)[0] == 0


def test_generated_puzzles_are_unique_valid_and_seeded():
    puzzles, solutions = make_sudoku_set(6, min_givens=31, max_givens=42, seed=3)
    again, _ = make_sudoku_set(6, min_givens=31, max_givens=42, seed=3)
    np.testing.assert_array_equal(puzzles, again)
    givens = (puzzles > 0).sum((1, 2))
    assert np.all((givens >= 31) & (givens <= 42))
    for p, s in zip(puzzles, solutions, strict=True):
        assert is_valid_solution(s)
        np.testing.assert_array_equal(p[p > 0], s[p > 0])
        count, first = solve_sudoku(p, limit=2)
        assert count == 1
        np.testing.assert_array_equal(first, s)


def test_shapes_images_match_their_masks():
    images, masks = make_shapes(5, size=32, block=4, n_objects=3, seed=1)
    fg = images.sum(1) > 0
    np.testing.assert_array_equal(fg, masks > 0)
    for m in masks:
        counts = np.bincount(m.ravel(), minlength=4)
        np.testing.assert_array_equal(counts[1:], [64, 64, 64])  # 4 blocks of 4x4 px
    one_colour, _ = make_shapes(3, n_colors=1, seed=1)
    assert set(np.unique(one_colour[:, 0])) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="n_colors"):
        make_shapes(1, n_colors=7)


def test_ari_by_hand_and_fg_ari():
    # contingency [[2,0,0],[0,1,1]]: index 1, row pairs 2, col pairs 1, expected 1/3
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 2, 2]) == 1.0
    assert adjusted_rand_index([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(-0.5)
    masks = np.array([[[0, 1], [2, 2]]])
    assert fg_ari(masks, np.array([[[7, 3], [4, 4]]])) == 1.0  # background ignored
    assert fg_ari(masks, np.array([[[7, 3], [3, 4]]])) < 1.0


def test_kmeans_separates_clusters_and_nt_xent_by_hand(getkey):
    centres = jnp.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    points = jnp.repeat(centres, 10, axis=0) + 0.1 * jr.normal(getkey(), (30, 2))
    labels = np.asarray(kmeans(points, 3, key=getkey()))
    assert adjusted_rand_index(np.repeat(np.arange(3), 10), labels) == 1.0
    z1 = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    z2 = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    t = 0.5
    # sample 0's partner is sample 2 (cos 1); its others: 1 (cos 0), 3 (cos 0)
    loss0 = -np.log(np.exp(2.0) / (np.exp(2.0) + 2.0))
    assert float(nt_xent(z1, z2, t)) == pytest.approx(loss0, rel=1e-6)  # all four alike


def _tiny(task, **extra):
    config = {
        "task": task,
        "channels": 8,
        "dim": 4,
        "heads": 2,
        "n_steps": 2,
        "epochs": 1,
        "batch_size": 4,
        "checkpoint_every_steps": 100,
        **extra,
    }
    return load_train_config(config)


@pytest.mark.parametrize("model", ["akorn", "transformer"])
def test_akorn_sudoku_task_end_to_end(tmp_path, model):
    config = _tiny(
        "akorn_sudoku",
        model=model,
        n_steps_eval=2,
        n_votes=1,
        data={"n_train": 8, "n_val": 4, "n_test": 4, "n_test_ood": 4},
    )
    out = tmp_path / "sudoku"
    summary = run_task(config, TrainRun(out_dir=out, progress=False))
    for k in ("test_board_accuracy", "ood_board_accuracy", "ood_board_accuracy_vote"):
        assert 0.0 <= summary[k] <= 1.0
    assert sum(v[0] for v in summary["ood_by_givens"].values()) == 4
    assert summary["model"] == model and summary["n_params"] > 0
    assert json.loads((out / "evaluation.json").read_text())["n_votes"] == 1
    assert (out / "checkpoints").is_dir() and (out / "data" / "sudoku_id.npz").is_file()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "val_board_accuracy" in json.loads(lines[0])


def test_akorn_objects_task_end_to_end(tmp_path):
    config = _tiny(
        "akorn_objects",
        proj_dim=8,
        data={"n_train": 8, "n_test": 4, "image_size": 16, "block": 2, "n_objects": 2},
    )
    summary = run_task(config, TrainRun(out_dir=tmp_path / "objects", progress=False))
    for k in ("test_fg_ari", "test_fg_ari_untrained", "test_fg_ari_colour_kmeans"):
        assert -1.0 <= summary[k] <= 1.0
    assert np.isfinite(summary["final_loss"])


@pytest.mark.parametrize(
    ("task", "key", "value", "needle"),
    [
        ("akorn_sudoku", "channels", 10, "channels"),
        ("akorn_sudoku", "n_steps", 0, "n_steps"),
        ("akorn_sudoku", "model", "rnn", "model"),
        ("akorn_sudoku", "mlp_ratio", 0, "mlp_ratio"),
        ("akorn_objects", "coupling", "dense", "coupling"),
        ("akorn_objects", "patch", 5, "patch"),
    ],
)
def test_bad_task_configs(task, key, value, needle):
    with pytest.raises(ValueError, match=needle):
        load_train_config({"task": task, key: value})


def test_sudoku_model_is_seeded_and_the_vote_takes_the_lowest_energy(getkey):
    from brainsim.models._akorn import SudokuAKOrN
    from brainsim.models._akorn_sudoku import _solve_batch, board_predictions

    model = SudokuAKOrN(8, 4, 2, 1, 2, key=getkey())
    puzzle = jnp.asarray(_grid(PUZZLE))
    run = eqx.filter_jit(jax.vmap(lambda k: model(puzzle, key=k)))
    logits, energies = run(jnp.stack([jr.key(1), jr.key(1), jr.key(2), jr.key(3)]))
    np.testing.assert_array_equal(logits[0], logits[1])
    assert logits.shape == (4, 81, 9) and energies.shape == (4,)
    assert len(set(np.asarray(energies[1:]).tolist())) == 3  # the initial state matters
    keys = jnp.stack([jr.key(1), jr.key(2), jr.key(3)])
    vote, first = _solve_batch(model, puzzle[None], keys[None], 2)
    best = 1 + int(jnp.argmin(energies[1:]))
    np.testing.assert_array_equal(vote[0], board_predictions(logits[best], puzzle))
    np.testing.assert_array_equal(first[0], board_predictions(logits[1], puzzle))


@pytest.mark.parametrize("kind", ["akorn", "transformer"])
def test_sudoku_position_bias_learns_at_its_own_rate(getkey, kind):
    from brainsim.models._akorn_sudoku import SudokuAKOrN, _optimizer, sudoku_loss
    from brainsim.models._sudoku_transformer import SudokuTransformer

    if kind == "akorn":
        model = SudokuAKOrN(8, 4, 2, 1, 2, key=getkey())
    else:
        model = SudokuTransformer(8, 2, 2, key=getkey())
    puzzle = jnp.asarray(_grid(PUZZLE))[None]
    solution = jnp.asarray(_grid(SOLUTION))[None]
    grads = eqx.filter_grad(lambda m: sudoku_loss(m, (puzzle, solution), jr.key(0))[0])(model)
    opt = _optimizer(model, 0.0, 0.1)  # only the position biases move
    with jax.numpy_dtype_promotion("standard"):  # optax mixes int steps and floats
        updates, _ = opt.update(grads, opt.init(eqx.filter(model, eqx.is_inexact_array)))
    moved = eqx.apply_updates(model, updates)
    for before, after in zip(model.position_biases(), moved.position_biases(), strict=True):
        assert float(jnp.max(jnp.abs(after - before))) > 0.01

    def rest(m):
        return eqx.tree_at(lambda t: t.position_biases(), m, replace_fn=jnp.zeros_like)

    for a, b in zip(jax.tree_util.tree_leaves(rest(model)), jax.tree_util.tree_leaves(rest(moved))):
        np.testing.assert_array_equal(a, b)
    if kind == "transformer":  # no oscillators: the key does not matter
        l1, e1 = model(puzzle[0], key=jr.key(1))
        l2, _ = model(puzzle[0], key=jr.key(2))
        np.testing.assert_array_equal(l1, l2)
        assert float(e1) == 0.0
