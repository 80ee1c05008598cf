"""Diehl & Cook (2015) STDP MNIST: the fused dense STDP step, readout, the task."""

import dataclasses
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import ELL

from brainsim.models._diehl_cook import DiehlCook, DiehlCookParams, train_block
from brainsim.models._diehl_cook_readout import accuracy, assign_labels, classify
from brainsim.plasticity import EventIndex, TripletSTDP
from brainsim.plasticity._dc_dense import dense_stdp_step, spike_indices, transmit_dense


def _rule():
    return TripletSTDP(
        a2_plus=0.0,
        a3_plus=0.05,
        a2_minus=0.02,
        a3_minus=0.0,
        tau_plus=20.0,
        tau_x=20.0,
        tau_minus=20.0,
        tau_y=40.0,
        w_min=0.0,
        w_max=1.0,
        pairing="nearest",
    )


@pytest.mark.parametrize("k", [2, 8])
def test_dense_step_equals_the_library_rule(getkey, k):
    """The fused step equals `TripletSTDP.step` (event path) on an ELL of the matrix,
    also when a step has more than `k` input spikes (k=2) or more spiking columns than
    `POST_CHUNK`, and it transmits with the old weights."""
    n_pre, n_post, steps = 12, 5, 60
    rule = _rule()
    w0 = jr.uniform(getkey(), (n_pre, n_post), minval=0.0, maxval=1.0)
    pre = jr.uniform(getkey(), (steps, n_pre)) < 0.25
    post = jr.uniform(getkey(), (steps, n_post)) < 0.15
    post = post.at[10].set(True)  # more spiking columns than one pass takes
    conn = ELL(np.tile(np.arange(n_post), (n_pre, 1)), w0, n_pre=n_pre, n_post=n_post, major="pre")
    index = EventIndex(conn.pre_ids, conn.post_ids, n_pre, n_post, pre_chunk=3, post_chunk=2)
    idx = spike_indices(pre, k)
    assert int(jnp.max(jnp.sum(pre, axis=1))) > 2  # the overflow path is exercised

    @jax.jit
    def both(w0, pre, post, idx):
        def body(carry, xs):
            s_ref, w_ref, s_new, w_new = carry
            p, q, i = xs
            x_ref = p.astype(w_ref.dtype) @ w_ref
            s_ref, w_ref = rule.step(
                s_ref, w_ref, conn.pre_ids, conn.post_ids, p, q, 0.5, index=index
            )
            s_new, w_new, x_new = dense_stdp_step(rule, s_new, w_new, i, p, q, 0.5)
            err = jnp.max(jnp.abs(w_new - w_ref)), jnp.max(jnp.abs(x_new - x_ref))
            return (s_ref, w_ref, s_new, w_new), err

        init = rule.init_state(n_pre, n_post)
        return jax.lax.scan(body, (init, w0, init, w0), (pre, post, idx))

    (s_ref, w_ref, s_new, w_new), (w_err, x_err) = both(w0, pre, post, idx)
    assert float(jnp.max(w_err)) <= 1e-7 and float(jnp.max(x_err)) <= 1e-6
    assert not np.allclose(w_new, w0)  # something was learned
    for a, b in zip(jax.tree_util.tree_leaves(s_new), jax.tree_util.tree_leaves(s_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_dense_step_without_input_and_transmit():
    rule = _rule()
    w = jnp.full((4, 3), 0.5)
    state = rule.init_state(4, 3)
    state = state.__class__(jnp.full((4,), 1.0), state.r2, state.o1, jnp.full((3,), 1.0))
    post = jnp.array([True, False, False])
    new, w2, x = dense_stdp_step(rule, state, w, None, None, post, 0.5)
    # potentiation of column 0 by a3_plus * r1 * o2, both decayed by one step
    expected = 0.5 + 0.05 * np.exp(-0.5 / 20.0) * np.exp(-0.5 / 40.0)
    np.testing.assert_allclose(w2[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(w2[:, 1:], 0.5)
    assert float(jnp.abs(x).sum()) == 0.0
    spikes = jnp.array([True, False, True, True])
    w3 = jr.uniform(jr.key(2), (4, 3), w2.dtype)
    for k in (1, 2, 4):  # three, two and one pass
        np.testing.assert_allclose(
            transmit_dense(w3, spikes, k),
            spikes.astype(w3.dtype) @ w3,
            rtol=1e-6,
        )
    # batched (vmap turns the passes into one loop over the busiest row) and no spikes
    many = jr.bernoulli(jr.key(3), 0.3, (6, 4)).at[0].set(False)
    np.testing.assert_allclose(
        jax.vmap(lambda s: transmit_dense(w3, s, 1))(many),
        many.astype(w3.dtype) @ w3,
        rtol=1e-6,
    )
    ws = jr.uniform(jr.key(4), (6, 4, 3), w2.dtype)  # weights batched too
    np.testing.assert_allclose(
        jax.vmap(lambda w, s: transmit_dense(w, s, 2))(ws, many),
        np.einsum("bi,bij->bj", np.asarray(many, np.float32), np.asarray(ws)),
        rtol=1e-6,
    )


def test_labelling_and_classification_by_hand():
    # neuron 0 answers class 2, neuron 1 class 0 (mean 3 over two images beats 2),
    # neuron 2 class 1, neuron 3 never fires
    counts = np.array([[0, 4, 0, 0], [0, 2, 1, 0], [5, 0, 0, 0], [0, 2, 6, 0], [1, 3, 0, 0]])
    labels = np.array([0, 0, 2, 1, 2])
    assignments = assign_labels(counts, labels, n_classes=3)
    assert assignments.tolist() == [2, 0, 1, -1]
    # mean count of the assigned neurons per class: class 1 wins the first row, class 2
    # the second; a tie goes to the lower class
    test = np.array([[1, 0, 2, 9], [7, 6, 0, 0], [0, 0, 0, 0]])
    assert classify(test, assignments, n_classes=3).tolist() == [1, 2, 0]
    assert accuracy(np.array([1, 2, 0]), np.array([1, 2, 2])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="labels"):
        assign_labels(counts, np.array([0, 1, 2, 3, 0]), n_classes=3)
    with pytest.raises(ValueError, match="assignments"):
        classify(test, assignments[:3], n_classes=3)


def _blob_images(key, n):
    """Digit-like images: a bright random rectangle on black."""
    images = np.zeros((n, 28, 28), np.uint8)
    rng = np.random.default_rng(int(jr.randint(key, (), 0, 2**30)))
    for i in range(n):
        r, c = rng.integers(4, 14, size=2)
        images[i, r : r + 10, c : c + 8] = 255
    return images


def test_training_keeps_bounds_normalises_and_raises_intensity(getkey):
    # learning rates 50x the paper's, so that unclipped weights would leave [0, w_max]
    params = DiehlCookParams(
        n_neurons=6,
        nu_pre=5e-3,
        nu_post=0.5,
        max_attempts=3,
        t_present=60.0,
        t_rest=10.0,
        t_lockout=5.0,
    )
    model = DiehlCook(params)
    state = model.init_state(key=getkey())
    images = _blob_images(getkey(), 4)
    images[1] = 0  # a blank image never makes the neurons fire: shown max_attempts times
    keys = jr.split(getkey(), 4)
    state, counts, attempts = train_block(model, state, jnp.asarray(images), keys)
    assert int(attempts[1]) == 3 and float(counts[1].sum()) == 0.0
    assert float(counts.sum()) > 0
    w = np.asarray(state.w)
    assert w.min() >= 0.0 and w.max() <= params.w_max
    assert np.any(w == 0.0) and np.any(w == params.w_max)  # the bounds were reached
    normed = np.asarray(model.normalize(state).w)
    np.testing.assert_allclose(normed.sum(axis=0), params.norm_target, rtol=1e-5)
    assert np.all(np.asarray(state.exc.theta) >= 0) and float(state.exc.theta.max()) > 0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"w_max": 0.05, "w_init_low": 0.0, "w_init_high": 0.04}, "normalization target"),
        ({"nu_pre": -1.0}, "nu_pre"),
        ({"w_init_low": 0.5, "w_init_high": 0.1}, "w_init_low"),
        ({"n_neurons": 0}, "n_neurons"),
        ({"dt": 1.0}, "dt"),
        ({"input_delay": -1.0}, "input_delay"),
    ],
)
def test_bad_parameters_are_named(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        DiehlCookParams(**kwargs)


def test_bad_task_config_exits_2(tmp_path, capsys):
    from brainsim.cli import main

    cfg = tmp_path / "bad.yaml"
    cfg.write_text("task: stdp_mnist\nblock: 30\ncheckpoint_every: 100\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "checkpoint_every" in capsys.readouterr().err


@pytest.fixture
def data_dir():
    import os

    path = os.environ.get("BRAINSIM_DATA")
    if not path:
        pytest.skip("BRAINSIM_DATA is not set (MNIST needed)")
    return path


_TINY = """task: stdp_mnist
network:
  n_neurons: 20
block: 10
checkpoint_every: 10
update_interval: 20
eval_batch: 25
"""


def test_cli_end_to_end_and_resume_equals_uninterrupted(tmp_path, data_dir):
    from brainsim.cli import main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(_TINY)
    whole, part = tmp_path / "whole", tmp_path / "part"
    common = ["--data-dir", data_dir, "--no-progress", "--seed", "3"]
    sets = ["--set", "n_train=40", "--set", "n_label=50", "--set", "n_test=50"]
    assert main(["train", str(cfg), "--out", str(whole), *common, *sets]) == 0
    record = json.loads((whole / "summary.json").read_text())["summary"]
    assert record["samples_trained"] == 40 and record["n_test"] == 50
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert record["mean_presentations"] >= 1.0
    lines = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [x["samples"] for x in lines] == [20, 40] and "train_window_accuracy" in lines[1]
    # interrupted after 20 images (no evaluation), then resumed to 40
    stop = ["--set", "n_train=20", "--set", "n_label=0", "--set", "n_test=0"]
    assert main(["train", str(cfg), "--out", str(part), *common, *stop]) == 0
    assert main(["train", str(cfg), "--out", str(part), *common, *sets, "--resume"]) == 0
    a, b = np.load(whole / "model.npz"), np.load(part / "model.npz")
    np.testing.assert_array_equal(a["w"], b["w"])
    np.testing.assert_array_equal(a["theta"], b["theta"])
    resumed = json.loads((part / "summary.json").read_text())["summary"]
    assert resumed["test_accuracy"] == record["test_accuracy"]

    def learned(path):  # the metrics without the timings
        rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if "seconds" not in k and "ms_" not in k} for r in rows]

    assert learned(part) == learned(whole)
    assert resumed["left_out_neurons"] == 0
    # evaluated again without the neurons of the lower half of receptive-field contrast:
    # they are left out, never fire, and stay unlabelled
    contrast = a["w"].max(0) / a["w"].mean(0)
    cut = float(np.median(contrast))
    again = ["--set", f"eval_min_contrast={cut}", "--resume"]
    assert main(["train", str(cfg), "--out", str(part), *common, *sets, *again]) == 0
    pruned = json.loads((part / "summary.json").read_text())["summary"]
    assert pruned["left_out_neurons"] == int(np.sum(contrast < cut)) > 0
    assigned = np.load(part / "model.npz")["assignments"]
    assert np.all(assigned[contrast < cut] == -1)
    # a checkpoint of another network size is refused with the file's name, not a traceback
    other = ["--set", "network.n_neurons=30"]
    assert main(["train", str(cfg), "--out", str(part), *common, *sets, *other, "--resume"]) == 2


def test_receptive_field_contrast_and_silenced_neurons(getkey):
    """The contrast by hand; silencing no neuron changes nothing, silencing all of them
    leaves the network mute."""
    from brainsim.models._diehl_cook import receptive_field_contrast, respond_in_sequence

    w = np.full((784, 3), 0.1, np.float32)
    w[5, 1] = 0.1 + 0.9  # one strong input: max 1.0 over mean 0.1 + 0.9 / 784
    w[:392, 2] = 0.0  # half the inputs off: 0.1 over 0.05
    np.testing.assert_allclose(
        receptive_field_contrast(jnp.asarray(w)), [1.0, 1.0 / (0.1 + 0.9 / 784), 2.0], rtol=1e-5
    )
    model = DiehlCook(DiehlCookParams(n_neurons=6, t_present=80.0, t_rest=20.0))
    state = model.init_state(key=getkey())
    images = jnp.asarray(_blob_images(getkey(), 2)).reshape(1, 2, 28, 28)
    keys = jr.split(getkey(), 2).reshape(1, 2)
    every, _ = respond_in_sequence(model, state, images, keys)
    none, _ = respond_in_sequence(model, model.silence(state, jnp.zeros(6, bool)), images, keys)
    np.testing.assert_array_equal(np.asarray(none), np.asarray(every))
    assert float(every.sum()) > 0
    off = jnp.asarray([True] * 6)
    silent, _ = respond_in_sequence(model, model.silence(state, off), images, keys)
    assert float(silent.sum()) == 0.0
    with pytest.raises(ValueError, match="eval_min_contrast"):
        from brainsim.models._diehl_cook_task import STDPMNISTConfig

        STDPMNISTConfig(eval_min_contrast=-1.0)


def test_membrane_stays_between_reversal_potentials_under_massive_inhibition():
    """Every inhibitory neuron firing at once gives g_i = 17 (n - 1); forward Euler of
    the membrane would overshoot (dt g / tau_m >> 1) and fire the whole population; the
    exponential-Euler step keeps v within [E_i, E_e] = [-100, 0] mV and silent."""
    model = DiehlCook(DiehlCookParams(n_neurons=50))
    state = model.init_state(key=jr.key(0))
    n = model.n
    state = dataclasses.replace(
        state, ge_exc=jnp.full((n,), 5.0), gi_exc=jnp.full((n,), 17.0 * (n - 1))
    )
    for _ in range(3):
        state, spikes = model.step(state, None, None, learn=True)
        v = np.asarray(state.exc.v)
        assert v.min() >= -100.0 and v.max() <= 0.0
        assert float(spikes.sum()) == 0.0


def test_thresholds_start_at_minus_52_mv_and_the_offset_decays():
    """The authors' threshold `theta - 20 mV - 52 mV`: -52 mV at the start, and while
    learning, with no spikes, `theta = 20 exp(-t / tau_theta)` mV. With the paper's
    tau_theta = 1e7 ms, 100 blank presentations (50 s) lower it by 0.0998 mV; a per-step
    decay in float32 would round to one unit in the last place per step (0.19 mV)."""
    params = DiehlCookParams(n_neurons=3, w_ie=0.0)
    model = DiehlCook(params)
    state = model.init_state(key=jr.key(0))
    np.testing.assert_allclose(np.asarray(state.exc.theta), 20.0)
    assert float(model.exc.neuron.v_th + state.exc.theta[0]) == -52.0
    blank = jnp.zeros((28, 28), jnp.int32)

    @jax.jit
    def shows(state):
        def body(s, _):
            s, counts = model.show(s, blank, jr.key(1), jnp.asarray(0), learn=True)
            return s, counts.sum()

        return jax.lax.scan(body, state, None, length=100)

    after, counts = shows(state)
    assert float(counts.sum()) == 0.0
    t = 100 * (params.t_present + params.t_rest)
    fall = 20.0 - np.asarray(after.exc.theta, np.float64)
    np.testing.assert_allclose(fall, 20.0 * -np.expm1(-t / params.tau_theta), rtol=0.01)
    # BindsNET's fixed base: no offset, theta starts at 0
    bare = DiehlCook(DiehlCookParams(n_neurons=3, theta_offset=0.0))
    assert float(bare.exc.neuron.v_th) == -52.0
    assert float(bare.init_state(key=jr.key(0)).exc.theta.max()) == 0.0
    with pytest.raises(ValueError, match="theta_offset"):
        DiehlCookParams(theta_offset=-1.0)


@pytest.mark.parametrize(("lockout", "expected"), [(50.0, 2), (5.0, 6)])
def test_lockout_after_a_spike(lockout, expected):
    """With `g_e = 2` held, v climbs from -65 mV towards -65 / 3 mV with tau 100 / 3 ms and
    crosses -52 mV after 33.3 ln(43.3 / 30.3) = 11.9 ms. Without lockout (5 ms = the
    refractory clamp) the period is 16.9 ms: 6 spikes in 100 ms; with the authors' 50 ms
    lockout (Brian2 ports of the authors' code) the second spike waits until 50 ms after
    the first: 2 spikes."""
    model = DiehlCook(DiehlCookParams(n_neurons=2, t_lockout=lockout, w_ie=0.0))
    state = model.init_state(key=jr.key(0))

    @jax.jit
    def run(state):
        def body(s, _):
            s = dataclasses.replace(s, ge_exc=jnp.array([2.0, 0.0]))
            s, spikes = model.step(s, None, None, learn=False)
            return s, spikes

        return jax.lax.scan(body, state, None, length=200)[1]

    counts = np.asarray(run(state)).sum(axis=0)  # 100 ms
    assert counts.tolist() == [expected, 0]


def test_respond_once_is_respond_for_images_answered_at_once(getkey):
    from brainsim.models._diehl_cook import respond, respond_once

    params = DiehlCookParams(
        n_neurons=8, t_present=150.0, t_rest=10.0, max_attempts=3, min_spikes=1
    )
    model = DiehlCook(params)
    state = model.init_state(key=getkey())
    images = _blob_images(getkey(), 6)
    images[2] = 0  # never answers: three presentations in `respond`
    keys = jr.split(getkey(), 6)
    counts, attempts = respond(model, state, jnp.asarray(images), keys)
    once = respond_once(model, state, jnp.asarray(images), keys, jnp.asarray(0))
    first = np.asarray(attempts) == 1
    assert first.sum() >= 3 and int(attempts[2]) == 3
    np.testing.assert_array_equal(np.asarray(once)[first], np.asarray(counts)[first])


def test_input_delays_deliver_late_and_training_keeps_them(getkey):
    """With `input_delay`, an input spike reaches each excitatory neuron after its
    synapse's delay; training keeps the delays, the bounds and the normalisation."""
    params = DiehlCookParams(
        n_neurons=5,
        input_delay=10.0,
        t_present=60.0,
        t_rest=20.0,
        max_attempts=2,
        nu_pre=5e-3,
        nu_post=0.5,
    )
    model = DiehlCook(params)
    state = model.init_state(key=getkey())
    delays = np.asarray(state.line.delays)
    assert delays.shape == (784, 5) and delays.min() == 0 and delays.max() == 20
    spike = jnp.zeros(784, bool).at[3].set(True)
    quiet = jnp.zeros(784, bool)
    s = model.at_rest(state)
    arrived = []
    for t in range(25):
        s, _ = model.step(s, None, spike if t == 0 else quiet, learn=False)
        arrived.append(np.asarray(s.ge_exc) > 0)
    first = np.argmax(np.stack(arrived), axis=0)
    np.testing.assert_array_equal(first, delays[3])

    images = jnp.asarray(_blob_images(getkey(), 3))
    trained, counts, _ = train_block(model, state, images, jr.split(getkey(), 3))
    assert float(counts.sum()) > 0
    np.testing.assert_array_equal(np.asarray(trained.line.delays), delays)
    w = np.asarray(trained.w)
    assert w.min() >= 0.0 and w.max() <= params.w_max and not np.allclose(w, state.w)
    rest = model.at_rest(trained)
    np.testing.assert_array_equal(np.asarray(rest.line.delays), delays)
    assert float(jnp.abs(rest.line.due).sum()) == 0.0 and int(rest.line.t) == 0


def test_respond_in_sequence_carries_the_state_from_image_to_image(getkey):
    """Chains of images shown in order equal `present` called image after image with
    learning off, each chain from rest; the task option is checked."""
    from brainsim.models._diehl_cook import respond_in_sequence
    from brainsim.models._diehl_cook_task import STDPMNISTConfig

    params = DiehlCookParams(n_neurons=6, t_present=80.0, t_rest=20.0, max_attempts=2)
    model = DiehlCook(params)
    state = model.init_state(key=getkey())
    images = jnp.asarray(_blob_images(getkey(), 6)).reshape(2, 3, 28, 28)
    keys = jr.split(getkey(), 6).reshape(2, 3)
    counts, attempts = respond_in_sequence(model, state, images, keys)
    present = eqx.filter_jit(lambda s, im, k: model.present(s, im, k, learn=False))
    for b in range(2):
        s = model.at_rest(state)
        for i in range(3):
            s, c, a = present(s, images[b, i], keys[b, i])
            np.testing.assert_array_equal(np.asarray(counts[b, i]), np.asarray(c))
            assert int(attempts[b, i]) == int(a)
    assert float(counts.sum()) > 0
    single, _ = respond_in_sequence(model, state, images[1:], keys[1:])  # one chain, no vmap
    np.testing.assert_array_equal(np.asarray(single[0]), np.asarray(counts[1]))
    # the carried state matters: from rest, the later images answer otherwise
    from brainsim.models._diehl_cook import respond

    from_rest, _ = respond(model, state, images.reshape(6, 28, 28), keys.reshape(6))
    assert not np.array_equal(np.asarray(from_rest).reshape(2, 3, -1), np.asarray(counts))
    with pytest.raises(ValueError, match="eval_order"):
        STDPMNISTConfig(eval_order="shuffled")
