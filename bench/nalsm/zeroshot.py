"""The zero-shot LSM: MNIST images and N-MNIST events of the same digits through two
liquids with shared recurrent synapses, linear probes and contrastive projection heads.
Writes bench/results/nalsm-zeroshot.json."""

import json
import pathlib  # noqa: E402
import time

import jax.random as jr
import numpy as np

from brainsim.data import load_mnist, load_nmnist
from brainsim.models._liquid_data import Split, extract_features, image_probabilities
from brainsim.models._liquid_readout import normalize_counts, select_ridge
from brainsim.models._liquid_zeroshot import (
    ProjectionHeads,
    build_paired_liquids,
    pair_retrieval_accuracy,
    train_projection_heads,
    zero_shot_accuracy,
)

pathlib.Path("bench/results").mkdir(parents=True, exist_ok=True)

t0 = time.time()
x_tr, y_tr = load_mnist("../shared/data", "train")
x_te, y_te = load_mnist("../shared/data", "test")
_, scale = image_probabilities(x_tr[:50000])
ev_tr, ye_tr = load_nmnist("../shared/data", "train")
ev_te, ye_te = load_nmnist("../shared/data", "test")
assert np.array_equal(ye_tr, y_tr[:1000]) and np.array_equal(ye_te, y_te[:100])
img_liq, ev_liq = build_paired_liquids(784, 2312, seed=0, w_liquid=0.75, w_input=0.75)
key = jr.key(0)


def feats(liq, split, i):
    return extract_features(liq, split, key=jr.fold_in(key, i), batch_size=25)


fi_tr = feats(img_liq, Split(image_probabilities(x_tr[:1000], scale)[0], y_tr[:1000], "rate"), 0)
fi_te = feats(img_liq, Split(image_probabilities(x_te[:100], scale)[0], y_te[:100], "rate"), 1)
fe_tr = feats(ev_liq, Split(ev_tr, ye_tr, "events"), 2)
fe_te = feats(ev_liq, Split(ev_te, ye_te, "events"), 3)
t_feat = time.time() - t0
np.savez(
    "bench/results/nalsm-zeroshot-features.npz", fi_tr=fi_tr, fi_te=fi_te, fe_tr=fe_tr, fe_te=fe_te
)
res = {"feature_seconds": t_feat}
grid = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
for name, ftr, fte in (("mnist", fi_tr, fi_te), ("nmnist", fe_tr, fe_te)):
    a, s = normalize_counts(ftr[:800])
    v, _ = normalize_counts(ftr[800:], s)
    t, _ = normalize_counts(fte, s)
    w, b, l2, acc = select_ridge((a, y_tr[:800]), (v, y_tr[800:1000]), l2_grid=grid, n_classes=10)
    res[f"probe_{name}_val"] = acc
    res[f"probe_{name}_test"] = float(np.mean(np.argmax(t @ w + b, 1) == y_te[:100]))
    if name == "mnist":
        w_img, b_img, s_img = w, b, s
# naive transfer: the MNIST probe applied to N-MNIST liquid features
t, _ = normalize_counts(fe_te, s_img)
res["mnist_probe_on_nmnist_test"] = float(np.mean(np.argmax(t @ w_img + b_img, 1) == y_te[:100]))
na, sa = normalize_counts(fi_tr)
nb, sb = normalize_counts(fe_tr)
ta, _ = normalize_counts(fi_te, sa)
tb, _ = normalize_counts(fe_te, sb)
na, nb, ta, tb = na * 100, nb * 100, ta * 100, tb * 100  # O(1) inputs for the heads
heads = ProjectionHeads(1000, 1000, key=jr.key(1), width=128, dim=32)
res["zero_shot_before"] = zero_shot_accuracy(heads, (na[:800], y_tr[:800]), (tb, y_te[:100]))
t1 = time.time()
heads = train_projection_heads(
    heads,
    (na[:800], nb[:800]),
    (na[800:], nb[800:]),
    key=jr.key(2),
    epochs=200,
    batch_size=100,
    learning_rate=1e-3,
)
res["head_seconds"] = time.time() - t1
res["zero_shot_nmnist_test"] = zero_shot_accuracy(heads, (na[:800], y_tr[:800]), (tb, y_te[:100]))
res["pair_retrieval_test"] = pair_retrieval_accuracy(heads, (ta, tb))
res["seconds"] = time.time() - t0
print(json.dumps(res, indent=1))
json.dump(res, open("bench/results/nalsm-zeroshot.json", "w"), indent=1)
