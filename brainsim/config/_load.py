"""Loading a config: YAML, `--set` overrides, and one checker that walks the schema.

`load_config` reads a file (or takes a dict), applies overrides, converts every value
to the type its dataclass field declares and checks the references between parts
(populations named by projections and monitors, model parameters, the arguments each
rule needs). Every failure is a `ConfigError` (a `ValueError`) whose text is
`"<key path>: <reason>"`. Value ranges (positive time constants, probabilities, delays
within the buffer) are left to the constructors, which `build_network` calls.
"""

import dataclasses
import os
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from ._registry import known_models, model_class, model_params, takes_v_init
from ._schema import Config, ConfigError, Distribution, PopulationConfig, ProjectionConfig

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)
_RULE_ARGS = {
    "fixed_probability": ("p",),
    "fixed_in_degree": ("k",),
    "fixed_out_degree": ("k",),
    "procedural_fan_out": ("k",),
    "all_to_all": (),
    "one_to_one": (),
}


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    return repr(value)


def _describe(tp: Any) -> str:
    """The expected type in words."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Distribution:
        return "{normal: [mean, std]} or {uniform: [low, high]}"
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {len(args)} numbers" if set(args) == {float} else "a list"
    if origin is dict or dataclasses.is_dataclass(tp):
        return "a mapping"
    return {
        float: "a number",
        int: "an integer",
        bool: "true or false",
        str: "a string",
        type(None): "null",
    }.get(tp, str(tp))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and bool(_NUMBER.match(value)))


def _matches(value: Any, tp: Any) -> bool:
    """Whether `value` has the shape of type `tp` (to pick the arm of a union)."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) or origin is dict:
        return isinstance(value, Mapping)
    if origin is tuple:
        return isinstance(value, list | tuple)
    if origin is Literal:
        return value in get_args(tp)
    if tp is float:
        return _is_number(value)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def convert(value: Any, tp: Any, path: str) -> Any:
    """`value` (parsed YAML) as type `tp`, or a `ConfigError` at `path`."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        for arm in arms:
            if len(arms) == 1 or _matches(value, arm):
                return convert(value, arm, path)
        raise ConfigError(path, f"must be {_describe(tp)}, got {_show(value)}")
    if origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise ConfigError(path, f"must be {_describe(tp)}, got {_show(value)}")
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(path, f"must be a mapping, got {_show(value)}")
        return {str(k): convert(v, args[1], _join(path, k)) for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(path, f"must be {_describe(tp)}, got {_show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], _join(path, i)) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(path, f"must be {_describe(tp)}, got {len(value)} values")
        return tuple(convert(v, a, _join(path, i)) for i, (v, a) in enumerate(zip(value, args)))
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(value, tp, path)
    if tp is float and _is_number(value):
        return float(value)
    if tp is not float and _matches(value, tp):
        return value
    raise ConfigError(path, f"must be {_describe(tp)}, got {_show(value)}")


def _convert_dataclass(value: Any, cls: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be {_describe(cls)}, got {_show(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    for key in value:
        if key not in fields:
            known = ", ".join(fields)
            raise ConfigError(_join(path, key), f"unknown key (expected one of: {known})")
    kwargs = {}
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in value:
            if required:
                raise ConfigError(_join(path, name), "missing required key")
            continue
        kwargs[name] = convert(value[name], hints[name], _join(path, name))
    if cls is Distribution and sum(v is not None for v in kwargs.values()) != 1:
        raise ConfigError(path, f"give exactly one of normal, uniform, got {_show(value)}")
    return cls(**kwargs)


def _check_param(value: Any, default: Any, path: str) -> Any:
    """A model parameter, typed after its constructor default (numbers may be per neuron)."""
    if isinstance(default, bool | str):
        if not _matches(value, type(default)):
            raise ConfigError(path, f"must be {_describe(type(default))}, got {_show(value)}")
        return value
    if isinstance(value, list):
        return [convert(v, float, _join(path, i)) for i, v in enumerate(value)]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if default is None and isinstance(value, str | bool) and not _is_number(value):
        return value
    return convert(value, float, path)


def _check_population(name: str, pop: PopulationConfig) -> PopulationConfig:
    path = f"populations.{name}"
    if pop.model not in known_models():
        known = ", ".join(known_models())
        raise ConfigError(f"{path}.model", f"unknown model {pop.model!r} (known: {known})")
    cls = model_class(pop.model)
    if cls is None:
        raise ConfigError(
            f"{path}.model", f"model {pop.model!r} is not available in this build of brainsim"
        )
    allowed = model_params(pop.model)
    params = {}
    for key, value in pop.params.items():
        if key not in allowed:
            known = ", ".join(allowed)
            raise ConfigError(
                f"{path}.params.{key}", f"unknown parameter of model {pop.model!r} (known: {known})"
            )
        params[key] = _check_param(value, allowed[key], f"{path}.params.{key}")
    if pop.v_init is not None and not takes_v_init(pop.model):
        raise ConfigError(f"{path}.v_init", f"model {pop.model!r} takes no initial potential")
    return dataclasses.replace(pop, params=params)


def _check_projection(name: str, proj: ProjectionConfig, config: Config) -> None:
    path = f"projections.{name}"
    for side in ("pre", "post"):
        pop = getattr(proj, side)
        if pop not in config.populations:
            known = ", ".join(config.populations)
            raise ConfigError(
                f"{path}.{side}", f"unknown population {pop!r} (populations: {known})"
            )
    if config.populations[proj.post].model == "poisson":
        raise ConfigError(f"{path}.post", f"population {proj.post!r} is a poisson source")
    conn = proj.connect
    needs = _RULE_ARGS[conn.rule]
    for arg in needs:
        if getattr(conn, arg) is None:
            raise ConfigError(f"{path}.connect.{arg}", f"required by rule {conn.rule!r}")
    for arg in ("p", "k"):
        if getattr(conn, arg) is not None and arg not in needs:
            raise ConfigError(f"{path}.connect.{arg}", f"not used by rule {conn.rule!r}")
    syn = proj.synapse
    if syn.model == "exponential" and syn.tau is None:
        raise ConfigError(f"{path}.synapse.tau", "required by an exponential synapse")
    for arg in ("tau", "g_init"):
        if syn.model == "delta" and getattr(syn, arg) is not None:
            raise ConfigError(f"{path}.synapse.{arg}", "not used by a delta synapse")
    out = proj.output
    if out.model == "coba" and out.E is None:
        raise ConfigError(f"{path}.output.E", "required by a coba output (reversal potential, mV)")
    if out.model != "coba" and out.E is not None:
        raise ConfigError(f"{path}.output.E", f"not used by a {out.model} output")
    if proj.max_delay is not None and proj.delay is None:
        raise ConfigError(f"{path}.max_delay", "not used without a delay")


def parse_config(raw: Any, where: str = "config") -> Config:
    """Check a parsed YAML document against the schema and return the `Config`."""
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"a config must be a mapping of keys, got {_show(raw)}")
    config = convert(raw, Config, "")
    if not config.populations:
        raise ConfigError("populations", "at least one population is required")
    pops = {name: _check_population(name, pop) for name, pop in config.populations.items()}
    config = dataclasses.replace(config, populations=pops)
    for name, proj in config.projections.items():
        _check_projection(name, proj, config)
    spikes = config.monitors.spikes
    for i, pop in enumerate(spikes or ()):
        if pop not in config.populations:
            known = ", ".join(config.populations)
            raise ConfigError(
                f"monitors.spikes.{i}", f"unknown population {pop!r} (populations: {known})"
            )
        if pop in spikes[:i]:
            raise ConfigError(f"monitors.spikes.{i}", f"population {pop!r} is listed twice")
    return config


def apply_override(raw: dict, item: str) -> None:
    """Apply one `key.path=value` override (value parsed as YAML) to `raw` in place."""
    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError("--set", f"expected KEY.PATH=VALUE, got {item!r}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(key, f"cannot parse {text!r} as a YAML value") from None
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            here = ".".join(parts[: i + 1])
            raise ConfigError(
                here, f"is {_show(child)}, not a mapping: cannot set {parts[i + 1]!r}"
            )
        node = child
    node[parts[-1]] = value


def read_yaml(path: str | os.PathLike) -> Any:
    """The parsed YAML document at `path`; `FileNotFoundError` or `ConfigError` otherwise."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {os.fspath(path)}")
    try:
        return yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(os.fspath(path), f"invalid YAML{line}: {problem}") from None


def _unshared(tree: Any) -> Any:
    """A copy in which no two places share a dict or list (YAML anchors and merges do),
    so that an override changes one place only."""
    if isinstance(tree, Mapping):
        return {k: _unshared(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_unshared(v) for v in tree]
    return tree


def load_config(
    source: str | os.PathLike | Mapping[str, Any], overrides: Sequence[str] = ()
) -> Config:
    """Load and check a config.

    **Arguments:**

    - `source`: a YAML file path, or the config as a dict (not modified).
    - `overrides`: `"key.path=value"` strings, each value parsed as YAML, applied in
      order before checking (e.g. `"populations.E.n=400"`).

    **Returns:** the checked `Config`. Raises `ConfigError` (a `ValueError`) naming the
    key path of the first problem, or `FileNotFoundError` for a missing file.
    """
    if isinstance(source, str | os.PathLike):
        raw, where = read_yaml(source), os.fspath(source)
    else:
        raw, where = source, "config"
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"a config must be a mapping of keys, got {_show(raw)}")
    raw = _unshared(raw)
    for item in overrides:
        apply_override(raw, item)
    return parse_config(raw, where)
