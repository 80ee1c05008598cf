"""NALSM: the paper's trace STDP through PairSTDP, the astrocyte inside the liquid, fading
rates, the initialisation phase (deterministic, resumable) and the `nalsm` task."""

import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import yaml

from brainsim.cli import main
from brainsim.core import SpikeMonitor, StateMonitor, integrate
from brainsim.data._nmnist import EVENT_DTYPE
from brainsim.models._liquid import TRACE_SCALE, build_liquid, nalsm_stdp
from brainsim.models._liquid_data import (
    Split,
    init_event_drives,
    initialize_liquid,
    nmnist_drive,
)
from brainsim.models._nalsm import NALSM, NALSMTaskConfig, PlasticityConfig, liquid_adjacency

DATA = os.environ.get("BRAINSIM_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="BRAINSIM_DATA is not set")


def _paper_trace(spikes):
    """NALSM's trace x <- d (x + 0.1 S), d = exp(-1/10), read before this step's update."""
    x, out = 0.0, []
    for s in spikes:
        out.append(x)
        x = np.exp(-0.1) * (x + 0.1 * s)
    return np.array(out)


@eqx.filter_jit
def _run_rule(rule, liq, w, s_all, s_post, a_minus):
    """The rule over a spike sequence (lax.scan), NALSM's rates; returns the weights."""

    def body(carry, s):
        state, w = carry
        state, w = rule.step(
            state, w, liq.pre, liq.post, s[0], s[1], 1.0, modulation=(rule.a_plus, a_minus)
        )
        return (state, w), None

    state = rule.init_state(s_all.shape[1], s_post.shape[1], w.shape, w.dtype)
    return jax.lax.scan(body, (state, w), (s_all, s_post))[0][1]


@pytest.mark.parametrize("lag", [1, 3, 10])
def test_stdp_is_the_papers_trace_rule(x64, lag):
    """One synapse, pre then post `lag` ms later and the reverse: the changes equal
    eta x_pre(t_post) and -A x_post(t_pre) with NALSM's own traces."""
    liq = build_liquid(n_liquid=1, grid=(1, 1, 1), n_input=1, p_input=1.0, w_input=1.0, seed=2)
    rule = nalsm_stdp(liq, a_plus=0.15)
    a_astro = 0.2
    n = 14
    for first in ("pre", "post"):
        pre, post = np.zeros(n), np.zeros(n)
        (pre if first == "pre" else post)[1] = 1.0
        (post if first == "pre" else pre)[1 + lag] = 1.0
        s_all = jnp.asarray(np.stack([pre, post], axis=1))  # input 0, liquid neuron 1
        w = _run_rule(rule, liq, liq.w0, s_all, s_all[:, 1:], TRACE_SCALE * a_astro)
        dw = float(w[0, 0] - liq.w0[0, 0])
        if first == "pre":
            expected = 0.15 * _paper_trace(pre)[1 + lag]
        else:
            expected = -a_astro * _paper_trace(post)[1 + lag]
        assert dw == pytest.approx(expected, rel=1e-12), (first, lag)


def test_inhibitory_sources_follow_the_mirrored_rule(x64):
    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=2, w_liquid=1.0, seed=0)
    rule = nalsm_stdp(liq)
    inh = np.asarray(liq.inhibitory)
    pre, post = np.asarray(liq.pre), np.asarray(liq.post)
    valid = np.asarray(liq.valid)
    rows, cols = np.nonzero(valid & (pre >= 2) & inh[np.maximum(pre - 2, 0)])
    r, c = rows[0], cols[0]
    src, dst = pre[r, c], post[r, c]
    s_all = np.zeros((3, 29))
    s_all[0, src] = 1.0  # the inhibitory source fires at 0, its target at 2
    s_all[2, 2 + dst] = 1.0
    s_all = jnp.asarray(s_all)
    w = _run_rule(rule, liq, liq.w0, s_all, s_all[:, 2:], TRACE_SCALE * 0.3)
    # pre before post on an inhibitory synapse depresses by A x_pre (the weight, -1,
    # becomes more negative), where an excitatory one would potentiate
    expected = -1.0 - 0.3 * 0.1 * np.exp(-0.2)
    assert float(w[r, c]) == pytest.approx(expected, rel=1e-12)
    changed = np.argwhere(np.asarray(w) != np.asarray(liq.w0))
    assert changed.tolist() == [[r, c]]


def test_astrocyte_in_the_liquid_follows_its_spikes(x64):
    """The liquid's astrocyte state equals the recurrence driven by the recorded spikes,
    the rates fade by 0.99 per ms, and the weights stay within their bounds."""
    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=4, seed=4)
    model = NALSM(liq, astrocyte=PlasticityConfig().build(liq).astrocyte)
    fl = model.feature_liquid()
    n = 80
    drive = jr.bernoulli(jr.key(0), 0.3, (n, 4)).astype(jnp.float64)
    save = [SpikeMonitor("liquid"), SpikeMonitor("input"), StateMonitor("astro.a")]
    sol = integrate(fl, fl.init_state(), drive, dt=1.0, n_steps=n, save=save)
    n_liq = np.asarray(sol.traces["spikes:liquid"]).sum(1)
    d = n_liq - np.asarray(sol.traces["spikes:input"]).sum(1)
    assert d.max() > 0 > d.min()  # both regimes visited
    a, expected = 0.15, []
    for k in range(n):
        a = a + (0.015 * d[k] + 0.15 - a) / 100.0
        expected.append(a)
    np.testing.assert_allclose(np.asarray(sol.traces["astro.a"]), expected, rtol=1e-12)
    assert float(sol.state.rate_scale) == pytest.approx(0.99**n, rel=1e-12)
    w = np.asarray(sol.state.w)
    assert np.all(w >= np.asarray(liq.w_min)) and np.all(w <= np.asarray(liq.w_max))
    assert np.all(w[~np.asarray(liq.valid)] == 0.0)
    assert not np.array_equal(w, np.asarray(liq.w0))


def _split(n=12, n_in=16, seed=0):
    p = np.random.default_rng(seed).uniform(0, 0.3, (n, n_in)).astype(np.float32)
    return Split(p, np.zeros(n, np.int32), "rate")


class _Stop(Exception):
    pass


def test_initialisation_is_deterministic_and_resumable(tmp_path):
    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=16, w_liquid=3.0, w_input=3.0, seed=1)
    model = PlasticityConfig().build(liq)
    plastic = model.init_liquid()
    kw = dict(n_samples=6, key=jr.key(7), n_steps=20, chunk=2)
    w1, _ = initialize_liquid(plastic, _split(), **kw)
    w2, _ = initialize_liquid(plastic, _split(), **kw)
    np.testing.assert_array_equal(np.asarray(w1), np.asarray(w2))
    assert not np.array_equal(np.asarray(w1), np.asarray(liq.w0))

    def stop_after_first_chunk(done, total):
        if done == 2:
            raise _Stop

    ckpt = tmp_path / "w_init.pkl"
    with pytest.raises(_Stop):
        initialize_liquid(plastic, _split(), checkpoint=ckpt, progress=stop_after_first_chunk, **kw)
    resumed, _ = initialize_liquid(plastic, _split(), checkpoint=ckpt, **kw)
    np.testing.assert_array_equal(np.asarray(resumed), np.asarray(w1))


def _late_recordings(n=4, first_ms=40, last_ms=80, seed=0):
    """Event recordings whose events all fall in [first_ms, last_ms)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ev = np.zeros(3000, EVENT_DTYPE)
        ev["t"] = np.sort(rng.integers(first_ms * 1000, last_ms * 1000, len(ev)))
        ev["x"], ev["y"], ev["p"] = rng.integers(0, 34, len(ev)), rng.integers(0, 34, len(ev)), 1
        out.append(ev)
    return Split(out, np.zeros(n, np.int32), "events")


def test_initialisation_windows_inside_event_recordings():
    split = _late_recordings()
    ids = np.arange(50, dtype=np.uint32)
    drives = init_event_drives(split, ids, jr.key(3), 20, 100)
    assert drives.shape == (50, 20, 2 * 34 * 34)
    full = [nmnist_drive(e, 100) for e in split.inputs]
    starts = set()
    for d in drives:  # every window is 20 consecutive ms of one recording's first 100
        hits = [
            (i, t0)
            for i in range(4)
            for t0 in range(81)
            if np.array_equal(full[i][t0 : t0 + 20], d)
        ]
        assert hits
        starts.update(t0 for _, t0 in hits)
    assert min(starts) < 20 and max(starts) > 60
    first = init_event_drives(split, ids[:5], jr.key(3), 20, None)
    assert not first.any()  # no event in any recording's first 20 ms

    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=2312, w_liquid=3.0, w_input=3.0, seed=1)
    plastic = PlasticityConfig().build(liq).init_liquid()
    kw = dict(n_samples=6, key=jr.key(7), n_steps=20, chunk=4)
    w_start, _ = initialize_liquid(plastic, split, **kw)
    np.testing.assert_array_equal(np.asarray(w_start), np.asarray(liq.w0))  # silent: no STDP
    w_inside, _ = initialize_liquid(plastic, split, span=100, **kw)
    assert not np.array_equal(np.asarray(w_inside), np.asarray(liq.w0))
    with pytest.raises(ValueError, match="span"):
        initialize_liquid(plastic, _split(), span=100, **kw)
    with pytest.raises(ValueError, match="init_window"):
        NALSMTaskConfig(plasticity=PlasticityConfig(init_window="random"))


def test_nalsm_checks_its_inputs():
    liq = build_liquid(n_liquid=8, grid=(2, 2, 2), n_input=4, seed=0)
    with pytest.raises(ValueError, match="rate_decay"):
        NALSM(liq, rate_decay=1.5)
    with pytest.raises(ValueError, match="without plasticity"):
        NALSM(NALSM(liq).feature_liquid())
    with pytest.raises(ValueError, match="a_plus"):
        PlasticityConfig(a_plus=-0.1)
    with pytest.raises(ValueError, match="needs a plastic liquid"):
        initialize_liquid(liq, _split(n_in=4), n_samples=2, key=jr.key(0))


def test_adjacency_holds_the_liquid_synapses():
    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=5, seed=3)
    adj = liquid_adjacency(liq)
    pre, post, _ = liq.connection_lists()
    inside = pre >= 5
    assert adj.sum() == inside.sum() and np.all(np.diag(adj) == 0)
    assert np.all(adj[pre[inside] - 5, post[inside]] == 1)


@needs_data
def test_nalsm_task_end_to_end(tmp_path):
    cfg = {
        "task": "nalsm",
        "liquid": {"n_liquid": 27, "grid": [3, 3, 3]},
        "data": {"dataset": "mnist", "n_train": 30, "n_val": 20, "n_test": 20, "n_steps": 60},
        "plasticity": {"n_init": 4, "init_chunk": 2},
        "readout": {"kind": "ridge"},
        "batch_size": 10,
        "branching_samples": 2,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert (out / "w_init.pkl").is_file() and summary["init_seconds"] > 0


def test_event_driven_plasticity_equals_the_masked_path(x64):
    liq = build_liquid(n_liquid=27, grid=(3, 3, 3), n_input=16, w_liquid=3.0, w_input=3.0, seed=2)
    plastic = PlasticityConfig().build(liq).feature_liquid()  # astrocyte, fading rates
    events = plastic.with_event_updates(pre_chunk=3, post_chunk=2)  # overflowing passes
    drive = jnp.asarray(np.random.default_rng(0).random((80, 16)) < 0.2, jnp.float64)

    def run(model):
        return integrate(model, model.init_state(), drive, dt=1.0, n_steps=80).state

    masked, evented = run(plastic), run(events)
    np.testing.assert_array_equal(np.asarray(evented.counts), np.asarray(masked.counts))
    np.testing.assert_allclose(np.asarray(evented.w), np.asarray(masked.w), rtol=1e-12, atol=1e-14)
    assert float(masked.counts.sum()) > 0 and not np.allclose(masked.w, liq.w0)
    assert events.with_plasticity(None).events is None
    with pytest.raises(ValueError, match="static"):
        liq.with_event_updates()
