"""`simulate`: the host-side driver for long runs.

It runs a jitted chunk of `integrate` again and again, moves the monitors' data to the
host after each chunk (so device memory stays bounded however long the run), shows a
progress bar, can checkpoint between chunks and resume, and returns NumPy arrays. It
is never traced: use `integrate` under `jit`, `grad` and `vmap`.
"""

import dataclasses
import math
import os
import sys
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from ._integrate import check_run_arguments, integrate
from ._io import load_pytree, save_pytree
from ._monitors import AbstractMonitor, SpikeMonitor, check_monitors


class NonFiniteStateError(RuntimeError):
    """A state variable became NaN or infinite during `simulate(check_finite=True)`."""


@dataclasses.dataclass
class SimulationResult:
    """What `simulate` returns (all NumPy, on the host).

    - `spikes`: monitor name (`"spikes:E"`, or `"spikes"` for a lone population) ->
      `(times_ms, indices)`; a spike's time is the start of the step that emitted it, as
      in Brian2; `indices` count within the monitored subset.
    - `traces`: monitor name -> `(times_ms, values)`; a value is recorded after a step,
      so its time is the end of that step.
    - `state`: the final state (device arrays, to continue a run).
    - `timing`: `compile_s` (tracing and XLA compilation) and `run_s` (simulation only).
    - `n_steps`, `dt`, `t0`: the run's grid.
    """

    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    traces: dict[str, tuple[np.ndarray, np.ndarray]]
    state: Any
    timing: dict[str, float]
    n_steps: int
    dt: float
    t0: float


def _run_chunk(model, state, xs, t0, dt, n_steps, monitors, check_finite):
    return integrate(
        model,
        state,
        xs,
        dt=dt,
        n_steps=n_steps,
        t0=t0,
        save=monitors,
        throw=False,
        check_finite=check_finite,
    )


_jit_chunk = eqx.filter_jit(_run_chunk)


def _slice_inputs(inputs: Any, start: int, stop: int) -> Any:
    return jtu.tree_map(lambda a: np.asarray(a)[start:stop], inputs)


def _progress(total: int, enabled: bool | None):
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, unit="step", disable=not enabled, leave=False)


def _nonfinite_message(bad: dict[str, Any], start: int, t0: float, dt: float) -> str:
    found = {k: int(v) for k, v in bad.items() if int(v) >= 0}
    where = min(found, key=found.get)  # type: ignore[arg-type]
    step = start + found[where]
    return f"state became NaN or infinite at step {step} (t = {t0 + step * dt:.4g} ms) in {where}"


def simulate(
    model: Any,
    duration: float,
    *,
    dt: float,
    key: Any = None,
    state0: Any = None,
    inputs: Any = None,
    monitors: tuple[AbstractMonitor, ...] | list[AbstractMonitor] = (),
    t0: float = 0.0,
    chunk_steps: int | None = None,
    monitor_budget_mb: float = 64.0,
    progress: bool | None = None,
    check_finite: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
) -> SimulationResult:
    """Simulate `model` for `duration` ms in chunks, streaming monitors to the host.

    **Arguments:**

    - `model`: any dynamical system (a `Network`, a neuron population, ...).
    - `duration`: biological time (ms); `dt`: step (ms).
    - `key`: PRNG key for the initial state (ignored when `state0` is given).
    - `state0`: the initial state (default `model.init_state(key=key)`).
    - `inputs`: `None` or a pytree of arrays with a leading axis of `n_steps`.
    - `monitors`: `SpikeMonitor`, `StateMonitor`, `WeightMonitor` instances.
    - `chunk_steps`: steps per jitted chunk (default: at most 10,000, fewer when one
      chunk's monitor data would exceed `monitor_budget_mb`; rounded up to a multiple of
      every monitor's interval).
    - `monitor_budget_mb`: device memory for one chunk's monitor data (MiB), used to
      choose the default chunk.
    - `progress`: show a progress bar (default: when stderr is a terminal).
    - `check_finite`: stop with `NonFiniteStateError` naming the step and the
      population when the state becomes NaN or infinite.
    - `checkpoint`: a file to save the run to after every `checkpoint_every` chunks;
      if it exists, the run resumes from it.

    **Returns:** a `SimulationResult`.
    """
    monitors = tuple(monitors)
    if not np.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be non-negative and finite, got {duration!r}")
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
    n_steps = int(round(duration / dt))
    check_run_arguments(model, dt, n_steps)
    if state0 is None:
        if key is None:
            raise ValueError("give either key (to initialise the state) or state0")
        state0 = model.init_state(key=key)
    check_monitors(model, state0, monitors)
    for leaf in jtu.tree_leaves(inputs):
        if np.shape(leaf)[:1] != (n_steps,):
            raise ValueError(
                f"inputs must have a leading time axis of n_steps = {n_steps}, "
                f"got shape {np.shape(leaf)}"
            )
    interval = math.lcm(*[m.every for m in monitors]) if monitors else 1
    if chunk_steps is None:
        per_step = _monitor_bytes_per_step(model, state0, inputs, t0, dt, monitors)
        chunk = int(min(10_000, max(1, monitor_budget_mb * 2**20 // max(per_step, 1))))
    else:
        chunk = int(chunk_steps)
    if chunk < 1:
        raise ValueError(f"chunk_steps must be a positive integer, got {chunk_steps!r}")
    chunk = max(interval, -(-min(chunk, max(n_steps, 1)) // interval) * interval)

    done, state = 0, state0
    spikes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
        m.name: [] for m in monitors if isinstance(m, SpikeMonitor)
    }
    traces: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
        m.name: [] for m in monitors if not isinstance(m, SpikeMonitor)
    }
    if checkpoint is not None and os.path.exists(checkpoint):
        saved = load_pytree(checkpoint)
        if (
            saved["n_steps"] != n_steps
            or not np.isclose(saved["dt"], dt)
            or saved["chunk"] != chunk
        ):
            raise ValueError(
                f"checkpoint {os.fspath(checkpoint)!r} belongs to another run "
                f"(n_steps {saved['n_steps']}, dt {saved['dt']}, chunk {saved['chunk']})"
            )
        done, state, spikes, traces = (
            saved["done"],
            saved["state"],
            saved["spikes"],
            saved["traces"],
        )

    timing = {"compile_s": 0.0, "run_s": 0.0}
    compiled: dict[int, Any] = {}
    bar = _progress(n_steps, progress)
    bar.update(done)
    chunks_run = 0
    while done < n_steps:
        length = min(chunk, n_steps - done)
        xs = None if inputs is None else _slice_inputs(inputs, done, done + length)
        t_start = jnp.asarray(t0 + done * dt, jnp.result_type(float))
        args = (model, state, xs, t_start, dt, length, monitors, check_finite)
        if length not in compiled:
            tic = time.perf_counter()
            compiled[length] = _jit_chunk.lower(*args).compile()  # type: ignore[attr-defined]
            timing["compile_s"] += time.perf_counter() - tic
        tic = time.perf_counter()
        sol = compiled[length](*args)
        sol = jax.block_until_ready(sol)
        timing["run_s"] += time.perf_counter() - tic
        if check_finite and bool(np.any([int(v) >= 0 for v in sol.nonfinite_step.values()])):
            bar.close()
            raise NonFiniteStateError(_nonfinite_message(sol.nonfinite_step, done, t0, dt))
        for m in monitors:
            arr = np.asarray(sol.traces[m.name])
            if isinstance(m, SpikeMonitor):
                steps, idx = np.nonzero(arr)
                spikes[m.name].append((t0 + (done + steps) * dt, idx.astype(np.int64)))
            else:
                k = np.arange(1, arr.shape[0] + 1)
                traces[m.name].append((t0 + (done + k * m.every) * dt, arr))
        state = sol.state
        done += length
        chunks_run += 1
        bar.update(length)
        if checkpoint is not None and (chunks_run % checkpoint_every == 0 or done == n_steps):
            save_pytree(
                checkpoint,
                {
                    "n_steps": n_steps,
                    "dt": dt,
                    "chunk": chunk,
                    "done": done,
                    "state": state,
                    "spikes": spikes,
                    "traces": traces,
                },
            )
    bar.close()
    return SimulationResult(
        spikes={k: _join(v, 1) for k, v in spikes.items()},
        traces={k: _join(v, None) for k, v in traces.items()},
        state=state,
        timing=timing,
        n_steps=n_steps,
        dt=float(dt),
        t0=float(t0),
    )


def _monitor_bytes_per_step(model, state0, inputs, t0, dt, monitors) -> float:
    """Device bytes the monitors record per step (from shapes only; nothing runs)."""
    if not monitors:
        return 0.0
    x0 = jtu.tree_map(lambda a: np.asarray(a)[0], inputs)
    shapes = jax.eval_shape(
        lambda s: {m.name: m.select(model, *model.step(s, x0, t0, dt)) for m in monitors}, state0
    )
    return sum(shapes[m.name].size * shapes[m.name].dtype.itemsize / m.every for m in monitors)


def _join(parts: list[tuple[np.ndarray, np.ndarray]], spike: int | None):
    if not parts:
        return np.zeros((0,)), np.zeros((0,), np.int64 if spike else np.float32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
