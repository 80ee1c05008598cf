"""The post-major partitioned network: same spikes on 1, 2 and 4 devices, bit for bit."""

import importlib.util
import pathlib

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR
from test_sharding import run_on_4_devices

import brainsim as bs
from brainsim.network import Delay, Network, Projection
from brainsim.network._partition import integrate_partitioned, neuron_mesh, partition
from brainsim.neurons import LIF
from brainsim.synapses import COBA, Exponential

HERE = pathlib.Path(__file__).parent


def _helper():
    spec = importlib.util.spec_from_file_location(
        "multidevice_helper", HERE / "multidevice_helper.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_partitioned_spikes_identical_on_1_2_4_devices(tmp_path):
    helper = _helper()
    one = helper.partition_spikes(1)
    assert 0 < one["E"].sum() < one["E"].size  # active, not saturated
    many = run_on_4_devices("partition", tmp_path / "partition.npz")
    for n in (2, 4):
        for pop in ("E", "I"):
            np.testing.assert_array_equal(many[f"{n}:{pop}"], one[pop], err_msg=f"{n} devices")
    # and the same network run as a plain Network (event-driven propagation) agrees
    network, config = helper.coba(1600, 400, 0.02)
    sol = bs.integrate(
        network,
        network.init_state(key=jr.key(0)),
        dt=config.dt,
        n_steps=200,
        save=(bs.SpikeMonitor("E"), bs.SpikeMonitor("I")),
    )
    ref = np.asarray(sol.traces["spikes:E"])
    np.testing.assert_array_equal(ref[:100], one["E"][:100])
    assert abs(int(ref.sum()) - int(one["E"].sum())) <= 0.02 * ref.sum()


def test_fan_in_table_holds_every_synapse_sorted():
    rng = np.random.default_rng(3)
    dense = (rng.random((30, 20)) < 0.3) * rng.uniform(0.5, 1.5, (30, 20))
    pre, post = np.nonzero(dense)
    order = np.lexsort((pre, post))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(post[order], minlength=20))])
    conn = CSR(indptr, pre[order], dense[pre, post][order], n_pre=30, n_post=20, major="post")
    net = Network(
        {"A": LIF(30), "B": LIF(20)},
        {"AB": Projection("A", "B", conn, Exponential(20, 5.0), COBA(0.0))},
    )
    table = partition(net).projections["AB"]
    idx, w = np.asarray(table.indices), np.asarray(table.weights)
    rebuilt = np.zeros((30, 20))
    for row in range(20):
        np.add.at(rebuilt[:, row], idx[row], w[row])
        real = idx[row][w[row] != 0]
        assert np.all(np.diff(real) > 0)  # ascending presynaptic index
    np.testing.assert_allclose(rebuilt, dense, rtol=1e-6)
    spikes = (rng.random(30) < 0.5).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(table.gather(jnp.asarray(spikes))), spikes @ dense, rtol=1e-5
    )


def test_bad_partitions():
    conn = CSR(np.arange(11), np.arange(10), 1.0, n_pre=10, n_post=10, major="post")
    delayed = Network(
        {"A": LIF(10)},
        {"AA": Projection("A", "A", conn, Exponential(10, 5.0), COBA(0.0), Delay(1.0, dt=0.1))},
    )
    with pytest.raises(ValueError, match="projections.AA"):
        partition(delayed)
    net = Network(
        {"A": LIF(10)}, {"AA": Projection("A", "A", conn, Exponential(10, 5.0), COBA(0.0))}
    )
    mesh = neuron_mesh(1)
    with pytest.raises(ValueError, match="n_devices"):
        neuron_mesh(5)
    spikes = integrate_partitioned(
        partition(net), net.init_state(key=jr.key(0)), dt=0.1, n_steps=3, mesh=mesh
    )
    assert spikes["A"].shape == (3, 10)
