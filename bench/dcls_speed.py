"""`python -m bench.dcls_speed [--batches 8] [--batch-size 256] [--device cpu|gpu]`.

Training speed of the DCLS network of `configs/dcls_shd.yaml` at SHD's shapes, brainsim
against the same network in PyTorch built on the `dcls` package (the library of the
paper's code; `bench/peers/dcls_torch.py`, run in the venv that
`bench/setup_dcls_peer.sh` makes: Python 3.11, torch 2.13.0 CPU, `dcls`).

Shapes: 140 input channels (SHD's 700 summed by groups of 5), 100 steps of 10 ms plus
the 39 empty steps that the `dcls` task appends so late spikes reach the readout (139
steps per sample), batch 256, two hidden layers of 256, 20 classes, 25 taps (250 ms).
Input: random spikes, each (step, pooled channel) cell of the 100 recorded steps a spike
with probability `--density`, 1.5 % by default (within the 1-2 % per 10 ms bin and pooled
channel assumed for SHD; SHD is not on the dev machines, so not measured here; both sides
run dense convolutions, so the time hardly depends on it); labels uniform. Each side
runs in its own process: `--warmup` batches untimed (brainsim's step compiles three
times, because some initial leaves are weakly typed, so its warm-up lasts until a batch
compiles nothing), then `--batches` full training steps timed (forward, backward,
optimiser update and a host read of the loss, as `brainsim.train.fit` does). Seconds per
batch are extrapolated to one 8,156-sample SHD epoch (8156 / batch size batches). Both
sides use every core they see (`XLA_FLAGS` and `OMP_NUM_THREADS` are recorded).

brainsim's side is what `brainsim train configs/dcls_shd.yaml` runs per batch: the
`DCLSNet`, `dcls_loss`, `dcls_optimizer` and `make_train_step` of the `dcls` task.

Prints one `RESULT {json}` line per side and a markdown table with the ratio
(PyTorch / brainsim seconds, above 1 when brainsim is faster); appends the results to
`bench/results/dcls_speed.jsonl`. `--side brainsim|torch` runs one side only.

`--check` runs no timing: it checks that the two sides compute the same network (loss,
output potentials and gradients with respect to weights and delays agree to 1e-6 in
float64, on a batch of 4 at SHD's channel counts with 2 x 32 hidden neurons, in training
mode with Gaussian-spread delays and batch statistics).
`--device gpu` needs a CUDA build of torch in the peer venv (`BRAINSIM_DCLS_VENV`); the
setup script installs the CPU build.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "configs" / "dcls_shd.yaml"
PEER = HERE / "peers" / "dcls_torch.py"
SETUP = HERE / "setup_dcls_peer.sh"
VENV = pathlib.Path(os.environ.get("BRAINSIM_DCLS_VENV", "/tmp/brainsim-bench/venv311"))
SHD_TRAIN = 8156


def _ours(args: argparse.Namespace) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np

    import brainsim as bs
    from brainsim.models._dcls import DCLSNet, dcls_loss, dcls_optimizer, trainable
    from brainsim.models._tasks import load_train_config
    from brainsim.train import make_train_step

    config = load_train_config(CONFIG, [f"batch_size={args.batch_size}"]).config
    n_classes = 20
    c_in = config.input_channels // config.channel_pool
    model = DCLSNet(
        (c_in, *config.hidden, n_classes),
        n_taps=config.n_taps,
        dt=config.bin_ms,
        tau_m=config.tau_m_ms,
        mode=config.delays,
        batch_norm=config.batch_norm,
        dropout=config.dropout,
        surrogate_alpha=config.surrogate_alpha,
        key=jr.key(args.seed),
    )
    steps_per_epoch = SHD_TRAIN // args.batch_size
    optimizer, _ = dcls_optimizer(model, config, steps_per_epoch)
    spec = trainable(model)
    params, static = eqx.partition(model, spec)
    opt_state = optimizer.init(params)
    step = make_train_step(dcls_loss, optimizer)

    n_steps = config.n_bins + config.pad_steps
    rng = np.random.default_rng(args.seed + 1)

    def make_batch():
        x = np.zeros((args.batch_size, n_steps, c_in), np.float32)
        x[:, : config.n_bins] = rng.random((args.batch_size, config.n_bins, c_in)) < args.density
        y = rng.integers(0, n_classes, args.batch_size).astype(np.int32)
        return jnp.asarray(x), jnp.asarray(y)

    compiles = [0]

    def on_event(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiles[0] += 1

    jax.monitoring.register_event_duration_secs_listener(on_event)
    key = jr.key(args.seed + 2)
    times, losses, density, warm = [], [], [], 0
    while len(times) - warm < args.batches:
        batch = make_batch()
        density.append(float(np.asarray(batch[0][:, : config.n_bins]).mean()))
        before, i = compiles[0], len(times)
        tic = time.perf_counter()
        params, opt_state, loss, _, finite = step(
            params, static, opt_state, batch, jr.fold_in(key, i)
        )
        losses.append(float(loss))  # the host read `fit` does every batch
        times.append(time.perf_counter() - tic)
        if not bool(finite):
            raise SystemExit(f"brainsim: non-finite loss or gradient at batch {i}")
        if warm == i and (i < args.warmup or compiles[0] > before):
            warm = i + 1  # still warming up: the first batches (re)compile the step
            if warm > args.warmup + 5:
                raise SystemExit("brainsim: the train step still recompiles after 5 extra batches")
        elif compiles[0] > before:
            raise SystemExit(f"brainsim: the train step recompiled at timed batch {i}")
    args.warmup = warm
    timed = times[args.warmup :]
    n_params = sum(int(x.size) for x in jax.tree_util.tree_leaves(eqx.filter(params, spec)))
    n_params -= sum(
        int(layer.bn_mean.size) * 2 for layer in model.layers if layer.bn_mean is not None
    )
    n_params -= 1  # sigma: set by its schedule, not trained by gradient
    return {
        "side": "brainsim",
        "version": bs.__version__,
        "backend": f"jax {jax.__version__} {jax.default_backend()}",
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)),
        "params": n_params,
        "batches": args.batches,
        "warmup_s": round(sum(times[: args.warmup]), 4),
        "batch_s": sum(timed) / len(timed),
        "batch_s_min": min(timed),
        "warmup_batches": warm,
        "input_density": float(np.mean(density)),
        "n_steps": n_steps,
        "n_taps": config.n_taps,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }


def _check(args: argparse.Namespace, python: pathlib.Path) -> None:
    """Both sides compute the same network: loss, output potentials and gradients with
    respect to weights and delays agree in float64 (train mode, Gaussian-spread delays,
    batch statistics, no dropout) on a small batch at SHD's channel counts."""
    import tempfile

    import jax

    jax.config.update("jax_enable_x64", True)
    import equinox as eqx
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np

    from brainsim.models._dcls import DCLSNet, dcls_loss

    taps, n_steps, batch, sizes = 25, 139, 4, (140, 32, 32, 20)
    model = DCLSNet(sizes, n_taps=taps, dt=10.0, tau_m=10.05, dropout=0.0, key=jr.key(args.seed))
    model = jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, model
    )
    keys = jr.split(jr.key(args.seed + 1), 2 * len(sizes))
    hidden = range(len(sizes) - 2)
    model = eqx.tree_at(
        lambda m: [m.layers[i].bn_scale for i in hidden] + [m.layers[i].bn_shift for i in hidden],
        model,
        [jr.uniform(keys[i], (sizes[i + 1],), jnp.float64, 0.5, 2.0) for i in hidden]
        + [jr.uniform(keys[5 + i], (sizes[i + 1],), jnp.float64, -0.5, 0.5) for i in hidden],
    )
    model = eqx.tree_at(lambda m: m.sigma, model, jnp.asarray(3.0, jnp.float64))
    rng = np.random.default_rng(args.seed + 2)
    x = np.zeros((batch, n_steps, sizes[0]))
    x[:, :100] = rng.random((batch, 100, sizes[0])) < 0.05
    y = rng.integers(0, sizes[-1], batch)

    def loss_of(m):
        return dcls_loss(m, (jnp.asarray(x), jnp.asarray(y)), jr.key(0))[0]

    loss, grads = eqx.filter_value_and_grad(loss_of)(model)
    v = np.asarray(model.forward(jnp.asarray(x), train=True)[0])
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {"x": x, "y": y, "sigma": float(model.sigma), "tau_steps": 10.05 / 10.0}
        arrays.update(n_layers=len(model.layers), taps=taps)
        for i, layer in enumerate(model.layers):
            arrays[f"w{i}"], arrays[f"d{i}"] = np.asarray(layer.weights), np.asarray(layer.delays)
            if layer.bn_scale is not None:
                arrays[f"bn_scale{i}"] = np.asarray(layer.bn_scale)
                arrays[f"bn_shift{i}"] = np.asarray(layer.bn_shift)
        np.savez(f"{tmp}/in.npz", **arrays)
        cmd = [str(python), str(PEER), f"--check-in={tmp}/in.npz", f"--check-out={tmp}/out.npz"]
        _run(cmd, dict(os.environ), 600.0)
        peer = dict(np.load(f"{tmp}/out.npz"))

    def rel(a, b):
        return float(np.max(np.abs(np.asarray(a) - b)) / max(np.max(np.abs(b)), 1e-300))

    errors = {"loss": rel(loss, peer["loss"]), "v_out": rel(v, peer["v"])}
    for i, layer in enumerate(grads.layers):
        errors[f"grad_weights{i}"] = rel(layer.weights, peer[f"gw{i}"])
        errors[f"grad_delays{i}"] = rel(layer.delays, peer[f"gd{i}"])
    print("RESULT " + json.dumps({"check": errors, "loss": float(loss)}), flush=True)
    bad = {k: e for k, e in errors.items() if not e < 1e-6}
    if bad:
        raise SystemExit(f"cross-check failed (relative error above 1e-6): {bad}")
    print("cross-check passed: brainsim and PyTorch + dcls compute the same network")


def _peer_cmd(args: argparse.Namespace, python: pathlib.Path) -> list[str]:
    return [
        str(python),
        str(PEER),
        f"--batches={args.batches}",
        f"--warmup={args.warmup}",
        f"--batch-size={args.batch_size}",
        f"--density={args.density}",
        f"--steps-per-epoch={SHD_TRAIN // args.batch_size}",
        f"--device={'cuda' if args.device == 'gpu' else 'cpu'}",
        f"--seed={args.seed}",
    ]


def _run(cmd: list[str], env: dict, timeout: float) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{cmd[1]} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT ") :])


def _table(results: list[dict], batch_size: int) -> str:
    epoch = SHD_TRAIN / batch_size
    rows = [
        "| side | s / batch (mean) | s / batch (min) | s / SHD epoch (8,156 samples) "
        "| warm-up (batches, s) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rows.append(
            f"| {r['side']} | {r['batch_s']:.3f} | {r['batch_s_min']:.3f} | "
            f"{r['batch_s'] * epoch:.1f} | {r['warmup_batches']}, {r['warmup_s']:.1f} |"
        )
    if len(results) == 2:
        ratio = results[1]["batch_s"] / results[0]["batch_s"]
        rows.append(f"\nPyTorch + dcls / brainsim, seconds per batch: **{ratio:.2f}x**")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=8, help="timed batches per side")
    p.add_argument("--warmup", type=int, default=1, help="untimed batches first (compilation)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--density", type=float, default=0.015, help="spike probability per cell")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--side", choices=("both", "brainsim", "torch"), default="both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per side")
    p.add_argument("--no-save", action="store_true", help="do not append to bench/results")
    p.add_argument("--check", action="store_true", help="only cross-check the two networks")
    args = p.parse_args()
    if args.batches < 1 or args.warmup < 0 or args.batch_size < 1:
        raise SystemExit("--batches and --batch-size must be >= 1, --warmup >= 0")
    if not 0.0 < args.density < 1.0:
        raise SystemExit(f"--density must lie in (0, 1), got {args.density}")

    if os.environ.get("BRAINSIM_DCLS_SPEED_CHILD"):  # inside the brainsim subprocess
        print("RESULT " + json.dumps(_ours(args)), flush=True)
        return
    python = VENV / "bin" / "python"
    if args.side != "brainsim":
        ready = (
            python.exists()
            and not subprocess.run(
                [str(python), "-c", "import torch, DCLS"], capture_output=True
            ).returncode
        )
        if not ready:  # missing, or made by another peer without `dcls`
            subprocess.run(["bash", str(SETUP)], check=True)
    if args.check:
        _check(args, python)
        return

    env = dict(os.environ)
    if args.device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        env["CUDA_VISIBLE_DEVICES"] = ""
    results = []
    common = [
        f"--batches={args.batches}",
        f"--warmup={args.warmup}",
        f"--batch-size={args.batch_size}",
        f"--density={args.density}",
        f"--device={args.device}",
        f"--seed={args.seed}",
    ]
    if args.side in ("both", "brainsim"):
        child = dict(env, BRAINSIM_DCLS_SPEED_CHILD="1")
        cmd = [sys.executable, "-m", "bench.dcls_speed", *common]
        results.append(_run(cmd, dict(child, PYTHONPATH=str(ROOT)), args.timeout))
        print("RESULT " + json.dumps(results[-1]), flush=True)
    if args.side in ("both", "torch"):
        results.append(_run(_peer_cmd(args, python), env, args.timeout))
        print("RESULT " + json.dumps(results[-1]), flush=True)

    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    shapes = (
        f"batch {args.batch_size}, 140 -> 256 -> 256 -> 20, 139 steps (100 + 39 padding), "
        f"25 taps, spike density {args.density:.1%}, device {args.device}, "
        f"{len(os.sched_getaffinity(0))} CPUs, {platform.node()}"
    )
    print(f"\nDCLS training step at SHD's shapes ({shapes}), {args.batches} timed batches\n")
    print(_table(results, args.batch_size))
    if not args.no_save:
        out = HERE / "results" / "dcls_speed.jsonl"
        out.parent.mkdir(exist_ok=True)
        with out.open("a") as f:
            for r in results:
                f.write(json.dumps({"date": stamp, "shapes": shapes, **r}) + "\n")


if __name__ == "__main__":
    main()
