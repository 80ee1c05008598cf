"""What to record during a run: spikes, state variables, synaptic weights.

Monitors are arguments of `integrate` / `simulate`, never flags hidden in a model.
Each reads `(model, state, spikes)` after a step and returns the recorded array.
"""

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def _indices(indices) -> Array | None:
    if indices is None:
        return None
    idx = np.asarray(indices)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be a 1-D integer array, got {idx!r}")
    return jnp.asarray(idx, jnp.int32)


def _check_every(every: int) -> None:
    if not isinstance(every, int | np.integer) or every < 1:
        raise ValueError(f"every must be a positive integer number of steps, got {every!r}")


def _component(state: Any, name: str) -> Any:
    """A population's or projection's state within a `NetworkState`, else an attribute."""
    for group in ("populations", "projections"):
        table = getattr(state, group, None)
        if isinstance(table, dict) and name in table:
            return table[name]
    if isinstance(state, dict):
        return state[name]
    return getattr(state, name)


def resolve_path(state: Any, path: str) -> Any:
    """Follow a dotted path such as `"E.v"` or `"v"` into a state pytree."""
    obj = state
    for part in path.split("."):
        try:
            obj = _component(obj, part)
        except (KeyError, AttributeError):
            raise ValueError(f"monitor path {path!r}: no component {part!r} in the state") from None
    return obj


class AbstractMonitor(eqx.Module):
    """Records an array every `every` steps."""

    every: eqx.AbstractVar[int]

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The key of this monitor's trace."""

    @abc.abstractmethod
    def select(self, model: Any, state: Any, spikes: Any) -> Array:
        """The recorded value after a step."""


class SpikeMonitor(AbstractMonitor):
    """Spikes of a population (`None` for a single neuron model), every step, as bools."""

    population: str | None = eqx.field(static=True, default=None)
    indices: Array | None = None
    every: int = eqx.field(static=True, default=1)

    def __init__(self, population: str | None = None, indices=None):
        self.population = population
        self.indices = _indices(indices)
        self.every = 1

    @property
    def name(self) -> str:
        return "spikes" if self.population is None else f"spikes:{self.population}"

    def select(self, model, state, spikes):
        s = spikes if self.population is None else spikes[self.population]
        s = s if self.indices is None else s[self.indices]
        return s > 0


class ActivityMonitor(AbstractMonitor):
    """Population activity: the fraction of a population (`None` for a single neuron
    model) that spiked in each step, one float per step.

    Enough for mean rates (`mean(trace) * 1000 / dt` Hz) and population-rate spectra at
    a cost of one number per step, where a `SpikeMonitor` stores the whole raster.
    """

    population: str | None = eqx.field(static=True, default=None)
    every: int = eqx.field(static=True, default=1)

    def __init__(self, population: str | None = None):
        self.population = population
        self.every = 1

    @property
    def name(self) -> str:
        return "activity" if self.population is None else f"activity:{self.population}"

    def select(self, model, state, spikes):
        s = spikes if self.population is None else spikes[self.population]
        return jnp.mean((s > 0).astype(jnp.result_type(float)))


class StateMonitor(AbstractMonitor):
    """A state variable by dotted path (`"E.v"`, `"v"`), on all or some neurons."""

    path: str = eqx.field(static=True)
    indices: Array | None
    every: int = eqx.field(static=True)

    def __init__(self, path: str, indices=None, every: int = 1):
        _check_every(every)
        self.path = path
        self.indices = _indices(indices)
        self.every = int(every)

    @property
    def name(self) -> str:
        return self.path

    def select(self, model, state, spikes):
        x = resolve_path(state, self.path)
        return x if self.indices is None else x[..., self.indices]


class WeightMonitor(AbstractMonitor):
    """The synaptic weights of a projection (the plastic ones when it learns)."""

    projection: str = eqx.field(static=True)
    indices: Array | None
    every: int = eqx.field(static=True)

    def __init__(self, projection: str, indices=None, every: int = 1):
        _check_every(every)
        self.projection = projection
        self.indices = _indices(indices)
        self.every = int(every)

    @property
    def name(self) -> str:
        return f"weights:{self.projection}"

    def select(self, model, state, spikes):
        pstate = state.projections[self.projection]
        w = getattr(pstate, "weights", None)
        if w is None:
            conn = model.projections[self.projection].conn
            w = conn.synapse_weights()
        w = jnp.reshape(w, (-1,))
        return w if self.indices is None else w[self.indices]


def check_monitors(model: Any, state: Any, monitors) -> None:
    """Raise `ValueError` for a monitor whose target is not in the model."""
    names = set()
    for m in monitors:
        if not isinstance(m, AbstractMonitor):
            raise ValueError(f"monitors must be brainsim monitors (SpikeMonitor, ...), got {m!r}")
        if m.name in names:
            raise ValueError(f"two monitors record {m.name!r}")
        names.add(m.name)
        pops = getattr(model, "populations", None)
        if isinstance(m, SpikeMonitor | ActivityMonitor) and m.population is not None:
            if pops is None or m.population not in pops:
                kind = type(m).__name__
                raise ValueError(f"{kind}: unknown population {m.population!r}")
        if isinstance(m, WeightMonitor):
            projs = getattr(model, "projections", None)
            if projs is None or m.projection not in projs:
                raise ValueError(f"WeightMonitor: unknown projection {m.projection!r}")
        if isinstance(m, StateMonitor):
            resolve_path(state, m.path)
