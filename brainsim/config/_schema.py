"""The configuration schema: frozen dataclasses that a YAML file is checked against.

A config describes one network run. Units are ms and mV (conductances and currents
in the postsynaptic neuron's own units, see each neuron model). The top level:

```yaml
name: coba                 # names the default output folder, out/<name>
dt: 0.1                    # time step (ms)
duration: 1000.0           # simulated time (ms)
seed: 0                    # initial state, Poisson sources and connectivity
device: cpu                # optional: cpu | gpu (default: JAX's default device)
populations:
  E:
    model: lif             # lif | alif | adex | izhikevich | hh | poisson
    n: 3200
    params: {tau_m: 20.0, v_th: -50.0}   # keyword arguments of the model's constructor
    v_init: {normal: [-55.0, 5.0]}       # a number | {normal: [mean, std]} | {uniform: [low, high]}
projections:
  EE:
    pre: E
    post: E
    connect: {rule: fixed_probability, p: 0.02, allow_self: true}
    weight: 0.6
    synapse: {model: exponential, tau: 5.0, g_init: {normal: [0.4, 0.15]}}
    output: {model: coba, E: 0.0}
    delay: 1.5             # optional, ms; max_delay (ms) sizes the delay buffer
monitors:
  spikes: [E]              # default: every population
outputs:
  raster: true             # write raster.png
  raster_neurons: 500      # neurons per population shown in the raster
  spikes: true             # write spikes.npz
```

`connect.rule` is one of `fixed_probability` (needs `p`), `fixed_in_degree` and
`fixed_out_degree` (need `k`), `all_to_all` and `one_to_one`; `connect.seed`
defaults to a seed derived from the top-level `seed` and the projection's name.
`synapse.model` is `exponential` (needs `tau`, ms) or `delta` (events act within one
step); `output.model` is `coba` (needs the reversal potential `E`, mV), `cuba` or
`jump` (a voltage jump, with delta synapses). A `poisson` population takes
`params: {rate_hz: ...}`. Every key is checked: an unknown key, a wrong type or a
reference to an unknown population is a `ConfigError` naming the key's path.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


class ConfigError(ValueError):
    """A bad configuration value: `str(error)` is `"<key path>: <reason>"`."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{path}: {self.reason}" if path else self.reason)


@dataclass(frozen=True)
class Distribution:
    """Per-neuron random initial values: give exactly one of `normal` or `uniform`.

    - `normal`: `(mean, std)`; `uniform`: `(low, high)`, in the variable's units.
    """

    normal: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None


@dataclass(frozen=True)
class PopulationConfig:
    """A population: a neuron model (or `poisson` source) of `n` units."""

    model: str
    n: int
    params: dict[str, Any] = field(default_factory=dict)
    v_init: float | Distribution | None = None


ConnectRule = Literal[
    "fixed_probability",
    "fixed_in_degree",
    "fixed_out_degree",
    "procedural_fan_out",
    "all_to_all",
    "one_to_one",
]


@dataclass(frozen=True)
class ConnectConfig:
    """A connectivity rule of `brainsim.connect` and its arguments."""

    rule: ConnectRule
    p: float | None = None
    k: int | None = None
    allow_self: bool = True
    seed: int | None = None


@dataclass(frozen=True)
class SynapseConfig:
    """Postsynaptic trace: `exponential` (time constant `tau`, ms) or `delta`."""

    model: Literal["exponential", "delta"] = "exponential"
    tau: float | None = None
    g_init: float | Distribution | None = None


@dataclass(frozen=True)
class OutputConfig:
    """How the trace reaches the cell: `coba` (reversal potential `E`, mV), `cuba`, `jump`."""

    model: Literal["coba", "cuba", "jump"]
    E: float | None = None


@dataclass(frozen=True)
class ProjectionConfig:
    """A projection from population `pre` to population `post`."""

    pre: str
    post: str
    connect: ConnectConfig
    weight: float
    synapse: SynapseConfig
    output: OutputConfig
    delay: float | None = None
    max_delay: float | None = None


@dataclass(frozen=True)
class MonitorsConfig:
    """What to record: the spikes of these populations (`None`: every population)."""

    spikes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OutputsConfig:
    """Which files a run writes besides `summary.json`."""

    raster: bool = True
    raster_neurons: int = 500
    spikes: bool = True


@dataclass(frozen=True)
class Config:
    """A whole run: the network, its time grid, its seed, what to record and write."""

    name: str
    dt: float
    duration: float
    populations: dict[str, PopulationConfig]
    projections: dict[str, ProjectionConfig] = field(default_factory=dict)
    seed: int = 0
    device: Literal["cpu", "gpu"] | None = None
    monitors: MonitorsConfig = field(default_factory=MonitorsConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)


def config_to_dict(config: Any) -> Any:
    """A config (or part of one) as plain dicts, lists and scalars, ready for JSON or YAML."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, dict):
        return {k: config_to_dict(v) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [config_to_dict(v) for v in config]
    return config
