"""The liquid (connection rule, neuron and synapse by hand), readouts, determinism, and
the `lsm` task end to end."""

import json
import os
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import yaml

from brainsim.cli import main
from brainsim.core import SpikeMonitor, StateMonitor, integrate
from brainsim.models import load_train_config
from brainsim.models._liquid import build_liquid, nalsm_stdp
from brainsim.models._liquid_data import (
    Split,
    _batch_counts,
    batch_counts,
    extract_features,
    image_probabilities,
)
from brainsim.models._liquid_readout import (
    normalize_counts,
    readout_accuracy,
    ridge_readout,
    train_linear_readout,
)
from brainsim.models._liquid_zeroshot import (
    ProjectionHeads,
    build_paired_liquids,
    info_nce,
    pair_retrieval_accuracy,
    train_projection_heads,
    zero_shot_accuracy,
)
from brainsim.models._lsm import LSM, DataConfig, LiquidConfig, ReadoutConfig

CONFIGS = Path(__file__).parents[2] / "configs"
DATA = os.environ.get("BRAINSIM_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="BRAINSIM_DATA is not set")


@pytest.fixture(scope="module")
def liquid1000():
    return build_liquid(seed=3)


def _liquid_synapses(liquid):
    pre, post, w = liquid.connection_lists()
    inp = pre < liquid.n_input
    return (pre[~inp] - liquid.n_input, post[~inp], w[~inp]), (pre[inp], post[inp], w[inp])


def test_liquid_connectivity_follows_the_papers_rule(liquid1000):
    """Counts per (pre type, post type) and per distance match C exp(-(D/lam)^2)."""
    liq = liquid1000
    (pre, post, w), _ = _liquid_synapses(liq)
    pos = np.asarray(liq.positions, np.float64)
    inh = np.asarray(liq.inhibitory)
    assert inh.sum() == 200 and len(np.unique(pos, axis=0)) == 1000
    assert not np.any(pre == post)  # no self-connections
    assert len(set(zip(pre.tolist(), post.tolist()))) == len(pre)  # no duplicates
    d2 = np.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1)  # [pre, post]
    c = {(False, False): 0.2, (False, True): 0.1, (True, False): 0.3, (True, True): 0.05}
    observed = np.zeros((1000, 1000), bool)
    observed[pre, post] = True
    for (pre_inh, post_inh), cval in c.items():
        block = np.ix_(inh == pre_inh, inh == post_inh)
        p = cval * np.exp(-d2[block] / 9.0)
        if pre_inh == post_inh:
            np.fill_diagonal(p, 0.0)
        n_obs = observed[block].sum()
        mean, sd = p.sum(), np.sqrt(np.sum(p * (1 - p)))
        assert abs(n_obs - mean) < 4 * sd, (pre_inh, post_inh, n_obs, mean, sd)
    # distance profile of E -> E at each squared distance present in the grid
    block = np.ix_(~inh, ~inh)
    dd, oo = d2[block], observed[block]
    for value in (1.0, 2.0, 3.0, 4.0, 5.0, 9.0):
        sel = dd == value
        p = 0.2 * np.exp(-value / 9.0)
        sd = np.sqrt(p * (1 - p) / sel.sum())
        assert abs(oo[sel].mean() - p) < 4 * sd, (value, oo[sel].mean(), p)
    # signs: excitatory sources positive, inhibitory negative, all at |w_liquid|
    np.testing.assert_array_equal(w, np.where(inh[pre], -3.0, 3.0))


def test_input_projection_is_fifteen_percent_with_random_signs(liquid1000):
    _, (pre, post, w) = _liquid_synapses(liquid1000)
    assert len(pre) == round(0.15 * 784 * 1000)
    assert len(set(zip(pre.tolist(), post.tolist()))) == len(pre)
    assert set(np.abs(w).tolist()) == {3.0}
    frac = np.mean(w > 0)
    assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / len(w))


@pytest.mark.parametrize("dense", [None, True, False])
def test_lif_and_last_spike_synapse_by_hand(x64, dense):
    """One input neuron onto one liquid neuron: input spike one step after its drive,
    then the PSC w exp(-s/tau_u)/tau_u of the last spike, v <- v (1 - 1/64) + I."""
    liq = build_liquid(n_liquid=1, grid=(1, 1, 1), n_input=1, p_input=1.0, w_input=3.0, seed=1)
    if dense is not None:
        liq = liq.with_dense_weights(liquid_block=dense)
    (w,) = np.asarray(liq.w0)[np.asarray(liq.valid)]
    tau = float(liq.tau_u[0])
    n = 12
    drive = jnp.zeros((n, 1)).at[0, 0].set(1.0)
    sol = integrate(
        liq,
        liq.init_state(),
        drive,
        dt=1.0,
        n_steps=n,
        save=[StateMonitor("v"), SpikeMonitor("input")],
    )
    np.testing.assert_array_equal(np.asarray(sol.traces["spikes:input"])[:, 0], np.arange(n) == 1)

    def k(s):
        return np.exp(-s / tau) / tau

    v, expected = 0.0, []
    for t in range(n):
        s = 20.0 if t == 0 else t - 1.0  # timer: 20 at the start, 0 in the spike step
        v = v - v / 64.0 + w * k(s)
        expected.append(v)
    np.testing.assert_allclose(np.asarray(sol.traces["v"])[:, 1], expected, rtol=1e-12)
    # the input neuron: 100 after its drive, reset in its spike step
    np.testing.assert_allclose(np.asarray(sol.traces["v"])[:3, 0], [100.0, 0.0, 0.0])


def test_refractory_period_is_two_steps():
    liq = build_liquid(n_liquid=1, grid=(1, 1, 1), n_input=1, p_input=1.0, seed=0)
    sol = integrate(
        liq, liq.init_state(), jnp.ones((13, 1)), dt=1.0, n_steps=13, save=[SpikeMonitor("input")]
    )
    steps = np.flatnonzero(np.asarray(sol.traces["spikes:input"])[:, 0])
    np.testing.assert_array_equal(steps, [1, 4, 7, 10])


def _blobs(key, n, d=40, classes=3):
    rng = np.random.default_rng(key)
    centres = rng.uniform(0, 30, (classes, d))
    y = rng.integers(0, classes, n)
    x = rng.poisson(centres[y]).astype(np.float64)
    return x, y


def test_readouts_solve_a_separable_problem():
    x, y = _blobs(0, 300)
    xtr, ytr, xte, yte = x[:200], y[:200], x[200:], y[200:]
    ftr, scale = normalize_counts(xtr)
    fte, _ = normalize_counts(xte, scale)
    w, b = ridge_readout(ftr, ytr, l2=1e-6, n_classes=3)
    assert readout_accuracy((w, b), fte, yte) == 1.0
    readout, best = train_linear_readout(
        (ftr, ytr),
        (fte, yte),
        n_classes=3,
        key=jr.key(0),
        epochs=30,
        batch_size=50,
        learning_rate=0.05,
    )
    assert readout_accuracy(readout, fte, yte) == 1.0 and best >= 0
    # and through the LSM wrapper, with its own normalisation
    lsm = LSM(build_liquid(n_liquid=8, grid=(2, 2, 2), n_input=4, seed=0))
    lsm, info = lsm.fit_readout(
        (xtr, ytr), (xte, yte), config=ReadoutConfig(kind="ridge"), n_classes=3
    )
    assert info["readout"] == "ridge" and lsm.accuracy(xte, yte) == 1.0


def test_ridge_matches_the_normal_equations(x64):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 6)), rng.integers(0, 4, 50)
    w, b = ridge_readout(x, y, l2=0.3, n_classes=4)
    xa = np.hstack([x, np.ones((50, 1))])
    reg = np.diag([0.3] * 6 + [0.0])
    ref = np.linalg.solve(xa.T @ xa + reg, xa.T @ np.eye(4)[y])
    np.testing.assert_allclose(np.vstack([w, b]), ref, atol=1e-10)


def test_dense_weights_give_the_gathers_spikes(liquid1000):
    """The dense product per time constant (static liquids) and the gather over the
    synapse table give the same spike counts on the paper's 1000-neuron liquid."""
    liq = eqx.tree_at(lambda m: m.w0, liquid1000, liquid1000.w0 * 0.25)
    assert liq.dense_pays() and liq.w_dense is None
    dense = liq.with_dense_weights()
    assert len(dense.w_dense) == 2 and dense.w_dense[0].shape[0] == 1784
    hybrid = liq.with_dense_weights(liquid_block=False)
    assert hybrid.w_dense[0].shape[0] == 784 and hybrid.w_rest.shape[1] < liq.w0.shape[1]
    p = np.random.default_rng(1).uniform(0, 0.4, (4, 784)).astype(np.float32)
    keys = jr.split(jr.key(2), 4)
    a = np.asarray(_batch_counts(liq, jnp.asarray(p), keys, 80))
    assert a.sum() > 1000
    for fast in (dense, hybrid):
        np.testing.assert_array_equal(np.asarray(_batch_counts(fast, jnp.asarray(p), keys, 80)), a)
    # batch_counts itself picks the dense form for this liquid
    np.testing.assert_array_equal(np.asarray(batch_counts(liq, jnp.asarray(p), keys, 80)), a)


def test_dense_weights_are_for_static_liquids_only(liquid1000):
    dense = liquid1000.with_dense_weights()
    with pytest.raises(ValueError, match="plastic"):
        nalsm_liquid = liquid1000.with_plasticity(nalsm_stdp(liquid1000))
        nalsm_liquid.with_dense_weights()
    with pytest.raises(ValueError, match="w:"):
        dense.init_state(w=liquid1000.w0)
    # new weights or plasticity drop the dense copy, which would be stale
    assert dense.with_weights(liquid1000.w0 * 0.5).w_dense is None
    assert dense.with_plasticity(nalsm_stdp(liquid1000)).w_dense is None
    assert dense.without_dense_weights().w_dense is None
    # the 8000-neuron liquid: dense input synapses, liquid synapses by gather
    big = build_liquid(n_liquid=8000, grid=(20, 20, 20), seed=0)
    assert big.dense_pays()
    fast = big.with_dense_weights()
    assert fast.w_dense[0].shape[0] == 784 and fast.w_rest is not None
    # a sparse input projection keeps the gather
    assert not build_liquid(n_liquid=8, grid=(2, 2, 2), n_input=200, p_input=0.005).dense_pays()


def test_features_are_deterministic_and_independent_of_batching(tmp_path):
    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=16, w_liquid=2.0, w_input=3.0, seed=0)
    p = np.random.default_rng(0).uniform(0, 0.3, (7, 16)).astype(np.float32)
    lsm = LSM(liq, n_steps=60)
    a = np.asarray(lsm.features(p, key=jr.key(5)))
    b = np.asarray(lsm.features(p, key=jr.key(5)))
    np.testing.assert_array_equal(a, b)
    assert a.sum() > 0
    np.testing.assert_array_equal(np.asarray(lsm.features(p[:3], key=jr.key(5))), a[:3])
    split = Split(p, np.zeros(7, np.int32), "rate")
    f4 = extract_features(liq, split, key=jr.key(5), n_steps=60, batch_size=4, chunk_dir=tmp_path)
    np.testing.assert_array_equal(f4, a)
    assert len(list(tmp_path.glob("features-*.pkl"))) == 2
    again = extract_features(
        liq, split, key=jr.key(9), n_steps=60, batch_size=4, chunk_dir=tmp_path
    )  # resumed from the chunks on disk
    np.testing.assert_array_equal(again, a)


def test_image_probabilities_follow_nalsm():
    img = np.zeros((2, 28, 28))
    img[0, 0, :4] = [1, 1, 2, 0]
    img[1, 5, 5] = 7
    p, scale = image_probabilities(img)
    assert scale == 1.0 and p.shape == (2, 784)
    np.testing.assert_allclose(p[0, :4], [0.25, 0.25, 0.5, 0.0])
    assert p[1, 5 * 28 + 5] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n_liquid": 999}, "n_liquid"),
        ({"c": (0.2, 0.1, 1.3, 0.05)}, "C_IE"),
        ({"tau_v": -64.0}, "tau_v"),
        ({"p_input": 1.5}, "p_input"),
        ({"lam": 0.0}, "lam"),
        ({"grid": (10, 10)}, "grid"),
    ],
)
def test_bad_liquids(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        build_liquid(**kwargs)


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="n_liquid"):
        LiquidConfig(n_liquid=1000, grid=(10, 10, 9))
    with pytest.raises(ValueError, match="n_input"):
        DataConfig(dataset="mnist", n_input=2312)
    with pytest.raises(ValueError, match="c.2"):
        LiquidConfig(c=(0.2, 0.1, -0.3, 0.05))
    lsm = LSM(build_liquid(n_liquid=8, grid=(2, 2, 2), n_input=4, seed=0))
    with pytest.raises(ValueError, match="inputs must be"):
        lsm.features(np.zeros((2, 5)), key=jr.key(0))
    with pytest.raises(ValueError, match="readout"):
        lsm.predict(np.zeros((2, 8)))


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*lsm*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    config = load_train_config(path)
    assert config.task in ("lsm", "nalsm")
    assert config.config.liquid.n_liquid == 1000


@needs_data
def test_lsm_task_end_to_end_and_resume(tmp_path):
    cfg = {
        "task": "lsm",
        "liquid": {"n_liquid": 27, "grid": [3, 3, 3], "w_liquid": 2.0, "w_input": 3.0},
        "data": {"dataset": "mnist", "n_train": 40, "n_val": 20, "n_test": 20, "n_steps": 40},
        "readout": {"epochs": 3, "batch_size": 20},
        "batch_size": 20,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 0
    first = json.loads((out / "summary.json").read_text())["summary"]
    assert 0.0 <= first["test_accuracy"] <= 1.0 and first["n_train"] == 40
    assert len(list((out / "features").glob("*.pkl"))) == 4
    assert main(["train", str(path), "--out", str(out), "--no-progress", "--resume"]) == 0
    again = json.loads((out / "summary.json").read_text())["summary"]
    assert again["test_accuracy"] == first["test_accuracy"]


def test_paired_liquids_share_their_recurrent_synapses():
    a, b = build_paired_liquids(16, 40, n_liquid=27, grid=(3, 3, 3), seed=2)
    (pa, qa, wa), _ = _liquid_synapses(a)
    (pb, qb, wb), _ = _liquid_synapses(b)
    key_a = sorted(zip(pa.tolist(), qa.tolist(), wa.tolist()))
    assert key_a == sorted(zip(pb.tolist(), qb.tolist(), wb.tolist())) and len(key_a) > 0
    assert a.n_input == 16 and b.n_input == 40


def test_info_nce_by_hand():
    z = jnp.eye(2)
    # logits [[1, 0], [0, 1]] / T: each row's loss is log(1 + e^{-1/T})
    assert float(info_nce(z, z, 0.5)) == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-6)
    assert float(info_nce(z, z[::-1], 0.5)) == pytest.approx(np.log1p(np.exp(2.0)), rel=1e-6)


def test_projection_heads_align_two_modalities_zero_shot():
    """Paired samples seen through two different fixed maps: contrastive heads learn a
    shared space where modality-A class prototypes classify modality B."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(10, 8))

    def pairs(n):
        y = rng.integers(0, 10, n)
        z = latent[y] + 0.3 * rng.normal(size=(n, 8))
        return z @ map_a + 0.1 * rng.normal(size=(n, 30)), z @ map_b, y

    map_a, map_b = rng.normal(size=(8, 30)), rng.normal(size=(8, 20))
    xa, xb, y = pairs(400)
    va, vb, _ = pairs(100)
    ta, tb, ty = pairs(200)
    heads = ProjectionHeads(30, 20, key=jr.key(0), width=32, dim=16)
    before = zero_shot_accuracy(heads, (xa, y), (tb, ty))
    heads = train_projection_heads(
        heads, (xa, xb), (va, vb), key=jr.key(1), epochs=40, batch_size=100, learning_rate=3e-3
    )
    after = zero_shot_accuracy(heads, (xa, y), (tb, ty))
    assert after > 0.9 and after > before + 0.3, (before, after)
    assert pair_retrieval_accuracy(heads, (ta, tb)) > 0.3
