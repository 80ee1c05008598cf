"""Event-driven sparse matrix-vector product: spikes times sparse weights.

One public function, `event_matvec`, over implementations chosen by `impl`:

- `"reference"`: the pure-`jax.numpy` specification (`reference.py`);
- `"cpu"`: C++ kernels through the XLA FFI (`cpu.py`, `event_matvec.cc`), with their
  own JVP, transpose and batching rules; it falls back to the reference for dtypes
  or backends the kernels do not cover, and, with one warning, where the native
  library was not built;
- `"auto"` (default): decided at trace time from `jax.default_backend()`: `"cpu"` on
  the CPU backend, the reference elsewhere.
"""

from typing import Literal

import jax

from ..formats import CSR, ELL
from .cpu import event_matvec_cpu
from .reference import event_matvec_reference

Impl = Literal["auto", "reference", "cpu"]
IMPLS: tuple[str, ...] = ("auto", "reference", "cpu")


def _auto(conn: CSR | ELL, spikes: jax.Array) -> str:
    """The implementation `"auto"` stands for (a GPU path would be chosen here too)."""
    del conn, spikes
    return "cpu" if jax.default_backend() == "cpu" else "reference"


def event_matvec(
    conn: CSR | ELL, spikes: jax.Array, *, transpose: bool = False, impl: Impl = "auto"
) -> jax.Array:
    """Propagate spikes (bool, or float for surrogate-gradient training) through `conn`.

    `y[j] = sum_i W[i, j] s[i]`, or `y[i] = sum_j W[i, j] s[j]` with `transpose=True`,
    where `W` is the `(n_pre, n_post)` matrix of `conn`. `jit`, `grad` (with respect to
    the weights and to float spikes), `jax.jvp` and `vmap` work with every `impl`.

    **Arguments:**

    - `conn`: a `CSR` or `ELL` layout with weights, either orientation.
    - `spikes`: `(n_pre,)` (or `(n_post,)` with `transpose=True`), bool or float.
    - `transpose`: propagate from postsynaptic to presynaptic side.
    - `impl`: `"auto"`, `"reference"` or `"cpu"` (see the module docstring).

    **Returns:** `(n_post,)` (or `(n_pre,)`) summed input, in the weights' dtype.
    """
    if not isinstance(conn, (CSR, ELL)):
        raise ValueError(f"conn must be a CSR or ELL layout, got {type(conn).__name__}")
    n_in = conn.n_post if transpose else conn.n_pre
    if spikes.shape != (n_in,):
        raise ValueError(
            f"spikes must have shape ({n_in},) for this connectivity, got {spikes.shape}"
        )
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if impl == "auto":
        impl = _auto(conn, spikes)  # type: ignore[assignment]
    if impl == "cpu":
        return event_matvec_cpu(conn, spikes, transpose=transpose)
    return event_matvec_reference(conn, spikes, transpose=transpose)
