"""Reference event matrix-vector product: the specification of `event_matvec`.

`y[j] = sum_i W[i, j] s[i]` (`transpose=False`: presynaptic spikes to postsynaptic
input) or `y[i] = sum_j W[i, j] s[j]` (`transpose=True`: postsynaptic values back to
presynaptic neurons, as plasticity needs). `W` is `(n_pre, n_post)`.
"""

import jax
import jax.numpy as jnp

from ..formats import CSR, ELL


def event_matvec_reference(
    conn: CSR | ELL, spikes: jax.Array, *, transpose: bool = False
) -> jax.Array:
    """Readable pure-`jnp` product; bool spikes count as 1.0."""
    w = conn.weights
    s = spikes.astype(w.dtype)
    n_out = conn.n_pre if transpose else conn.n_post
    if isinstance(conn, ELL):
        gather_side = "pre" if transpose else "post"
        if conn.major == gather_side:
            return jnp.sum(w * s[conn.indices], axis=1)
        contrib = jnp.broadcast_to(w * s[:, None], conn.indices.shape)
        return jnp.zeros((n_out,), w.dtype).at[conn.indices].add(contrib)
    src, dst = (conn.post_ids, conn.pre_ids) if transpose else (conn.pre_ids, conn.post_ids)
    sorted_dst = conn.major == ("pre" if transpose else "post")
    return jax.ops.segment_sum(w * s[src], dst, num_segments=n_out, indices_are_sorted=sorted_dst)


def event_matmat_reference(
    conn: CSR | ELL, spikes: jax.Array, *, transpose: bool = False
) -> jax.Array:
    """Readable pure-`jnp` batched product: `spikes` is `(batch, n_in)`, rows independent."""
    w = conn.weights
    s = spikes.astype(w.dtype)
    batch = s.shape[0]
    w = w[None] if w.ndim else w  # per-synapse weights: one leading axis for the batch
    n_out = conn.n_pre if transpose else conn.n_post
    if isinstance(conn, ELL):
        gather_side = "pre" if transpose else "post"
        if conn.major == gather_side:
            return jnp.sum(w * s[:, conn.indices], axis=-1)
        contrib = jnp.broadcast_to(w * s[:, :, None], (batch, *conn.indices.shape))
        return jnp.zeros((batch, n_out), w.dtype).at[:, conn.indices].add(contrib)
    src, dst = (conn.post_ids, conn.pre_ids) if transpose else (conn.pre_ids, conn.post_ids)
    sorted_dst = conn.major == ("pre" if transpose else "post")
    per_synapse = (w * s[:, src]).T  # (nnz, batch): segments along the first axis
    summed = jax.ops.segment_sum(
        per_synapse, dst, num_segments=n_out, indices_are_sorted=sorted_dst
    )
    return summed.T
