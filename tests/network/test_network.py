"""Network construction checks and the order of a step."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import brainsim as bs
from brainsim.connect import one_to_one
from brainsim.inputs import PoissonSource, SpikeGenerator
from brainsim.network import GapJunction, Network, Projection
from brainsim.neurons import LIF
from brainsim.synapses import CUBA, Delta, Exponential, VoltageJump


def test_construction_errors_name_the_projection():
    lif, src = LIF(3), PoissonSource(3)
    proj = Projection("P", "E", one_to_one(3), Exponential(3, 5.0), CUBA())
    with pytest.raises(
        ValueError, match="projection 'x': post population 'E' is not in the network"
    ):
        Network({"P": src}, {"x": proj})
    with pytest.raises(ValueError, match="post population 'P' is not a neuron"):
        Network(
            {"P": src, "E": lif},
            {"x": Projection("E", "P", one_to_one(3), Exponential(3, 5.0), CUBA())},
        )
    with pytest.raises(ValueError, match="reads the membrane potential of 'P'"):
        Network({"P": src, "E": lif}, {"g": GapJunction("P", "E", one_to_one(3))})
    with pytest.raises(ValueError, match="inputs name unknown populations"):
        net = Network({"P": src, "E": lif}, {"x": proj})
        net.step(net.init_state(key=jr.key(0)), {"Q": jnp.zeros(3)}, 0.0, 0.1)


def test_a_spike_acts_on_the_next_membrane_update():
    # A spike emitted at step k jumps the target's v at step k + 1 (Brian2's order:
    # update, threshold, reset, then on_pre; the jump is seen by the next update).
    gen = SpikeGenerator(1, times_ms=[0.5], indices=[0])
    lif = LIF(1, tau_m=10.0, v_rest=-70.0, v_th=0.0, v_init=-70.0)
    net = Network(
        {"S": gen, "E": lif},
        {"SE": Projection("S", "E", one_to_one(1, weight=2.0), Delta(1), VoltageJump())},
    )
    sol = bs.integrate(
        net,
        net.init_state(key=jr.key(0)),
        dt=0.1,
        n_steps=10,
        save=(bs.StateMonitor("E.v"), bs.SpikeMonitor("S")),
    )
    v = np.asarray(sol.traces["E.v"])[:, 0]
    assert np.nonzero(np.asarray(sol.traces["spikes:S"])[:, 0])[0].tolist() == [5]
    np.testing.assert_allclose(v[:6], -70.0)
    expected = -70.0 + 2.0 * np.exp(-0.1 / 10.0)
    assert v[6] == pytest.approx(expected, rel=1e-6)
