"""Run configurations: YAML files checked against frozen dataclasses, built into networks.

`load_config(path_or_dict, overrides=[...])` reads and checks a config;
`build_network(config)` returns `(Network, monitors)`. See `_schema` (and
docs/config.md) for the format.
"""

from ._build import (
    InitialTrace as InitialTrace,
    build_network as build_network,
    connect_seed as connect_seed,
)
from ._load import apply_override as apply_override, load_config as load_config
from ._schema import (
    Config as Config,
    ConfigError as ConfigError,
    ConnectConfig as ConnectConfig,
    Distribution as Distribution,
    MonitorsConfig as MonitorsConfig,
    OutputConfig as OutputConfig,
    OutputsConfig as OutputsConfig,
    PopulationConfig as PopulationConfig,
    ProjectionConfig as ProjectionConfig,
    SynapseConfig as SynapseConfig,
    config_to_dict as config_to_dict,
)
