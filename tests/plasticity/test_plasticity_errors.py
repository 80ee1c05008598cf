"""Bad input raises ValueError at construction, naming the argument."""

import numpy as np
import pytest
from brainsim.kernels import CSR

from brainsim.neurons import LIF
from brainsim.plasticity import (
    AdaptiveThreshold,
    PairSTDP,
    PlasticProjection,
    ThreeFactorSTDP,
    TripletSTDP,
)
from brainsim.synapses import CUBA, Delta

RULES = [PairSTDP, TripletSTDP, ThreeFactorSTDP]


@pytest.mark.parametrize("rule", RULES)
def test_inverted_bounds(rule):
    with pytest.raises(ValueError, match="w_min must not exceed w_max"):
        rule(w_min=1.0, w_max=0.0)
    with pytest.raises(ValueError, match="w_min"):
        rule(w_min=np.array([0.0, 2.0]), w_max=1.0)


@pytest.mark.parametrize(
    "rule, name",
    [
        (PairSTDP, "a_plus"),
        (PairSTDP, "a_minus"),
        (TripletSTDP, "a2_plus"),
        (TripletSTDP, "a3_plus"),
        (TripletSTDP, "a2_minus"),
        (TripletSTDP, "a3_minus"),
        (ThreeFactorSTDP, "eta"),
        (ThreeFactorSTDP, "a_plus"),
    ],
)
def test_negative_learning_rates(rule, name):
    with pytest.raises(ValueError, match=f"{name} must be non-negative"):
        rule(**{name: -1e-3})


@pytest.mark.parametrize(
    "rule, name", [(PairSTDP, "tau_plus"), (TripletSTDP, "tau_y"), (ThreeFactorSTDP, "tau_e")]
)
def test_nonpositive_time_constants(rule, name):
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        rule(**{name: 0.0})


def test_bad_options():
    with pytest.raises(ValueError, match="pairing"):
        PairSTDP(pairing="first")
    with pytest.raises(ValueError, match="weight_dependence"):
        PairSTDP(weight_dependence="power")
    with pytest.raises(ValueError, match="w_max must be finite"):
        PairSTDP(w_max=np.inf, weight_dependence="soft")
    with pytest.raises(ValueError, match="theta_plus"):
        AdaptiveThreshold(LIF(2), theta_plus=-0.1)
    with pytest.raises(ValueError, match="tau_theta"):
        AdaptiveThreshold(LIF(2), tau_theta=0.0)


def test_unreachable_normalization_target():
    # 3 inputs per neuron, weights in [0.1, 1]: sums reachable in [0.3, 3]
    indptr = np.arange(0, 7, 3)
    conn = CSR(indptr, np.array([0, 1, 2, 0, 1, 2]), 0.5, n_pre=3, n_post=2, major="post")
    rule = PairSTDP(w_min=0.1, w_max=1.0)
    PlasticProjection("a", "b", conn, Delta(2), CUBA(), rule, normalization=2.0)
    for target in (3.5, 0.2):
        with pytest.raises(ValueError, match="normalization target"):
            PlasticProjection("a", "b", conn, Delta(2), CUBA(), rule, normalization=target)


def test_mismatched_synapse_size():
    conn = CSR(np.array([0, 1, 2]), np.array([0, 1]), 0.5, n_pre=2, n_post=2, major="pre")
    with pytest.raises(ValueError, match="synapse size"):
        PlasticProjection("a", "b", conn, Delta(3), CUBA(), PairSTDP())
