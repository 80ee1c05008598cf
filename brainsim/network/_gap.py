"""Gap junctions: electrical coupling through a sparse conductance matrix."""

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..core._abstract import SynapticInput
from ..core._errors import check_nonnegative, is_concrete
from ..kernels import CSR, ELL, event_matvec
from ._projection import AbstractProjection


class GapJunction(AbstractProjection):
    """Electrical coupling: postsynaptic neuron `i` receives `sum_j g_ij (v_j - v_i)`.

    `j` runs over the presynaptic neurons connected to `i`, and `g_ij` are the weights
    of `conn` (a scalar shared by every junction, or one per junction), in the
    conductance units of the postsynaptic neuron (units of the leak conductance for the
    LIF family). As a `SynapticInput`: `current = sum_j g_ij v_j` and
    `conductance = sum_j g_ij`, both read from the membrane potentials before the step.

    A junction carries current one way, from `pre` to `post`. Coupling is symmetric
    when the reverse pairs are present too: within one population, pass
    `symmetrize(conn)`; between populations, add the reverse `GapJunction` (from `post`
    to `pre`, with `conn.to_major(...)`'s transpose). There is no state.

    **Arguments:**

    - `pre`, `post`: population names (may be equal); both must have states with `v`.
    - `conn`: `CSR` or `ELL` layout whose weights are the conductances (>= 0).
    - `impl`: the sparse product implementation (`"auto"` by default).
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    conn: CSR | ELL
    impl: str = eqx.field(static=True, default="auto")
    reads_pre_voltage: ClassVar[bool] = True

    def __check_init__(self):
        if not isinstance(self.conn, (CSR, ELL)):
            raise ValueError(f"conn must be a CSR or ELL layout, got {type(self.conn).__name__}")
        check_nonnegative("gap junction conductance (conn.weights)", self.conn.weights)

    def init_state(self, *, key) -> None:
        return None

    def deliver(self, state: Any, pre_state: Any, post_state: Any) -> SynapticInput:
        v_pre = pre_state.v
        current = event_matvec(self.conn, v_pre, impl=self.impl)
        conductance = event_matvec(self.conn, jnp.ones_like(v_pre), impl=self.impl)
        return SynapticInput(current, conductance, jnp.zeros_like(current))

    def update(self, state: Any, pre_spikes: Array, t: Any, dt: Any) -> None:
        return state


def symmetrize(conn: CSR) -> CSR:
    """The symmetric coupling built from `conn`: every pair in both directions.

    A pair listed in one direction only is mirrored with its conductance; a pair listed
    in both directions gets the mean of the two. Duplicate entries are summed first (as
    in `to_dense`). The result has the orientation of `conn`, its rows sorted by column.

    **Arguments:**

    - `conn`: a `CSR` within one population (`n_pre == n_post`), with concrete arrays.

    **Returns:** a `CSR` with `G[i, j] == G[j, i]` for every stored pair.

    >>> from brainsim.kernels import CSR
    >>> c = symmetrize(CSR([0, 1, 1], [1], 0.5, n_pre=2, n_post=2, major="pre"))
    >>> c.to_dense().tolist()
    [[0.0, 0.5], [0.5, 0.0]]
    """
    if not isinstance(conn, CSR):
        raise ValueError(f"conn must be a CSR layout, got {type(conn).__name__}")
    if conn.n_pre != conn.n_post:
        raise ValueError(
            f"symmetrize needs a connection within one population (n_pre == n_post), got "
            f"n_pre={conn.n_pre} and n_post={conn.n_post}"
        )
    if not is_concrete(conn):
        raise ValueError("symmetrize needs concrete arrays; call it outside jit/vmap")
    n = conn.n_pre
    if conn.nnz == 0:
        return conn
    pre = np.asarray(conn.pre_ids, np.int64)
    post = np.asarray(conn.post_ids, np.int64)
    w = np.asarray(conn.synapse_weights(), np.float64)
    # Sum duplicates, then combine each pair (i, j) with its reverse (j, i).
    keys, inverse = np.unique(pre * n + post, return_inverse=True)
    w_pair = np.bincount(inverse, weights=w, minlength=keys.size)
    i, j = keys // n, keys % n
    rev = j * n + i
    pos = np.searchsorted(keys, rev)
    pos = np.minimum(pos, keys.size - 1)
    has_rev = keys[pos] == rev
    w_mean = np.where(has_rev, (w_pair + w_pair[pos]) / 2, w_pair)
    # Pairs without a reverse get one added.
    all_i = np.concatenate([i, j[~has_rev]])
    all_j = np.concatenate([j, i[~has_rev]])
    all_w = np.concatenate([w_mean, w_mean[~has_rev]])
    rows, cols = (all_i, all_j) if conn.major == "pre" else (all_j, all_i)
    order = np.lexsort((cols, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    weights = all_w[order]
    if conn.weights.ndim == 0 and np.all(weights == float(conn.weights)):
        weights = np.asarray(float(conn.weights))
    return CSR(
        indptr, cols[order], weights, n_pre=n, n_post=n, major=conn.major, dtype=conn.weights.dtype
    )


def reverse(conn: CSR | ELL) -> CSR | ELL:
    """The same junctions seen from the other side: `pre` and `post` swapped.

    No data moves: a pre-major layout read as post-major is its transpose.

    **Arguments:**

    - `conn`: a `CSR` or `ELL` layout from population A to population B.

    **Returns:** the layout from B to A with the same conductances.
    """
    major = "post" if conn.major == "pre" else "pre"
    if isinstance(conn, CSR):
        return CSR(
            conn.indptr,
            conn.indices,
            conn.weights,
            n_pre=conn.n_post,
            n_post=conn.n_pre,
            major=major,
            dtype=conn.weights.dtype,
        )
    if isinstance(conn, ELL):
        return ELL(
            conn.indices,
            conn.weights,
            n_pre=conn.n_post,
            n_post=conn.n_pre,
            major=major,
            dtype=conn.weights.dtype,
        )
    raise ValueError(f"conn must be a CSR or ELL layout, got {type(conn).__name__}")
