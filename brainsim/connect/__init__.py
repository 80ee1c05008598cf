"""Connectivity builders producing the sparse layouts of `brainsim.kernels`.

Builders run on the host, in NumPy, once, before simulation; they return immutable
`CSR` or `ELL` layouts. `weight` is a number shared by every synapse or a callable
`weight(rng, size) -> (size,)`; `seed` is an int or a `numpy.random.Generator`.
"""

from ..kernels.formats import CSR as CSR, ELL as ELL
from ._builders import (
    all_to_all as all_to_all,
    from_arrays as from_arrays,
    one_to_one as one_to_one,
)
from ._random import (
    fixed_in_degree as fixed_in_degree,
    fixed_out_degree as fixed_out_degree,
    fixed_probability as fixed_probability,
)
from ._spatial import distance_dependent as distance_dependent, grid_positions as grid_positions
