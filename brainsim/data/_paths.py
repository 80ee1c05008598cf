"""Where datasets live: an explicit directory, else the `BRAINSIM_DATA` variable."""

import os
from pathlib import Path

DATA_ENV = "BRAINSIM_DATA"


def resolve_data_dir(data_dir: str | os.PathLike | None, subdirs: tuple[str, ...] = ()) -> Path:
    """The folder that holds a dataset's files.

    **Arguments:**

    - `data_dir`: a directory, or `None` to read the `BRAINSIM_DATA` environment variable.
    - `subdirs`: candidate subfolders (e.g. `("mnist",)`); the first that exists under
      `data_dir` is used, else `data_dir` itself.

    **Returns:** an existing directory.

    **Raises:** `FileNotFoundError` naming the directory when it does not exist, or when
    neither `data_dir` nor `BRAINSIM_DATA` is given.
    """
    if data_dir is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise FileNotFoundError(
                f"data_dir: not given and the {DATA_ENV} environment variable is not set"
            )
        data_dir = env
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data_dir: {str(root)!r} is not a directory")
    for sub in subdirs:
        if (root / sub).is_dir():
            return root / sub
    return root


def check_split(split: str, allowed: tuple[str, ...]) -> None:
    """Raise a `ValueError` unless `split` is one of `allowed`."""
    if split not in allowed:
        raise ValueError(f"split: must be one of {allowed}, got {split!r}")
