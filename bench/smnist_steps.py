"""Time and peak RSS of sequential-MNIST train steps, checkpointed scan against plain.

    python bench/smnist_steps.py 28    # configs/smnist_alif.yaml as shipped (chunks of 28)
    python bench/smnist_steps.py 0     # the same network with a plain lax.scan

Builds the network of `configs/smnist_alif.yaml` with `scan_chunk` set to the argument,
runs 6 train steps (batch 256) through `brainsim.train.make_train_step` and prints one
`RESULT {json}` line: the first call (with compilation), the median of the other five,
the implied seconds per epoch of 55,000 images and the process's peak RSS. Run each
setting in its own process, so that the peak RSS is that setting's. Needs the MNIST files
(`BRAINSIM_DATA` or `../shared/data`).
"""

import json
import os
import resource
import sys
import time

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
import optax

from brainsim.models import load_train_config
from brainsim.models._snn import load_task_data, make_loss, network_for, trainable_weights
from brainsim.train import make_train_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(chunk: int) -> dict:
    overrides = [f"scan_chunk={chunk}", "train_size=2560", "val_size=256", "test_size=256"]
    cfg = load_train_config(os.path.join(ROOT, "configs", "smnist_alif.yaml"), overrides).config
    data_dir = os.environ.get("BRAINSIM_DATA", os.path.join(ROOT, "..", "shared", "data"))
    x, y = load_task_data(cfg, data_dir)["train"]
    model = network_for(cfg, 1, 10, key=jr.key(0))
    params, static = eqx.partition(model, trainable_weights(model))
    optimizer = optax.adam(cfg.learning_rate)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    step = make_train_step(make_loss(cfg, train=True), optimizer)
    times = []
    for i in range(6):
        batch = (x[i * 256 : (i + 1) * 256], y[i * 256 : (i + 1) * 256])
        t0 = time.perf_counter()
        params, opt_state, loss, _, _ = step(params, static, opt_state, batch, jr.key(i))
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t0)
    step_s = float(np.median(times[1:]))
    return {
        "scan_chunk": chunk,
        "first_s": round(times[0], 2),
        "step_s": round(step_s, 3),
        "epoch_s": round(step_s * (55000 // 256), 1),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 28)))
