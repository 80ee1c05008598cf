"""NIR (the Neuromorphic Intermediate Representation) export and import.

A `brainsim.models.SpikingNetwork` of LIF or CuBa-LIF layers (feed-forward or with
all-to-all recurrence) and a leaky readout maps onto a NIR graph

    input -> affine_0 -> lif_0 -> affine_1 -> ... -> li_out -> output

with a `Linear` node `rec_k` and the edges `lif_k -> rec_k -> lif_k` for a recurrent
layer, `CubaLIF` / `CubaLI` nodes for layers with a synapse.

NIR describes continuous-time dynamics; brainsim reads a graph with every node's input
held over each step of `dt` (what discrete-time simulators such as snnTorch and Norse
also do). Times are in seconds in the graph (brainsim's milliseconds / 1000) and `dt`
is stored in the graph's metadata. The mapping, for a layer of brainsim parameters:

- LIF: `tau = tau_m`, `r = 1`, `v_leak = v_rest + i_bias`, `v_threshold = v_th`,
  `v_reset`. brainsim's exponential Euler is the exact solution of
  `tau dv/dt = v_leak - v + r I` over a step with `I` held, so the mapping is exact.
- CuBa-LIF: brainsim's synapse adds its input to `g` and decays by
  `exp(-dt / tau_syn)` per step; NIR's `tau_syn dI/dt = -I + w_in S` with `S` held
  gives `I <- e I + (1 - e) w_in S`. So the export writes `w_in = 1 / (1 - e)`, and
  the import folds `r (1 - e) w_in` (and a LIF's `r`) into the incoming weights.

Refractory periods, adaptive thresholds (ALIF) and integrators other than exponential
Euler have no NIR counterpart: exporting them is a `ValueError`.
"""

from typing import Any

import jax.numpy as jnp
import numpy as np

from ..core._integrators import ExponentialEuler
from ..core._spike import Surrogate
from ..models._snn import SpikingLayer, SpikingNetwork
from ..neurons import LIF
from ..synapses import Exponential

_MS_PER_S = 1000.0


def _require_nir() -> Any:
    try:
        import nir
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "NIR export/import needs the `nir` package: pip install 'brainsim[nir]'"
        ) from e
    return nir


def _vec(value: Any, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float32), (n,)).copy()


def _neuron_nodes(k: int, layer: SpikingLayer, dt: float, nir: Any) -> Any:
    neuron = layer.neuron
    if not isinstance(neuron, LIF):
        raise ValueError(
            f"layers[{k}]: {type(neuron).__name__} has no NIR counterpart (LIF only; "
            "NIR has no adaptive threshold)"
        )
    if not isinstance(neuron.method, ExponentialEuler):
        raise ValueError(f"layers[{k}]: only the exponential Euler integrator maps onto NIR")
    if np.any(np.asarray(neuron.tau_ref) > 0):
        raise ValueError(f"layers[{k}]: tau_ref > 0 (NIR neurons have no refractory period)")
    n = layer.n
    tau = _vec(neuron.tau_m, n) / _MS_PER_S
    v_leak = _vec(neuron.v_rest, n) + _vec(neuron.i_bias, n)
    r = np.ones(n, np.float32)
    syn = layer.synapse
    if syn is None:
        if layer.spiking:
            return nir.LIF(
                tau=tau,
                r=r,
                v_leak=v_leak,
                v_threshold=_vec(neuron.v_th, n),
                v_reset=_vec(neuron.v_reset, n),
            )
        return nir.LI(tau=tau, r=r, v_leak=v_leak)
    tau_syn = _vec(syn.tau, n)
    w_in = (1.0 / -np.expm1(-dt / tau_syn)).astype(np.float32)
    if layer.spiking:
        return nir.CubaLIF(
            tau_syn=tau_syn / _MS_PER_S,
            tau_mem=tau,
            r=r,
            v_leak=v_leak,
            v_threshold=_vec(neuron.v_th, n),
            v_reset=_vec(neuron.v_reset, n),
            w_in=w_in,
        )
    return nir.CubaLI(tau_syn=tau_syn / _MS_PER_S, tau_mem=tau, r=r, v_leak=v_leak, w_in=w_in)


def export_nir(model: SpikingNetwork) -> Any:
    """Write a `SpikingNetwork` of LIF / CuBa-LIF layers as a NIR graph.

    **Arguments:**

    - `model`: the network (feed-forward or recurrent layers; a leaky readout last, or
      a spiking layer).

    **Returns:** a `nir.NIRGraph` (save it with `nir.write(path, graph)`), with time
    constants in seconds and `metadata["dt"]` the step in seconds.

    **Raises:** `ValueError` naming the layer for what NIR cannot express (ALIF,
    refractory periods, integrators other than exponential Euler).
    """
    nir = _require_nir()
    n_in = int(model.layers[0].weight.shape[1])
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for k, layer in enumerate(model.layers):
        affine, cell = f"affine_{k}", f"{'lif' if layer.spiking else 'li'}_{k}"
        nodes[affine] = nir.Affine(
            weight=np.asarray(layer.weight, np.float32), bias=np.asarray(layer.bias, np.float32)
        )
        nodes[cell] = _neuron_nodes(k, layer, model.dt, nir)
        edges += [(prev, affine), (affine, cell)]
        if layer.w_rec is not None:
            nodes[f"rec_{k}"] = nir.Linear(weight=np.asarray(layer.w_rec, np.float32))
            edges += [(cell, f"rec_{k}"), (f"rec_{k}", cell)]
        prev = cell
    n_out = model.layers[-1].n
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": model.dt / _MS_PER_S})


def _flatten(graph: Any, nir: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested `NIRGraph` nodes (e.g. snnTorch's recurrent subgraphs)."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        sub_nodes, sub_edges = _flatten(node, nir)
        ins = {a for a, n in sub_nodes.items() if isinstance(n, nir.Input)}
        outs = {a for a, n in sub_nodes.items() if isinstance(n, nir.Output)}
        for a, n in sub_nodes.items():
            if a not in ins | outs:
                nodes[f"{name}.{a}"] = n
        entry[name] = [f"{name}.{b}" for a, b in sub_edges if a in ins]
        exit_[name] = [f"{name}.{a}" for a, b in sub_edges if b in outs]
        inner = [(a, b) for a, b in sub_edges if a not in ins and b not in outs]
        edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in inner]
    for a, b in graph.edges:
        for src in exit_.get(a, [a]):
            for dst in entry.get(b, [b]):
                edges.append((src, dst))
    return nodes, edges


def _weights(node: Any, nir: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(node, nir.Affine):
        return np.asarray(node.weight, np.float64), np.asarray(node.bias, np.float64)
    if isinstance(node, nir.Linear):
        w = np.asarray(node.weight, np.float64)
        return w, np.zeros(w.shape[0])
    raise ValueError(f"{where}: expected an Affine or Linear node, got {type(node).__name__}")


def _layer_from_nodes(
    cell: Any,
    weight: np.ndarray,
    bias: np.ndarray,
    w_rec: Any,
    dt: float,
    nir: Any,
    spike_fn: Surrogate,
) -> SpikingLayer:
    n = weight.shape[0]
    cuba = isinstance(cell, nir.CubaLIF | nir.CubaLI)
    tau_m = np.asarray(cell.tau_mem if cuba else cell.tau, np.float64) * _MS_PER_S
    r = np.broadcast_to(np.asarray(cell.r, np.float64), (n,))
    synapse = None
    if cuba:
        tau_syn = np.broadcast_to(np.asarray(cell.tau_syn, np.float64) * _MS_PER_S, (n,))
        w_in = np.broadcast_to(np.asarray(cell.w_in, np.float64), (n,))
        scale = r * -np.expm1(-dt / tau_syn) * w_in
        synapse = Exponential(n, tau=jnp.asarray(tau_syn, jnp.float32))
    else:
        scale = r
    spiking = isinstance(cell, nir.LIF | nir.CubaLIF)
    params: dict[str, Any] = dict(
        tau_m=jnp.asarray(np.broadcast_to(tau_m, (n,)), jnp.float32),
        v_rest=jnp.asarray(np.broadcast_to(cell.v_leak, (n,)), jnp.float32),
        spike_fn=spike_fn,
    )
    if spiking:
        params["v_th"] = jnp.asarray(np.broadcast_to(cell.v_threshold, (n,)), jnp.float32)
        params["v_reset"] = jnp.asarray(np.broadcast_to(cell.v_reset, (n,)), jnp.float32)
    else:
        params["v_th"] = jnp.full((n,), jnp.inf, jnp.float32)  # never read by a readout
        params["v_reset"] = params["v_rest"]
    return SpikingLayer(
        weight=jnp.asarray(scale[:, None] * weight, jnp.float32),
        bias=jnp.asarray(scale * bias, jnp.float32),
        neuron=LIF(n, **params),
        w_rec=None if w_rec is None else jnp.asarray(scale[:, None] * w_rec, jnp.float32),
        synapse=synapse,
        spiking=spiking,
    )


def import_nir(
    graph: Any, *, dt: float | None = None, spike_fn: Surrogate | None = None
) -> SpikingNetwork:
    """Read a NIR graph of LIF / CuBa-LIF layers into a `SpikingNetwork`.

    The graph must be a chain `Input -> (Affine|Linear -> LIF|CubaLIF|LI|CubaLI)+ ->
    Output`, where a neuron node may also feed itself through one `Linear`/`Affine`
    node (recurrence, acting one step later). Nested graphs (as snnTorch writes
    recurrent layers) are inlined first.

    **Arguments:**

    - `graph`: a `nir.NIRGraph` (e.g. from `nir.read(path)`) with times in seconds.
    - `dt`: the step (ms); default: the graph's `metadata["dt"]` (seconds) * 1000.
    - `spike_fn`: the surrogate of the imported neurons (default `Surrogate()`).

    **Returns:** the `SpikingNetwork`.

    **Raises:** `ValueError` naming the node for any other structure or node type.
    """
    nir = _require_nir()
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"graph: expected a nir.NIRGraph, got {type(graph).__name__}")
    if dt is None:
        meta = getattr(graph, "metadata", None) or {}
        if "dt" not in meta:
            raise ValueError("dt: not given and the graph has no metadata['dt']")
        dt = float(np.asarray(meta["dt"])) * _MS_PER_S
    if not dt > 0:
        raise ValueError(f"dt: must be positive, got {dt}")
    spike_fn = Surrogate() if spike_fn is None else spike_fn
    nodes, edges = _flatten(graph, nir)
    succ: dict[str, list[str]] = {name: [] for name in nodes}
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise ValueError(f"graph: edge ({a!r}, {b!r}) names an unknown node")
        succ[a].append(b)
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"graph: expected one Input node, found {len(inputs)}")
    cells = (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI)
    layers = []
    current, seen = inputs[0], set()
    while not isinstance(nodes[current], nir.Output):
        forward = [s for s in succ[current] if s not in seen]
        if len(forward) != 1:
            raise ValueError(f"{current}: expected one next node, found {forward or 'none'}")
        lin = forward[0]
        if isinstance(nodes[lin], nir.Output):
            break
        weight, bias = _weights(nodes[lin], nir, lin)
        if len(succ[lin]) != 1 or not isinstance(nodes[succ[lin][0]], cells):
            raise ValueError(f"{lin}: must feed one LIF, CubaLIF, LI or CubaLI node")
        cell = succ[lin][0]
        w_rec = None
        loops = [s for s in succ[cell] if succ.get(s) == [cell]]
        if loops:
            w_rec, rec_bias = _weights(nodes[loops[0]], nir, loops[0])
            bias = bias + rec_bias
        seen |= {current, lin, cell, *loops}
        layers.append(_layer_from_nodes(nodes[cell], weight, bias, w_rec, dt, nir, spike_fn))
        current = cell
    if not layers:
        raise ValueError("graph: no layers between Input and Output")
    return SpikingNetwork(tuple(layers), dt=dt)
