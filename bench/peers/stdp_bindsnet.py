"""Diehl & Cook (2015) STDP training speed in BindsNET 0.3.4; prints one `RESULT {json}` line.

The peer's side of `bench/stdp_speed.py`: `bindsnet.models.DiehlAndCook2015(n_inpt=784,
n_neurons=100, exc=22.5, inh=17.5, dt=0.5, norm=78.4, theta_plus=0.05, nu=(1e-4,
1e-2))` trained on MNIST images one at a time, the loop of BindsNET's
`examples/mnist/eth_mnist.py`: each image (pixels / 255 * `intensity`, 128 Hz at the
brightest pixel) is Poisson-encoded for `--time` ms (`PoissonEncoder`), the network runs
it with learning on (`network.run`, which renormalises the input weights to 78.4 per
neuron at its end), a monitor records the excitatory spikes, and
`network.reset_state_variables()` resets voltages, refractory counters and traces (not
the weights or thresholds). BindsNET has no rest period: that reset stands in for the
paper's 150 ms of rest. It has no repeat at a higher intensity either (eth_mnist shows
each image once), so one image is `time / dt` steps (700 at the defaults). Left out of
eth_mnist's loop: the voltage monitors and the inhibitory spike monitor (only its plots
read them) and the label bookkeeping every 250 images. `--inh` is 17.5, the model's
default; eth_mnist.py passes its own `--inh` (120 in recent versions, per
`../shared/anchors/models.md`), at the same cost per image (396 against 382 ms, 10 and
20 images on a loaded core).

`--warmup` images run first on a throwaway network; the timed `--n` images then start
from a freshly built one (seed `--seed`) on training images 0 .. n-1, so both sides of
the comparison time the first `n` images of a run. The encoding is timed with the run.

MNIST is read from its IDX files (`--data-dir`, default `BRAINSIM_DATA` or
`../shared/data`); BindsNET's dataset classes download, so they are not used. Only the
subpackages the benchmark needs are imported: `import bindsnet` imports every one,
which needs torchvision, gymnasium, OpenCV and matplotlib (see
`bench/setup_bindsnet_peer.sh`).

Run in the venv of `bench/setup_bindsnet_peer.sh`; one torch thread unless `--threads`.
"""

import argparse
import gzip
import importlib.util
import json
import os
import platform
import sys
import time
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]


def _import_bindsnet():
    """`DiehlAndCook2015`, `Monitor` and `PoissonEncoder` without `bindsnet/__init__.py`."""
    spec = importlib.util.find_spec("bindsnet")
    if spec is None or spec.submodule_search_locations is None:
        raise SystemExit("stdp_bindsnet: bindsnet is not installed (bench/setup_bindsnet_peer.sh)")
    package = types.ModuleType("bindsnet")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["bindsnet"] = package
    import bindsnet.network  # noqa: F401  (first: the package's own import order)
    from bindsnet.encoding import PoissonEncoder
    from bindsnet.models import DiehlAndCook2015
    from bindsnet.network.monitors import Monitor

    return DiehlAndCook2015, Monitor, PoissonEncoder


def _load_images(data_dir: Path, count: int) -> np.ndarray:
    """The first `count` MNIST training images, uint8 `(count, 784)`."""
    for folder in (data_dir, data_dir / "mnist", data_dir / "MNIST"):
        path = folder / "train-images-idx3-ubyte.gz"
        if path.is_file():
            break
    else:
        raise SystemExit(f"stdp_bindsnet: no train-images-idx3-ubyte.gz in {data_dir}")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], ">u4")
    if magic != 2051 or rows * cols != 784 or count > n:
        raise SystemExit(f"stdp_bindsnet: {path}: not 28x28 IDX images, or fewer than {count}")
    return np.frombuffer(raw[16:], np.uint8, count * 784, 0).reshape(count, 784)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200, help="timed training images")
    p.add_argument("--warmup", type=int, default=3, help="untimed images first")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--time", type=float, default=350.0, help="presentation (ms)")
    p.add_argument("--dt", type=float, default=0.5, help="ms")
    p.add_argument("--intensity", type=float, default=128.0, help="Hz at pixel 255")
    p.add_argument("--n-neurons", type=int, default=100)
    p.add_argument("--exc", type=float, default=22.5)
    p.add_argument("--inh", type=float, default=17.5)
    p.add_argument("--seed", type=int, default=0)
    default_data = os.environ.get("BRAINSIM_DATA", str(ROOT.parent / "shared" / "data"))
    p.add_argument("--data-dir", type=Path, default=Path(default_data))
    args = p.parse_args()
    if args.n < 1 or args.warmup < 0 or args.threads < 1:
        raise SystemExit("--n and --threads must be >= 1, --warmup >= 0")

    torch.set_num_threads(args.threads)
    DiehlAndCook2015, Monitor, PoissonEncoder = _import_bindsnet()
    images = _load_images(args.data_dir, max(args.n, args.warmup))
    steps = int(args.time / args.dt)
    encoder = PoissonEncoder(time=args.time, dt=args.dt)

    def build():
        torch.manual_seed(args.seed)
        network = DiehlAndCook2015(
            n_inpt=784,
            n_neurons=args.n_neurons,
            exc=args.exc,
            inh=args.inh,
            dt=args.dt,
            norm=78.4,
            theta_plus=0.05,
            nu=(1e-4, 1e-2),
        )
        monitor = Monitor(network.layers["Ae"], state_vars=["s"], time=steps)
        network.add_monitor(monitor, name="Ae_spikes")
        return network, monitor

    def train(network, monitor, image: np.ndarray) -> float:
        datum = torch.from_numpy(image.astype(np.float32)) / 255.0 * args.intensity
        spikes = encoder(datum)  # (steps, 784)
        network.run(inputs={"X": spikes.view(steps, 1, 784)}, time=args.time)
        count = float(monitor.get("s").sum())
        network.reset_state_variables()
        return count

    network, monitor = build()
    tic = time.perf_counter()
    for i in range(args.warmup):
        train(network, monitor, images[i])
    warmup_s = time.perf_counter() - tic

    network, monitor = build()
    counts, times = [], []
    for i in range(args.n):
        tic = time.perf_counter()
        counts.append(train(network, monitor, images[i]))
        times.append(time.perf_counter() - tic)
    total = sum(times)
    result = {
        "side": "bindsnet",
        "version": f"bindsnet {version('bindsnet')}, torch {torch.__version__}",
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "cpus": len(os.sched_getaffinity(0)),
        "n": args.n,
        "warmup": args.warmup,
        "warmup_s": round(warmup_s, 3),
        "seconds": round(total, 4),
        "images_per_s": args.n / total,
        "ms_per_image": 1e3 * total / args.n,
        "ms_per_image_median": 1e3 * float(np.median(times)),
        "presentations_per_image": 1.0,
        "steps_per_image": steps,
        "us_per_step": 1e6 * total / (args.n * steps),
        "mean_spikes": float(np.mean(counts)),
        "protocol": (
            f"{args.time:g} ms at dt {args.dt:g} ms, Poisson {args.intensity:g} Hz at 255, "
            "no rest (state reset), no repeat"
        ),
        "inh": args.inh,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
