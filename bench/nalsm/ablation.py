"""The NALSM ablation: the same liquid initialised with and without the astrocyte
(500/200/200 MNIST samples, 2,000 initialisation samples). Writes
bench/results/nalsm-ablation.json."""

import json
import pathlib  # noqa: E402
import time

import jax.random as jr

from brainsim.models._liquid_data import extract_features
from brainsim.models._lsm import LSM, DataConfig, LiquidConfig, ReadoutConfig
from brainsim.models._nalsm import PlasticityConfig

pathlib.Path("bench/results").mkdir(parents=True, exist_ok=True)

splits = DataConfig(n_train=500, n_val=200, n_test=200).load("../shared/data")
liq = LiquidConfig(w_liquid=3.0, w_input=3.0).build(784, seed=0)
res = {}
for astro in (True, False):
    t = time.time()
    m = PlasticityConfig(astrocyte=astro).build(liq)
    m, info = m.initialize(splits["train"], n_samples=2000, key=jr.key(0), chunk=500)
    fl = m.feature_liquid(plastic=False)
    f = {
        k: extract_features(fl, s, key=jr.fold_in(jr.key(1), i), batch_size=50)
        for i, (k, s) in enumerate(splits.items())
    }
    lsm, r = LSM(fl).fit_readout(
        (f["train"], splits["train"].labels),
        (f["val"], splits["val"].labels),
        config=ReadoutConfig(epochs=200),
    )
    r["test_accuracy"] = lsm.accuracy(f["test"], splits["test"].labels)
    r["rate_hz"] = float(f["train"].mean() * 4)
    r["init_seconds"] = info["seconds"]
    r["seconds"] = time.time() - t
    res["astrocyte" if astro else "stdp_only"] = r
    print(astro, json.dumps(r), flush=True)
json.dump(res, open("bench/results/nalsm-ablation.json", "w"), indent=1)
