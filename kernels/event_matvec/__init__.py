"""Event-driven sparse matrix-vector product: spikes times sparse weights."""

from typing import Literal

import jax

from ..formats import CSR, ELL
from .reference import event_matvec_reference

Impl = Literal["auto", "reference"]
IMPLS: tuple[str, ...] = ("auto", "reference")


def event_matvec(
    conn: CSR | ELL, spikes: jax.Array, *, transpose: bool = False, impl: Impl = "auto"
) -> jax.Array:
    """Propagate spikes (bool, or float for surrogate-gradient training) through `conn`.

    **Arguments:**

    - `conn`: a `CSR` or `ELL` layout with weights, either orientation.
    - `spikes`: `(n_pre,)` (or `(n_post,)` with `transpose=True`), bool or float.
    - `transpose`: propagate from postsynaptic to presynaptic side.
    - `impl`: `"auto"` or `"reference"`.

    **Returns:** `(n_post,)` (or `(n_pre,)`) summed input, in the weights' dtype.
    """
    if not isinstance(conn, (CSR, ELL)):
        raise ValueError(f"conn must be a CSR or ELL layout, got {type(conn).__name__}")
    n_in = conn.n_post if transpose else conn.n_pre
    if spikes.shape != (n_in,):
        raise ValueError(f"spikes must have shape ({n_in},) for this connectivity, got {spikes.shape}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return event_matvec_reference(conn, spikes, transpose=transpose)
