"""SHD and SSC: HDF5 files with ragged `spikes/times` (s), `spikes/units` and `labels`."""

import os
from pathlib import Path

import numpy as np

from ._paths import check_split, resolve_data_dir

SHD_CHANNELS = 700
_SPEC = {"shd": (20, ("train", "test")), "ssc": (35, ("train", "valid", "test"))}


def read_spike_h5(
    path: str | os.PathLike, *, n_channels: int = SHD_CHANNELS, n_classes: int | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Read one file in the Heidelberg spiking-datasets HDF5 layout.

    **Arguments:**

    - `path`: an `.h5` file with `spikes/times` (float seconds, one ragged row per
      sample), `spikes/units` (channel indices) and `labels`.
    - `n_channels`: channels are checked to lie in `0..n_channels - 1`.
    - `n_classes`: if given, labels are checked to lie in `0..n_classes - 1`.

    **Returns:** `(times, units, labels)`: lists of float64 seconds and int64 channels
    per sample, and int32 labels.

    **Raises:** `FileNotFoundError` or `ValueError` naming the file and the problem.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        for name in ("spikes/times", "spikes/units", "labels"):
            if name not in f:
                raise ValueError(f"{path}: missing dataset {name!r}")
        times = [np.asarray(t, np.float64) for t in f["spikes/times"][:]]
        units = [np.asarray(u, np.int64) for u in f["spikes/units"][:]]
        labels = np.asarray(f["labels"][:], np.int32)
    if not len(times) == len(units) == len(labels):
        raise ValueError(
            f"{path}: {len(times)} time rows, {len(units)} unit rows and {len(labels)} labels"
        )
    for i, (t, u) in enumerate(zip(times, units)):
        if t.shape != u.shape:
            raise ValueError(f"{path}: sample {i} has {t.size} times but {u.size} units")
        if u.size and (u.min() < 0 or u.max() >= n_channels):
            raise ValueError(f"{path}: sample {i} has a unit outside 0..{n_channels - 1}")
    if labels.size and n_classes is not None and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{path}: label out of range 0..{n_classes - 1}")
    return times, units, labels


def _load(kind: str, data_dir, split: str):
    n_classes, splits = _SPEC[kind]
    check_split(split, splits)
    folder = resolve_data_dir(data_dir, (kind, kind.upper()))
    return read_spike_h5(folder / f"{kind}_{split}.h5", n_classes=n_classes)


def load_shd(
    data_dir: str | os.PathLike | None = None, split: str = "train"
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Load the Spiking Heidelberg Digits (`shd_train.h5` / `shd_test.h5`, 20 classes).

    **Arguments:**

    - `data_dir`: the folder, or a parent with an `shd/` subfolder; `None` reads the
      `BRAINSIM_DATA` environment variable.
    - `split`: `"train"` or `"test"`.

    **Returns:** `(times, units, labels)` as `read_spike_h5` gives them.
    """
    return _load("shd", data_dir, split)


def load_ssc(
    data_dir: str | os.PathLike | None = None, split: str = "train"
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Load the Spiking Speech Commands (`ssc_{train,valid,test}.h5`, 35 classes).

    **Arguments:**

    - `data_dir`: the folder, or a parent with an `ssc/` subfolder; `None` reads the
      `BRAINSIM_DATA` environment variable.
    - `split`: `"train"`, `"valid"` or `"test"`.

    **Returns:** `(times, units, labels)` as `read_spike_h5` gives them.
    """
    return _load("ssc", data_dir, split)
