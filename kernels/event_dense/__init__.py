"""Spikes through a dense weight matrix, event-driven: `event_dense_matmat`.

`spikes @ weights` for a `(M, K)` block of spikes (a batch, or a batch times time
steps) and a dense `(K, N)` weight matrix, as a dense layer of a spiking network
computes it. Only the non-zero spikes are visited, in the forward product and in the
gradient of the weights (`spikes.T @ g`), so both cost (number of spikes) x N instead
of M x K x N; the gradient of the spikes (`g @ weights.T`, which surrogate-gradient
training needs at every entry) is a dense product. Implementations, chosen by `impl`:

- `"reference"`: the dense product in `jax.numpy` (`reference.py`), the specification;
- `"cpu"`: C++ kernels through the XLA FFI (`cpu.py`, `event_dense.cc`) with their own
  JVP, transpose and batching rules; the reference runs instead for dtypes or backends
  they do not cover, and, with one warning, where the native library was not built;
- `"auto"` (default): `"cpu"` on the CPU backend, the reference elsewhere.
"""

from typing import Literal

import jax
import jax.numpy as jnp

from .cpu import event_dense_matmat_cpu
from .reference import event_dense_matmat_reference

Impl = Literal["auto", "reference", "cpu"]
IMPLS: tuple[str, ...] = ("auto", "reference", "cpu")


def event_dense_matmat(spikes: jax.Array, weights: jax.Array, *, impl: Impl = "auto") -> jax.Array:
    """`spikes @ weights`, visiting only the non-zero spikes.

    `y[m, n] = sum_k s[m, k] W[k, n]`. Zero spikes contribute nothing, so for finite
    weights this is the dense product. `jit`, `grad` (with respect to the weights and
    to the spikes), `jax.jvp` and `vmap` work with every `impl`.

    **Arguments:**

    - `spikes`: `(M, K)`, float (0/1 spikes, or any values), bool or integer; cast to
      the weights' dtype.
    - `weights`: `(K, N)`, floating.
    - `impl`: `"auto"`, `"reference"` or `"cpu"` (see the module docstring).

    **Returns:** `(M, N)` in the weights' dtype.

    ```python
    >>> import jax.numpy as jnp
    >>> from brainsim.kernels import event_dense_matmat
    >>> s = jnp.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    >>> w = jnp.arange(6.0).reshape(3, 2)
    >>> event_dense_matmat(s, w)
    Array([[4., 6.],
           [0., 0.]], dtype=float32)

    ```
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    spikes = jnp.asarray(spikes)
    weights = jnp.asarray(weights)
    if weights.ndim != 2:
        raise ValueError(f"weights must be a (K, N) matrix, got shape {weights.shape}")
    if not jnp.issubdtype(weights.dtype, jnp.floating):
        raise ValueError(f"weights must have a floating dtype, got {weights.dtype}")
    if spikes.ndim != 2 or spikes.shape[1] != weights.shape[0]:
        raise ValueError(
            f"spikes must have shape (M, {weights.shape[0]}) for weights of shape "
            f"{weights.shape}, got {spikes.shape}"
        )
    if not (
        spikes.dtype == jnp.bool_
        or jnp.issubdtype(spikes.dtype, jnp.integer)
        or jnp.issubdtype(spikes.dtype, jnp.floating)
    ):
        raise ValueError(f"spikes must be bool, integer or floating, got {spikes.dtype}")
    chosen = ("cpu" if jax.default_backend() == "cpu" else "reference") if impl == "auto" else impl
    if chosen == "cpu":
        return event_dense_matmat_cpu(spikes, weights)
    return event_dense_matmat_reference(spikes, weights)
