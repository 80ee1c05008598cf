"""Save and load models and states to one file, bit for bit.

The file is a pickle of the pytree with every JAX array turned into a NumPy array (PRNG
keys into their raw data and implementation name), so it loads on any device and
backend. Loading gives JAX arrays of the same dtype and bits back.
"""

import os
import pickle
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np

_FORMAT = "brainsim-pytree"
_VERSION = 1


class _Key:
    def __init__(self, data: np.ndarray, impl: str):
        self.data, self.impl = data, impl


class _Array:
    def __init__(self, data: np.ndarray):
        self.data = data


def _to_host(x: Any) -> Any:
    if isinstance(x, jax.Array):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            return _Key(np.asarray(jr.key_data(x)), str(jr.key_impl(x)))
        return _Array(np.asarray(x))
    return x


def _to_device(x: Any) -> Any:
    if isinstance(x, _Key):
        return jr.wrap_key_data(jnp.asarray(x.data), impl=x.impl)
    if isinstance(x, _Array):
        return jnp.asarray(x.data)
    return x


def save_pytree(path: str | os.PathLike, tree: Any) -> None:
    """Write `tree` to `path` atomically (a crash never leaves a half-written file)."""
    payload = {"format": _FORMAT, "version": _VERSION, "tree": jtu.tree_map(_to_host, tree)}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_pytree(path: str | os.PathLike) -> Any:
    """Read a pytree written by `save_pytree`."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such file")
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as e:
        raise ValueError(f"{os.fspath(path)}: not a brainsim file ({e})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{os.fspath(path)}: not a brainsim file")
    if payload.get("version") != _VERSION:
        raise ValueError(
            f"{os.fspath(path)}: file format version {payload.get('version')}, expected {_VERSION}"
        )
    is_leaf = lambda x: isinstance(x, _Key | _Array)  # noqa: E731
    return jtu.tree_map(_to_device, payload["tree"], is_leaf=is_leaf)


def save_network(path: str | os.PathLike, model: Any, state: Any = None) -> None:
    """Save a built model (parameters and connectivity) and optionally its state to one file."""
    save_pytree(path, {"model": model, "state": state})


def load_network(path: str | os.PathLike) -> tuple[Any, Any]:
    """Load `(model, state)` saved by `save_network`, bit-identical."""
    tree = load_pytree(path)
    if not isinstance(tree, dict) or "model" not in tree:
        raise ValueError(f"{os.fspath(path)}: holds no network")
    return tree["model"], tree["state"]
