"""`sweep`: many runs of one model as `vmap` over its parameter leaves and seeds.

Each point's values reach the model either by `eqx.tree_at` on a template (a swept
name is a dotted path to an array leaf, e.g. `"populations.E.tau_m"`), or through a
user `build(values, key) -> (model, state0)`. The runs (points x seeds) go in chunks
through one jitted `vmap(integrate)`; each chunk's summaries are appended to
`out/results.csv` and `out/progress.json`, so a killed sweep resumes at the chunk
that was running. With several devices the run axis is sharded over a 1-D mesh.
"""

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from jax.experimental.multihost_utils import broadcast_one_to_all, process_allgather
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..core import integrate
from ..core._monitors import AbstractMonitor
from ._points import Points, grid
from ._resume import read_rows, start_output, write_chunk
from ._summaries import AbstractSummary

Summary = AbstractSummary | Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """The summaries of every run (one run = one point and one seed).

    - `points`: the swept `Points`; `seeds`: the seeds, `(n_seeds,)`.
    - `point`: `(n_runs,)` point index of each run; `seed`: `(n_runs,)` its seed.
    - `summaries`: name -> `(n_runs,)` values; `result`: `(n_runs,)` `RESULTS` codes
      (0 = successful, 1 = a state became NaN or infinite).
    """

    points: Points
    seeds: np.ndarray
    point: np.ndarray
    seed: np.ndarray
    summaries: dict[str, np.ndarray]
    result: np.ndarray

    def by_seed(self, name: str) -> np.ndarray:
        """A summary as `(n_points, n_seeds)`, or `(*grid_shape, n_seeds)` for a grid."""
        table = np.full((len(self.points), self.seeds.size), np.nan)
        col = {int(s): j for j, s in enumerate(self.seeds)}
        for p, s, v in zip(self.point, self.seed, self.summaries[name]):
            table[p, col[int(s)]] = v
        shape = self.points.shape or (len(self.points),)
        return table.reshape(*shape, self.seeds.size)

    def mean(self, name: str) -> np.ndarray:
        """A summary averaged over seeds (NaNs ignored), in the grid's shape."""
        table = self.by_seed(name)
        finite = np.isfinite(table)
        total = np.where(finite, table, 0.0).sum(axis=-1)
        count = finite.sum(axis=-1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _resolve(model: Any, path: str, name: str) -> Any:
    obj = model
    for part in path.split("."):
        if isinstance(obj, Mapping) and part in obj:
            obj = obj[part]
        elif not isinstance(obj, Mapping) and hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            raise ValueError(f"{name}: the model has no {part!r} (in the path {path!r})")
    return obj


def check_targets(model: Any, names: Sequence[str], paths: Mapping[str, str] | None = None) -> None:
    """Raise `ValueError` for a swept name that is not a floating array leaf of `model`.

    A name (or its entry in `paths`) is one dotted path, or several joined by `+` that
    take the same value.
    """
    for name in names:
        for path in (paths or {}).get(name, name).split("+"):
            leaf = _resolve(model, path, name)
            if not (eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.inexact)):
                raise ValueError(f"{name}: {path!r} is not a floating-point array of the model")


def set_leaves(
    model: Any, names: Sequence[str], values: Any, paths: Mapping[str, str] | None = None
) -> Any:
    """`model` with each named leaf replaced by its value broadcast to the leaf's shape."""
    for i, name in enumerate(names):
        for path in (paths or {}).get(name, name).split("+"):
            leaf = _resolve(model, path, name)
            new = jnp.broadcast_to(jnp.asarray(values[i], leaf.dtype), leaf.shape)
            model = eqx.tree_at(functools.partial(_resolve, path=path, name=name), model, new)
    return model


def _monitors(summaries: Mapping[str, Summary], extra: Sequence[AbstractMonitor]) -> tuple:
    found: dict[str, AbstractMonitor] = {m.name: m for m in extra}
    for s in summaries.values():
        if isinstance(s, AbstractSummary):
            for m in s.monitors():
                found.setdefault(m.name, m)
    return tuple(found.values())


def _to_host(x: jax.Array) -> np.ndarray:
    """A (possibly multi-host) sharded array as one NumPy array on every process."""
    return np.asarray(x) if x.is_fully_addressable else np.asarray(process_allgather(x))


def _nbytes(tree: Any) -> int:
    return sum(math.prod(x.shape) * x.dtype.itemsize for x in jtu.tree_leaves(tree))


def _fingerprint(points: Points, seeds: np.ndarray, spec: dict, template: Any) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"names": points.names, **spec}, sort_keys=True).encode())
    h.update(np.ascontiguousarray(points.values).tobytes())
    h.update(np.ascontiguousarray(seeds, np.int64).tobytes())
    for leaf in jtu.tree_leaves(eqx.filter(template, eqx.is_array)):
        h.update(str((leaf.shape, leaf.dtype)).encode())
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()


def _sweep_mesh(mesh: Mesh | None) -> Mesh | None:
    if mesh is not None:
        if len(mesh.axis_names) != 1:
            raise ValueError(f"mesh: must be 1-D, got axes {mesh.axis_names}")
        return mesh if mesh.size > 1 else None
    devices = jax.devices()
    return Mesh(np.array(devices), ("points",)) if len(devices) > 1 else None


class RunSpec(eqx.Module):
    """Everything static about one run of a sweep (hashable, so compilations are shared)."""

    names: tuple[str, ...] = eqx.field(static=True)
    paths: tuple[tuple[str, str], ...] = eqx.field(static=True)
    build: Callable | None = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    monitors: tuple = eqx.field(static=True)
    summaries: tuple[tuple[str, Any], ...] = eqx.field(static=True)

    def run(self, template: Any, inputs: Any, values: Any, seed: Any) -> Any:
        """The `Solution` of one run at `values` with `seed`."""
        key = jr.key(seed)
        if self.build is not None:
            model, state0 = self.build(dict(zip(self.names, values)), key)
        else:
            model = set_leaves(template, self.names, values, dict(self.paths))
            state0 = model.init_state(key=key)
        return integrate(
            model,
            state0,
            inputs,
            dt=self.dt,
            n_steps=self.n_steps,
            save=self.monitors,
            throw=False,
            check_finite=True,
        )

    def summarise(self, template: Any, inputs: Any, values: Any, seed: Any) -> Any:
        """Each summary of one run (a dict of scalars) and its `RESULTS` code."""
        sol = self.run(template, inputs, values, seed)
        dtype = jnp.result_type(float)
        out = {}
        for name, s in self.summaries:
            v = s(sol, self.dt) if isinstance(s, AbstractSummary) else s(sol)
            out[name] = jnp.asarray(v, dtype)
        return out, sol.result._value


def _chunk(template: Any, inputs: Any, values: Any, seeds: Any, *, spec: RunSpec) -> Any:
    return jax.vmap(lambda v, s: spec.summarise(template, inputs, v, s))(values, seeds)


_run_chunk = eqx.filter_jit(_chunk)  # shared: one compilation per spec and chunk shape


def sweep(
    model: Any,
    params: Points | Mapping[str, Sequence[float] | np.ndarray],
    *,
    duration: float,
    dt: float,
    summaries: Mapping[str, Summary],
    seeds: int | Sequence[int] = 1,
    inputs: Any = None,
    monitors: Sequence[AbstractMonitor] = (),
    out: str | Path | None = None,
    chunk: int | None = None,
    memory_budget_mb: float | None = 1024.0,
    mesh: Mesh | None = None,
    paths: Mapping[str, str] | None = None,
) -> SweepResult:
    """Run a model at every point of `params` and every seed; summarise each run.

    **Arguments:**

    - `model`: a template model (its leaves named by `params` are swapped per point
      with `eqx.tree_at`; the initial state is `model.init_state(key=jr.key(seed))`), or
      a function `build(values, key) -> (model, state0)` of a dict name -> traced value.
    - `params`: a `Points` (`grid`, `point_list`, `random_samples`, `latin_hypercube`)
      or a dict name -> values (a grid). A name is a dotted path to a floating array
      leaf (`"populations.E.tau_m"`, `"projections.EE.conn.weights"`), or several paths
      joined by `+` set to the same value; the value is broadcast to the leaf's shape.
    - `duration`, `dt`: run length and step (ms).
    - `summaries`: name -> `AbstractSummary` (`MeanRate`, `CVISI`, `Synchrony`,
      `OrderParameter`) or a function `fn(solution) -> scalar`, computed on the device.
    - `seeds`: a number of seeds (`0 .. seeds-1`) or the seeds themselves.
    - `inputs`: external inputs shared by every run (leading axis `n_steps`).
    - `monitors`: extra monitors for function summaries.
    - `out`: a folder for `results.csv` (one row per run) and `progress.json`; a sweep
      with the same folder and arguments resumes where it stopped.
    - `chunk`: runs per chunk (a multiple of the device count); default from
      `memory_budget_mb` (MB per device, for the traces and final state of the runs).
    - `mesh`: a 1-D `jax.sharding.Mesh`; default: all devices when there are several.
    - `paths`: name -> model path, when the names of `params` are labels (e.g. config
      keys) rather than paths.

    **Returns:** a `SweepResult`. Bad input raises `ValueError` before anything runs.
    """
    points = params if isinstance(params, Points) else grid(params)
    seed_list = np.arange(seeds) if isinstance(seeds, int) else np.asarray(list(seeds), np.int64)
    if seed_list.size == 0 or np.any(seed_list < 0):
        raise ValueError(f"seeds: need at least one non-negative seed, got {seeds!r}")
    if not summaries:
        raise ValueError("summaries: at least one summary is needed")
    n_steps = int(round(duration / dt))
    if dt <= 0 or n_steps < 1:
        raise ValueError(f"duration: need at least one step of dt, got {duration} ms, dt {dt} ms")
    build = model if callable(model) and not isinstance(model, eqx.Module) else None
    template = None if build is not None else model
    if template is not None:
        check_targets(template, points.names, paths)
    mons = _monitors(summaries, monitors)
    dtype = jnp.result_type(float)
    names = points.names

    spec_run = RunSpec(
        names,
        tuple((paths or {}).items()),
        build,
        float(dt),
        n_steps,
        mons,
        tuple(summaries.items()),
    )
    values0 = jnp.asarray(points.values[0], dtype)
    seed0 = jnp.asarray(seed_list[0], jnp.uint32)
    sol_shape = jax.eval_shape(lambda v, s: spec_run.run(template, inputs, v, s), values0, seed0)
    per_run = 2 * _nbytes(sol_shape)
    sweep_mesh = _sweep_mesh(mesh)
    n_dev = 1 if sweep_mesh is None else sweep_mesh.size
    n_runs = len(points) * seed_list.size
    if chunk is None:
        if memory_budget_mb is None or memory_budget_mb <= 0:
            raise ValueError(f"memory_budget_mb: must be positive, got {memory_budget_mb}")
        fit = int(memory_budget_mb * 2**20 // per_run)
        if fit < 1:
            raise ValueError(
                f"memory_budget_mb: {memory_budget_mb} MB is smaller than one run "
                f"(about {per_run / 2**20:.3g} MB of traces and state)"
            )
        chunk = min(fit, -(-n_runs // n_dev)) * n_dev
    elif chunk < 1 or chunk % n_dev:
        raise ValueError(f"chunk: must be a positive multiple of the device count {n_dev}")

    spec = {"n_steps": n_steps, "dt": dt, "summaries": list(summaries), "paths": dict(paths or {})}
    if build is not None:
        spec["build"] = getattr(build, "__qualname__", repr(build))
    clash = ({"run", "point", "seed", "result"} | set(names)) & set(summaries)
    if clash:
        raise ValueError(f"summaries: names {sorted(clash)} clash with other columns")
    fingerprint = _fingerprint(points, seed_list, spec, (template, inputs))
    header = ["run", "point", "seed", *names, *summaries, "result"]
    out_dir = None if out is None or jax.process_index() != 0 else Path(out)  # one writer
    done, chunk = (
        (0, chunk) if out_dir is None else start_output(out_dir, header, fingerprint, chunk)
    )
    if jax.process_count() > 1:  # every process resumes where process 0 does
        done, chunk = (int(x) for x in broadcast_one_to_all(np.array([done, chunk])))
    run_point = np.repeat(np.arange(len(points)), seed_list.size)
    run_seed = np.tile(seed_list, len(points))
    rows: list[list[float]] = [] if out_dir is None else read_rows(out_dir, done)

    try:
        hash(spec_run)
        jitted = functools.partial(_run_chunk, spec=spec_run)
    except TypeError:  # unhashable summaries or monitors: compile for this call only
        jitted = functools.partial(eqx.filter_jit(_chunk), spec=spec_run)
    shard = None
    if sweep_mesh is not None:
        axis = sweep_mesh.axis_names[0]
        shard = NamedSharding(sweep_mesh, PartitionSpec(axis))
        template = jax.device_put(template, NamedSharding(sweep_mesh, PartitionSpec()))
    for start in range(done, n_runs, chunk):
        idx = np.arange(start, min(start + chunk, n_runs))
        padded = np.concatenate([idx, np.repeat(idx[-1], chunk - idx.size)])
        vals = jnp.asarray(points.values[run_point[padded]], dtype)
        sds = jnp.asarray(run_seed[padded], jnp.uint32)
        if shard is not None:
            vals, sds = jax.device_put(vals, shard), jax.device_put(sds, shard)
        stats, codes = jitted(template, inputs, vals, sds)
        stats = {k: _to_host(v)[: idx.size] for k, v in stats.items()}
        codes = _to_host(codes)[: idx.size]
        new = [
            [
                float(r),
                float(run_point[r]),
                float(run_seed[r]),
                *points.values[run_point[r]],
                *(float(stats[k][j]) for k in summaries),
                float(codes[j]),
            ]
            for j, r in enumerate(idx)
        ]
        if out_dir is not None:
            write_chunk(out_dir, new, fingerprint, chunk, int(idx[-1]) + 1)
        rows.extend(new)
    table = np.array(rows, dtype=np.float64).reshape(-1, len(header))
    col = {h: table[:, i] for i, h in enumerate(header)}
    return SweepResult(
        points=points,
        seeds=seed_list,
        point=col["point"].astype(np.int64),
        seed=col["seed"].astype(np.int64),
        summaries={k: col[k] for k in summaries},
        result=col["result"].astype(np.int64),
    )
