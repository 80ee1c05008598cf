"""MNIST and Fashion-MNIST: the IDX format (gzip-compressed or raw), checked on read."""

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ._paths import check_split, resolve_data_dir

IDX_LABELS_MAGIC = 2049
IDX_IMAGES_MAGIC = 2051
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"{path}: not a complete gzip file ({e})") from None


def read_idx(path: str | os.PathLike, *, magic: int | None = None) -> np.ndarray:
    """Read one IDX file (`.gz` or raw) and check its header against its size.

    **Arguments:**

    - `path`: the file.
    - `magic`: the expected magic number (2049 for labels, 2051 for images), or `None`.

    **Returns:** the array, with the shape and dtype the header gives.

    **Raises:** `FileNotFoundError` for a missing file; `ValueError` naming the file for
    a truncated or corrupt one (bad gzip stream, wrong magic, size that does not match
    the header).
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    found = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if magic is not None and found != magic:
        raise ValueError(f"{path}: IDX magic number {found}, expected {magic}")
    if raw[0] != 0 or raw[1] != 0 or code not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic number {found})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, expected {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: {len(raw)} bytes, expected {expected} for an IDX array of shape {shape}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder / (stem + '.gz')}: file not found (nor {stem} unpacked)")


def _load_idx_pair(folder: Path, split: str, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    image_stem, label_stem = _FILES[split]
    image_path, label_path = _find(folder, image_stem), _find(folder, label_stem)
    images = read_idx(image_path, magic=IDX_IMAGES_MAGIC)
    labels = read_idx(label_path, magic=IDX_LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{image_path}: images of shape {images.shape[1:]}, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{label_path}: {labels.shape[0]} labels for {images.shape[0]} images in "
            f"{image_path.name}"
        )
    if labels.size and int(labels.max()) >= n_classes:
        raise ValueError(f"{label_path}: label {int(labels.max())} out of range 0..{n_classes - 1}")
    return images, labels.astype(np.int32)


def load_mnist(
    data_dir: str | os.PathLike | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST from its four IDX files.

    **Arguments:**

    - `data_dir`: the folder holding the files, or its parent with an `mnist/` subfolder;
      `None` reads the `BRAINSIM_DATA` environment variable.
    - `split`: `"train"` (60,000 images) or `"test"` (10,000).

    **Returns:** `(images, labels)`: uint8 `(N, 28, 28)` and int32 `(N,)` in 0..9.
    """
    check_split(split, ("train", "test"))
    return _load_idx_pair(resolve_data_dir(data_dir, ("mnist", "MNIST")), split)


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (same layout and file names as MNIST).

    **Arguments:**

    - `data_dir`: the folder holding the files, or its parent with a `fashion_mnist/`
      subfolder; `None` reads the `BRAINSIM_DATA` environment variable.
    - `split`: `"train"` (60,000 images) or `"test"` (10,000).

    **Returns:** `(images, labels)`: uint8 `(N, 28, 28)` and int32 `(N,)` in 0..9.
    """
    check_split(split, ("train", "test"))
    folder = resolve_data_dir(data_dir, ("fashion_mnist", "fashion-mnist", "FashionMNIST"))
    return _load_idx_pair(folder, split)
