"""Training checkpoints with orbax: flat dicts of arrays, written atomically."""

import os
from pathlib import Path
from typing import Any

import jax
import jax.tree_util as jtu
import numpy as np


def flatten_leaves(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    """The array leaves of `tree` as `{prefix/000000: array}` (numpy, on the host)."""
    leaves = jtu.tree_leaves(tree)
    return {f"{prefix}/{i:06d}": np.asarray(x) for i, x in enumerate(leaves)}


def unflatten_leaves(flat: dict[str, Any], prefix: str, template: Any) -> Any:
    """Put the arrays saved by `flatten_leaves(..., prefix)` back into `template`'s tree."""
    leaves, treedef = jtu.tree_flatten(template)
    saved = sorted(k for k in flat if k.startswith(prefix + "/"))
    if len(saved) != len(leaves):
        raise ValueError(
            f"checkpoint: {len(saved)} saved arrays for {prefix!r}, the model has {len(leaves)}"
        )
    new = []
    for key, old in zip(saved, leaves):
        value = np.asarray(flat[key])
        if value.shape != np.shape(old):
            raise ValueError(f"checkpoint: {key} has shape {value.shape}, expected {np.shape(old)}")
        new.append(jax.numpy.asarray(value, dtype=jax.numpy.asarray(old).dtype))
    return jtu.tree_unflatten(treedef, new)


class Checkpoints:
    """A folder of numbered training checkpoints (orbax `CheckpointManager`).

    Checkpoints are written synchronously; orbax writes each to a temporary folder and
    renames it when complete, so a process killed mid-write leaves no checkpoint that
    looks complete.

    **Arguments:**

    - `directory`: the folder (created if needed).
    - `max_to_keep`: how many recent checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 2):
        import orbax.checkpoint as ocp  # imported on first use: it costs ~40 MiB of RSS

        self._ocp = ocp
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest(self) -> int | None:
        """The number of the newest complete checkpoint, or `None`."""
        return self.manager.latest_step()

    def save(self, number: int, arrays: dict[str, np.ndarray]) -> None:
        """Write checkpoint `number` (a flat dict of arrays) and wait until it is complete."""
        self.manager.save(number, args=self._ocp.args.StandardSave(arrays), force=True)
        self.manager.wait_until_finished()

    def restore(self, number: int | None = None) -> dict[str, np.ndarray]:
        """Read checkpoint `number` (default the newest) as a flat dict of numpy arrays."""
        number = self.latest() if number is None else number
        if number is None:
            raise FileNotFoundError(f"{self.directory}: no complete checkpoint")
        restored = self.manager.restore(number, args=self._ocp.args.StandardRestore())
        return {k: np.asarray(v) for k, v in restored.items()}

    def close(self) -> None:
        """Release the manager."""
        self.manager.close()


def checkpoint_position(directory: str | os.PathLike) -> tuple[int, int, int] | None:
    """Where the newest checkpoint of a `fit` run stands: `(epoch, batch, step)`.

    **Arguments:**

    - `directory`: the run's `checkpoint_dir`.

    **Returns:** the epoch being trained, the next batch index within it and the number
    of optimiser steps taken, or `None` when there is no checkpoint.
    """
    if not Path(directory).is_dir():
        return None
    ckpt = Checkpoints(directory)
    try:
        if ckpt.latest() is None:
            return None
        counters = ckpt.restore()["counters"]
    finally:
        ckpt.close()
    return int(counters[0]), int(counters[1]), int(counters[2])
