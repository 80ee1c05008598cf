"""A network partitioned across devices by postsynaptic neurons.

Every population is cut into equal contiguous blocks, one per device of a 1-D mesh.
Each projection is stored post-major as a fixed fan-in table (`(n_post, k)` presynaptic
indices and weights, zero-padded, sorted by presynaptic index within a row), so a
device holds the table rows of the neurons it owns. Each step the devices exchange
their spikes with one `all_gather` (inside `shard_map`) and every neuron sums its
inputs sequentially over its table row: the order of the sum does not depend on the
number of devices, and neither do the spikes (bit for bit).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float, Int

from ..core._abstract import AbstractNeuron, SynapticInput
from ..synapses._abstract import AbstractOutput, AbstractSynapse
from ._network import Network, NetworkState
from ._projection import Projection


class FanIn(eqx.Module):
    """One projection as a post-major fixed fan-in table, with its synapse and output."""

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    indices: Int[Array, "n_post k"]
    weights: Float[Array, "n_post k"]
    synapse: AbstractSynapse
    output: AbstractOutput

    def gather(self, pre_spikes: Float[Array, " n_pre"]) -> Float[Array, " n_rows"]:
        """Each row's weighted sum of presynaptic spikes, accumulated column by column."""

        def add(acc, col):
            w, i = col
            return acc + w * pre_spikes[i].astype(w.dtype), None

        acc0 = jnp.zeros(self.weights.shape[:1], self.weights.dtype)
        acc, _ = jax.lax.scan(add, acc0, (self.weights.T, self.indices.T), unroll=8)
        return acc


class PartitionedNetwork(eqx.Module):
    """A `Network` of neuron populations and delay-free projections, laid out for
    partitioning by postsynaptic rows (build it with `partition`)."""

    populations: dict[str, AbstractNeuron]
    projections: dict[str, FanIn]

    def size(self, name: str) -> int:
        return int(self.populations[name].n)


def _fan_in(name: str, proj: Projection, dtype: Any) -> FanIn:
    conn = proj.conn
    pre = np.asarray(conn.pre_ids).reshape(-1)
    post = np.asarray(conn.post_ids).reshape(-1)
    w = np.broadcast_to(np.asarray(conn.synapse_weights()), np.shape(conn.pre_ids)).reshape(-1)
    order = np.lexsort((pre, post))
    pre, post, w = pre[order], post[order], w[order]
    counts = np.bincount(post, minlength=conn.n_post)
    k = max(int(counts.max(initial=0)), 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(post.size) - starts[post]
    indices = np.zeros((conn.n_post, k), np.int32)
    weights = np.zeros((conn.n_post, k), dtype)
    indices[post, rank] = pre
    weights[post, rank] = w
    return FanIn(
        proj.pre, proj.post, jnp.asarray(indices), jnp.asarray(weights), proj.synapse, proj.output
    )


def partition(network: Network) -> PartitionedNetwork:
    """Lay a network out post-major for `integrate_partitioned`.

    **Arguments:**

    - `network`: a `Network` whose populations are neurons and whose projections are
      `Projection`s without delay or short-term plasticity, with one synaptic trace
      per postsynaptic neuron (`Exponential`, `Delta`, ...).

    **Returns:** a `PartitionedNetwork` (independent of the device count).
    """
    pops: dict[str, AbstractNeuron] = {}
    for name, pop in network.populations.items():
        if not isinstance(pop, AbstractNeuron):
            raise ValueError(f"populations.{name}: only neuron populations can be partitioned")
        pops[name] = pop
    projs = {}
    for name, proj in network.projections.items():
        if not isinstance(proj, Projection) or proj.delay is not None or proj.stp is not None:
            raise ValueError(
                f"projections.{name}: only Projections without delay or stp can be partitioned"
            )
        shape = jax.eval_shape(lambda p=proj: p.synapse.init_state(key=jax.random.key(0)))
        if not (isinstance(shape, jax.ShapeDtypeStruct) and shape.shape == (proj.conn.n_post,)):
            raise ValueError(f"projections.{name}: the synapse state must be one trace per neuron")
        projs[name] = _fan_in(name, proj, np.dtype(proj.conn.weights.dtype))
    return PartitionedNetwork(pops, projs)


def neuron_mesh(n_devices: int | None = None) -> Mesh:
    """A 1-D mesh (axis `"neurons"`) over the first `n_devices` devices (default all)."""
    devices = jax.devices()
    n = len(devices) if n_devices is None else n_devices
    if not 1 <= n <= len(devices):
        raise ValueError(f"n_devices: must be in [1, {len(devices)}], got {n_devices}")
    return Mesh(np.array(devices[:n]), ("neurons",))


def _specs(tree: Any, n: int, axis: str) -> Any:
    def spec(x):
        return PartitionSpec(axis) if x.ndim >= 1 and x.shape[0] == n else PartitionSpec()

    return jtu.tree_map(spec, tree)


def integrate_partitioned(
    pnet: PartitionedNetwork, state0: NetworkState, *, dt: float, n_steps: int, mesh: Mesh
) -> dict[str, Bool[Array, "steps n"]]:
    """Run a partitioned network on the devices of `mesh`; return every population's spikes.

    **Arguments:**

    - `pnet`: from `partition(network)`.
    - `state0`: `network.init_state(key=...)` of the original network.
    - `dt`: step (ms); `n_steps`: number of steps.
    - `mesh`: a 1-D mesh (`neuron_mesh(n)`); each population's size must be a multiple
      of its size.

    **Returns:** population name -> `(n_steps, n)` bool spikes (sharded by neuron).
    """
    if len(mesh.axis_names) != 1:
        raise ValueError(f"mesh: must be 1-D, got axes {mesh.axis_names}")
    axis = mesh.axis_names[0]
    for name in pnet.populations:
        if pnet.size(name) % mesh.size:
            raise ValueError(
                f"populations.{name}: size {pnet.size(name)} is not a multiple of the "
                f"{mesh.size} devices"
            )
    dyn, static = eqx.partition(pnet, eqx.is_array)
    pops = state0.populations
    syns = {k: state0.projections[k].synapse for k in pnet.projections}
    spec_pops = {k: _specs(dyn.populations[k], pnet.size(k), axis) for k in pnet.populations}
    spec_projs = {
        k: _specs(p, pnet.size(pnet.projections[k].post), axis) for k, p in dyn.projections.items()
    }
    spec_dyn = PartitionedNetwork(spec_pops, spec_projs)
    spec_state = (
        {k: _specs(s, pnet.size(k), axis) for k, s in pops.items()},
        {k: PartitionSpec(axis) for k in syns},
    )
    dtype = jnp.result_type(float)

    def body(dyn, pops, syns):
        net = eqx.combine(dyn, static)

        def step(carry, i):
            pops, syns = carry
            t = i.astype(dtype) * dt
            drive: dict[str, SynapticInput] = {}
            for k, proj in net.projections.items():
                d = proj.output(proj.synapse.value(syns[k]), pops[proj.post].v)
                drive[proj.post] = d if proj.post not in drive else drive[proj.post] + d
            new_pops, local = {}, {}
            for k, pop in net.populations.items():
                v = pops[k].v
                syn = drive.get(k, SynapticInput.zeros(v.shape[0], v.dtype))
                new_pops[k], local[k] = pop.step(pops[k], syn, t, dt)
            every = {k: jax.lax.all_gather(s, axis, tiled=True) for k, s in local.items()}
            new_syns = {
                k: proj.synapse.step(syns[k], proj.gather(every[proj.pre]), t, dt)
                for k, proj in net.projections.items()
            }
            return (new_pops, new_syns), {k: s > 0 for k, s in local.items()}

        _, spikes = jax.lax.scan(step, (pops, syns), jnp.arange(n_steps, dtype=jnp.int32))
        return spikes

    out_specs = {k: PartitionSpec(None, axis) for k in pnet.populations}
    run = jax.jit(
        jax.shard_map(
            body,
            mesh=mesh,
            in_specs=(spec_dyn, *spec_state),
            out_specs=out_specs,
            check_vma=False,
        )
    )

    def put(tree, specs):
        return jtu.tree_map(lambda x, s: jax.device_put(x, NamedSharding(mesh, s)), tree, specs)

    return run(put(dyn, spec_dyn), put(pops, spec_state[0]), put(syns, spec_state[1]))
