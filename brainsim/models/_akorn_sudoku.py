"""AKOrN on Sudoku (Miyato et al., ICLR 2025, section 5.2): the model and the task.

Each of the 81 cells holds `channels / dim` oscillators. The clues enter as the
stimulus `c` (a learned embedding of the digit, 0 for a blank); the oscillators start
at random, couple by attention across the cells for `T` steps, and a read-out module
and a 1 x 1 convolution give the digit logits of every cell. At test time more steps
run (`T_eval`), and energy voting keeps, out of `K` random initial states, the one
whose oscillators end at the lowest energy.
"""

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Literal, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from ..data import DataLoader
from ..oscillators._akorn_layers import (
    AttentionCoupling,
    KuramotoBlock,
    ReadOut,
    Rotation,
    readout_stack,
    run_blocks,
)
from ..oscillators._common import check_count
from ..train import fit
from ._akorn_sudoku_data import make_sudoku_set
from ._sudoku_transformer import SudokuTransformer
from ._tasks import TrainRun, register_task


class SudokuAKOrN(eqx.Module):
    """Attention-coupled AKOrN for 9 x 9 Sudoku.

    **Arguments:**

    - `channels`: feature channels `C` (a multiple of `dim` and of `heads`).
    - `dim`: oscillator dimension `N`; `heads`: attention heads.
    - `n_blocks`: `L`, Kuramoto blocks with a read-out module after each.
    - `n_steps`: `T` per block in training; `gamma`: the step.
    - `omega`: initial natural frequency (learned, one generator shared by all
      oscillators as in the paper), `None` for no rotation.
    - `key`: PRNG key.
    """

    embed: Float[Array, "10 c"]
    blocks: tuple[KuramotoBlock, ...]
    readouts: tuple[tuple[ReadOut, eqx.nn.Conv2d], ...]
    head: eqx.nn.Conv2d
    channels: int = eqx.field(static=True)

    def __init__(
        self,
        channels: int = 512,
        dim: int = 4,
        heads: int = 8,
        n_blocks: int = 1,
        n_steps: int = 16,
        gamma: float = 1.0,
        omega: float | None = 0.5,
        *,
        key,
    ):
        check_count("n_blocks", n_blocks, minimum=1)
        keys = jr.split(key, 3 * n_blocks + 2)
        self.embed = jr.normal(keys[0], (10, channels)) / np.sqrt(channels)
        self.blocks = tuple(
            KuramotoBlock(
                AttentionCoupling(channels, heads, n_sites=81, key=keys[1 + 3 * i]),
                channels=channels,
                dim=dim,
                n_steps=n_steps,
                gamma=gamma,
                omega=None if omega is None else Rotation(channels, dim, omega=omega),
                normalise_stimulus=False,
            )
            for i in range(n_blocks)
        )
        self.readouts = readout_stack(
            channels, dim, [(keys[2 + 3 * i], keys[3 + 3 * i]) for i in range(n_blocks)]
        )
        self.head = eqx.nn.Conv2d(channels, 9, 1, key=keys[-1])
        self.channels = channels

    def __call__(
        self, puzzle: Int[Array, "9 9"], *, key, n_steps: int | None = None
    ) -> tuple[Float[Array, "81 9"], Float[Array, ""]]:
        """Digit logits of every cell and the final energy of the last block.

        **Arguments:**

        - `puzzle`: `(9, 9)` digits, 0 for a blank.
        - `key`: PRNG key for the initial oscillators.
        - `n_steps`: steps per block (default: the training `T`).

        **Returns:** `(logits, energy)`: `(81, 9)` logits (digit 1..9 as class 0..8,
        cells row-major) and the energy after the last step.
        """
        c = jnp.moveaxis(self.embed[puzzle.astype(jnp.int32)], -1, 0)  # (C, 9, 9)
        x = jr.normal(key, c.shape, c.dtype)
        x, c, energies = run_blocks(self.blocks, self.readouts, x, c, n_steps=n_steps)
        energy = energies[-1]
        logits = self.head(jax.nn.relu(c))  # (9, 9, 9): digit, row, col
        return logits.reshape(9, 81).T, energy

    def position_biases(self) -> tuple[Array | None, ...]:
        """The attention biases over pairs of cells (they learn at their own rate)."""
        return tuple(cast(AttentionCoupling, b.coupling).site_bias for b in self.blocks)


def board_predictions(logits: Array, puzzle: Array) -> Array:
    """Predicted digits `(..., 81)`: the clues as given, the blanks from the logits."""
    flat = puzzle.reshape(*puzzle.shape[:-2], 81).astype(jnp.int32)
    guess = jnp.argmax(logits, axis=-1).astype(jnp.int32) + 1
    return jnp.where(flat > 0, flat, guess)


def sudoku_loss(
    model: SudokuAKOrN | SudokuTransformer, batch, key
) -> tuple[Array, dict[str, Array]]:
    """Cross-entropy over all 81 cells; metrics: `accuracy` over the blank cells (which
    selects the best model in `fit`: board accuracy is 0 for long early on, a tie that
    would keep the first epoch) and `board_accuracy`."""
    puzzles, solutions = batch
    puzzles = jnp.asarray(puzzles)
    target = jnp.asarray(solutions).reshape(-1, 81).astype(jnp.int32) - 1
    keys = jr.split(key, puzzles.shape[0])
    logits, _ = jax.vmap(lambda p, k: model(p, key=k))(puzzles, keys)
    logp = jax.nn.log_softmax(logits, axis=-1)
    loss = -jnp.mean(jnp.take_along_axis(logp, target[..., None], axis=-1))
    pred = board_predictions(logits, puzzles)
    correct = pred == target + 1
    blank = puzzles.reshape(-1, 81) == 0
    cell_acc = jnp.sum(correct & blank) / jnp.maximum(jnp.sum(blank), 1)
    board_acc = jnp.mean(jnp.all(correct, axis=-1).astype(logits.dtype))
    return loss, {"accuracy": cell_acc.astype(logits.dtype), "board_accuracy": board_acc}


@eqx.filter_jit
def _solve_batch(model, puzzles, keys, n_steps: int):
    """Predictions `(B, 81)` after energy voting over the `K` keys per puzzle `(B, K)`."""

    def one(puzzle, ks):
        logits, energy = jax.vmap(lambda k: model(puzzle, key=k, n_steps=n_steps))(ks)
        best = jnp.argmin(energy)
        return board_predictions(logits[best], puzzle), board_predictions(logits[0], puzzle)

    return jax.vmap(one)(puzzles, keys)


def evaluate_sudoku(
    model: SudokuAKOrN,
    puzzles: np.ndarray,
    solutions: np.ndarray,
    *,
    n_steps: int,
    n_votes: int = 1,
    batch_size: int = 50,
    key,
) -> dict[str, Any]:
    """Board accuracy with one random initial state and with energy voting.

    **Arguments:**

    - `model`, `puzzles` / `solutions` `(n, 9, 9)`.
    - `n_steps`: steps per block at test time (`T_eval`).
    - `n_votes`: `K` random initial states per puzzle; the one ending at the lowest
      energy answers (`K = 1`: no voting).
    - `batch_size`, `key`.

    **Returns:** a dict with `board_accuracy` (first initial state), `board_accuracy_vote`
    (energy voting), and both by number of clues (`by_givens`: clues -> [n, single,
    vote]).
    """
    n = len(puzzles)
    single = np.zeros(n, bool)
    vote = np.zeros(n, bool)
    for start in range(0, n, batch_size):
        sl = slice(start, min(start + batch_size, n))
        b = sl.stop - sl.start
        keys = jr.split(jr.fold_in(key, start), b * n_votes).reshape(b, n_votes)
        p_vote, p_one = _solve_batch(model, jnp.asarray(puzzles[sl]), keys, n_steps)
        truth = solutions[sl].reshape(b, 81)
        vote[sl] = np.all(np.asarray(p_vote) == truth, axis=1)
        single[sl] = np.all(np.asarray(p_one) == truth, axis=1)
    givens = (puzzles > 0).reshape(n, 81).sum(1)
    by_givens = {
        int(g): [
            int(np.sum(givens == g)),
            float(single[givens == g].mean()),
            float(vote[givens == g].mean()),
        ]
        for g in np.unique(givens)
    }
    return {
        "board_accuracy": float(single.mean()),
        "board_accuracy_vote": float(vote.mean()),
        "n_votes": n_votes,
        "n_steps": n_steps,
        "n_puzzles": n,
        "by_givens": by_givens,
    }


@dataclasses.dataclass(frozen=True)
class SudokuData:
    """Puzzle sets: sizes, clue ranges and the seed that fixes them."""

    n_train: int = 9000
    n_val: int = 200
    n_test: int = 1000
    n_test_ood: int = 1000
    givens: tuple[int, int] = (31, 42)
    givens_ood: tuple[int, int] = (17, 27)
    seed: int = 2025

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test", "n_test_ood"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name}: must be >= 1")
        for name in ("givens", "givens_ood"):
            lo, hi = getattr(self, name)
            if not 17 <= lo <= hi <= 81:
                raise ValueError(f"data.{name}: need 17 <= low <= high <= 81, got {lo}, {hi}")


@dataclasses.dataclass(frozen=True)
class AKOrNSudokuConfig:
    """`akorn_sudoku`: defaults are the paper's (section 5.2 and its code).

    `model: transformer` trains the paper's baseline instead (`SudokuTransformer`,
    `n_blocks` layers with MLPs `mlp_ratio` times as wide as `channels`), the same way.
    """

    model: Literal["akorn", "transformer"] = "akorn"
    channels: int = 512
    dim: int = 4
    heads: int = 8
    n_blocks: int = 1
    n_steps: int = 16
    n_steps_eval: int = 128
    gamma: float = 1.0
    omega: float = 0.5
    epochs: int = 100
    batch_size: int = 100
    learning_rate: float = 1e-3
    position_learning_rate: float = 1e-3
    n_votes: int = 100
    checkpoint_every_steps: int = 100
    mlp_ratio: int = 2
    data: SudokuData = SudokuData()

    def __post_init__(self) -> None:
        for name in (
            "channels",
            "dim",
            "heads",
            "n_blocks",
            "n_steps",
            "n_steps_eval",
            "epochs",
            "batch_size",
            "n_votes",
            "checkpoint_every_steps",
            "mlp_ratio",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.channels % self.dim or self.channels % self.heads:
            raise ValueError(f"channels: must be a multiple of dim and heads, got {self.channels}")
        if not (self.gamma > 0 and self.learning_rate > 0 and self.position_learning_rate > 0):
            raise ValueError("gamma, learning_rate, position_learning_rate: must be positive")
        if self.batch_size > self.data.n_train:
            raise ValueError("batch_size: larger than data.n_train")


def _optimizer(
    model: SudokuAKOrN | SudokuTransformer, lr: float, position_lr: float
) -> optax.GradientTransformation:
    """Adam, with its own rate for the attention's site bias (the position code).

    (`brainsim.train.group_optimizer` would do, but it hands optax the label tree, which
    optax calls when it is a callable module such as this one: so the labels go in a
    function here.)
    """
    params = eqx.filter(model, eqx.is_inexact_array)
    labels = jax.tree_util.tree_map(lambda _: "rest", params)
    biases = model.position_biases()
    labels = eqx.tree_at(lambda m: m.position_biases(), labels, tuple("position" for _ in biases))
    transforms = {"rest": optax.adam(lr), "position": optax.adam(position_lr)}
    return optax.multi_transform(transforms, lambda _: labels)


def _load_or_make(path: Path, n: int, givens: tuple[int, int], seed: int):
    if path.is_file():  # made by an earlier (interrupted) run with the same settings
        with np.load(path) as f:
            if f["puzzles"].shape[0] == n and int(f["seed"]) == seed:
                return f["puzzles"], f["solutions"]
    puzzles, solutions = make_sudoku_set(n, min_givens=givens[0], max_givens=givens[1], seed=seed)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, puzzles=puzzles, solutions=solutions, seed=seed)
    tmp.rename(path)
    return puzzles, solutions


@register_task("akorn_sudoku", AKOrNSudokuConfig)
def _train(config: AKOrNSudokuConfig, run: TrainRun) -> dict[str, Any]:
    d = config.data
    folder = run.out_dir / "data"
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    n_id = d.n_train + d.n_val + d.n_test
    puzzles, solutions = _load_or_make(folder / "sudoku_id.npz", n_id, d.givens, d.seed)
    ood_p, ood_s = _load_or_make(folder / "sudoku_ood.npz", d.n_test_ood, d.givens_ood, d.seed + 1)
    data_seconds = time.perf_counter() - t0
    split = (d.n_train, d.n_train + d.n_val)
    train = DataLoader(
        (puzzles[: split[0]], solutions[: split[0]]), config.batch_size, seed=run.seed
    )
    val_p, val_s = puzzles[split[0] : split[1]], solutions[split[0] : split[1]]
    val = [
        (val_p[i : i + config.batch_size], val_s[i : i + config.batch_size])
        for i in range(0, len(val_p), config.batch_size)
    ]
    key = jr.key(run.seed)
    model: SudokuAKOrN | SudokuTransformer
    if config.model == "transformer":
        model = SudokuTransformer(
            config.channels,
            config.heads,
            config.n_blocks,
            config.mlp_ratio,
            key=jr.fold_in(key, 0),
        )
    else:
        model = SudokuAKOrN(
            config.channels,
            config.dim,
            config.heads,
            config.n_blocks,
            config.n_steps,
            config.gamma,
            config.omega,
            key=jr.fold_in(key, 0),
        )
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)))
    optimizer = _optimizer(model, config.learning_rate, config.position_learning_rate)
    t1 = time.perf_counter()
    result = fit(
        model,
        sudoku_loss,
        train,
        optimizer=optimizer,
        epochs=config.epochs,
        key=jr.fold_in(key, 1),
        val_data=val,
        metrics_path=run.out_dir / "metrics.jsonl",
        checkpoint_dir=run.out_dir / "checkpoints",
        checkpoint_every_steps=config.checkpoint_every_steps,
        resume=run.resume,
        progress=run.progress,
    )
    train_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    test_p, test_s = puzzles[split[1] :], solutions[split[1] :]
    eval_key = jr.fold_in(key, 2)
    test = evaluate_sudoku(
        result.model, test_p, test_s, n_steps=config.n_steps_eval, n_votes=1, key=eval_key
    )
    test_train_t = evaluate_sudoku(
        result.model, test_p, test_s, n_steps=config.n_steps, n_votes=1, key=eval_key
    )
    ood = evaluate_sudoku(
        result.model,
        ood_p,
        ood_s,
        n_steps=config.n_steps_eval,
        n_votes=config.n_votes,
        key=eval_key,
    )
    summary = {
        "model": config.model,
        "n_params": int(n_params),
        "test_board_accuracy": test["board_accuracy"],
        "test_board_accuracy_train_steps": test_train_t["board_accuracy"],
        "ood_board_accuracy": ood["board_accuracy"],
        "ood_board_accuracy_vote": ood["board_accuracy_vote"],
        "ood_by_givens": ood["by_givens"],
        "n_votes": config.n_votes,
        "val_cell_accuracy": result.history[-1].get("val_accuracy") if result.history else None,
        "best_epoch": result.best_epoch,
        "data_seconds": data_seconds,
        "train_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - t2,
    }
    (run.out_dir / "evaluation.json").write_text(json.dumps(summary, indent=1))
    return summary
