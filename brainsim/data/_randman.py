"""Randman: random smooth manifolds embedded as spike times (Zenke & Vogels 2021).

Each class is a random smooth `manifold_dim`-dimensional manifold in `n_units`
dimensions. A sample is a point on its class manifold; each unit fires `n_spikes`
times, at times given by the point's (standardised) coordinates. Every unit fires the
same number of spikes in every sample, so spike counts carry no information: only
timing separates the classes. Follows the reference implementation
(github.com/fzenke/randman): frequency cutoff `ceil(prec ** (-1 / alpha))`, spectrum
`1 / (k + 1) ** alpha`, and a product over manifold dimensions of sine series.
"""

import numpy as np


def _random_manifold(rng: np.random.Generator, n_units: int, dim: int, alpha: float, prec: float):
    cutoff = int(min(np.ceil(prec ** (-1.0 / alpha)), 1000))
    amp, freq, phase = rng.random((3, n_units, dim, cutoff))
    spect = 1.0 / (np.arange(cutoff) + 1.0) ** alpha
    k = np.arange(cutoff)

    def evaluate(x):  # x: (N, dim) -> (N, n_units)
        arg = 2 * np.pi * (k * x[:, None, :, None] * freq[None] + phase[None])
        series = np.sum(amp[None] * spect * np.sin(arg), axis=-1)  # (N, n_units, dim)
        return np.prod(series, axis=-1)

    return evaluate


def _standardize(y: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    lo, hi = y.min(0), y.max(0)
    return (y - lo) / (hi - lo + eps)


def make_randman(
    *,
    n_classes: int = 10,
    n_units: int = 100,
    n_steps: int = 100,
    n_samples: int = 100,
    manifold_dim: int = 1,
    n_spikes: int = 1,
    alpha: float = 2.0,
    step_frac: float = 1.0,
    prec: float = 1e-3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a Randman spike-timing dataset, fully determined by `seed`.

    **Arguments:**

    - `n_classes`: classes (one manifold each); `n_samples`: samples per class.
    - `n_units`: input channels; `n_steps`: time steps of the recording.
    - `manifold_dim`: intrinsic dimension of each manifold (harder when larger).
    - `n_spikes`: spikes per unit per sample (one sub-manifold each).
    - `alpha`: smoothness (spectral decay exponent; smoother when larger).
    - `step_frac`: spikes occupy the first `step_frac` of the steps.
    - `prec`: sets the frequency cutoff `ceil(prec ** (-1 / alpha))`.
    - `seed`: the only source of randomness.

    **Returns:** `(spike_times, labels)`: float spike times in steps, shape
    `(n_classes * n_samples, n_units, n_spikes)`, in `[0, n_steps * step_frac]`, and
    int32 labels; samples are shuffled.
    """
    for name, value in (("n_classes", n_classes), ("n_units", n_units), ("n_steps", n_steps)):
        if value < 1:
            raise ValueError(f"{name}: must be a positive integer, got {value}")
    if n_samples < 2 or manifold_dim < 1 or n_spikes < 1:
        raise ValueError("n_samples must be >= 2, manifold_dim and n_spikes >= 1")
    rng = np.random.default_rng(seed)
    times, labels = [], []
    for c in range(n_classes):
        x = rng.random((n_samples, manifold_dim))
        subs = [_random_manifold(rng, n_units, manifold_dim, alpha, prec) for _ in range(n_spikes)]
        t = np.stack([_standardize(f(x)) for f in subs], axis=-1)
        times.append(t)
        labels.append(np.full(n_samples, c, np.int32))
    all_times = np.concatenate(times) * (n_steps * step_frac)
    all_labels = np.concatenate(labels)
    perm = rng.permutation(len(all_labels))
    return all_times[perm], all_labels[perm]


def times_to_raster(spike_times: np.ndarray, n_steps: int) -> np.ndarray:
    """Turn Randman spike times `(N, n_units, n_spikes)` into counts `(N, n_steps, n_units)`.

    A spike at time `t` (steps) lands in step `min(floor(t), n_steps - 1)`.

    >>> times_to_raster(np.array([[[0.5, 2.9]]]), 3)[0, :, 0].tolist()
    [1.0, 0.0, 1.0]
    """
    n, units, _ = spike_times.shape
    step = np.clip(np.floor(spike_times).astype(np.int64), 0, n_steps - 1)
    raster = np.zeros((n, n_steps, units), np.float32)
    sample = np.broadcast_to(np.arange(n)[:, None, None], step.shape)
    unit = np.broadcast_to(np.arange(units)[None, :, None], step.shape)
    np.add.at(raster, (sample, step, unit), 1.0)
    return raster
