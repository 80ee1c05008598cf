"""Weights stay within their bounds under random spike trains."""

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st

from brainsim.plasticity import EventIndex, PairSTDP, ThreeFactorSTDP, TripletSTDP

N_PRE, N_POST, N_STEPS = 5, 4, 150
PRE_IDS = jnp.asarray(np.repeat(np.arange(N_PRE), N_POST))
POST_IDS = jnp.asarray(np.tile(np.arange(N_POST), N_PRE))


def make_rule(kind, rate, w_min, w_max, dependence, pairing):
    if kind == "pair":
        return PairSTDP(
            a_plus=rate,
            a_minus=0.7 * rate,
            w_min=w_min,
            w_max=w_max,
            weight_dependence=dependence,
            pairing=pairing,
        )
    if kind == "triplet":
        return TripletSTDP(
            a2_plus=rate,
            a3_plus=rate,
            a2_minus=rate,
            a3_minus=rate,
            w_min=w_min,
            w_max=w_max,
            pairing=pairing,
        )
    return ThreeFactorSTDP(eta=rate, w_min=w_min, w_max=w_max, pairing=pairing)


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(["pair", "triplet", "three_factor"]),
    rate=st.floats(0.0, 3.0),
    w_min=st.floats(-2.0, 1.0),
    width=st.floats(0.0, 3.0),
    dependence=st.sampled_from(["additive", "soft"]),
    pairing=st.sampled_from(["all", "nearest"]),
    p=st.floats(0.05, 0.6),
    event_driven=st.booleans(),
)
def test_weights_stay_in_bounds(
    driver, seed, kind, rate, w_min, width, dependence, pairing, p, event_driven
):
    w_max = w_min + width
    rng = np.random.default_rng(seed)
    pre = rng.random((N_STEPS, N_PRE)) < p
    post = rng.random((N_STEPS, N_POST)) < p
    w0 = jnp.asarray(rng.uniform(w_min, w_max, N_PRE * N_POST), jnp.float32)
    modulation = rng.normal(0.0, 5.0, N_STEPS) if kind == "three_factor" else None
    rule = make_rule(kind, rate, w_min, w_max, dependence, pairing)
    index = None
    if event_driven:
        index = EventIndex(PRE_IDS, POST_IDS, N_PRE, N_POST, pre_chunk=2, post_chunk=2)
    _, _, ws = driver(rule, w0, PRE_IDS, POST_IDS, pre, post, 1.0, modulation, index)
    ws = np.asarray(ws)
    assert np.all(np.isfinite(ws))
    assert np.all(ws >= np.float32(w_min)) and np.all(ws <= np.float32(w_max))
