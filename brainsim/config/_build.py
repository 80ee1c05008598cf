"""`build_network`: a checked `Config` -> an immutable `Network` and its spike monitors.

Construction is plain Python (connectivity is drawn here, with NumPy); it ends with a
frozen pytree. Value checks are the constructors' own: their `ValueError`s are caught
here and re-raised as `ConfigError`s prefixed with the key path of the offending value.
"""

import contextlib
import math
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, cast

import equinox as eqx
import numpy as np

from .. import connect
from ..core import Constant, Normal, SpikeMonitor, Uniform
from ..core._errors import check_nonnegative, check_positive
from ..core._init import AbstractInitializer
from ..kernels import ProceduralFanOut
from ..network import Delay, Network, Projection
from ..synapses import COBA, CUBA, Delta, Exponential, VoltageJump
from ..synapses._abstract import AbstractSynapse
from ._registry import model_class
from ._schema import Config, ConfigError, Distribution, PopulationConfig, ProjectionConfig


@contextlib.contextmanager
def _at(path: str, args: Mapping[str, str] | None = None) -> Iterator[None]:
    """Re-raise a constructor's `ValueError` as a `ConfigError` at a key path.

    The message's first word names the argument (the constructors' convention); when it
    is in `args`, that key path is used, else `path`.
    """
    try:
        yield
    except ConfigError:
        raise
    except ValueError as e:
        message = str(e)
        first = message.split(" ", 1)[0].strip(":,()'\"")
        raise ConfigError((args or {}).get(first, path), message) from e


def _initializer(value: float | Distribution) -> AbstractInitializer:
    if not isinstance(value, Distribution):
        return Constant(float(value))
    if value.normal is not None:
        return Normal(*value.normal)
    low, high = value.uniform or (math.nan, math.nan)  # the loader guarantees one of the two
    return Uniform(low, high)


class InitialTrace(AbstractSynapse):
    """A synapse whose trace starts from drawn values instead of rest (`synapse.g_init`).

    **Arguments:**

    - `synapse`: a synapse whose state is the trace itself (`Exponential`).
    - `g_init`: an initializer (`Normal`, `Uniform`, `Constant`) for the first trace.
    """

    synapse: AbstractSynapse
    g_init: AbstractInitializer
    n: int = eqx.field(static=True)

    def __init__(self, synapse: AbstractSynapse, g_init: AbstractInitializer):
        self.synapse = synapse
        self.g_init = g_init
        self.n = synapse.n

    def min_time_constant(self) -> Any:
        return self.synapse.min_time_constant()

    def init_state(self, *, key):
        rest = self.synapse.init_state(key=key)
        return self.g_init(self.n, rest.dtype, key=key)

    def step(self, state, x, t, dt):
        return self.synapse.step(state, x, t, dt)

    def value(self, state):
        return self.synapse.value(state)


def _build_population(name: str, pop: PopulationConfig) -> Any:
    path = f"populations.{name}"
    cls = model_class(pop.model)
    if cls is None:
        raise ConfigError(f"{path}.model", f"model {pop.model!r} is not available")
    kwargs = dict(pop.params)
    if pop.v_init is not None:
        with _at(f"{path}.v_init"):
            kwargs["v_init"] = _initializer(pop.v_init)
    args = {k: f"{path}.params.{k}" for k in kwargs}
    args.update(n=f"{path}.n", v_init=f"{path}.v_init")
    with _at(path, args):
        return cls(pop.n, **kwargs)


def connect_seed(seed: int, projection: str) -> int:
    """The connectivity seed of a projection without its own: from the run's seed and name."""
    mixed = np.random.SeedSequence([seed, zlib.crc32(projection.encode())])
    return int(mixed.generate_state(1)[0])


def _connectivity(proj: ProjectionConfig, n_pre: int, n_post: int, seed: int) -> Any:
    # Variable-degree layouts are built presynaptic-major: the event kernel then touches
    # only the rows of neurons that spiked (about 4x faster than the gather on COBA).
    c, w = proj.connect, proj.weight
    allow_self = c.allow_self or proj.pre != proj.post
    if c.rule == "fixed_probability":
        return connect.fixed_probability(
            n_pre,
            n_post,
            cast(float, c.p),
            seed=seed,
            weight=w,
            allow_self=allow_self,
            major="pre",
        )
    if c.rule == "fixed_in_degree":
        return connect.fixed_in_degree(
            n_pre, n_post, cast(int, c.k), seed=seed, weight=w, allow_self=allow_self
        )
    if c.rule == "fixed_out_degree":
        return connect.fixed_out_degree(
            n_pre, n_post, cast(int, c.k), seed=seed, weight=w, allow_self=allow_self
        )
    if c.rule == "procedural_fan_out":  # no synapse arrays: regenerated from the seed
        if not allow_self:
            raise ValueError("allow_self: procedural_fan_out draws targets with replacement")
        return ProceduralFanOut(
            w, n_pre=n_pre, n_post=n_post, fan_out=cast(int, c.k), seed=seed % 2**32
        )
    if c.rule == "all_to_all":
        return connect.all_to_all(n_pre, n_post, weight=w, allow_self=allow_self, major="pre")
    if n_pre != n_post:
        raise ValueError(f"one_to_one needs populations of one size, got {n_pre} and {n_post}")
    return connect.one_to_one(n_pre, weight=w, major="pre")


def _build_projection(name: str, proj: ProjectionConfig, config: Config, sizes: dict) -> Projection:
    path = f"projections.{name}"
    n_pre, n_post = sizes[proj.pre], sizes[proj.post]
    seed = connect_seed(config.seed, name) if proj.connect.seed is None else proj.connect.seed
    cpath = f"{path}.connect"
    args = {a: f"{cpath}.{a}" for a in ("p", "k", "allow_self", "seed")}
    args.update(weight=f"{path}.weight", weights=f"{path}.weight", one_to_one=f"{cpath}.rule")
    with _at(cpath, args):
        conn = _connectivity(proj, n_pre, n_post, seed)
    syn = proj.synapse
    with _at(f"{path}.synapse", {"tau": f"{path}.synapse.tau"}):
        synapse: AbstractSynapse = (
            Exponential(n_post, syn.tau) if syn.model == "exponential" else Delta(n_post)
        )
    if syn.g_init is not None:
        with _at(f"{path}.synapse.g_init"):
            synapse = InitialTrace(synapse, _initializer(syn.g_init))
    with _at(f"{path}.output", {"E": f"{path}.output.E"}):
        out = proj.output
        output = (
            COBA(out.E) if out.model == "coba" else CUBA() if out.model == "cuba" else VoltageJump()
        )
    delay = None
    if proj.delay is not None:
        dargs = {"delay": f"{path}.delay", "max_delay": f"{path}.max_delay", "dt": "dt"}
        with _at(f"{path}.delay", dargs):
            delay = Delay(proj.delay, dt=config.dt, max_ms=proj.max_delay)
    with _at(path):
        return Projection(proj.pre, proj.post, conn, synapse, output, delay)


def _check_dt(config: Config, pops: dict, projs: dict) -> None:
    parts = [(f"population {k}", v) for k, v in pops.items()]
    parts += [(f"projection {k}", v) for k, v in projs.items()]
    for what, part in parts:
        tau = part.min_time_constant()
        if tau is not None and config.dt > float(tau):
            raise ConfigError(
                "dt",
                f"dt ({config.dt} ms) must not exceed the smallest time constant "
                f"({float(tau)} ms, {what})",
            )


def build_network(config: Config) -> tuple[Network, tuple[SpikeMonitor, ...]]:
    """Build the network a config describes.

    **Arguments:**

    - `config`: a `Config` from `load_config`.

    **Returns:** `(network, monitors)`: the `Network` and a `SpikeMonitor` for every
    population in `config.monitors.spikes` (all populations by default). Raises
    `ConfigError` (a `ValueError`) naming the key path of a bad value.
    """
    with _at("dt"):
        check_positive("dt", config.dt)
    with _at("duration"):
        check_nonnegative("duration", config.duration)
    if config.seed < 0:
        raise ConfigError("seed", f"must be a non-negative integer, got {config.seed}")
    pops = {name: _build_population(name, pop) for name, pop in config.populations.items()}
    sizes = {name: int(pop.n) for name, pop in pops.items()}
    projs = {
        name: _build_projection(name, proj, config, sizes)
        for name, proj in config.projections.items()
    }
    _check_dt(config, pops, projs)
    with _at("projections"):
        network = Network(pops, projs)
    names = config.monitors.spikes if config.monitors.spikes is not None else tuple(pops)
    return network, tuple(SpikeMonitor(name) for name in names)
