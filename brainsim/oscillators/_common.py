"""Constructor checks and the order parameter shared by the oscillator models."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..core._errors import check_finite, is_concrete


def check_count(name: str, value: Any, *, minimum: int = 0) -> int:
    """`value` as an int, or `ValueError` naming `name` unless it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_vector(name: str, value: Any, n: int) -> jax.Array:
    """A finite scalar or `(n,)` parameter as a float array (`ValueError` naming `name`)."""
    shape = np.shape(value)
    if shape not in ((), (n,)):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {shape}")
    check_finite(name, value)
    return jnp.asarray(value, jnp.result_type(float))


def check_matrix(name: str, value: Any, n: int) -> jax.Array:
    """A finite `(n, n)` matrix as a float array (`ValueError` naming `name`)."""
    shape = np.shape(value)
    if shape != (n, n):
        raise ValueError(f"{name} must have shape ({n}, {n}) to match n = {n}, got shape {shape}")
    check_finite(name, value)
    return jnp.asarray(value, jnp.result_type(float))


def delay_steps(delays: Any, n: int, dt: float) -> np.ndarray:
    """Delays (ms, scalar or `(n, n)`) rounded to whole steps of `dt`, as an `(n, n)` int array."""
    if not is_concrete(delays):
        raise ValueError("delays must be concrete numbers (they set the buffer length)")
    d = np.asarray(delays, np.float64)
    if d.shape not in ((), (n, n)):
        raise ValueError(f"delays must be a scalar or have shape ({n}, {n}), got shape {d.shape}")
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"delays must be non-negative and finite, got min {d.min()!r}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
    return np.broadcast_to(np.rint(d / dt).astype(np.int32), (n, n))


def order_parameter(theta: Float[Array, "*batch n"]) -> tuple[Array, Array]:
    """The Kuramoto order parameter `r e^{i psi} = mean_j e^{i theta_j}` over the last axis.

    **Arguments:**

    - `theta`: phases (rad), `(..., n)`.

    **Returns:** `(r, psi)`: the coherence in [0, 1] and the mean phase (rad).

    ```python
    >>> import jax.numpy as jnp
    >>> r, psi = order_parameter(jnp.array([0.0, 0.0, jnp.pi / 2, jnp.pi / 2]))
    >>> print(f"{float(r):.4f} {float(psi):.4f}")
    0.7071 0.7854

    ```
    """
    c = jnp.mean(jnp.cos(theta), axis=-1)
    s = jnp.mean(jnp.sin(theta), axis=-1)
    return jnp.hypot(c, s), jnp.arctan2(s, c)


def local_order_parameter(
    theta: Float[Array, " n"], modules: Int[Array, " n"], n_modules: int
) -> tuple[Float[Array, " m"], Float[Array, " m"]]:
    """The order parameter of each module (group) of oscillators.

    **Arguments:**

    - `theta`: phases (rad), `(n,)`.
    - `modules`: the module of each oscillator, integers in `[0, n_modules)`.
    - `n_modules`: the number of modules (static).

    **Returns:** `(r, psi)`, each `(n_modules,)`; an empty module has `r = 0`.
    """
    dtype = theta.dtype
    count = jax.ops.segment_sum(jnp.ones_like(theta), modules, num_segments=n_modules)
    c = jax.ops.segment_sum(jnp.cos(theta), modules, num_segments=n_modules)
    s = jax.ops.segment_sum(jnp.sin(theta), modules, num_segments=n_modules)
    safe = jnp.maximum(count, jnp.ones((), dtype))
    return jnp.hypot(c, s) / safe, jnp.arctan2(s, c)


def check_modules(modules: Any, n: int) -> tuple[jax.Array | None, int]:
    """Module labels (`None` or `(n,)` integers >= 0) and their count."""
    if modules is None:
        return None, 0
    m = np.asarray(modules)
    if m.shape != (n,) or not np.issubdtype(m.dtype, np.integer) or (m.size and m.min() < 0):
        raise ValueError(
            f"modules must be {n} non-negative integers (one per oscillator), got {m!r}"
        )
    return jnp.asarray(m, jnp.int32), int(m.max(initial=-1)) + 1
