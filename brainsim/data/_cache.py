"""A cache of preprocessed arrays, keyed by a hash of the source files and the options."""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def file_digest(path: str | os.PathLike) -> str:
    """The sha256 of a file's contents (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(name: str, sources: Sequence[str | os.PathLike], options: dict) -> str:
    """The cache key: sha256 over `name`, each source's content hash and the options.

    **Arguments:**

    - `name`: what is computed (e.g. `"nmnist-binned"`).
    - `sources`: the files the arrays derive from (their contents are hashed, so an
      edited or replaced file gives a new key).
    - `options`: the preprocessing options, JSON-serialisable.

    **Returns:** a hex string.
    """
    try:
        opts = json.dumps(options, sort_keys=True, default=str)
    except TypeError as e:
        raise ValueError(f"options: not serialisable for the cache key ({e})") from None
    h = hashlib.sha256(name.encode())
    for src in sources:
        h.update(file_digest(src).encode())
    h.update(opts.encode())
    return h.hexdigest()


def cached_arrays(
    compute: Callable[[], dict[str, np.ndarray]],
    *,
    cache_dir: str | os.PathLike | None,
    name: str,
    sources: Sequence[str | os.PathLike] = (),
    options: dict | None = None,
) -> dict[str, np.ndarray]:
    """Return `compute()`'s arrays, from `cache_dir` when they were computed before.

    The arrays are stored as `<name>-<key>.npz` (written to a temporary file and renamed,
    so an interrupted write never looks like a cache entry).

    **Arguments:**

    - `compute`: builds a dict of numpy arrays (called only on a miss).
    - `cache_dir`: the user's cache folder (created if needed); `None` disables caching.
    - `name`, `sources`, `options`: see `cache_key`.

    **Returns:** the dict of arrays.
    """
    if cache_dir is None:
        return compute()
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = cache_key(name, sources, options or {})
    path = folder / f"{name}-{key[:32]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    arrays = compute()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return arrays
