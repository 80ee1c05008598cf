"""`brainsim sweep CONFIG --grid KEY=RANGE ... --seeds N --out DIR`.

Sweeps numeric config values over a grid (with several seeds per point) and writes
`DIR/results.csv` (one row per point and seed), `DIR/progress.json` (a killed sweep
started again with the same arguments resumes) and a figure per summary,
`DIR/<summary>.png` (a heat map for two swept keys, a line plot for one).

Sweepable keys (each maps onto one leaf of the built network, so the network is built
once and the sweep is a `vmap` over that leaf):

- `populations.<P>.params.<name>`: a numeric neuron parameter (`tau_m`, `i_bias`, ...);
- `projections.<P>.weight`: every synapse's weight;
- `projections.<P>.synapse.tau`: the synaptic time constant;
- `projections.<P>.output.E`: the reversal potential of a `coba` output.

Several keys joined by `+` take the same value (`projections.EE.weight+projections.EI.weight`).
Connectivity and sizes are drawn once from the config's seed; the sweep's seeds
(`0 .. N-1`) draw the initial state.
"""

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._points import grid, parse_range
from ._summaries import CVISI, MeanRate, Synchrony
from ._sweep import SweepResult, check_targets, sweep

SWEEPABLE = (
    "populations.<P>.params.<name>, projections.<P>.weight, projections.<P>.synapse.tau, "
    "projections.<P>.output.E"
)


def register(subparsers: Any) -> None:
    """Add the `sweep` subcommand to a `brainsim` argument parser's subparsers."""
    p = subparsers.add_parser("sweep", help="sweep config values over a grid and seeds")
    p.add_argument("config", help="path of the YAML config")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=RANGE",
        help="a swept config key and its values: start:stop:num, a,b,c or a number; repeatable",
    )
    p.add_argument("--seeds", type=int, default=1, help="seeds per point (default 1)")
    p.add_argument("--out", type=Path, help="output folder (default out/<config name>-sweep)")
    p.add_argument("--chunk", type=int, help="runs per chunk (default: from the memory budget)")
    p.add_argument(
        "--memory-budget", type=float, default=1024.0, metavar="MB", help="per device (MB)"
    )
    p.add_argument("--duration", type=float, metavar="MS", help="override the config's duration")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a config value (parsed as YAML); repeatable",
    )


def model_path(key: str, network: Any) -> str:
    """The network leaf a sweepable config key sets (`ValueError` for any other key)."""
    parts = key.split(".")
    if len(parts) == 4 and parts[0] == "populations" and parts[2] == "params":
        return f"populations.{parts[1]}.{parts[3]}"
    if len(parts) == 3 and parts[0] == "projections" and parts[2] == "weight":
        return f"projections.{parts[1]}.conn.weights"
    if len(parts) == 4 and parts[0] == "projections" and parts[2:] == ["output", "E"]:
        return key
    if len(parts) == 4 and parts[0] == "projections" and parts[2:] == ["synapse", "tau"]:
        proj = network.projections.get(parts[1])
        inner = getattr(getattr(proj, "synapse", None), "synapse", None)
        return f"projections.{parts[1]}.synapse.synapse.tau" if inner is not None else key
    raise ValueError(f"{key}: not a sweepable key (sweepable: {SWEEPABLE})")


def _grid_args(specs: list[str]) -> dict[str, np.ndarray]:
    if not specs:
        raise ValueError("--grid: at least one KEY=RANGE is needed")
    params: dict[str, np.ndarray] = {}
    for spec in specs:
        key, sep, rng = spec.partition("=")
        if not sep or not key:
            raise ValueError(f"--grid: expected KEY=RANGE, got {spec!r}")
        if key in params:
            raise ValueError(f"{key}: swept twice")
        params[key] = parse_range(key, rng)
    return params


def _figure(result: SweepResult, name: str, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    axes, names, mean = result.points.axes or (), result.points.names, result.mean(name)
    if len(axes) == 1:
        ax.plot(axes[0], mean, "o-")
        ax.set_xlabel(names[0])
        ax.set_ylabel(name)
    else:
        y, x = axes
        image = ax.pcolormesh(_edges(x), _edges(y), mean, shading="flat")
        fig.colorbar(image, ax=ax, label=name)
        ax.set_xlabel(names[1])
        ax.set_ylabel(names[0])
    ax.set_title(f"{name} (mean over {result.seeds.size} seed(s))", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _edges(v: np.ndarray) -> np.ndarray:
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])


def run(args: argparse.Namespace) -> int:
    """Run `brainsim sweep`; bad input raises `ValueError` (`<key>: <reason>`) first."""
    from ..config import build_network, load_config

    params = _grid_args(args.grid)
    if args.seeds < 1:
        raise ValueError(f"--seeds: must be at least 1, got {args.seeds}")
    if args.chunk is not None and args.chunk < 1:
        raise ValueError(f"--chunk: must be at least 1, got {args.chunk}")
    overrides = list(args.overrides)
    if args.duration is not None:
        overrides.append(f"duration={args.duration}")
    config = load_config(args.config, overrides=overrides)
    network, monitors = build_network(config)
    paths = {k: "+".join(model_path(p, network) for p in k.split("+")) for k in params}
    check_targets(network, list(params), paths)
    summaries: dict[str, Any] = {}
    for m in monitors:
        pop = m.population
        summaries[f"rate_{pop}"] = MeanRate(pop)
        summaries[f"cv_{pop}"] = CVISI(pop)
        summaries[f"synchrony_{pop}"] = Synchrony(pop)
    out = args.out if args.out is not None else Path("out") / f"{config.name}-sweep"
    points = grid(params)
    n_runs = len(points) * args.seeds
    print(f"{len(points)} points x {args.seeds} seed(s) = {n_runs} runs of {config.duration} ms")
    start = time.perf_counter()
    result = sweep(
        network,
        points,
        duration=config.duration,
        dt=config.dt,
        summaries=summaries,
        seeds=args.seeds,
        out=out,
        chunk=args.chunk,
        memory_budget_mb=args.memory_budget,
        paths=paths,
    )
    elapsed = time.perf_counter() - start
    if len(params) <= 2:
        for name in summaries:
            if np.any(np.isfinite(result.mean(name))):
                _figure(result, name, out / f"{name}.png")
    failed = int(np.sum(result.result != 0))
    rate = n_runs / elapsed if elapsed > 0 and math.isfinite(elapsed) else float("nan")
    print(f"wrote {out / 'results.csv'} ({n_runs} rows, {failed} failed runs) in {elapsed:.1f} s")
    print(f"{rate:.2f} runs/s")
    return 0
