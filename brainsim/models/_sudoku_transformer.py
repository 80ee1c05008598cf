"""The Transformer baseline of AKOrN's Sudoku experiment (Miyato et al., ICLR 2025,
section 5.2): the same digit embedding, attention (with its learned bias over pairs of
cells as the position code) and read-out head as `SudokuAKOrN`, with pre-norm
Transformer layers (attention and an MLP, each residual) in place of the oscillators.

It has no oscillators, so no random initial state, no test-time steps and no energy:
`__call__` takes the same arguments as `SudokuAKOrN`'s and ignores `key` and `n_steps`,
and returns a zero energy, so energy voting picks the first answer.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int

from ..oscillators._akorn_layers import AttentionCoupling
from ..oscillators._common import check_count


class _Layer(eqx.Module):
    norm1: eqx.nn.LayerNorm
    attention: AttentionCoupling
    norm2: eqx.nn.LayerNorm
    up: eqx.nn.Linear
    down: eqx.nn.Linear

    def __init__(self, channels: int, heads: int, mlp_ratio: int, *, key):
        k1, k2, k3 = jr.split(key, 3)
        self.norm1 = eqx.nn.LayerNorm(channels)
        self.attention = AttentionCoupling(channels, heads, n_sites=81, key=k1)
        self.norm2 = eqx.nn.LayerNorm(channels)
        self.up = eqx.nn.Linear(channels, mlp_ratio * channels, key=k2)
        self.down = eqx.nn.Linear(mlp_ratio * channels, channels, key=k3)

    def __call__(self, x: Float[Array, "81 c"]) -> Float[Array, "81 c"]:
        x = x + self.attention(jax.vmap(self.norm1)(x).T).T
        h = jax.nn.gelu(jax.vmap(self.up)(jax.vmap(self.norm2)(x)))
        return x + jax.vmap(self.down)(h)


class SudokuTransformer(eqx.Module):
    """A Transformer for 9 x 9 Sudoku, sized like `SudokuAKOrN`.

    **Arguments:**

    - `channels`: width `C` (a multiple of `heads`); `heads`: attention heads.
    - `n_layers`: Transformer layers.
    - `mlp_ratio`: hidden width of each layer's MLP, in multiples of `C`.
    - `key`: PRNG key.
    """

    embed: Float[Array, "10 c"]
    layers: tuple[_Layer, ...]
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear

    def __init__(
        self, channels: int = 512, heads: int = 8, n_layers: int = 1, mlp_ratio: int = 2, *, key
    ):
        check_count("n_layers", n_layers, minimum=1)
        check_count("mlp_ratio", mlp_ratio, minimum=1)
        keys = jr.split(key, n_layers + 2)
        self.embed = jr.normal(keys[0], (10, channels)) / np.sqrt(channels)
        self.layers = tuple(_Layer(channels, heads, mlp_ratio, key=k) for k in keys[1:-1])
        self.norm = eqx.nn.LayerNorm(channels)
        self.head = eqx.nn.Linear(channels, 9, key=keys[-1])

    def __call__(
        self, puzzle: Int[Array, "9 9"], *, key=None, n_steps: int | None = None
    ) -> tuple[Float[Array, "81 9"], Float[Array, ""]]:
        """Digit logits `(81, 9)` of every cell (row-major) and a zero energy."""
        x = self.embed[puzzle.reshape(81).astype(jnp.int32)]
        for layer in self.layers:
            x = layer(x)
        logits = jax.vmap(self.head)(jax.vmap(self.norm)(x))
        return logits, jnp.zeros((), logits.dtype)

    def position_biases(self) -> tuple[Array | None, ...]:
        """The attention biases over pairs of cells (they learn at their own rate)."""
        return tuple(layer.attention.site_bias for layer in self.layers)
