"""AKOrN layers (Miyato et al., ICLR 2025): oscillator features, couplings, the block.

A feature map of `C` channels holds `C / dim` oscillators per site: channels
`[g * dim, (g + 1) * dim)` are the unit vector of group `g`. Arrays are unbatched and
channel-first, `(C, H, W)` (a set of tokens is `(C, L, 1)` or a 9 x 9 board); `vmap`
over a batch, as equinox does.

The block runs `T` steps of

    x <- normalise(x + gamma * (Omega x + P_x(c + J(x)))),   P_x(y) = y - <y, x> x,

with `J` a convolution (`ConvCoupling`) or attention over the sites
(`AttentionCoupling`), `Omega` an antisymmetric generator per group (`Rotation`) and
`c` the conditional stimulus (group-normalised). `ReadOut` maps oscillators to the next
layer's stimulus through the norms of linear combinations of the vectors.
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ._common import check_count

Features = Float[Array, "c h w"]


def _check_groups(channels: int, dim: int) -> None:
    check_count("channels", channels, minimum=1)
    check_count("dim", dim, minimum=1)
    if channels % dim:
        raise ValueError(f"channels must be a multiple of dim = {dim}, got {channels}")


def normalise_groups(x: Features, dim: int) -> Features:
    """Each group of `dim` channels scaled to unit norm at every site.

    **Arguments:**

    - `x`: features `(C, ...)` with `C` a multiple of `dim`.
    - `dim`: the oscillator dimension.

    **Returns:** the normalised features, same shape.

    ```python
    >>> import jax.numpy as jnp
    >>> normalise_groups(jnp.array([[3.0], [4.0]]), 2)[:, 0].tolist()
    [0.6000000238418579, 0.800000011920929]

    ```
    """
    g = x.reshape(x.shape[0] // dim, dim, *x.shape[1:])
    norm = jnp.sqrt(jnp.sum(g * g, axis=1, keepdims=True))
    return (g / jnp.maximum(norm, jnp.asarray(1e-12, x.dtype))).reshape(x.shape)


def group_inner(y: Features, x: Features, dim: int) -> Array:
    """`<y_g, x_g>` per group and site, `(C / dim, ...)`."""
    prod = (y * x).reshape(x.shape[0] // dim, dim, *x.shape[1:])
    return jnp.sum(prod, axis=1)


def project_tangent(y: Features, x: Features, dim: int) -> Features:
    """`P_x(y) = y - <y, x> x` per group (`x` unit vectors): the tangent part of `y`."""
    inner = jnp.repeat(group_inner(y, x, dim), dim, axis=0)
    return y - inner * x


def group_norm(c: Features, dim: int, scale: Array | None, bias: Array | None) -> Features:
    """GroupNorm with groups of `dim` channels (mean and variance over the group and all
    sites), then a per-channel affine map when `scale`/`bias` (`(C,)`) are given."""
    g = c.reshape(c.shape[0] // dim, -1)
    mean = jnp.mean(g, axis=1, keepdims=True)
    var = jnp.mean((g - mean) ** 2, axis=1, keepdims=True)
    out = ((g - mean) / jnp.sqrt(var + 1e-5)).reshape(c.shape)
    expand = (slice(None),) + (None,) * (c.ndim - 1)
    if scale is not None:
        out = out * scale[expand]
    if bias is not None:
        out = out + bias[expand]
    return out


class Rotation(eqx.Module):
    """The natural frequency: an antisymmetric `dim x dim` generator `Omega` per group.

    **Arguments:**

    - `channels`, `dim`: feature channels and oscillator dimension (`dim` divides
      `channels`).
    - `omega`: initial rate (rad per unit time): `Omega` starts block-diagonal with 2 x 2
      rotations `[[0, -omega], [omega, 0]]` on component pairs (the paper's layout).
    - `shared`: one generator for all groups (the paper's global omega) or one per group.

    The stored `generator` is unconstrained; its antisymmetric part is used.
    """

    dim: int = eqx.field(static=True)
    generator: Float[Array, "g dim dim"]

    def __init__(self, channels: int, dim: int, *, omega: float = 0.0, shared: bool = True):
        _check_groups(channels, dim)
        if not math.isfinite(omega):
            raise ValueError(f"omega must be finite, got {omega!r}")
        self.dim = dim
        block = jnp.zeros((dim, dim))
        for p in range(dim // 2):
            block = block.at[2 * p + 1, 2 * p].set(omega).at[2 * p, 2 * p + 1].set(-omega)
        n = 1 if shared else channels // dim
        self.generator = jnp.broadcast_to(block, (n, dim, dim))

    def __call__(self, x: Features) -> Features:
        """`Omega x` for features `x` `(C, ...)`."""
        a = (self.generator - jnp.swapaxes(self.generator, -1, -2)) / 2
        g = x.reshape(x.shape[0] // self.dim, self.dim, -1)
        a = jnp.broadcast_to(a, (g.shape[0], self.dim, self.dim))
        return jnp.einsum("gij,gjs->gis", a, g).reshape(x.shape)


class ConvCoupling(eqx.Module):
    """`J(x)`: a `k x k` convolution over channels, zero padded ('same').

    **Arguments:**

    - `channels`: feature channels (in and out); `kernel_size`: odd `k`.
    - `symmetric`: use `(W + W^T) / 2`, where `W^T[o, i, a, b] = W[i, o, -a, -b]`: the
      coupling operator is then symmetric, and the energy a Lyapunov function.
    - `key`: PRNG key for the initial kernel (uniform, fan-in scaled).
    """

    weight: Float[Array, "c c k k"]
    symmetric: bool = eqx.field(static=True)

    def __init__(self, channels: int, kernel_size: int = 3, *, symmetric: bool = False, key):
        check_count("channels", channels, minimum=1)
        check_count("kernel_size", kernel_size, minimum=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        bound = 1 / math.sqrt(channels * kernel_size**2)
        shape = (channels, channels, kernel_size, kernel_size)
        self.weight = jr.uniform(key, shape, minval=-bound, maxval=bound)
        self.symmetric = symmetric

    def kernel(self) -> Array:
        """The kernel used, `(C_out, C_in, k, k)`."""
        if not self.symmetric:
            return self.weight
        flipped = jnp.flip(jnp.swapaxes(self.weight, 0, 1), axis=(2, 3))
        return (self.weight + flipped) / 2

    def __call__(self, x: Features) -> Features:
        out = jax.lax.conv_general_dilated(x[None], self.kernel().astype(x.dtype), (1, 1), "SAME")
        return out[0]


class AttentionCoupling(eqx.Module):
    """`J(x)`: multi-head self-attention across the sites of the feature map.

    `J(x) = W_o concat_h softmax(Q_h K_h^T / sqrt(d_h) + B_h) V_h` with `Q = W_q x`,
    `K = W_k x`, `V = W_v x` per site. `B_h` is an optional learned bias over pairs of
    sites (`n_sites` given): the position code for fixed layouts such as the 9 x 9
    board (the paper uses a relative rotary code, GTA, for the same purpose).

    **Arguments:**

    - `channels`: feature channels; `heads`: attention heads (dividing `channels`).
    - `n_sites`: number of sites for the positional bias, or `None` for none.
    - `key`: PRNG key.
    """

    heads: int = eqx.field(static=True)
    w_qkv: Float[Array, "3c c"]
    w_out: Float[Array, "c c"]
    site_bias: Float[Array, "heads n n"] | None

    def __init__(self, channels: int, heads: int = 4, *, n_sites: int | None = None, key):
        check_count("channels", channels, minimum=1)
        check_count("heads", heads, minimum=1)
        if channels % heads:
            raise ValueError(f"heads must divide channels = {channels}, got {heads}")
        k1, k2 = jr.split(key)
        bound = 1 / math.sqrt(channels)
        self.heads = heads
        self.w_qkv = jr.uniform(k1, (3 * channels, channels), minval=-bound, maxval=bound)
        self.w_out = jr.uniform(k2, (channels, channels), minval=-bound, maxval=bound)
        if n_sites is None:
            self.site_bias = None
        else:
            self.site_bias = jnp.zeros((heads, check_count("n_sites", n_sites, minimum=1), n_sites))

    def attention(self, x: Features) -> Array:
        """The attention weights `(heads, L, L)` for the `L` sites of `x`."""
        c = x.shape[0]
        tokens = x.reshape(c, -1)
        q, k, _ = jnp.split(self.w_qkv.astype(x.dtype) @ tokens, 3)
        dh = c // self.heads
        q = q.reshape(self.heads, dh, -1)
        k = k.reshape(self.heads, dh, -1)
        logits = jnp.einsum("hds,hdt->hst", q, k) / math.sqrt(dh)
        if self.site_bias is not None:
            logits = logits + self.site_bias.astype(x.dtype)
        return jax.nn.softmax(logits, axis=-1)

    def __call__(self, x: Features) -> Features:
        c = x.shape[0]
        tokens = x.reshape(c, -1)
        v = (self.w_qkv[2 * c :].astype(x.dtype) @ tokens).reshape(self.heads, c // self.heads, -1)
        out = jnp.einsum("hst,hdt->hds", self.attention(x), v).reshape(c, -1)
        return (self.w_out.astype(x.dtype) @ out).reshape(x.shape)


class KuramotoBlock(eqx.Module):
    """One AKOrN layer: `n_steps` updates of the oscillators under coupling and stimulus.

    **Arguments:**

    - `coupling`: `J`, a module mapping features to features (`ConvCoupling`,
      `AttentionCoupling`, or any linear or nonlinear map of the same shape).
    - `dim`: oscillator dimension; `channels`: feature channels.
    - `n_steps`: `T`; `gamma`: the step.
    - `omega`: a `Rotation` or `None` (no natural frequency).
    - `normalise_stimulus`: group-normalise `c` with a learned per-channel affine map
      (the paper's `c_norm = gn`).
    - `project`: apply the tangent projection (the paper's default; without it the step
      is `normalise(x + gamma (Omega x + c + J x))`).
    """

    coupling: Callable[[Features], Features]
    omega: Rotation | None
    c_scale: Float[Array, " c"] | None
    c_bias: Float[Array, " c"] | None
    dim: int = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    gamma: float = eqx.field(static=True)
    project: bool = eqx.field(static=True)

    def __init__(
        self,
        coupling: Callable[[Features], Features],
        *,
        channels: int,
        dim: int,
        n_steps: int,
        gamma: float = 1.0,
        omega: Rotation | None = None,
        normalise_stimulus: bool = True,
        project: bool = True,
    ):
        _check_groups(channels, dim)
        check_count("n_steps", n_steps, minimum=1)
        if not (math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"gamma must be positive and finite, got {gamma!r}")
        self.coupling = coupling
        self.omega = omega
        self.c_scale = jnp.ones((channels,)) if normalise_stimulus else None
        self.c_bias = jnp.zeros((channels,)) if normalise_stimulus else None
        self.dim = dim
        self.n_steps = n_steps
        self.gamma = float(gamma)
        self.project = project

    def stimulus(self, c: Features) -> Features:
        """The stimulus as the dynamics see it (group-normalised when configured)."""
        if self.c_scale is None:
            return c
        return group_norm(c, self.dim, self.c_scale, self.c_bias)

    def velocity(self, x: Features, c: Features) -> Features:
        """`dx/dt = Omega x + P_x(c + J(x))` (`c` already through `stimulus`)."""
        y = c + self.coupling(x)
        dx = project_tangent(y, x, self.dim) if self.project else y
        return dx if self.omega is None else dx + self.omega(x)

    def energy(self, x: Features, c: Features) -> Array:
        """`E = -sum <x, c> - 1/2 sum <x, J(x)>` (`c` already through `stimulus`).

        For a symmetric linear `J` and no rotation this is a Lyapunov function of
        `dx/dt = P_x(c + J x)`: `dE/dt = -|P_x(c + J x)|^2`.
        """
        return -jnp.sum(x * c) - 0.5 * jnp.sum(x * self.coupling(x))

    def __call__(
        self, x: Features, c: Features, *, n_steps: int | None = None
    ) -> tuple[Features, Array]:
        """Run the updates from `x` (normalised first) under stimulus `c`.

        **Arguments:**

        - `x`: initial oscillators `(C, H, W)`; `c`: stimulus, same shape.
        - `n_steps`: override `T` (e.g. more steps at test time than in training).

        **Returns:** `(x_T, energies)`, the final oscillators and the energy before each
        step and after the last, `(T + 1,)`.
        """
        c = self.stimulus(c)
        x = normalise_groups(x, self.dim)

        def body(x, _):
            x_new = normalise_groups(x + self.gamma * self.velocity(x, c), self.dim)
            return x_new, self.energy(x, c)

        steps = self.n_steps if n_steps is None else n_steps
        x, energies = jax.lax.scan(body, x, None, length=steps)
        return x, jnp.concatenate([energies, self.energy(x, c)[None]])


class ReadOut(eqx.Module):
    """Oscillators to features: `out_o = |sum_i W_{o,:, i} x_i| + b_o`.

    A 1 x 1 (or `k x k`) convolution maps `C_in` channels to `C_out * dim` channels; the
    norm of each group of `dim` gives one output channel, plus a bias. This is the
    paper's `ReadOutConv`.

    **Arguments:**

    - `in_channels`, `out_channels`, `dim`; `kernel_size` (odd); `key`.
    """

    conv: eqx.nn.Conv2d
    bias: Float[Array, " c"]
    dim: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, dim: int, kernel_size=1, *, key):
        check_count("out_channels", out_channels, minimum=1)
        check_count("dim", dim, minimum=1)
        self.conv = eqx.nn.Conv2d(
            in_channels, out_channels * dim, kernel_size, padding=kernel_size // 2, key=key
        )
        self.bias = jnp.zeros((out_channels,))
        self.dim = dim

    def __call__(self, x: Features) -> Features:
        y = self.conv(x)
        g = y.reshape(y.shape[0] // self.dim, self.dim, *y.shape[1:])
        norm = jnp.sqrt(jnp.sum(g * g, axis=1) + 1e-12)
        return norm + self.bias[:, None, None]


def readout_stack(channels: int, dim: int, keys) -> tuple[tuple[ReadOut, eqx.nn.Conv2d], ...]:
    """One read-out module and 1x1 mixing convolution per Kuramoto block.

    **Arguments:** `channels`, `dim` of the oscillators; `keys`: one pair of PRNG keys
    per block, shape `(n_blocks, 2)` of keys.
    """
    return tuple(
        (ReadOut(channels, channels, dim, key=k[0]), eqx.nn.Conv2d(channels, channels, 1, key=k[1]))
        for k in keys
    )


def run_blocks(
    blocks, readouts, x: Features, c: Features, *, n_steps: int | None = None
) -> tuple[Features, Features, Array]:
    """Run Kuramoto blocks in turn, each block's read-out becoming the next stimulus.

    **Returns:** `(x, c, energies)`: the last block's oscillators, the last read-out and
    the last block's energy trace.
    """
    energies = jnp.zeros((0,), c.dtype)
    for block, (readout, mix) in zip(blocks, readouts, strict=True):
        x, energies = block(x, c, n_steps=n_steps)
        c = mix(jax.nn.relu(readout(x)))
    return x, c, energies
