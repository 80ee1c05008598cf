"""The event-driven path gives the masked path's weights, budget overflow included."""

import jax.numpy as jnp
import numpy as np
import pytest
from brainsim.kernels import CSR, ELL

from brainsim.plasticity import EventIndex, PairSTDP, TripletSTDP

N_PRE, N_POST, N_STEPS = 7, 6, 120


def layouts(rng):
    mask = rng.random((N_PRE, N_POST)) < 0.5
    pre, post = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=N_PRE))])
    csr = CSR(indptr, post, 0.0, n_pre=N_PRE, n_post=N_POST, major="pre")
    fan_in = np.stack([rng.choice(N_PRE, 4, replace=False) for _ in range(N_POST)])
    ell = ELL(fan_in, 0.0, n_pre=N_PRE, n_post=N_POST, major="post")
    return [csr, csr.to_major("post"), ell]


RULES = {
    "pair_additive": lambda: PairSTDP(a_plus=0.05, a_minus=0.06, w_min=-1.0, w_max=1.0),
    "pair_soft_nearest": lambda: PairSTDP(
        a_plus=0.3,
        a_minus=0.4,
        w_min=-1.0,
        w_max=1.0,
        weight_dependence="soft",
        pairing="nearest",
    ),
    "pair_inhibitory": lambda: PairSTDP(
        a_plus=0.05,
        a_minus=0.06,
        w_min=-1.0,
        w_max=1.0,
        inhibitory_pre=np.arange(N_PRE) % 3 == 0,
    ),
    "triplet": lambda: TripletSTDP(
        a2_plus=0.01, a3_plus=0.02, a2_minus=0.03, a3_minus=0.01, w_min=-1.0, w_max=1.0
    ),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_event_path_equals_masked_path(x64, driver, name):
    """Chunks of 2 spiking neurons per side: steps with more spikes take several passes."""
    chunk = 2
    rng = np.random.default_rng(7)
    pre = rng.random((N_STEPS, N_PRE)) < 0.2
    post = rng.random((N_STEPS, N_POST)) < 0.2
    rule = RULES[name]()
    conns = layouts(rng)
    # every rule on one layout, the additive pair rule on all three
    conns = conns if name == "pair_additive" else [conns[sorted(RULES).index(name) % 3]]
    for conn in conns:
        w0 = jnp.asarray(rng.uniform(-0.5, 0.5, conn.indices.shape))
        index = EventIndex(
            conn.pre_ids,
            conn.post_ids,
            N_PRE,
            N_POST,
            pre_chunk=chunk,
            post_chunk=chunk,
        )
        masked = driver(rule, w0, conn.pre_ids, conn.post_ids, pre, post, 1.0)[2]
        events = driver(rule, w0, conn.pre_ids, conn.post_ids, pre, post, 1.0, None, index)[2]
        np.testing.assert_allclose(np.asarray(events), np.asarray(masked), rtol=1e-12, atol=1e-15)
        assert np.any(np.asarray(masked[-1]) != np.asarray(w0))


def test_event_index_tables():
    pre_ids = np.array([0, 0, 2, 1, 2, 2])
    post_ids = np.array([1, 0, 1, 1, 0, 2])
    index = EventIndex(pre_ids, post_ids, 3, 3, pre_chunk=2, post_chunk=2)
    by_pre = np.asarray(index.by_pre)
    assert by_pre.shape == (4, 3)  # the widest row has 3 synapses; a padding row last
    assert sorted(by_pre[2][by_pre[2] < 6]) == [2, 4, 5]
    assert list(by_pre[1][by_pre[1] < 6]) == [3]
    assert np.all(by_pre[3] == 6)
    by_post = np.asarray(index.by_post)
    assert sorted(by_post[1][by_post[1] < 6]) == [0, 2, 3]
    with pytest.raises(ValueError, match="pre_chunk"):
        EventIndex(pre_ids, post_ids, 3, 3, pre_chunk=0, post_chunk=1)


def test_event_path_with_bounds_per_synapse_and_padding(x64, driver):
    """NALSM's layout: a padded post-major table whose real synapses have bounds of
    their own (here E -> [0, 1], I -> [-1, 0]), and padding slots (bounds [0, 0]) that
    the `valid` mask keeps out of the index."""
    rng = np.random.default_rng(3)
    fan_in = np.stack([rng.choice(N_PRE, 4, replace=False) for _ in range(N_POST)])
    valid = rng.random(fan_in.shape) < 0.75
    inhibitory = np.arange(N_PRE) % 3 == 0
    lo = np.where(valid, np.where(inhibitory[fan_in], -1.0, 0.0), 0.0)
    hi = np.where(valid, np.where(inhibitory[fan_in], 0.0, 1.0), 0.0)
    w0 = jnp.asarray(np.where(valid, rng.uniform(lo, hi), 0.0))
    post_ids = np.broadcast_to(np.arange(N_POST)[:, None], fan_in.shape)
    rule = PairSTDP(a_plus=0.2, a_minus=0.25, w_min=lo, w_max=hi, inhibitory_pre=inhibitory)
    pre = rng.random((N_STEPS, N_PRE)) < 0.3
    post = rng.random((N_STEPS, N_POST)) < 0.3
    index = EventIndex(fan_in, post_ids, N_PRE, N_POST, pre_chunk=2, post_chunk=2, valid=valid)
    assert np.all(np.asarray(index.by_pre)[np.asarray(index.by_pre) < valid.size] < valid.size)
    touched = np.unique(
        np.concatenate([np.asarray(index.by_pre).ravel(), np.asarray(index.by_post).ravel()])
    )
    assert set(touched[touched < valid.size]) == set(np.flatnonzero(valid))
    masked = driver(rule, w0, fan_in, post_ids, pre, post, 1.0)[2]
    events = driver(rule, w0, fan_in, post_ids, pre, post, 1.0, None, index)[2]
    np.testing.assert_allclose(np.asarray(events), np.asarray(masked), rtol=1e-12, atol=1e-15)
    final = np.asarray(masked[-1])
    nonzero = valid & (final != 0.0)  # both bounds reached, away from 0 (a bound of all)
    assert np.any(final[nonzero] == hi[nonzero]) and np.any(final[nonzero] == lo[nonzero])
    assert np.all(final[~valid] == 0.0)
    with pytest.raises(ValueError, match="valid"):
        EventIndex(fan_in, post_ids, N_PRE, N_POST, pre_chunk=2, post_chunk=2, valid=valid[:2])
