"""`simulate`: chunked host driver; equals `integrate`, resumes, stops on NaN."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR

import brainsim as bs
from brainsim.core import Normal, _simulate as simulate_module
from brainsim.inputs import PoissonSource
from brainsim.network import Network, Projection
from brainsim.neurons import LIF
from brainsim.synapses import COBA, Exponential


def _network(n=40, seed=0):
    rng = np.random.default_rng(seed)
    pre, post = np.nonzero(rng.random((20, n)) < 0.2)
    order = np.lexsort((pre, post))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(post[order], minlength=n))])
    conn = CSR(indptr, pre[order], 0.5, n_pre=20, n_post=n, major="post")
    return Network(
        {
            "P": PoissonSource(20, 200.0),
            "E": LIF(n, tau_m=10.0, tau_ref=2.0, v_init=Normal(-55.0, 3.0)),
        },
        {"PE": Projection("P", "E", conn, Exponential(n, 5.0), COBA(0.0))},
    )


MONITORS = (
    bs.SpikeMonitor("E"),
    bs.SpikeMonitor("P"),
    bs.StateMonitor("E.v", indices=[0, 5], every=4),
)


def test_simulate_equals_integrate_and_is_chunk_independent():
    net = _network()
    key = jr.key(3)
    ref = bs.integrate(net, net.init_state(key=key), dt=0.1, n_steps=600, save=MONITORS)
    steps, idx = np.nonzero(np.asarray(ref.traces["spikes:E"]))
    assert steps.size > 10
    for chunk in (None, 100, 248):
        res = bs.simulate(
            net, 60.0, dt=0.1, key=key, monitors=MONITORS, chunk_steps=chunk, progress=False
        )
        times, indices = res.spikes["spikes:E"]
        np.testing.assert_allclose(times, steps * 0.1, atol=1e-9)
        np.testing.assert_array_equal(indices, idx)
        t_v, v = res.traces["E.v"]
        np.testing.assert_allclose(v, np.asarray(ref.traces["E.v"]), rtol=1e-6)
        np.testing.assert_allclose(t_v, 0.4 * np.arange(1, 151), atol=1e-9)
    assert res.timing["run_s"] > 0 and res.timing["compile_s"] > 0


def test_seeds_give_identical_or_different_spikes():
    net = _network()

    def run(seed):
        return bs.simulate(net, 30.0, dt=0.1, key=jr.key(seed), monitors=MONITORS[:1]).spikes[
            "spikes:E"
        ]

    a, b, c = run(7), run(7), run(8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not (a[0].shape == c[0].shape and np.array_equal(a[1], c[1]))


class _Killed(Exception):
    pass


def test_checkpoint_resume_gives_the_uninterrupted_run(tmp_path, monkeypatch):
    net = _network()
    key = jr.key(11)
    full = bs.simulate(net, 80.0, dt=0.1, key=key, monitors=MONITORS, chunk_steps=200)
    path = tmp_path / "run.ckpt"
    real_progress = simulate_module._progress

    class DyingBar:
        def __init__(self, total, enabled):
            self.bar, self.calls = real_progress(total, False), 0

        def update(self, k):
            self.calls += 1
            if self.calls == 3:  # the initial update(done), then two chunks
                raise _Killed
            self.bar.update(k)

        def close(self):
            self.bar.close()

    monkeypatch.setattr(simulate_module, "_progress", DyingBar)
    with pytest.raises(_Killed):
        bs.simulate(net, 80.0, dt=0.1, key=key, monitors=MONITORS, chunk_steps=200, checkpoint=path)
    monkeypatch.setattr(simulate_module, "_progress", real_progress)
    assert path.exists()
    resumed = bs.simulate(
        net, 80.0, dt=0.1, key=key, monitors=MONITORS, chunk_steps=200, checkpoint=path
    )
    for name in full.spikes:
        for a, b in zip(full.spikes[name], resumed.spikes[name]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.traces["E.v"][1], resumed.traces["E.v"][1])
    with pytest.raises(ValueError, match="belongs to another run"):
        bs.simulate(net, 90.0, dt=0.1, key=key, monitors=MONITORS, chunk_steps=200, checkpoint=path)


def test_check_finite_names_step_and_population():
    net = _network()
    inputs = {"E": np.zeros((500, 40), np.float32)}
    inputs["E"][321, :] = np.nan
    with pytest.raises(
        bs.core.NonFiniteStateError, match=r"step 321 \(t = 32.1 ms\) in population E"
    ):
        bs.simulate(
            net, 50.0, dt=0.1, key=jr.key(0), inputs=inputs, check_finite=True, chunk_steps=150
        )


def test_bad_arguments():
    net = _network()
    with pytest.raises(ValueError, match="duration"):
        bs.simulate(net, -1.0, dt=0.1, key=jr.key(0))
    with pytest.raises(ValueError, match="dt"):
        bs.simulate(net, 10.0, dt=0.0, key=jr.key(0))
    with pytest.raises(ValueError, match="key"):
        bs.simulate(net, 10.0, dt=0.1)
    with pytest.raises(ValueError, match="unknown population 'X'"):
        bs.simulate(net, 10.0, dt=0.1, key=jr.key(0), monitors=(bs.SpikeMonitor("X"),))
    with pytest.raises(ValueError, match="leading time axis"):
        bs.simulate(net, 10.0, dt=0.1, key=jr.key(0), inputs={"E": jnp.zeros((5, 40))})


def test_save_and_load_network_bit_identical(tmp_path):
    net = _network()
    res = bs.simulate(net, 20.0, dt=0.1, key=jr.key(5), monitors=MONITORS[:1])
    path = tmp_path / "net.bsn"
    bs.save_network(path, net, res.state)
    net2, state2 = bs.load_network(path)
    a = bs.simulate(net, 20.0, dt=0.1, state0=res.state, monitors=MONITORS[:1])
    b = bs.simulate(net2, 20.0, dt=0.1, state0=state2, monitors=MONITORS[:1])
    np.testing.assert_array_equal(a.spikes["spikes:E"][0], b.spikes["spikes:E"][0])
    np.testing.assert_array_equal(
        np.asarray(net.projections["PE"].conn.indices),
        np.asarray(net2.projections["PE"].conn.indices),
    )
    assert (
        np.asarray(state2.populations["E"].v).tobytes()
        == np.asarray(res.state.populations["E"].v).tobytes()
    )
    with pytest.raises(FileNotFoundError, match="nope.bsn"):
        bs.load_network(tmp_path / "nope.bsn")
    (tmp_path / "junk.bsn").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a brainsim file"):
        bs.load_network(tmp_path / "junk.bsn")


def test_weight_monitor_reads_the_projection_weights():
    net = _network()
    mon = bs.WeightMonitor("PE", indices=[0, 2], every=50)
    res = bs.simulate(net, 10.0, dt=0.1, key=jr.key(0), monitors=[mon])
    times, w = res.traces["weights:PE"]
    np.testing.assert_allclose(times, [5.0, 10.0])
    np.testing.assert_allclose(w, 0.5)
    assert w.shape == (2, 2)
    with pytest.raises(ValueError, match="unknown projection 'XX'"):
        bs.simulate(net, 10.0, dt=0.1, key=jr.key(0), monitors=[bs.WeightMonitor("XX")])


def test_monitor_budget_bounds_the_chunk_and_keeps_the_result(monkeypatch):
    net = _network()
    seen = []
    real = simulate_module._jit_chunk

    class Spy:
        def lower(self, *args):
            seen.append(args[5])  # the chunk length
            return real.lower(*args)

    full = bs.simulate(net, 40.0, dt=0.1, key=jr.key(2), monitors=MONITORS)
    monkeypatch.setattr(simulate_module, "_jit_chunk", Spy())
    # 40 + 20 spike booleans and 2 floats every 4 steps: 62 bytes a step; 0.006 MiB -> 101 steps
    small = bs.simulate(
        net, 40.0, dt=0.1, key=jr.key(2), monitors=MONITORS, monitor_budget_mb=0.006
    )
    assert seen == [104, 88]  # 101 rounded up to the interval of 4, then the remainder
    for name in full.spikes:
        np.testing.assert_array_equal(full.spikes[name][1], small.spikes[name][1])
    np.testing.assert_array_equal(full.traces["E.v"][1], small.traces["E.v"][1])
