"""Array type aliases with named dimensions, used in public signatures."""

from typing import TypeAlias

import jax
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

ScalarLike: TypeAlias = float | int | jax.Array | np.ndarray
Voltage: TypeAlias = Float[Array, " n"]
Current: TypeAlias = Float[Array, " n"]
Spikes: TypeAlias = Float[Array, " n"]
BoolSpikes: TypeAlias = Bool[Array, " n"]
Indices: TypeAlias = Int[Array, " k"]
PRNGKey: TypeAlias = jax.Array

__all__ = [
    "Array",
    "ArrayLike",
    "Bool",
    "BoolSpikes",
    "Current",
    "Float",
    "Indices",
    "Int",
    "PRNGKey",
    "ScalarLike",
    "Spikes",
    "Voltage",
]
