"""AKOrN for unsupervised object discovery (Miyato et al., ICLR 2025, section 5.1).

Patches of the image enter as the stimulus `c` (a strided convolution plus a learned
position code, group-normalised in the block); oscillators start at random and couple
by attention (or convolution) across the patches; a read-out module maps them to
features, max-pooled over the image and projected by an MLP. Training is
self-supervised (SimCLR: two augmented views of each image, NT-Xent loss at
temperature 0.1). Objects are then read off by k-means on the final oscillator states
of the patches and scored against the true masks by FG-ARI.
"""

import dataclasses
import functools
import json
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from ..data import DataLoader
from ..oscillators._akorn_layers import (
    AttentionCoupling,
    ConvCoupling,
    KuramotoBlock,
    ReadOut,
    Rotation,
    readout_stack,
    run_blocks,
)
from ..oscillators._common import check_count
from ..train import fit
from ._akorn_objects_data import make_shapes
from ._tasks import TrainRun, register_task


class ObjectAKOrN(eqx.Module):
    """AKOrN feature extractor for images (channel-first, unbatched).

    **Arguments:**

    - `image_size`, `patch`: image side and patch side (px); `image_size % patch == 0`.
    - `channels`, `dim`, `heads`: feature channels, oscillator dimension, attention heads.
    - `n_blocks`: Kuramoto blocks, each followed by a read-out module.
    - `n_steps`, `gamma`: steps per block and step size.
    - `coupling`: `"attn"` or `"conv"` (`kernel_size` for the latter).
    - `omega`: natural frequency (`0` for none); `proj_dim`: SimCLR projection size.
    - `key`: PRNG key.
    """

    patchify: eqx.nn.Conv2d
    position: Float[Array, "c h w"]
    blocks: tuple[KuramotoBlock, ...]
    readouts: tuple[tuple[ReadOut, eqx.nn.Conv2d], ...]
    mlp: eqx.nn.MLP
    patch: int = eqx.field(static=True)

    def __init__(
        self,
        image_size: int = 32,
        patch: int = 4,
        channels: int = 256,
        dim: int = 4,
        heads: int = 8,
        n_blocks: int = 1,
        n_steps: int = 8,
        gamma: float = 1.0,
        coupling: str = "attn",
        kernel_size: int = 3,
        omega: float = 0.0,
        proj_dim: int = 128,
        *,
        key,
    ):
        check_count("n_blocks", n_blocks, minimum=1)
        if patch < 1 or image_size % patch:
            raise ValueError(f"patch must divide image_size = {image_size}, got {patch}")
        if coupling not in ("attn", "conv"):
            raise ValueError(f"coupling must be 'attn' or 'conv', got {coupling!r}")
        keys = jr.split(key, 3 * n_blocks + 3)
        side = image_size // patch
        self.patchify = eqx.nn.Conv2d(3, channels, patch, stride=patch, key=keys[0])
        self.position = 0.02 * jr.normal(keys[1], (channels, side, side))

        def make_coupling(k):
            if coupling == "attn":
                return AttentionCoupling(channels, heads, key=k)
            return ConvCoupling(channels, kernel_size, key=k)

        self.blocks = tuple(
            KuramotoBlock(
                make_coupling(keys[2 + 3 * i]),
                channels=channels,
                dim=dim,
                n_steps=n_steps,
                gamma=gamma,
                omega=Rotation(channels, dim, omega=omega, shared=False) if omega else None,
            )
            for i in range(n_blocks)
        )
        self.readouts = readout_stack(
            channels, dim, [(keys[3 + 3 * i], keys[4 + 3 * i]) for i in range(n_blocks)]
        )
        self.mlp = eqx.nn.MLP(channels, proj_dim, 2 * channels, 1, key=keys[-1])
        self.patch = patch

    def __call__(
        self, image: Float[Array, "3 s s"], *, key
    ) -> tuple[Float[Array, " p"], Float[Array, "c h w"]]:
        """The projection for the contrastive loss and the final oscillators.

        **Arguments:** `image` `(3, S, S)`; `key` for the initial oscillators.

        **Returns:** `(z, x)`: the projected image feature `(proj_dim,)` and the final
        oscillator states of the last block `(C, S / patch, S / patch)`.
        """
        c = self.patchify(image) + self.position
        x = jr.normal(key, c.shape, c.dtype)
        x, c, _ = run_blocks(self.blocks, self.readouts, x, c)
        pooled = jnp.max(c.reshape(c.shape[0], -1), axis=1)
        return self.mlp(pooled), x


def augment(image: Float[Array, "3 s s"], *, key) -> Float[Array, "3 s s"]:
    """A random view: flips, a quarter-turn, a shift (wrapping) by up to 1/8 of the side,
    a colour-channel permutation and a brightness scale in [0.6, 1]."""
    k = jr.split(key, 6)
    s = image.shape[-1]
    img = jnp.where(jr.bernoulli(k[0]), image[:, :, ::-1], image)
    img = jnp.where(jr.bernoulli(k[1]), img[:, ::-1, :], img)
    img = jnp.where(jr.bernoulli(k[2]), jnp.swapaxes(img, 1, 2), img)
    shift = jr.randint(k[3], (2,), -(s // 8), s // 8 + 1)
    img = jnp.roll(jnp.roll(img, shift[0], axis=1), shift[1], axis=2)
    img = img[jr.permutation(k[4], 3)]
    return img * jr.uniform(k[5], (), img.dtype, 0.6, 1.0)


def nt_xent(z1: Array, z2: Array, temperature: float) -> Array:
    """SimCLR's NT-Xent loss for paired views `(B, d)`: each view must pick its partner
    out of the other `2B - 2` samples."""
    z = jnp.concatenate([z1, z2])
    z = z / jnp.linalg.norm(z, axis=1, keepdims=True)
    n = z.shape[0]
    sim = z @ z.T / temperature
    sim = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, sim)
    partner = jnp.concatenate([jnp.arange(n // 2) + n // 2, jnp.arange(n // 2)])
    logp = jax.nn.log_softmax(sim, axis=1)
    return -jnp.mean(logp[jnp.arange(n), partner])


def make_objects_loss(temperature: float):
    """`loss(model, batch, key)` for `fit`: NT-Xent of two augmented views."""

    def loss(model: ObjectAKOrN, batch, key) -> tuple[Array, dict[str, Array]]:
        images = jnp.asarray(batch[0])
        b = images.shape[0]
        ka, kb, kx = jr.split(key, 3)
        views = jnp.concatenate(
            [
                jax.vmap(lambda im, k: augment(im, key=k))(images, jr.split(ka, b)),
                jax.vmap(lambda im, k: augment(im, key=k))(images, jr.split(kb, b)),
            ]
        )
        z, _ = jax.vmap(lambda im, k: model(im, key=k))(views, jr.split(kx, 2 * b))
        value = nt_xent(z[:b], z[b:], temperature)
        return value, {}

    return loss


@functools.partial(jax.jit, static_argnames=("k", "n_iter", "n_init"))
def kmeans(points: Float[Array, "n d"], k: int, *, key, n_iter: int = 30, n_init: int = 4):
    """k-means (k-means++ seeding, Lloyd iterations), best of `n_init` runs by inertia.

    **Arguments:** `points` `(n, d)`; `k` clusters; `key`; `n_iter`; `n_init`.

    **Returns:** cluster labels `(n,)` (int32).
    """

    def seed(key):
        keys = jr.split(key, k)
        first = points[jr.randint(keys[0], (), 0, points.shape[0])]
        centres = jnp.zeros((k, points.shape[1]), points.dtype).at[0].set(first)

        def add(i, centres):
            d2 = jnp.sum((points[:, None] - centres[None]) ** 2, -1)
            d2 = jnp.where(jnp.arange(k)[None] < i, d2, jnp.inf).min(1)
            p = d2 / jnp.maximum(jnp.sum(d2), 1e-12)
            return centres.at[i].set(points[jr.choice(keys[i], points.shape[0], p=p)])

        return jax.lax.fori_loop(1, k, add, centres)

    def lloyd(centres, _):
        labels = jnp.argmin(jnp.sum((points[:, None] - centres[None]) ** 2, -1), 1)
        onehot = jax.nn.one_hot(labels, k, dtype=points.dtype)
        count = onehot.sum(0)
        mean = onehot.T @ points / jnp.maximum(count, 1)[:, None]
        return jnp.where(count[:, None] > 0, mean, centres), None

    def run(key):
        centres, _ = jax.lax.scan(lloyd, seed(key), None, length=n_iter)
        d2 = jnp.sum((points[:, None] - centres[None]) ** 2, -1)
        return jnp.argmin(d2, 1).astype(jnp.int32), jnp.sum(jnp.min(d2, 1))

    labels, inertia = jax.vmap(run)(jr.split(key, n_init))
    return labels[jnp.argmin(inertia)]


def adjusted_rand_index(true: np.ndarray, pred: np.ndarray) -> float:
    """The adjusted Rand index of two labelings of the same items (1.0 when both put
    everything in one cluster).

    ```python
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]), 4)
    0.5714

    ```
    """
    true, pred = np.asarray(true).ravel(), np.asarray(pred).ravel()
    _, ti = np.unique(true, return_inverse=True)
    _, pi = np.unique(pred, return_inverse=True)
    table = np.zeros((ti.max() + 1, pi.max() + 1), np.int64)
    np.add.at(table, (ti, pi), 1)

    def pairs(x):
        return float(np.sum(x * (x - 1) / 2))

    index, a, b = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = a * b / max(pairs(np.array([true.size])), 1.0)
    top = (a + b) / 2
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)


def fg_ari(masks: Int[np.ndarray, "n s s"], labels: Int[np.ndarray, "n s s"]) -> float:
    """Mean FG-ARI: the ARI over the foreground pixels (mask > 0) of each image."""
    scores = [adjusted_rand_index(m[m > 0], p[m > 0]) for m, p in zip(masks, labels, strict=True)]
    return float(np.mean(scores))


@eqx.filter_jit
def _segment(model: ObjectAKOrN, images, keys, k: int):
    """Per-patch cluster labels `(B, h, w)` from the final oscillators."""

    def one(image, key):
        k1, k2 = jr.split(key)
        _, x = model(image, key=k1)
        points = x.reshape(x.shape[0], -1).T
        return kmeans(points, k, key=k2).reshape(x.shape[1:])

    return jax.vmap(one)(images, keys)


@eqx.filter_jit
def _segment_colours(images, keys, patch: int, k: int):
    """The baseline: k-means on the mean colour of each patch."""

    def one(image, key):
        s = image.shape[-1] // patch
        colours = image.reshape(3, s, patch, s, patch).mean((2, 4)).reshape(3, -1).T
        return kmeans(colours, k, key=key).reshape(s, s)

    return jax.vmap(one)(images, keys)


def evaluate_objects(
    model: ObjectAKOrN | None,
    images: np.ndarray,
    masks: np.ndarray,
    *,
    n_clusters: int,
    patch: int,
    batch_size: int = 100,
    key,
) -> float:
    """Mean FG-ARI of the k-means segmentation of the final oscillators (`model`), or of
    the mean patch colours (`model=None`, the baseline), upsampled to pixels."""
    out = []
    for start in range(0, len(images), batch_size):
        imgs = jnp.asarray(images[start : start + batch_size])
        keys = jr.split(jr.fold_in(key, start), imgs.shape[0])
        if model is None:
            lab = _segment_colours(imgs, keys, patch, n_clusters)
        else:
            lab = _segment(model, imgs, keys, n_clusters)
        out.append(np.kron(np.asarray(lab), np.ones((1, patch, patch), np.int32)))
    return fg_ari(masks, np.concatenate(out))


@dataclasses.dataclass(frozen=True)
class ShapesData:
    """The synthetic multi-object set (see `make_shapes`)."""

    n_train: int = 10000
    n_test: int = 1000
    image_size: int = 32
    block: int = 4
    n_objects: int = 3
    n_colors: int = 6
    seed: int = 2025

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test", "image_size", "block", "n_objects", "n_colors"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name}: must be >= 1")


@dataclasses.dataclass(frozen=True)
class AKOrNObjectsConfig:
    """`akorn_objects`: defaults are the paper's Tetrominoes settings (AKOrN attn,
    L = 1, N = 4, T = 8, ch 256, SimCLR temperature 0.1, Adam 1e-3, batch 256,
    500 epochs), with patch 4 on 32 px images."""

    channels: int = 256
    dim: int = 4
    heads: int = 8
    n_blocks: int = 1
    n_steps: int = 8
    gamma: float = 1.0
    coupling: str = "attn"
    kernel_size: int = 3
    omega: float = 0.0
    patch: int = 4
    proj_dim: int = 128
    temperature: float = 0.1
    epochs: int = 500
    batch_size: int = 256
    learning_rate: float = 1e-3
    checkpoint_every_steps: int = 100
    data: ShapesData = ShapesData()

    def __post_init__(self) -> None:
        for name in (
            "channels",
            "dim",
            "heads",
            "n_blocks",
            "n_steps",
            "kernel_size",
            "patch",
            "proj_dim",
            "epochs",
            "batch_size",
            "checkpoint_every_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.coupling not in ("attn", "conv"):
            raise ValueError(f"coupling: must be 'attn' or 'conv', got {self.coupling!r}")
        if self.channels % self.dim or self.channels % self.heads:
            raise ValueError(f"channels: must be a multiple of dim and heads, got {self.channels}")
        if self.data.image_size % self.patch:
            raise ValueError(f"patch: must divide data.image_size, got {self.patch}")
        if not (self.gamma > 0 and self.temperature > 0 and self.learning_rate > 0):
            raise ValueError("gamma, temperature, learning_rate: must be positive")
        if self.batch_size > self.data.n_train:
            raise ValueError("batch_size: larger than data.n_train")


@register_task("akorn_objects", AKOrNObjectsConfig)
def _train(config: AKOrNObjectsConfig, run: TrainRun) -> dict[str, Any]:
    d = config.data
    shape_kw = dict(size=d.image_size, block=d.block, n_objects=d.n_objects, n_colors=d.n_colors)
    t0 = time.perf_counter()
    train_x, _ = make_shapes(d.n_train, seed=d.seed, **shape_kw)
    test_x, test_m = make_shapes(d.n_test, seed=d.seed + 1, **shape_kw)
    data_seconds = time.perf_counter() - t0
    key = jr.key(run.seed)
    model = ObjectAKOrN(
        d.image_size,
        config.patch,
        config.channels,
        config.dim,
        config.heads,
        config.n_blocks,
        config.n_steps,
        config.gamma,
        config.coupling,
        config.kernel_size,
        config.omega,
        config.proj_dim,
        key=jr.fold_in(key, 0),
    )
    eval_key = jr.fold_in(key, 2)
    k = d.n_objects + 1

    def score(m: ObjectAKOrN | None) -> float:
        return evaluate_objects(m, test_x, test_m, n_clusters=k, patch=config.patch, key=eval_key)

    t1 = time.perf_counter()
    untrained = score(model)
    baseline = score(None)
    t2 = time.perf_counter()
    result = fit(
        model,
        make_objects_loss(config.temperature),
        DataLoader((train_x,), config.batch_size, seed=run.seed, drop_last=True),
        optimizer=optax.adam(config.learning_rate),
        epochs=config.epochs,
        key=jr.fold_in(key, 1),
        metrics_path=run.out_dir / "metrics.jsonl",
        checkpoint_dir=run.out_dir / "checkpoints",
        checkpoint_every_steps=config.checkpoint_every_steps,
        resume=run.resume,
        progress=run.progress,
    )
    train_seconds = time.perf_counter() - t2
    t3 = time.perf_counter()
    trained = score(result.final_model)
    summary = {
        "test_fg_ari": trained,
        "test_fg_ari_untrained": untrained,
        "test_fg_ari_colour_kmeans": baseline,
        "final_loss": result.history[-1]["loss"] if result.history else None,
        "n_clusters": k,
        "data_seconds": data_seconds,
        "train_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - t3 + (t2 - t1),
    }
    (run.out_dir / "evaluation.json").write_text(json.dumps(summary, indent=1))
    return summary
