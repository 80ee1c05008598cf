"""Cost of a 250-ms liquid feature run per sample: the gather over every synapse, the
dense input block with the liquid synapses gathered ("hybrid"), everything dense, and
the plastic run of NALSM's feature protocol (fading astrocyte-STDP, always gathered),
with its updates masked over every synapse or event-driven.

    python bench/nalsm/speed.py [--sizes 1000 8000] [--batch 32] [--repeats 3] [--plastic-max 1000]

Pin it to a free core (`taskset -c 1`) with XLA_FLAGS=--xla_cpu_multi_thread_eigen=false.
Writes bench/results/nalsm-speed.json and prints one line per variant: the median over
`--repeats` calls of the wall time per sample, after one compiling call.
"""

import argparse
import json
import pathlib
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from brainsim.models._liquid import build_liquid
from brainsim.models._liquid_data import _batch_counts, sample_keys
from brainsim.models._nalsm import PlasticityConfig


def time_per_sample(liquid, x, keys, n_steps, repeats):
    counts = _batch_counts(liquid, x, keys, n_steps).block_until_ready()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _batch_counts(liquid, x, keys, n_steps).block_until_ready()
        times.append((time.perf_counter() - t0) / x.shape[0])
    rate = float(counts.mean()) / n_steps * 1000.0
    return statistics.median(times), rate, float(counts.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 8000])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument(
        "--plastic-max", type=int, default=1000, help="plastic runs only up to this many neurons"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # MNIST-like input probabilities: a fifth of the pixels on, at up to 0.3 per ms
    x = np.where(rng.random((args.batch, 784)) < 0.2, rng.uniform(0, 0.3, (args.batch, 784)), 0)
    x = jnp.asarray(x, jnp.float32)
    keys = sample_keys(jr.key(0), np.arange(args.batch))
    rows = []
    for n in args.sizes:
        side = round(n ** (1 / 3))
        fixed = build_liquid(n_liquid=n, grid=(side,) * 3, w_liquid=0.75, w_input=0.75, seed=0)
        variants = [("gather", fixed), ("hybrid", fixed.with_dense_weights(liquid_block=False))]
        if fixed.with_dense_weights().w_rest is None:
            variants.append(("dense", fixed.with_dense_weights(liquid_block=True)))
        if n <= args.plastic_max:
            plastic = build_liquid(n_liquid=n, grid=(side,) * 3, seed=0)
            nalsm = PlasticityConfig().build(plastic)
            features = nalsm.feature_liquid(plastic=True)
            variants.append(("plastic (NALSM features)", features))
            variants.append(("plastic, event-driven updates", features.with_event_updates()))
        totals = {}
        for name, liquid in variants:
            sec, rate, total = time_per_sample(liquid, x, keys, args.steps, args.repeats)
            totals[name] = total
            row = {"n_liquid": n, "variant": name, "ms_per_sample": 1e3 * sec, "rate_hz": rate}
            rows.append(row)
            print(
                f"{n:5d} {name:26s} {1e3 * sec:9.2f} ms/sample  liquid {rate:6.1f} Hz", flush=True
            )
        static = [totals[k] for k in ("gather", "hybrid", "dense") if k in totals]
        print(f"      static variants give the same spike total: {len(set(static)) == 1}")
    out = pathlib.Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "rows": rows,
        "batch": args.batch,
        "steps": args.steps,
        "machine": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "nalsm-speed.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
