"""The registry of training tasks that `brainsim train CONFIG` runs.

A training config is a YAML mapping with a `task` key naming a registered task, an
optional `name` and `seed`, and the task's own sections. A task is registered with a
frozen dataclass that describes those sections (checked by the config layer's
`convert`, so every bad key or value is a `ConfigError` naming its path before
anything runs) and a function that trains and returns a summary:

```python
@dataclasses.dataclass(frozen=True)
class MyTaskConfig:
    n_hidden: int = 128
    epochs: int = 10

@register_task("my_task", MyTaskConfig)
def _train(config: MyTaskConfig, run: TrainRun) -> dict[str, Any]:
    ...
    return {"test_accuracy": acc}
```

The CLI writes the returned summary, with the resolved config and timing, to
`OUT/summary.json`.
"""

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config._load import _unshared, apply_override, convert, read_yaml
from ..config._schema import ConfigError

_RESERVED = ("task", "name", "seed")


@dataclasses.dataclass(frozen=True)
class TrainRun:
    """Where and how a task runs (from the command line, not the config).

    - `out_dir`: the folder for metrics, checkpoints and figures (created).
    - `data_dir`: the dataset folder from `--data-dir`, or `None` (then the readers
      use `BRAINSIM_DATA`).
    - `resume`: continue from the checkpoints in `out_dir`.
    - `seed`: the run's seed.
    - `name`: the run's name (the config's `name`, else the file's stem).
    - `progress`: show progress bars.
    """

    out_dir: Path
    data_dir: Path | None = None
    resume: bool = False
    seed: int = 0
    name: str = "run"
    progress: bool = True


@dataclasses.dataclass(frozen=True)
class Task:
    """A registered task: its name, config dataclass and train function."""

    name: str
    config_type: type
    train: Callable[[Any, TrainRun], dict[str, Any]]


_TASKS: dict[str, Task] = {}


def register_task(name: str, config_type: type) -> Callable[[Callable], Callable]:
    """Register `fn(config, run) -> summary` as the task `name`, configured by the
    frozen dataclass `config_type`."""
    if not dataclasses.is_dataclass(config_type):
        raise TypeError(f"register_task({name!r}): config_type must be a dataclass")

    def decorate(fn: Callable[[Any, TrainRun], dict[str, Any]]) -> Callable:
        _TASKS[name] = Task(name, config_type, fn)
        return fn

    return decorate


def _load_builtin_tasks() -> None:
    """Import the modules that register the built-in tasks."""
    from . import _builtin  # noqa: F401


def known_tasks() -> tuple[str, ...]:
    """The names of the registered tasks, sorted."""
    _load_builtin_tasks()
    return tuple(sorted(_TASKS))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A checked training config: the task, the run's name and seed, the task's config."""

    task: str
    name: str
    seed: int
    config: Any


def load_train_config(
    source: str | os.PathLike | Mapping[str, Any], overrides: Sequence[str] = ()
) -> TrainConfig:
    """Read and check a training config (a YAML path or a dict) with `key=value` overrides.

    Raises `ConfigError` (a `ValueError`) naming the key of the first problem, or
    `FileNotFoundError` for a missing file.
    """
    if isinstance(source, str | os.PathLike):
        raw, where = read_yaml(source), os.fspath(source)
        default_name = Path(source).stem
    else:
        raw, where, default_name = source, "config", "run"
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "a training config must be a mapping of keys")
    raw = _unshared(raw)
    for item in overrides:
        apply_override(raw, item)
    tasks = known_tasks()
    task = raw.get("task")
    if task is None:
        raise ConfigError("task", f"missing required key (one of: {', '.join(tasks)})")
    if task not in _TASKS:
        raise ConfigError("task", f"unknown task {task!r} (known: {', '.join(tasks)})")
    name = convert(raw.get("name", default_name), str, "name")
    seed = convert(raw.get("seed", 0), int, "seed")
    body = {k: v for k, v in raw.items() if k not in _RESERVED}
    config = convert(body, _TASKS[task].config_type, "")
    return TrainConfig(task=task, name=name, seed=seed, config=config)


def run_task(config: TrainConfig, run: TrainRun) -> dict[str, Any]:
    """Run a checked training config; returns the task's summary."""
    run.out_dir.mkdir(parents=True, exist_ok=True)
    return _TASKS[config.task].train(config.config, run)
