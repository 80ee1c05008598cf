"""Branching factors of the LSM and NALSM liquids, and against the astrocyte weight.

`python bench/nalsm/branching.py N_INIT [W_INIT.pkl]` (W_INIT from a `brainsim train
configs/nalsm_mnist.yaml` run); writes bench/results/nalsm-bf.json and the plot. Needs
the MNIST files in ../shared/data."""

import json
import sys
import time

import jax.random as jr
import matplotlib

matplotlib.use("Agg")
import pathlib  # noqa: E402

import matplotlib.pyplot as plt

from brainsim.core._io import load_pytree
from brainsim.models._liquid_data import load_splits
from brainsim.models._lsm import LiquidConfig
from brainsim.models._nalsm import PlasticityConfig, branching_factors

pathlib.Path("bench/results").mkdir(parents=True, exist_ok=True)

splits = load_splits("mnist", data_dir="../shared/data", n_train=10000, n_val=20, n_test=1)
val = splits["val"]
key = jr.key(3)
out = {}


def bf(liq, name):
    t = time.time()
    r = branching_factors(liq, val, key=key, n_samples=20, n_steps=250)
    r["seconds"] = time.time() - t
    out[name] = r
    print(name, r, flush=True)


lsm = LiquidConfig().build(784, seed=0)
bf(lsm, "lsm_w0.75")
liq = LiquidConfig(w_liquid=3.0, w_input=3.0).build(784, seed=0)
model = PlasticityConfig().build(liq)
bf(model.feature_liquid(plastic=False), "nalsm_initial_frozen")
bf(model.feature_liquid(plastic=True), "nalsm_initial_plastic")
w = load_pytree(sys.argv[2] if len(sys.argv) > 2 else "out/nalsm_mnist/w_init.pkl")["w"]
m10 = model.with_weights(w)
bf(m10.feature_liquid(plastic=False), "nalsm_after10k_frozen")
bf(m10.feature_liquid(plastic=True), "nalsm_after10k_plastic")
json.dump(out, open("bench/results/nalsm-bf.json", "w"), indent=1)
n_init = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
sweep = {}
for w_a in (0.002, 0.005, 0.015, 0.05, 0.2):
    t = time.time()
    m = PlasticityConfig(astro_w=w_a).build(liq)
    m, info = m.initialize(splits["train"], n_samples=n_init, key=jr.key(0), chunk=500)
    r = branching_factors(m.feature_liquid(plastic=False), val, key=key, n_samples=20, n_steps=250)
    r["init_seconds"] = info["seconds"]
    r["seconds"] = time.time() - t
    sweep[w_a] = r
    print("w_A", w_a, r, flush=True)
    json.dump(
        {"single": out, "sweep_n_init": n_init, "sweep": sweep},
        open("bench/results/nalsm-bf.json", "w"),
        indent=1,
    )
ws = sorted(sweep)
plt.figure(figsize=(4, 3))
plt.semilogx(ws, [sweep[w]["branching_factor"] for w in ws], "o-")
plt.axhline(1.0, color="k", lw=0.5)
plt.xlabel("astrocyte weight w_A")
plt.ylabel("branching factor (frozen W_INI)")
plt.title(f"NALSM 1000 n, MNIST, {n_init} init samples", fontsize=8)
plt.tight_layout()
plt.savefig("bench/results/nalsm-bf-vs-wA.png", dpi=120)
