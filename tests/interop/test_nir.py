"""NIR export and import: round trips, the continuous-time meaning, bad input."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

nir = pytest.importorskip("nir", reason="NIR interop needs the optional `nir` package")

from brainsim.interop import export_nir, import_nir  # noqa: E402
from brainsim.models._snn import SpikingLayer, SpikingNetwork, build_network  # noqa: E402
from brainsim.neurons import ALIF, LIF  # noqa: E402

N_IN, N_STEPS = 12, 40


@eqx.filter_jit
def _run(net, x):
    return net.run(x)


def _inputs(key, n=N_IN, steps=N_STEPS):
    return jr.bernoulli(key, 0.3, (steps, n)).astype(jnp.float32)


def _random_biases(net, key):
    """Non-zero biases, so that they are exercised too."""
    layers = []
    for k, layer in enumerate(net.layers):
        bias = 0.2 * jr.normal(jr.fold_in(key, k), (layer.n,))
        layers.append(
            SpikingLayer(
                layer.weight, bias, layer.neuron, layer.w_rec, layer.synapse, layer.spiking
            )
        )
    return SpikingNetwork(tuple(layers), dt=net.dt)


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
@pytest.mark.parametrize("synapse", [False, True], ids=["lif", "cuba_lif"])
def test_round_trip_through_a_file_gives_the_same_outputs(tmp_path, getkey, recurrent, synapse):
    net = build_network(
        N_IN,
        (16,),
        3,
        key=getkey(),
        recurrent=recurrent,
        synapse=synapse,
        dt=0.5,
        tau_m=10.0,
        tau_syn=4.0,
        tau_out=15.0,
        init_gain=2.0,
    )
    net = _random_biases(net, getkey())
    graph = export_nir(net)
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert ("CubaLIF" in kinds) == synapse and ("LIF" in kinds) == (not synapse)
    assert ("Linear" in kinds) == recurrent
    nir.write(tmp_path / "net.nir", graph)
    back = import_nir(nir.read(tmp_path / "net.nir"))
    assert back.dt == pytest.approx(0.5)
    x = _inputs(getkey())
    outs, outs_back = _run(net, x), _run(back, x)
    assert float(jnp.mean(outs[0])) > 0.01  # the hidden layer spikes
    for a, b in zip(outs[:-1], outs_back[:-1]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(
        np.asarray(outs[-1]), np.asarray(outs_back[-1]), rtol=1e-5, atol=1e-5
    )


def test_export_writes_the_documented_parameters(getkey):
    lif = LIF(2, tau_m=20.0, v_rest=-1.0, i_bias=0.5, v_th=1.0, v_reset=0.2)
    layer = SpikingLayer(jnp.ones((2, 3)), jnp.zeros(2), lif)
    graph = export_nir(SpikingNetwork((layer,), dt=1.0))
    node = graph.nodes["lif_0"]
    np.testing.assert_allclose(node.tau, [0.02, 0.02])  # seconds
    np.testing.assert_allclose(node.v_leak, [-0.5, -0.5])
    np.testing.assert_allclose(node.r, [1.0, 1.0])
    np.testing.assert_allclose(node.v_reset, [0.2, 0.2])
    assert graph.edges == [("input", "affine_0"), ("affine_0", "lif_0"), ("lif_0", "output")]
    assert graph.metadata["dt"] == pytest.approx(1e-3)


def test_import_follows_the_nir_ode_with_inputs_held_over_a_step():
    """A NIR LI node fed a constant input: tau dv/dt = v_leak - v + r I, closed form."""
    tau, r, v_leak, current = 0.01, 2.0, 0.3, 0.7  # seconds, NIR units
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=np.array([[current]]), bias=np.array([0.0])),
        nir.LI(tau=np.array([tau]), r=np.array([r]), v_leak=np.array([v_leak])),
    )
    dt_ms = 0.25
    net = import_nir(graph, dt=dt_ms)
    v = np.asarray(_run(net, jnp.ones((200, 1)))[-1])[:, 0]
    t = dt_ms * 1e-3 * np.arange(1, 201)
    v_inf = v_leak + r * current
    expected = v_inf + (v_leak - v_inf) * np.exp(-t / tau)  # starts at rest = v_leak
    np.testing.assert_allclose(v, expected, rtol=1e-5)


def test_import_cuba_lif_synaptic_current_matches_the_nir_ode():
    """CubaLIF with v_threshold far away: the held-input solution of both ODEs."""
    tau_syn, tau_mem, w_in, r = 0.005, 0.02, 3.0, 0.5
    graph = nir.NIRGraph.from_list(
        nir.Linear(weight=np.array([[1.0]])),
        nir.CubaLI(
            tau_syn=np.array([tau_syn]),
            tau_mem=np.array([tau_mem]),
            r=np.array([r]),
            v_leak=np.array([0.0]),
            w_in=np.array([w_in]),
        ),
    )
    dt_ms = 1.0
    net = import_nir(graph, dt=dt_ms)
    v = np.asarray(_run(net, jnp.ones((60, 1)))[-1])[:, 0]
    # synaptic current after step k (input held): I_k = w_in (1 - e^k), e = exp(-dt/tau_syn)
    e = math.exp(-1e-3 / tau_syn)
    current, v_ref, vm = 0.0, [], 0.0
    em = math.exp(-1e-3 / tau_mem)
    for _ in range(60):
        current = e * current + (1 - e) * w_in
        vm = r * current + (vm - r * current) * em  # membrane with I held over the step
        v_ref.append(vm)
    np.testing.assert_allclose(v, v_ref, rtol=1e-5)
    assert v_ref[-1] == pytest.approx(r * w_in * (1 - e**60) - 0.0, rel=0.2)


def test_import_inlines_nested_recurrent_subgraphs(getkey):
    """snnTorch writes a recurrent layer as a subgraph: input -> lif <-> w_rec, -> output."""
    net = build_network(N_IN, (6,), 2, key=getkey(), recurrent=True, init_gain=2.0)
    flat = export_nir(net)
    n = flat.nodes["lif_0"]
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([6])}),
            "lif": n,
            "w_rec": flat.nodes["rec_0"],
            "output": nir.Output(output_type={"output": np.array([6])}),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    nested = nir.NIRGraph(
        nodes={
            "input": flat.nodes["input"],
            "affine_0": flat.nodes["affine_0"],
            "rnn": sub,
            "affine_1": flat.nodes["affine_1"],
            "li_1": flat.nodes["li_1"],
            "output": flat.nodes["output"],
        },
        edges=[
            ("input", "affine_0"),
            ("affine_0", "rnn"),
            ("rnn", "affine_1"),
            ("affine_1", "li_1"),
            ("li_1", "output"),
        ],
        metadata={"dt": 1e-3},
    )
    back = import_nir(nested)
    assert back.layers[0].w_rec is not None
    x = _inputs(getkey())
    np.testing.assert_allclose(
        np.asarray(_run(net, x)[-1]), np.asarray(_run(back, x)[-1]), rtol=1e-5, atol=1e-5
    )


def test_what_nir_cannot_express_is_refused(getkey):
    alif = SpikingLayer(jnp.ones((2, 3)), jnp.zeros(2), ALIF(2))
    with pytest.raises(ValueError, match=r"layers\[0\]: ALIF has no NIR counterpart"):
        export_nir(SpikingNetwork((alif,)))
    refractory = SpikingLayer(jnp.ones((2, 3)), jnp.zeros(2), LIF(2, tau_ref=2.0))
    with pytest.raises(ValueError, match="tau_ref"):
        export_nir(SpikingNetwork((refractory,)))
    euler = SpikingLayer(jnp.ones((2, 3)), jnp.zeros(2), LIF(2, method="euler"))
    with pytest.raises(ValueError, match="exponential Euler"):
        export_nir(SpikingNetwork((euler,)))


def test_import_errors_name_the_problem():
    conv = nir.NIRGraph.from_list(
        nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
        nir.Threshold(threshold=np.ones(2)),
    )
    with pytest.raises(ValueError, match="affine: must feed one LIF"):
        import_nir(conv, dt=1.0)
    lif = nir.NIRGraph.from_list(
        nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
        nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
    )
    with pytest.raises(ValueError, match=r"dt: not given"):
        import_nir(lif)
    with pytest.raises(ValueError, match="graph: expected a nir.NIRGraph"):
        import_nir({"nodes": {}}, dt=1.0)


def test_imported_network_trains(getkey):
    """Gradients flow through an imported network (surrogate spikes)."""
    net = import_nir(export_nir(build_network(N_IN, (8,), 2, key=getkey(), init_gain=2.0)))
    x = _inputs(getkey())

    def loss(w):
        layer = net.layers[0]
        new = SpikingLayer(w, layer.bias, layer.neuron, layer.w_rec, layer.synapse)
        return jnp.sum(SpikingNetwork((new, net.layers[1]), dt=net.dt)(x) ** 2)

    g = jax.jit(jax.grad(loss))(net.layers[0].weight)
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0
