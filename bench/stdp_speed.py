"""`python -m bench.stdp_speed [--n 200] [--lockout both|50|5] [--peers] [--core C]`.

Training speed of Diehl & Cook (2015) unsupervised STDP on MNIST, 100 excitatory
neurons: brainsim's `stdp_mnist` task (`configs/stdp_mnist_100.yaml`) against BindsNET
0.3.4's `DiehlAndCook2015` (`bench/peers/stdp_bindsnet.py`, run in the venv that
`bench/setup_bindsnet_peer.sh` makes), images per second over the first `--n` training
images.

brainsim's side is what `brainsim train configs/stdp_mnist_100.yaml` runs per block:
`train_block` of `brainsim/models/_diehl_cook.py` over blocks of `block` images (50, or
`--n` if smaller; `--n` must be a multiple), with the task's keys and the host read of
the spike counts, from the task's initial state. One untimed block on a throwaway
state compiles it first; a compilation inside a timed block is an error. Each image is
350 ms of presentation and 150 ms of simulated rest at dt 0.5 ms (1,000 steps), shown
again at a higher intensity while fewer than 5 excitatory spikes answer, so its cost is
1,000 steps times its presentations (reported). `--lockout` picks the variant: the
authors' 50 ms lockout after an excitatory spike (the config's default) and/or
`t_lockout=5` (BindsNET's refractory period only); `both` runs the two.

BindsNET's side runs eth_mnist.py's loop at our step (dt 0.5 ms): 350 ms of Poisson input
at 128 Hz at the brightest pixel (brainsim: 63.75 Hz, raised while the answer is too
weak), then `reset_state_variables()` in place of the rest, and no repeat: 700 steps per
image. Its excitatory and inhibitory synapses are current-based and instantaneous
(brainsim's, as the paper's, are conductances). The table therefore also gives the cost
per simulated step.

Each side runs in its own process, one thread (`XLA_FLAGS`
`--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1` unless `XLA_FLAGS` is
set; `torch.set_num_threads(1)`), unless `--threads`; `--core C` pins every process to
CPU `C` (`taskset`). Prints one `RESULT {json}` line per run and a markdown table with
the ratio (BindsNET / brainsim time per image, above 1 when brainsim is faster); writes
`bench/results/stdp-speed.json` unless `--no-save`.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "configs" / "stdp_mnist_100.yaml"
PEER = HERE / "peers" / "stdp_bindsnet.py"
SETUP = HERE / "setup_bindsnet_peer.sh"
VENV = pathlib.Path(os.environ.get("BRAINSIM_BENCH_VENV311", "/tmp/brainsim-bench/venv311"))
DATA = os.environ.get("BRAINSIM_DATA", str(ROOT.parent / "shared" / "data"))
CHILD = "BRAINSIM_STDP_SPEED_CHILD"


def _ours(args: argparse.Namespace, lockout: float) -> dict:
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np

    import brainsim as bs
    from brainsim.data import load_mnist
    from brainsim.models._diehl_cook import DiehlCook, train_block
    from brainsim.models._diehl_cook_task import _keys
    from brainsim.models._tasks import load_train_config

    run = load_train_config(CONFIG, [f"network.t_lockout={lockout}"])
    config, seed = run.config, run.seed
    block = min(config.block, args.n)
    if args.n % block:
        raise SystemExit(f"--n must be a multiple of the block ({block}), got {args.n}")
    images, _ = load_mnist(args.data_dir, "train")
    model = DiehlCook(config.network)
    k_init, k_train, _, _ = jr.split(jr.key(seed), 4)  # as `train_stdp_mnist`

    compiles = [0]

    def on_event(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiles[0] += 1

    jax.monitoring.register_event_duration_secs_listener(on_event)
    tic = time.perf_counter()
    warm = train_block(
        model, model.init_state(key=k_init), jnp.asarray(images[:block]), _keys(k_train, 0, block)
    )
    jax.block_until_ready(warm)
    warmup_s = time.perf_counter() - tic

    state = model.init_state(key=k_init)
    seconds, attempts_total, spikes = 0.0, 0, []
    for done in range(0, args.n, block):  # the task's loop, timed as it times it
        ids = (done + np.arange(block)) % len(images)
        keys = _keys(k_train, done, block)  # compiles its `add` once, untimed
        before, t0 = compiles[0], time.perf_counter()
        state, counts, attempts = train_block(model, state, jnp.asarray(images[ids]), keys)
        counts_np = np.asarray(counts)
        seconds += time.perf_counter() - t0
        if compiles[0] > before:
            raise SystemExit(f"brainsim: the timed block at image {done} compiled")
        attempts_total += int(np.asarray(attempts).sum())
        spikes.append(counts_np.sum(axis=1))
    presentations = attempts_total / args.n
    steps = presentations * (model.n_present + model.n_rest)
    return {
        "side": "brainsim",
        "variant": f"t_lockout={lockout:g}",
        "version": f"brainsim {bs.__version__}, jax {jax.__version__} {jax.default_backend()}",
        "python": platform.python_version(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "cpus": len(os.sched_getaffinity(0)),
        "n": args.n,
        "block": block,
        "warmup_s": round(warmup_s, 3),
        "seconds": round(seconds, 4),
        "images_per_s": args.n / seconds,
        "ms_per_image": 1e3 * seconds / args.n,
        "presentations_per_image": presentations,
        "steps_per_image": steps,
        "us_per_step": 1e6 * seconds / (args.n * steps),
        "mean_spikes": float(np.mean(np.concatenate(spikes))),
        "protocol": (
            f"{config.network.t_present:g} ms + {config.network.t_rest:g} ms rest at dt "
            f"{config.network.dt:g} ms, Poisson {config.network.intensity * 255 / 8:g} Hz at "
            f"255, repeated {config.network.intensity_step * 255 / 8:g} Hz brighter while "
            f"< {config.network.min_spikes} spikes"
        ),
    }


def _run(cmd: list[str], env: dict, timeout: float) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode})")
    result = json.loads(lines[-1][len("RESULT ") :])
    print("RESULT " + json.dumps(result), flush=True)
    return result


def _table(results: list[dict]) -> str:
    rows = [
        "| side | images / s | ms / image | presentations / image | steps / image "
        "| us / step | exc. spikes / image | warm-up (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        name = r["side"] + (f" ({r['variant']})" if "variant" in r else "")
        rows.append(
            f"| {name} | {r['images_per_s']:.2f} | {r['ms_per_image']:.1f} | "
            f"{r['presentations_per_image']:.2f} | {r['steps_per_image']:.0f} | "
            f"{r['us_per_step']:.1f} | {r['mean_spikes']:.1f} | {r['warmup_s']:.1f} |"
        )
    return "\n".join(rows)


def _ratios(results: list[dict]) -> dict:
    """BindsNET / brainsim, per image and per simulated step, for each brainsim variant."""
    peer = [r for r in results if r["side"] == "bindsnet"]
    if not peer:
        return {}
    return {
        r["variant"]: {
            "per_image": peer[0]["ms_per_image"] / r["ms_per_image"],
            "per_step": peer[0]["us_per_step"] / r["us_per_step"],
        }
        for r in results
        if r["side"] == "brainsim"
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200, help="timed training images per run")
    p.add_argument("--lockout", choices=("both", "50", "5"), default="both")
    p.add_argument("--peers", action="store_true", help="also run BindsNET")
    p.add_argument("--peer-warmup", type=int, default=3, help="BindsNET's untimed images")
    p.add_argument("--core", type=int, default=None, help="pin every process to this CPU")
    p.add_argument("--threads", type=int, default=1, help="XLA / torch threads")
    p.add_argument(
        "--data-dir", default=DATA, help="MNIST (default BRAINSIM_DATA or ../shared/data)"
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results")
    p.add_argument("--child-lockout", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.n < 1 or args.threads < 1 or args.peer_warmup < 0:
        raise SystemExit("--n and --threads must be >= 1, --peer-warmup >= 0")

    if os.environ.get(CHILD):  # inside a brainsim subprocess
        print("RESULT " + json.dumps(_ours(args, args.child_lockout)), flush=True)
        return
    pin: list[str] = []
    if args.core is not None:
        if not shutil.which("taskset"):
            raise SystemExit("--core needs taskset (util-linux)")
        pin = ["taskset", "-c", str(args.core)]
    env = dict(os.environ, JAX_PLATFORMS="cpu", OMP_NUM_THREADS=str(args.threads))
    if "XLA_FLAGS" not in env and args.threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    common = [f"--n={args.n}", f"--data-dir={args.data_dir}"]

    results = []
    lockouts = {"both": (50.0, 5.0), "50": (50.0,), "5": (5.0,)}[args.lockout]
    for lockout in lockouts:
        cmd = [*pin, sys.executable, "-m", "bench.stdp_speed", *common]
        cmd.append(f"--child-lockout={lockout}")
        child = dict(env, **{CHILD: "1", "PYTHONPATH": str(ROOT)})
        results.append(_run(cmd, child, args.timeout))
    if args.peers:
        python = VENV / "bin" / "python"
        probe = [str(python), "-c", "import importlib.util as u; assert u.find_spec('bindsnet')"]
        if not python.exists() or subprocess.run(probe, capture_output=True).returncode:
            subprocess.run(["bash", str(SETUP)], check=True)
        cmd = [*pin, str(python), str(PEER), *common]
        cmd += [f"--warmup={args.peer_warmup}", f"--threads={args.threads}"]
        results.append(_run(cmd, env, args.timeout))

    ratios = _ratios(results)
    where = (
        f"{platform.node()}, core {args.core if args.core is not None else 'any'}, "
        f"{args.threads} thread(s)"
    )
    print(
        f"\nDiehl & Cook STDP training, 100 excitatory neurons, first {args.n} images ({where})\n"
    )
    print(_table(results))
    for variant, r in ratios.items():
        print(
            f"\nBindsNET / brainsim ({variant}): **{r['per_image']:.2f}x** per image, "
            f"{r['per_step']:.2f}x per simulated step"
        )
    if not args.no_save:
        out = HERE / "results" / "stdp-speed.json"
        out.parent.mkdir(exist_ok=True)
        record = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": where,
            "n": args.n,
            "results": results,
            "ratio_bindsnet_over_brainsim": ratios,
        }
        out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
