"""`python -m bench.sweep_coba [--points 256] [--duration 1000] [--chunks 8 32] [--brainpy 32]`.

Throughput of a (w_e, w_i) sweep of the 4,000-neuron COBA network (configs/coba.yaml,
1 s at dt 0.1 ms, one seed per point): `brainsim.sweep` (vmap over the points of a
chunk) against a Python loop over the same per-point function, jitted once, and against
BrainPy 2.9 (`brainpy.state`, the weights set per point on one compiled program; run in
the peers' venv from `bench/setup_peers.sh`, as a subprocess). The grid is
`w_e in linspace(0.2, 1.2, sqrt(points))` x `w_i in linspace(2, 10, sqrt(points))`.
Compile time is excluded everywhere (one warm-up call of the same shape first). The
mean E rate of every point is compared across the three, so they ran the same model.
Prints a table and one `RESULT {json}` line; appends to bench/results/sweep_coba.jsonl.
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import subprocess
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
CONFIG = HERE.parent / "configs" / "coba.yaml"
PATHS = {
    "w_e": "projections.EE.conn.weights+projections.EI.conn.weights",
    "w_i": "projections.IE.conn.weights+projections.II.conn.weights",
}


def _grid(points: int) -> np.ndarray:
    side = math.isqrt(points)
    if side * side != points:
        raise SystemExit(f"--points must be a square, got {points}")
    we, wi = np.meshgrid(np.linspace(0.2, 1.2, side), np.linspace(2.0, 10.0, side), indexing="ij")
    return np.stack([we.ravel(), wi.ravel()], axis=1)


def _ours(values: np.ndarray, duration: float, chunks: list[int], loop_points: int) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import brainsim as bs
    from brainsim.config import build_network, load_config
    from brainsim.sweeps import MeanRate, point_list
    from brainsim.sweeps._sweep import RunSpec

    config = load_config(CONFIG, [f"duration={duration}"])
    network, _ = build_network(config)
    summaries = {"rate": MeanRate("E")}
    pts = {"w_e": values[:, 0], "w_i": values[:, 1]}
    out: dict = {"sweep": {}}
    for chunk in chunks:
        warm = {k: v[:chunk] for k, v in pts.items()}
        kw = dict(duration=duration, dt=config.dt, summaries=summaries, paths=PATHS, chunk=chunk)
        bs.sweep(network, point_list(warm), **kw)  # compile this chunk shape
        tic = time.perf_counter()
        res = bs.sweep(network, point_list(pts), **kw)
        sec = time.perf_counter() - tic
        out["sweep"][chunk] = {"seconds": sec, "points_per_s": len(values) / sec}
        out["rates"] = np.asarray(res.summaries["rate"]).tolist()

    n_steps = int(round(duration / config.dt))
    monitors = tuple(m for s in summaries.values() for m in s.monitors())
    spec = RunSpec(
        ("w_e", "w_i"), tuple(PATHS.items()), None, config.dt, n_steps, monitors,
        tuple(summaries.items()),
    )  # fmt: skip
    one = eqx.filter_jit(lambda v, s: spec.summarise(network, None, v, s)[0]["rate"])
    seed = jnp.asarray(0, jnp.uint32)
    jax.block_until_ready(one(jnp.asarray(values[0]), seed))
    loop_rates = []
    tic = time.perf_counter()
    for v in values[:loop_points]:
        loop_rates.append(float(one(jnp.asarray(v), seed)))
    sec = time.perf_counter() - tic
    out["loop"] = {"points": loop_points, "seconds": sec, "points_per_s": loop_points / sec}
    out["loop_rates"] = loop_rates
    out["jax"] = jax.__version__
    return out


def _brainpy(values: np.ndarray, duration: float, venv: pathlib.Path) -> dict:
    cmd = [str(venv / "bin" / "python"), str(HERE / "peers" / "coba_sweep_brainpy.py")]
    cmd += ["--duration", str(duration), "--values", json.dumps(values.tolist())]
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise SystemExit(f"BrainPy sweep failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--duration", type=float, default=1000.0, help="ms")
    parser.add_argument("--chunks", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--loop-points", type=int, default=None, help="default: all points")
    parser.add_argument("--brainpy", type=int, default=0, help="points BrainPy runs (0: none)")
    parser.add_argument(
        "--venv", type=pathlib.Path, default=pathlib.Path("/tmp/brainsim-bench/venv")
    )
    args = parser.parse_args()

    values = _grid(args.points)
    loop_points = args.loop_points or args.points
    ours = _ours(values, args.duration, args.chunks, loop_points)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "points": args.points,
        "duration_ms": args.duration,
        "ours": {k: v for k, v in ours.items() if k not in ("rates", "loop_rates")},
    }
    rates = np.asarray(ours["rates"])
    diff = np.abs(rates[:loop_points] - np.asarray(ours["loop_rates"]))
    result["sweep_vs_loop_max_rate_diff_hz"] = float(diff.max())
    loop_pps = ours["loop"]["points_per_s"]
    print(f"{args.points} points x {args.duration:g} ms, COBA 4000")
    print(f"loop:    {loop_pps:.3f} points/s ({loop_points} points)")
    for chunk, r in ours["sweep"].items():
        pps = r["points_per_s"]
        print(f"sweep chunk {chunk}: {pps:.3f} points/s, {pps / loop_pps:.2f}x loop")
    if args.brainpy:
        bp = _brainpy(values[: args.brainpy], args.duration, args.venv)
        result["brainpy"] = {k: v for k, v in bp.items() if k != "rates"}
        bp_rates = np.asarray(bp["rates"])
        rel = np.abs(bp_rates - rates[: args.brainpy]) / np.maximum(rates[: args.brainpy], 1.0)
        result["brainpy_vs_ours_mean_rel_rate_diff"] = float(rel.mean())
        print(f"BrainPy: {bp['points_per_s']:.3f} points/s ({args.brainpy} points)")
    print("RESULT " + json.dumps(result))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    with open(results / "sweep_coba.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
