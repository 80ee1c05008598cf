"""A network: named populations and projections, itself a dynamical system."""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr

from ..core._abstract import AbstractDynamics, AbstractNeuron, SynapticInput, as_synaptic_input
from ._projection import AbstractProjection


class NetworkState(eqx.Module):
    """State of every population and projection, and each population's last spikes."""

    populations: dict[str, Any]
    projections: dict[str, Any]
    spikes: dict[str, Any]


class Network(AbstractDynamics):
    """Populations (neurons or spike sources) connected by projections.

    `step(state, inputs, t, dt) -> (state, spikes)`: `inputs` is `None` or a dict from
    population name to an external current for this step (scalar or per neuron);
    `spikes` is a dict from population name to this step's spikes (floats).

    Each step, every projection first delivers input from its current state, then all
    populations advance, then projections take the new spikes (so a spike reaches its
    targets' traces in the step it is emitted, as in Brian2, and acts on the next
    membrane update).

    **Arguments:**

    - `populations`: name -> `AbstractNeuron` or a spike source (`PoissonSource`, ...).
    - `projections`: name -> `Projection` / `GapJunction` (any `AbstractProjection`).
    """

    populations: dict[str, AbstractDynamics]
    projections: dict[str, AbstractProjection]

    def __init__(self, populations: dict, projections: dict | None = None):
        projections = {} if projections is None else projections
        for name, proj in projections.items():
            for side in ("pre", "post"):
                pop = getattr(proj, side)
                if pop not in populations:
                    raise ValueError(
                        f"projection {name!r}: {side} population {pop!r} is not in the network "
                        f"(populations: {sorted(populations)})"
                    )
            post = populations[proj.post]
            if not isinstance(post, AbstractNeuron):
                raise ValueError(
                    f"projection {name!r}: post population {proj.post!r} is not a neuron"
                )
            if proj.reads_pre_voltage and not isinstance(populations[proj.pre], AbstractNeuron):
                raise ValueError(
                    f"projection {name!r} reads the membrane potential of {proj.pre!r}, "
                    "which is not a neuron"
                )
        self.populations = dict(populations)
        self.projections = dict(projections)

    def size(self, name: str) -> int:
        return int(self.populations[name].n)  # type: ignore[attr-defined]

    def min_time_constant(self):
        parts = (*self.populations.values(), *self.projections.values())
        taus = [t for t in (m.min_time_constant() for m in parts) if t is not None]
        return jnp.min(jnp.stack([jnp.asarray(t) for t in taus])) if taus else None

    def init_state(self, *, key) -> NetworkState:
        names = list(self.populations) + list(self.projections)
        keys = dict(zip(names, jr.split(key, max(len(names), 1))))
        pops = {n: p.init_state(key=keys[n]) for n, p in self.populations.items()}
        projs = {n: p.init_state(key=keys[n]) for n, p in self.projections.items()}
        dtype = jnp.result_type(float)
        spikes = {n: jnp.zeros((self.size(n),), dtype) for n in self.populations}
        return NetworkState(pops, projs, spikes)

    def step(self, state: NetworkState, inputs, t, dt):
        inputs = {} if inputs is None else inputs
        unknown = set(inputs) - set(self.populations)
        if unknown:
            raise ValueError(f"inputs name unknown populations {sorted(unknown)}")
        syn: dict[str, SynapticInput] = {}
        for proj, pstate in zip(self.projections.values(), state.projections.values()):
            delivered = proj.deliver(
                pstate, state.populations[proj.pre], state.populations[proj.post]
            )
            syn[proj.post] = delivered if proj.post not in syn else syn[proj.post] + delivered
        new_pops, spikes = {}, {}
        for name, pop in self.populations.items():
            pstate = state.populations[name]
            if isinstance(pop, AbstractNeuron):
                drive = as_synaptic_input(inputs.get(name), pop.n, pstate.v.dtype)
                if name in syn:
                    drive = drive + syn[name]
                new_pops[name], spikes[name] = pop.step(pstate, drive, t, dt)
            else:
                new_pops[name], spikes[name] = pop.step(pstate, inputs.get(name), t, dt)
        new_projs = {}
        for name, proj in self.projections.items():
            pstate = state.projections[name]
            if proj.learns:
                new_projs[name] = proj.update_plastic(  # type: ignore[attr-defined]
                    pstate, spikes[proj.pre], spikes[proj.post], t, dt
                )
            else:
                new_projs[name] = proj.update(pstate, spikes[proj.pre], t, dt)
        return NetworkState(new_pops, new_projs, spikes), spikes
