"""Test configuration: strict dtype promotion, raising rank promotion, keys, x64."""

import jax
import jax.random as jr
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """A fresh, deterministic PRNG key on every call: `getkey()`."""
    counter = iter(range(10**9))

    def _getkey():
        return jr.fold_in(jr.key(0), next(counter))

    return _getkey


@pytest.fixture
def x64():
    """Run the test body in float64 (numerical reference tests)."""
    with jax.enable_x64(True):
        yield
