"""Input validation shared by every constructor: one place that words the messages.

Each check raises `ValueError` naming the argument, the value received and what was
expected, as soon as concrete values are seen. Under tracing (abstract values) the
checks are skipped here; traced code uses `eqx.error_if` with the same wording.
"""

from typing import Any

import jax
import numpy as np


def is_concrete(value: Any) -> bool:
    """True when `value` holds concrete numbers (not a tracer)."""
    leaves = jax.tree_util.tree_leaves(value)
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def _values(value: Any) -> np.ndarray | None:
    if not is_concrete(value):
        return None
    return np.asarray(value, dtype=np.float64)


def _show(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return f"{arr.item()!r}"
    return f"array of shape {arr.shape} (min {arr.min()!r}, max {arr.max()!r})"


def check_positive(name: str, value: Any) -> None:
    """Raise `ValueError` unless every element of `value` is finite and > 0."""
    arr = _values(value)
    if arr is None or arr.size == 0:
        return
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite, got {_show(arr)}")


def check_nonnegative(name: str, value: Any) -> None:
    """Raise `ValueError` unless every element of `value` is finite and >= 0."""
    arr = _values(value)
    if arr is None or arr.size == 0:
        return
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative and finite, got {_show(arr)}")


def check_finite(name: str, value: Any) -> None:
    """Raise `ValueError` unless every element of `value` is finite."""
    arr = _values(value)
    if arr is None or arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {_show(arr)}")


def check_probability(name: str, value: Any) -> None:
    """Raise `ValueError` unless every element of `value` lies in [0, 1]."""
    arr = _values(value)
    if arr is None or arr.size == 0:
        return
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must be a probability in [0, 1], got {_show(arr)}")


def check_shape(name: str, value: Any, n: int) -> None:
    """Raise `ValueError` unless `value` is a scalar or a vector of length `n`."""
    shape = np.shape(value)
    if shape not in ((), (n,)):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {shape}")


def check_dt(dt: Any, *, smallest_tau: float | None = None, what: str = "") -> None:
    """Raise `ValueError` for a non-positive dt, or one larger than the smallest time constant."""
    check_positive("dt", dt)
    arr = _values(dt)
    if arr is None or smallest_tau is None:
        return
    if float(arr) > smallest_tau:
        where = f" ({what})" if what else ""
        raise ValueError(
            f"dt ({float(arr)} ms) must not exceed the smallest time constant{where} "
            f"({smallest_tau} ms)"
        )


def as_param(value: Any, name: str | None = None, n: int | None = None) -> jax.Array:
    """A parameter as a float array of the default float dtype (float32, or float64 in x64).

    With `n` given, the value must be a scalar or have shape `(n,)`.
    """
    import jax.numpy as jnp

    if name is not None and n is not None:
        check_shape(name, value, n)
    return jnp.asarray(value, dtype=jnp.result_type(float))
