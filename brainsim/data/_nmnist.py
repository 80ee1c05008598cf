"""N-MNIST: the original 5-byte event files, with SLAYER-style label lists or class folders."""

import os
from pathlib import Path

import numpy as np

from ._paths import check_split, resolve_data_dir

NMNIST_SIZE = 34
EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])
_LISTS = {"train": ("train1K.txt", "train.txt"), "test": ("test100.txt", "test.txt")}
_FOLDERS = {"train": "Train", "test": "Test"}


def read_nmnist_events(path: str | os.PathLike) -> np.ndarray:
    """Read one N-MNIST recording (`.bin` or `.bs2`: 5 bytes per event).

    Byte 0 is x, byte 1 is y, bit 7 of byte 2 the polarity, and the other 23 bits (byte
    2 bits 6..0, then bytes 3 and 4) the timestamp in microseconds.

    **Arguments:**

    - `path`: the file.

    **Returns:** a structured array with fields `t` (us), `x`, `y` (0..33) and `p` (0/1).

    **Raises:** `FileNotFoundError` for a missing file, `ValueError` naming the file for
    a size that is not a multiple of 5 (a truncated file) or coordinates beyond 33.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"{path}: {raw.size} bytes, expected a multiple of 5 (truncated?)")
    raw = raw.reshape(-1, 5).astype(np.int64)
    events = np.empty(raw.shape[0], EVENT_DTYPE)
    events["x"] = raw[:, 0]
    events["y"] = raw[:, 1]
    events["p"] = raw[:, 2] >> 7
    events["t"] = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    if raw.size and (raw[:, 0].max() >= NMNIST_SIZE or raw[:, 1].max() >= NMNIST_SIZE):
        raise ValueError(f"{path}: event coordinates beyond 0..{NMNIST_SIZE - 1}")
    return events


def _read_label_list(path: Path) -> list[tuple[str, int]]:
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}: line {lineno}: expected '<sample id> <class>', got {line!r}")
        rows.append((parts[0], int(parts[1])))
    return rows


def _sample_file(folder: Path, sample: str) -> Path:
    for ext in (".bs2", ".bin"):
        if (folder / (sample + ext)).is_file():
            return folder / (sample + ext)
    raise FileNotFoundError(f"{folder / (sample + '.bs2')}: file not found (nor .bin)")


def load_nmnist(
    data_dir: str | os.PathLike | None = None, split: str = "train"
) -> tuple[list[np.ndarray], np.ndarray]:
    """Load N-MNIST recordings with their labels.

    Two layouts are read: a folder of `<id>.bs2`/`<id>.bin` files with the label lists
    `train1K.txt`/`test100.txt` (or `train.txt`/`test.txt`) holding `<id> <class>` rows
    (the SLAYER `NMNISTsmall` subset), or the published `Train/<class>/*.bin` and
    `Test/<class>/*.bin` folders.

    **Arguments:**

    - `data_dir`: the folder, or a parent with `nmnist/NMNISTsmall/`, `NMNISTsmall/` or
      `nmnist/`; `None` reads the `BRAINSIM_DATA` environment variable.
    - `split`: `"train"` or `"test"`.

    **Returns:** `(events, labels)`: a list of event arrays (see `read_nmnist_events`)
    and int32 labels in 0..9.
    """
    check_split(split, ("train", "test"))
    folder = resolve_data_dir(data_dir, ("nmnist/NMNISTsmall", "NMNISTsmall", "nmnist", "NMNIST"))
    for name in _LISTS[split]:
        if (folder / name).is_file():
            rows = _read_label_list(folder / name)
            files = [_sample_file(folder, sample) for sample, _ in rows]
            labels = np.array([label for _, label in rows], np.int32)
            break
    else:
        class_root = folder / _FOLDERS[split]
        if not class_root.is_dir():
            raise FileNotFoundError(
                f"{folder}: no N-MNIST {split} data (expected {' or '.join(_LISTS[split])} "
                f"or a {_FOLDERS[split]}/ folder)"
            )
        files, label_list = [], []
        for digit in range(10):
            found = sorted((class_root / str(digit)).glob("*.bin"))
            files += found
            label_list += [digit] * len(found)
        labels = np.array(label_list, np.int32)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{folder}: N-MNIST label {int(labels.max())} out of range 0..9")
    return [read_nmnist_events(f) for f in files], labels


def nmnist_channels(events: np.ndarray, *, factor: int = 1) -> tuple[np.ndarray, int]:
    """Flatten (polarity, y, x) of N-MNIST events into channel indices, pooling space.

    **Arguments:**

    - `events`: a structured array from `read_nmnist_events`.
    - `factor`: spatial pooling: pixels `factor x factor` share one channel.

    **Returns:** `(channels, n_channels)` with `n_channels = 2 * ceil(34 / factor)**2`.

    >>> ev = np.zeros(1, EVENT_DTYPE); ev["x"], ev["y"], ev["p"] = 33, 0, 1
    >>> nmnist_channels(ev, factor=2)
    (array([305]), 578)
    """
    if factor < 1:
        raise ValueError(f"factor: must be a positive integer, got {factor}")
    side = -(-NMNIST_SIZE // factor)
    p = events["p"].astype(np.int64)
    y = events["y"].astype(np.int64) // factor
    x = events["x"].astype(np.int64) // factor
    return (p * side + y) * side + x, 2 * side * side
