"""`python -m bench coba|cuba [--sizes 4000 16000 64000] [--durations 1000] [--reps 3]`.

Runs brainsim and its peers on the same E/I network, each repetition in its own process
(peak memory from `/usr/bin/time -v`), checks that the mean rates agree within 15 %, and
prints wall time per simulated second, compile time and peak memory with the ratio of
each peer to brainsim. Raw results are appended to `bench/results/<model>.jsonl`.

Peers: BrainPy 2.9 (`brainpy.state` with brainevent's numba kernels, its fastest CPU
mode), Brian2 2.11 (cython, cpp_standalone on 1 and 2 threads), both from the venv that
`bench/setup_peers.sh` makes, running the scripts in `../shared/anchors/perf/`; and the
hand-written single-thread C++ loop `../shared/anchors/coba_ref.cpp` (COBA only). The
anchors have no COBAHH model, so `coba_hh` runs our own peer scripts of the same model,
`bench/peers/coba_hh_brainpy.py` and `bench/peers/coba_hh_brian2.py`.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
ANCHORS = pathlib.Path(os.environ.get("BRAINSIM_ANCHORS", ROOT.parent / "shared" / "anchors"))
SCRATCH = pathlib.Path(os.environ.get("BRAINSIM_BENCH_SCRATCH", "/tmp/brainsim-bench"))
PEERS = ("brainsim", "brainpy-state", "brian2-cython", "brian2-cpp", "brian2-cpp-2t", "cpp-loop")


def _timed(cmd: list[str], timeout: float, env: dict | None = None) -> tuple[str, int | None, int]:
    """Run `cmd` under /usr/bin/time -v; returns (output, peak RSS in KiB, exit code)."""
    full = ["/usr/bin/time", "-v", *cmd]
    try:
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "", None, 124
    out = proc.stdout + proc.stderr
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
    return out, (int(m.group(1)) if m else None), proc.returncode


def _commands(peer: str, model: str, scale: float, duration: float, venv: pathlib.Path | None):
    py = None if venv is None else str(venv / "bin" / "python")
    perf = ANCHORS / "perf"
    if peer == "brainsim":
        return [
            sys.executable,
            "-m",
            "bench._ours",
            "--model",
            model,
            "--scale",
            str(scale),
            "--duration",
            str(duration),
        ]
    if peer == "cpp-loop" and model == "coba":
        binary = SCRATCH / "coba_ref"
        if not binary.exists():
            SCRATCH.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["g++", "-O3", "-march=native", "-o", str(binary), str(ANCHORS / "coba_ref.cpp")],
                check=True,
            )
        return [str(binary), str(int(4000 * scale)), str(duration)]
    if py is None or peer == "cpp-loop":
        return None
    common = ["--model", model, "--scale", str(scale), "--duration", str(duration)]
    if model == "coba_hh":  # the anchors have no HH model: our own peer scripts, same model
        if peer == "brainpy-state":
            return [py, str(HERE / "peers" / "coba_hh_brainpy.py"), *common[2:]]
        hh = HERE / "peers" / "coba_hh_brian2.py"
        targets = {
            "brian2-cython": ["--target", "cython"],
            "brian2-cpp": ["--target", "cpp_standalone"],
            "brian2-cpp-2t": ["--target", "cpp_standalone", "--threads", "2"],
        }
        if peer not in targets:
            return None
        return [py, str(hh), *targets[peer], *common[2:], "--build-dir", str(SCRATCH / "brian2")]
    if peer == "brian2-cython":
        return [
            py,
            str(perf / "coba_brian2.py"),
            "--target",
            "cython",
            *common,
            "--build-dir",
            str(SCRATCH / "brian2"),
        ]
    if peer in ("brian2-cpp", "brian2-cpp-2t"):
        threads = ["--threads", "2"] if peer.endswith("2t") else []
        return [
            py,
            str(perf / "coba_brian2.py"),
            "--target",
            "cpp_standalone",
            *common,
            *threads,
            "--build-dir",
            str(SCRATCH / "brian2"),
        ]
    if peer == "brainpy-state":
        return [py, str(perf / "coba_brainpy.py"), "--api", "state", *common]
    return None


def _parse(peer: str, out: str) -> dict | None:
    if peer == "cpp-loop":
        m = re.search(r"N=(\d+) T=(\d+)ms wall=([\d.]+)s rate=([\d.]+)Hz", out)
        if not m:
            return None
        rate = float(m.group(4))
        return {"sim_wall_s": float(m.group(3)), "compile_s": None, "rate_E": rate, "rate_I": rate}
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    return json.loads(lines[-1][7:]) if lines else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("model", choices=("coba", "cuba", "coba_hh"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000])
    parser.add_argument("--durations", type=float, nargs="+", default=[1000.0], help="ms")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    parser.add_argument(
        "--no-peer-venv", action="store_true", help="run brainsim (and the C++ loop) only"
    )
    args = parser.parse_args(argv)

    venv = None
    if not args.no_peer_venv and any(p.startswith(("brainpy", "brian2")) for p in args.peers):
        setup = subprocess.run(
            ["bash", str(HERE / "setup_peers.sh")], capture_output=True, text=True
        )
        if setup.returncode != 0:
            print(f"bench: peers unavailable: {setup.stderr.strip()}", file=sys.stderr)
        else:
            venv = pathlib.Path(setup.stdout.strip().splitlines()[-1])
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    log = results_dir / f"{args.model}.jsonl"
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    rows = []
    for n in args.sizes:
        scale = n / 4000
        for duration in args.durations:
            for peer in args.peers:
                cmd = _commands(peer, args.model, scale, duration, venv)
                if cmd is None:
                    continue
                reps = []
                for rep in range(args.reps):
                    out, rss, code = _timed(cmd, args.timeout, env)
                    parsed = _parse(peer, out) if code == 0 else None
                    record = {
                        "date": stamp,
                        "machine": platform.node(),
                        "peer": peer,
                        "model": args.model,
                        "N": n,
                        "duration_ms": duration,
                        "rep": rep,
                        "exit": code,
                        "rss_kib": rss,
                        "result": parsed,
                        "command": " ".join(cmd),
                    }
                    with log.open("a") as f:
                        f.write(json.dumps(record) + "\n")
                    if parsed is None:
                        print(f"  {peer} N={n} rep {rep}: failed (exit {code})", file=sys.stderr)
                        break
                    reps.append((parsed, rss))
                    print(
                        f"  {peer} N={n} {duration:.0f} ms rep {rep}: {parsed['sim_wall_s']} s",
                        file=sys.stderr,
                    )
                if reps:
                    rows.append(_summary(peer, n, duration, reps))
    _print_table(args.model, rows)
    return 0


def _summary(peer, n, duration, reps):
    walls = [r[0]["sim_wall_s"] for r in reps]
    compiles = [r[0]["compile_s"] for r in reps if r[0].get("compile_s") is not None]
    rss = [r[1] for r in reps if r[1]]
    return {
        "peer": peer,
        "N": n,
        "duration_ms": duration,
        "wall_per_sim_s": statistics.median(walls) / (duration / 1000.0),
        "walls": walls,
        "compile_s": statistics.median(compiles) if compiles else None,
        "rss_mib": statistics.median(rss) / 1024 if rss else None,
        "rate_E": statistics.median(r[0]["rate_E"] for r in reps),
        "rate_I": statistics.median(r[0]["rate_I"] for r in reps),
    }


def _print_table(model, rows):
    print(f"\n{model}: median of reps; wall s per simulated s (ratio = peer / brainsim)\n")
    print(
        "| N | ms | simulator | wall s / sim s (reps) | ratio | compile s | peak MiB "
        "| rate E / I Hz | rates within 15 % |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        ours = next(
            (
                r
                for r in rows
                if r["peer"] == "brainsim"
                and r["N"] == row["N"]
                and r["duration_ms"] == row["duration_ms"]
            ),
            None,
        )
        ratio = "" if ours is None else f"{row['wall_per_sim_s'] / ours['wall_per_sim_s']:.2f}"
        agree = ""
        if ours is not None:
            ok = all(abs(row[k] - ours[k]) <= 0.15 * ours[k] for k in ("rate_E", "rate_I"))
            agree = "yes" if ok else "NO"
        compile_s = "" if row["compile_s"] is None else f"{row['compile_s']:.2f}"
        rss = "" if row["rss_mib"] is None else f"{row['rss_mib']:.0f}"
        walls = ", ".join(f"{w:.3f}" for w in row["walls"])
        print(
            f"| {row['N']:,} | {row['duration_ms']:.0f} | {row['peer']} "
            f"| {row['wall_per_sim_s']:.3f} ({walls}) | {ratio} | {compile_s} | {rss} "
            f"| {row['rate_E']:.1f} / {row['rate_I']:.1f} | {agree} |"
        )


if __name__ == "__main__":
    sys.exit(main())
