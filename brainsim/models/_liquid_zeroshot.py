"""The LSM as a frozen random encoder with trainable projections, after "Resistive
memory-based zero-shot liquid state machine for multimodal event data learning":
one fixed liquid per modality (the same recurrent liquid, one input projection each),
a linear probe of its features, and small ANN projection heads trained with a
symmetric contrastive (InfoNCE) loss so that paired samples of two modalities (an MNIST
image and the N-MNIST recording of the same digit) land together. Classes are then read
across modalities without labels of the second one (zero-shot): an event recording is
given the class of its nearest image-class prototype.

```python
img_liquid, ev_liquid = build_paired_liquids(784, 2312, seed=0)
heads = ProjectionHeads(1000, 1000, key=key)
heads = train_projection_heads(heads, (f_img, f_ev), (v_img, v_ev), key=key)
acc = zero_shot_accuracy(heads, f_img_train, y_train, f_ev_test, y_test)
```
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import DataLoader
from ..train import fit
from ._liquid import Liquid, build_liquid


def build_paired_liquids(
    n_input_a: int, n_input_b: int, *, seed: int = 0, **kwargs: Any
) -> tuple[Liquid, Liquid]:
    """Two liquids with the same recurrent part (same `seed`) and one input projection
    each, for inputs of sizes `n_input_a` and `n_input_b` (`kwargs` go to `build_liquid`).

    The recurrent synapses are drawn before the input projection, so both liquids share
    them exactly.
    """
    return (
        build_liquid(n_input=n_input_a, seed=seed, **kwargs),
        build_liquid(n_input=n_input_b, seed=seed, **kwargs),
    )


def info_nce(
    za: Float[Array, "b d"], zb: Float[Array, "b d"], temperature: Any
) -> Float[Array, ""]:
    """Symmetric InfoNCE (CLIP) loss: row `i` of `za` and of `zb` are a positive pair,
    every other row of the batch a negative.

    **Arguments:**

    - `za`, `zb`: `(b, d)` embeddings (normalised inside).
    - `temperature`: softmax temperature, > 0.

    **Returns:** the mean of the two cross-entropies (a scalar).

    >>> z = jnp.eye(3)
    >>> float(info_nce(z, z, 0.01)) < 1e-6  # perfectly aligned
    True
    """
    za = za / jnp.linalg.norm(za, axis=1, keepdims=True).clip(1e-12)
    zb = zb / jnp.linalg.norm(zb, axis=1, keepdims=True).clip(1e-12)
    logits = za @ zb.T / temperature
    diag = jnp.arange(za.shape[0])
    la = -jnp.mean(jax.nn.log_softmax(logits, axis=1)[diag, diag])
    lb = -jnp.mean(jax.nn.log_softmax(logits, axis=0)[diag, diag])
    return 0.5 * (la + lb)


class ProjectionHeads(eqx.Module):
    """One small MLP per modality into a shared embedding space.

    **Arguments:**

    - `n_a`, `n_b`: feature sizes of the two modalities.
    - `key`: PRNG key.
    - `width`: hidden units; `dim`: embedding size; `depth`: hidden layers.
    - `temperature`: the contrastive temperature (fixed).
    """

    head_a: eqx.nn.MLP
    head_b: eqx.nn.MLP
    temperature: float = eqx.field(static=True)

    def __init__(
        self,
        n_a: int,
        n_b: int,
        *,
        key: PRNGKeyArray,
        width: int = 128,
        dim: int = 32,
        depth: int = 1,
        temperature: float = 0.1,
    ):
        if min(n_a, n_b, width, dim) < 1 or depth < 0:
            raise ValueError("n_a, n_b, width and dim must be >= 1, depth >= 0")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        ka, kb = jr.split(key)
        self.head_a = eqx.nn.MLP(n_a, dim, width, depth, activation=jax.nn.relu, key=ka)
        self.head_b = eqx.nn.MLP(n_b, dim, width, depth, activation=jax.nn.relu, key=kb)
        self.temperature = float(temperature)

    def embed_a(self, x: Float[Array, "b n_a"]) -> Float[Array, "b dim"]:
        """Normalised embeddings of modality A."""
        z = jax.vmap(self.head_a)(x)
        return z / jnp.linalg.norm(z, axis=1, keepdims=True).clip(1e-12)

    def embed_b(self, x: Float[Array, "b n_b"]) -> Float[Array, "b dim"]:
        """Normalised embeddings of modality B."""
        z = jax.vmap(self.head_b)(x)
        return z / jnp.linalg.norm(z, axis=1, keepdims=True).clip(1e-12)


def _retrieval(za: Array, zb: Array) -> Array:
    """Fraction of rows of `zb` whose most similar row of `za` is their own pair."""
    return jnp.mean((jnp.argmax(zb @ za.T, axis=1) == jnp.arange(za.shape[0])).astype(za.dtype))


def train_projection_heads(
    heads: ProjectionHeads,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    key: PRNGKeyArray,
    epochs: int = 100,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> ProjectionHeads:
    """Train both heads with `info_nce` on paired features (row `i` of each array is a
    pair); the best epoch by validation pair retrieval accuracy is returned.

    **Arguments:**

    - `heads`: the `ProjectionHeads`.
    - `train`, `val`: `(features_a, features_b)`, equal lengths.
    - `key`: PRNG key; `epochs`, `batch_size`, `learning_rate` (Adam); `seed`: shuffling.

    **Returns:** the trained heads.
    """
    for name, (a, b) in (("train", train), ("val", val)):
        if len(a) != len(b):
            raise ValueError(f"{name}: the two modalities must be paired ({len(a)} != {len(b)})")
    dtype = jnp.result_type(float)

    def loss_fn(m: ProjectionHeads, batch: Any, key: Any):
        del key
        xa, xb = (jnp.asarray(x, dtype) for x in batch)
        za, zb = m.embed_a(xa), m.embed_b(xb)
        return info_nce(za, zb, m.temperature), {"accuracy": _retrieval(za, zb)}

    loader = DataLoader(
        tuple(np.asarray(x, np.float32) for x in train),
        min(batch_size, len(train[0])),
        seed=seed,
        drop_last=True,
    )
    val_batches = [tuple(np.asarray(x, np.float32) for x in val)]
    result = fit(
        heads,
        loss_fn,
        loader,
        optimizer=optax.adam(learning_rate),
        epochs=epochs,
        key=key,
        val_data=val_batches,
        progress=False,
    )
    return result.model


def class_prototypes(z: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Normalised mean embedding of each class, `(n_classes, dim)`."""
    z = np.asarray(z)
    protos = np.stack([z[labels == c].mean(axis=0) for c in range(n_classes)])
    return protos / np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)


def zero_shot_accuracy(
    heads: ProjectionHeads,
    labelled_a: tuple[np.ndarray, np.ndarray],
    test_b: tuple[np.ndarray, np.ndarray],
    *,
    n_classes: int = 10,
) -> float:
    """Classify modality-B samples by the nearest class prototype of labelled
    modality-A embeddings (no B labels are used).

    **Arguments:**

    - `labelled_a`: `(features_a, labels)`, the labelled modality.
    - `test_b`: `(features_b, labels)`; the labels only score the result.

    **Returns:** the accuracy.
    """
    za = np.asarray(heads.embed_a(jnp.asarray(labelled_a[0], jnp.result_type(float))))
    zb = np.asarray(heads.embed_b(jnp.asarray(test_b[0], jnp.result_type(float))))
    protos = class_prototypes(za, np.asarray(labelled_a[1]), n_classes)
    return float(np.mean(np.argmax(zb @ protos.T, axis=1) == np.asarray(test_b[1])))


def pair_retrieval_accuracy(heads: ProjectionHeads, pairs: tuple[np.ndarray, np.ndarray]) -> float:
    """Fraction of modality-B samples whose nearest modality-A embedding is their pair."""
    dtype = jnp.result_type(float)
    za = heads.embed_a(jnp.asarray(pairs[0], dtype))
    zb = heads.embed_b(jnp.asarray(pairs[1], dtype))
    return float(_retrieval(za, zb))
