"""Gap-junction coupling between astrocytes: linear diffusion of IP3."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core._errors import check_nonnegative, is_concrete
from ..kernels import CSR, ELL, event_matvec


def _dense_to_csr(matrix) -> CSR:
    g = np.asarray(matrix, np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"conn must be a square (n, n) matrix, got shape {g.shape}")
    pre, post = np.nonzero(g)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=g.shape[0]))])
    return CSR(indptr, post, g[pre, post], n_pre=g.shape[0], n_post=g.shape[0], major="pre")


class IP3Coupling(eqx.Module):
    """Diffusion of IP3 through gap junctions: `J_i = sum_j F_ji (ip3_j - ip3_i)`.

    `F_ji` (1/s) is the permeability of the junction from astrocyte `j` to astrocyte
    `i`: the weight of the pair `(pre=j, post=i)` in `conn`. A junction carries IP3 one
    way; coupling is symmetric when `F_ji == F_ij` (build it with
    `brainsim.network.symmetrize`, or pass a symmetric matrix), and then the fluxes sum
    to zero: gap junctions move IP3 between cells without making or destroying it.

    **Arguments:**

    - `conn`: a `CSR` or `ELL` layout within one population of astrocytes, or a dense
      `(n, n)` matrix `F[j, i]`, with non-negative permeabilities (1/s).
    - `impl`: the sparse product implementation (`"auto"` by default).

    >>> import numpy as np
    >>> g = IP3Coupling(np.array([[0.0, 0.5], [0.5, 0.0]]))
    >>> g.flux(np.array([1.0, 0.2], np.float32)).tolist()
    [-0.4000000059604645, 0.4000000059604645]
    """

    conn: CSR | ELL
    impl: str = eqx.field(static=True)

    def __init__(self, conn, *, impl: str = "auto"):
        if not isinstance(conn, (CSR, ELL)):
            if not is_concrete(conn):
                raise ValueError("conn must be a CSR/ELL layout or a concrete (n, n) matrix")
            conn = _dense_to_csr(conn)
        if conn.n_pre != conn.n_post:
            raise ValueError(
                f"conn must couple one population (n_pre == n_post), got n_pre={conn.n_pre} "
                f"and n_post={conn.n_post}"
            )
        check_nonnegative("IP3 permeability (conn weights)", conn.weights)
        self.conn = conn
        self.impl = impl

    @property
    def n(self) -> int:
        return self.conn.n_pre

    def flux(self, ip3: Float[Array, " n"]) -> Float[Array, " n"]:
        """The IP3 each astrocyte gains through its junctions (uM/s).

        **Arguments:**

        - `ip3`: `(n,)` IP3 concentrations (uM).

        **Returns:** `(n,)` fluxes `sum_j F_ji (ip3_j - ip3_i)`.
        """
        w = self.conn.weights.dtype
        ip3 = jnp.asarray(ip3, w)
        inflow = event_matvec(self.conn, ip3, impl=self.impl)
        permeability = event_matvec(self.conn, jnp.ones_like(ip3), impl=self.impl)
        return inflow - permeability * ip3

    def max_rate(self) -> Array:
        """The largest total permeability of one astrocyte (1/s)."""
        one = jnp.ones((self.n,), self.conn.weights.dtype)
        return jnp.max(event_matvec(self.conn, one, impl=self.impl), initial=0.0)
