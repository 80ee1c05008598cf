"""Procedural ("just-in-time") connectivity: synapses regenerated from a seed.

A `ProceduralFanOut` layout holds a seed and a scalar weight, nothing per synapse. The
products regenerate every synapse they need from a counter-based hash of `(seed, pre,
k)` (`reference.py` gives the formulas, which are the specification), so a network of
any size holds no synapse arrays. `materialize` builds the same synapses as an `ELL`.

One public product, `procedural_matvec`, over implementations chosen by `impl`:
`"reference"` (the `ELL` reference on the materialised layout: it stores the synapses,
so it is for testing and small sizes), `"cpu"` (the C++ kernel of `procedural.cc`
through the XLA FFI, with JVP, transpose and batching rules), `"pallas"` (the GPU
kernel of `pallas_gpu.py`; the reference on other backends) and `"auto"` (`"cpu"` on
the CPU backend, `"pallas"` on a GPU, the reference elsewhere). `event_matvec` and
`event_matmat` accept a `ProceduralFanOut` too and come here, so projections use it
like any layout.
"""

from typing import Literal

import jax

from ..formats import ProceduralFanOut
from .cpu import procedural_matvec_cpu
from .pallas_gpu import procedural_matvec_pallas
from .reference import materialize as materialize, procedural_matvec_reference

Impl = Literal["auto", "reference", "cpu", "pallas"]
IMPLS: tuple[str, ...] = ("auto", "reference", "cpu", "pallas")


def procedural_matvec(
    conn: ProceduralFanOut, spikes: jax.Array, *, transpose: bool = False, impl: Impl = "auto"
) -> jax.Array:
    """Propagate spikes through a procedural fixed fan-out without storing it.

    `y[j] = sum_i W[i, j] s[i]` (or `y[i] = sum_j W[i, j] s[j]` with `transpose=True`),
    `W` the matrix `materialize(conn)` holds; `spikes` may carry one leading batch axis.
    `jit`, `grad` (with respect to the scalar weight and float spikes), `jax.jvp` and
    `vmap` (over spikes, weights or seeds) work with every `impl`.

    **Arguments:**

    - `conn`: a `ProceduralFanOut`.
    - `spikes`: `(n_pre,)` or `(batch, n_pre)` (`n_post` with `transpose=True`), bool or
      float.
    - `transpose`: propagate from postsynaptic values back to presynaptic neurons.
    - `impl`: `"auto"`, `"reference"`, `"cpu"` or `"pallas"`.

    **Returns:** `(n_post,)` or `(batch, n_post)` (`n_pre` transposed), in the weights'
    dtype.

    ```python
    >>> import jax.numpy as jnp
    >>> from brainsim.kernels import ProceduralFanOut
    >>> conn = ProceduralFanOut(1.0, n_pre=4, n_post=3, fan_out=5, seed=0)
    >>> float(procedural_matvec(conn, jnp.ones(4, bool)).sum())
    20.0

    ```
    """
    if not isinstance(conn, ProceduralFanOut):
        raise ValueError(f"conn must be a ProceduralFanOut, got {type(conn).__name__}")
    n_in = conn.n_post if transpose else conn.n_pre
    if spikes.ndim not in (1, 2) or spikes.shape[-1] != n_in:
        raise ValueError(
            f"spikes must have shape ({n_in},) or (batch, {n_in}) for this connectivity, "
            f"got {spikes.shape}"
        )
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if impl == "auto":
        backend = jax.default_backend()
        impl = "cpu" if backend == "cpu" else "pallas" if backend == "gpu" else "reference"
    if impl == "cpu":
        return procedural_matvec_cpu(conn, spikes, transpose=transpose)
    if impl == "pallas":
        return procedural_matvec_pallas(conn, spikes, transpose=transpose)
    return procedural_matvec_reference(conn, spikes, transpose=transpose)
