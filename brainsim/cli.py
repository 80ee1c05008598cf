"""The `brainsim` command line.

```
brainsim run CONFIG [--set a.b=value ...] [--seed N] [--out DIR] [--device cpu|gpu]
brainsim train CONFIG [--set a.b=value ...] [--seed N] [--out DIR] [--data-dir DIR] [--resume]
brainsim sweep CONFIG --grid KEY=START:STOP:NUM ... [--seeds N] [--out DIR]
brainsim info
```

`run` loads and checks the config (YAML, see docs/config.md), builds the network,
simulates it and writes `DIR/spikes.npz` (`<population>_times` in ms and
`<population>_indices`), `DIR/summary.json` (rates, CVs of inter-spike intervals,
timing, the resolved config, the JAX setup) and `DIR/raster.png`. `DIR` defaults to
`out/<config name>`.

`train` runs the training task a config names (`task: nalsm`, `task: stdp_mnist`, ...;
see `brainsim.models`), writing metrics, checkpoints and `DIR/summary.json` into `DIR`;
`--resume` continues a killed run from its checkpoints. Any bad input (config, override,
device) exits with status 2 and one line on stderr, `brainsim: error: <key path>:
<reason>`, before anything runs.
"""

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError, build_network, config_to_dict, load_config
from .data import _cli as data_cli
from .sweeps import _cli as sweep_cli

_ERROR_EXIT = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but its usage errors also take one line."""

    def error(self, message: str) -> Any:
        self.exit(_ERROR_EXIT, f"brainsim: error: {message}\n")


def _config_command(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand taking a config, `--set` overrides, `--seed` and `--out`."""
    cmd = sub.add_parser(name, help=help)
    cmd.add_argument("config", help="path of the YAML config")
    cmd.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a config value (parsed as YAML); repeatable",
    )
    cmd.add_argument("--seed", type=int, help="override the config's seed")
    cmd.add_argument("--out", type=Path, help="output folder (default out/<config name>)")
    return cmd


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="brainsim", description="A JAX-native brain simulator.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = _config_command(sub, "run", "simulate the network a YAML config describes")
    run.add_argument("--device", choices=("cpu", "gpu"), help="override the config's device")
    train = _config_command(sub, "train", "run the training task a YAML config names")
    train.add_argument("--data-dir", type=Path, help="dataset folder (default $BRAINSIM_DATA)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    train.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sub.add_parser("info", help="show the JAX version, backend and devices")
    sweep_cli.register(sub)
    data_cli.register(sub)
    return parser


def _jax_info() -> dict[str, Any]:
    import jax

    return {
        "version": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def _jax_line(info: dict[str, Any]) -> str:
    return f"JAX {info['version']}, backend {info['backend']}, devices: " + ", ".join(
        info["devices"]
    )


def _select_device(kind: str | None) -> Any:
    """The first device of `kind`, or `None` for JAX's default; `ConfigError` if there is none."""
    import jax

    if kind is None:
        return None
    try:
        devices = jax.devices(kind)
    except RuntimeError:
        devices = []
    if not devices:
        backend = jax.default_backend()
        raise ConfigError(
            "device", f"{kind} requested but JAX sees no {kind.upper()} (backend: {backend})"
        )
    return devices[0]


Spikes = dict[str, tuple[np.ndarray, np.ndarray]]


def _statistics(config: Config, spikes: Spikes, sizes: dict[str, int]):
    from .analysis import mean_cv_isi, population_rate

    stats = {}
    for name, (times, indices) in spikes.items():
        n = sizes[name]
        rate = math.nan
        if config.duration > 0 and n > 0:
            rate = population_rate(times, n=n, t_start=0.0, t_stop=config.duration)
        cv = mean_cv_isi(times, indices, n=n) if n > 0 else math.nan
        stats[name] = {
            "n": n,
            "n_spikes": int(times.size),
            "rate_hz": None if math.isnan(rate) else rate,
            "cv_isi": None if math.isnan(cv) else cv,
        }
    return stats


def write_raster(
    path: Path,
    spikes: Spikes,
    sizes: dict[str, int],
    *,
    duration: float,
    max_neurons: int,
) -> None:
    """A raster of the first `max_neurons` neurons of each population above their rates.

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend switch).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .analysis import binned_population_rate

    fig = Figure(figsize=(9, 6), layout="constrained")
    FigureCanvasAgg(fig)
    raster, rates = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    offset = 0
    bin_ms = min(5.0, duration)
    for name, (times, indices) in spikes.items():
        shown = min(sizes[name], max_neurons)
        keep = indices < shown
        raster.plot(times[keep], indices[keep] + offset, ",", rasterized=True, label=name)
        raster.axhline(offset, color="0.8", lw=0.5)
        offset += shown
        if bin_ms > 0 and sizes[name] > 0:
            centres, rate = binned_population_rate(
                times, n=sizes[name], t_start=0.0, t_stop=duration, bin_ms=bin_ms
            )
            rates.plot(centres, rate, lw=0.8, label=name)
    raster.set_ylabel(f"neuron (first {max_neurons} per population)")
    raster.set_ylim(0, max(offset, 1))
    rates.set_xlabel("time (ms)")
    rates.set_ylabel(f"rate (Hz, {bin_ms:g} ms bins)")
    rates.set_xlim(0, max(duration, 1e-9))
    if spikes:
        rates.legend(loc="upper right", fontsize="small")
    fig.savefig(path, dpi=100)


def _run(args: argparse.Namespace) -> int:
    import jax
    import jax.random as jr

    from .core import simulate

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.device is not None:
        overrides.append(f"device={args.device}")
    config = load_config(args.config, overrides)
    device = _select_device(config.device)
    with jax.default_device(device):
        tic = time.perf_counter()
        network, monitors = build_network(config)
        build_s = time.perf_counter() - tic
        info = _jax_info()
        where = f"; running on {device}" if device is not None else ""
        print(_jax_line(info) + where, flush=True)
        result = simulate(
            network, config.duration, dt=config.dt, key=jr.key(config.seed), monitors=monitors
        )
    spikes = {str(m.population): result.spikes[m.name] for m in monitors}
    sizes = {name: network.size(name) for name in spikes}
    stats = _statistics(config, spikes, sizes)
    timing = {"build_s": build_s, **result.timing}

    for name, s in stats.items():
        rate = "n/a" if s["rate_hz"] is None else f"{s['rate_hz']:.2f} Hz"
        cv = "n/a" if s["cv_isi"] is None else f"{s['cv_isi']:.3f}"
        print(f"{name}: rate {rate}, CV ISI {cv} ({s['n']} neurons, {s['n_spikes']} spikes)")
    print(
        f"timing: build {build_s:.3f} s, compile {timing['compile_s']:.3f} s, "
        f"run {timing['run_s']:.3f} s for {config.duration:g} ms at dt {config.dt:g} ms"
    )

    out = args.out if args.out is not None else Path("out") / config.name
    written = _write_outputs(out, config, spikes, sizes, stats, timing, info)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _write_outputs(
    out: Path,
    config: Config,
    spikes: Spikes,
    sizes: dict[str, int],
    stats: dict[str, dict],
    timing: dict[str, float],
    info: dict[str, Any],
) -> list[Path]:
    """Write spikes.npz, summary.json and raster.png (as the config asks) into `out`."""
    from . import __version__

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if config.outputs.spikes:
        arrays = {}
        for name, (times, indices) in spikes.items():
            arrays[f"{name}_times"], arrays[f"{name}_indices"] = times, indices
        np.savez(out / "spikes.npz", **arrays)  # type: ignore[arg-type]
        written.append(out / "spikes.npz")
    summary = {
        "name": config.name,
        "populations": stats,
        "timing": timing,
        "config": config_to_dict(config),
        "jax": info,
        "brainsim": {"version": __version__},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    written.append(out / "summary.json")
    if config.outputs.raster:
        raster = out / "raster.png"
        write_raster(
            raster,
            spikes,
            sizes,
            duration=config.duration,
            max_neurons=config.outputs.raster_neurons,
        )
        written.append(raster)
    return written


def _train(args: argparse.Namespace) -> int:
    from . import __version__
    from .models import TrainRun, load_train_config, run_task

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    config = load_train_config(args.config, overrides)
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise FileNotFoundError(f"--data-dir: {str(args.data_dir)!r} is not a directory")
    out = args.out if args.out is not None else Path("out") / config.name
    run = TrainRun(
        out_dir=out,
        data_dir=args.data_dir,
        resume=args.resume,
        seed=config.seed,
        name=config.name,
        progress=not args.no_progress,
    )
    info = _jax_info()
    print(_jax_line(info), flush=True)
    tic = time.perf_counter()
    summary = run_task(config, run)
    seconds = time.perf_counter() - tic
    record = {
        "name": config.name,
        "task": config.task,
        "seed": config.seed,
        "summary": summary,
        "seconds": seconds,
        "config": config_to_dict(config.config),
        "jax": info,
        "brainsim": {"version": __version__},
    }
    (out / "summary.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    for key, value in summary.items():
        if isinstance(value, int | float | str):
            print(f"{key}: {value}")
    print(f"trained in {seconds:.1f} s; wrote {out / 'summary.json'}")
    return 0


def _info() -> int:
    from . import __version__

    info = _jax_info()
    print(f"brainsim {__version__}")
    print(_jax_line(info))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `brainsim` console script; returns the exit status.

    **Arguments:**

    - `argv`: the arguments (default `sys.argv[1:]`).

    **Returns:** 0 on success, 2 on bad input (one line on stderr).
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # usage errors (status 2) and --help (status 0)
        return e.code if isinstance(e.code, int) else _ERROR_EXIT
    try:
        if args.command == "info":
            return _info()
        if args.command == "sweep":
            return sweep_cli.run(args)
        if args.command == "data":
            return data_cli.run(args)
        if args.command == "train":
            return _train(args)
        return _run(args)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        message = " ".join(str(e).split())
        print(f"brainsim: error: {message}", file=sys.stderr)
        return _ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main())
