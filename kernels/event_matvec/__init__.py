"""Event-driven sparse products: spikes times sparse weights, one vector or a batch.

Two public functions, `event_matvec` (`(n_in,)` spikes) and `event_matmat`
(`(batch, n_in)` spikes, one layout shared by the batch), over implementations chosen
by `impl`:

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

from ..formats import CSR, ELL, ProceduralFanOut
from ..procedural import procedural_matvec
from .cpu import event_matmat_cpu, event_matvec_cpu
from .pallas_gpu import event_matvec_pallas
from .reference import event_matmat_reference, event_matvec_reference

Impl = Literal["auto", "reference", "cpu", "pallas"]
IMPLS: tuple[str, ...] = ("auto", "reference", "cpu", "pallas")


def _auto(conn: CSR | ELL, spikes: jax.Array) -> str:
    """The implementation `"auto"` stands for, from the backend."""
    del conn, spikes
    backend = jax.default_backend()
    return "cpu" if backend == "cpu" else "pallas" if backend == "gpu" else "reference"


def event_matvec(
    conn: CSR | ELL | ProceduralFanOut,
    spikes: jax.Array,
    *,
    transpose: bool = False,
    impl: Impl = "auto",
) -> jax.Array:
    """Propagate spikes (bool, or float for surrogate-gradient training) through `conn`.

    `y[j] = sum_i W[i, j] s[i]`, or `y[i] = sum_j W[i, j] s[j]` with `transpose=True`,
    where `W` is the `(n_pre, n_post)` matrix of `conn`. `jit`, `grad` (with respect to
    the weights and to float spikes), `jax.jvp` and `vmap` work with every `impl`.

    **Arguments:**

    - `conn`: a `CSR` or `ELL` layout with weights, either orientation, or a
      `ProceduralFanOut` (then `brainsim.kernels.procedural.procedural_matvec` runs).
    - `spikes`: `(n_pre,)` (or `(n_post,)` with `transpose=True`), bool or float.
    - `transpose`: propagate from postsynaptic to presynaptic side.
    - `impl`: `"auto"`, `"reference"` or `"cpu"` (see the module docstring).

    **Returns:** `(n_post,)` (or `(n_pre,)`) summed input, in the weights' dtype.
    """
    _check_conn(conn)
    n_in = conn.n_post if transpose else conn.n_pre
    if spikes.shape != (n_in,):
        raise ValueError(
            f"spikes must have shape ({n_in},) for this connectivity, got {spikes.shape}"
        )
    if isinstance(conn, ProceduralFanOut):
        return procedural_matvec(conn, spikes, transpose=transpose, impl=impl)
    chosen = _resolve(impl, conn, spikes)
    if chosen == "cpu":
        return event_matvec_cpu(conn, spikes, transpose=transpose)
    if chosen == "pallas":
        return event_matvec_pallas(conn, spikes, transpose=transpose)
    return event_matvec_reference(conn, spikes, transpose=transpose)


def event_matmat(
    conn: CSR | ELL | ProceduralFanOut,
    spikes: jax.Array,
    *,
    transpose: bool = False,
    impl: Impl = "auto",
) -> jax.Array:
    """Propagate a batch of spike vectors through one layout: `event_matvec` per row.

    `y[b, j] = sum_i W[i, j] s[b, i]` (or `y[b, i] = sum_j W[i, j] s[b, j]` with
    `transpose=True`). With `impl="cpu"` this is one native call that makes one pass
    over the events of all batch rows; it is also what `vmap` of `event_matvec` over
    spikes (a batch of trials, the points of a sweep) turns into. `jit`, `grad`,
    `jax.jvp` and `vmap` work as for `event_matvec`.

    **Arguments:**

    - `conn`: a `CSR` or `ELL` layout with weights, either orientation, or a
      `ProceduralFanOut` (then `brainsim.kernels.procedural.procedural_matvec` runs).
    - `spikes`: `(batch, n_pre)` (or `(batch, n_post)` with `transpose=True`), bool or
      float.
    - `transpose`, `impl`: as for `event_matvec`.

    **Returns:** `(batch, n_post)` (or `(batch, n_pre)`), in the weights' dtype.

    ```python
    >>> import jax.numpy as jnp
    >>> from brainsim.kernels import ELL, event_matmat
    >>> conn = ELL([[1], [0]], 2.0, n_pre=2, n_post=2, major="pre", dtype=jnp.float32)
    >>> event_matmat(conn, jnp.array([[True, False], [True, True]]))
    Array([[0., 2.],
           [2., 2.]], dtype=float32)

    ```
    """
    _check_conn(conn)
    n_in = conn.n_post if transpose else conn.n_pre
    if spikes.ndim != 2 or spikes.shape[1] != n_in:
        raise ValueError(
            f"spikes must have shape (batch, {n_in}) for this connectivity, got {spikes.shape}"
        )
    if isinstance(conn, ProceduralFanOut):
        return procedural_matvec(conn, spikes, transpose=transpose, impl=impl)
    chosen = _resolve(impl, conn, spikes)
    if chosen == "cpu":
        return event_matmat_cpu(conn, spikes, transpose=transpose)
    if chosen == "pallas":
        return jax.vmap(lambda s: event_matvec_pallas(conn, s, transpose=transpose))(spikes)
    return event_matmat_reference(conn, spikes, transpose=transpose)


def _check_conn(conn) -> None:
    if not isinstance(conn, (CSR, ELL, ProceduralFanOut)):
        raise ValueError(
            f"conn must be a CSR, ELL or ProceduralFanOut layout, got {type(conn).__name__}"
        )


def _resolve(impl: str, conn: CSR | ELL, spikes: jax.Array) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return _auto(conn, spikes) if impl == "auto" else impl
