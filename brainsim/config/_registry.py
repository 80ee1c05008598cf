"""Model names of the config format -> the classes that implement them.

Neuron classes are looked up in `brainsim.neurons` when asked for, so a model that a
build of brainsim lacks is an error naming the model, not an import failure. A model's
`params` are the keyword arguments of its constructor, except those the config sets
elsewhere (`n`, `v_init`) or that are not plain values (`spike_fn`).
"""

import inspect
from typing import Any

NEURON_MODELS: dict[str, tuple[str, ...]] = {
    "lif": ("LIF",),
    "alif": ("ALIF",),
    "adex": ("AdEx",),
    "izhikevich": ("Izhikevich",),
    "hh": ("HH", "TraubMiles", "HodgkinHuxley", "HHTraubMiles"),
}
SOURCE_MODELS: tuple[str, ...] = ("poisson",)
# Models whose constructor passes `**kwargs` on to another model's constructor.
_FORWARDS_KWARGS_TO = {"alif": "lif"}
_NOT_PARAMS = frozenset({"self", "n", "v_init", "spike_fn"})


def known_models() -> tuple[str, ...]:
    """Every model name the config format knows, available or not."""
    return (*NEURON_MODELS, *SOURCE_MODELS)


def model_class(name: str) -> type | None:
    """The class of model `name`, or `None` when this build of brainsim lacks it."""
    if name == "poisson":
        from ..inputs import PoissonSource

        return PoissonSource
    from .. import neurons

    for cls_name in NEURON_MODELS.get(name, ()):
        cls = getattr(neurons, cls_name, None)
        if cls is not None:
            return cls
    return None


def takes_v_init(name: str) -> bool:
    """Whether model `name` has a membrane potential to initialise (`v_init`)."""
    cls = model_class(name)
    if cls is None:
        return False
    if "v_init" in inspect.signature(cls).parameters:
        return True
    return name in _FORWARDS_KWARGS_TO and takes_v_init(_FORWARDS_KWARGS_TO[name])


def model_params(name: str) -> dict[str, Any]:
    """Name -> default of the constructor arguments a config may set in `params` of model
    `name` (empty when this build lacks the model)."""
    cls = model_class(name)
    if cls is None:
        return {}
    out = {}
    for p in inspect.signature(cls).parameters.values():
        if p.kind is p.VAR_KEYWORD and name in _FORWARDS_KWARGS_TO:
            out.update(model_params(_FORWARDS_KWARGS_TO[name]))
        elif p.name not in _NOT_PARAMS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            out[p.name] = None if p.default is inspect.Parameter.empty else p.default
    return out
