"""`brainsim data fetch NAME --data-dir DIR [--url-base URL]`.

Downloads a dataset (`mnist`, `fashion_mnist`, `shd`) from its publisher, or from the
mirror `--url-base` names, into `DIR/<dataset>/`, checking every file's published
size and checksums. A failed or corrupt download exits with status 2 and one line on
stderr naming the file; nothing incomplete is left under a final name.
"""

import argparse
import os
from pathlib import Path
from typing import Any

from ._fetch import DATASETS, fetch_dataset
from ._paths import DATA_ENV


def register(subparsers: Any) -> None:
    """Add the `data` subcommand to a `brainsim` argument parser's subparsers."""
    data = subparsers.add_parser("data", help="download datasets (the only command that does)")
    actions = data.add_subparsers(dest="data_command", required=True)
    fetch = actions.add_parser("fetch", help="download a dataset and verify its checksums")
    fetch.add_argument("name", choices=sorted(DATASETS), help="the dataset")
    fetch.add_argument(
        "--data-dir",
        "--to",
        dest="data_dir",
        type=Path,
        help=f"destination data directory (default ${DATA_ENV})",
    )
    fetch.add_argument(
        "--url-base", help="download from this mirror instead (files at URL_BASE/<file name>)"
    )
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server")


def run(args: argparse.Namespace) -> int:
    """Run `brainsim data fetch`; errors propagate as `ValueError` (exit 2 in `main`)."""
    data_dir = args.data_dir
    if data_dir is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise ValueError(f"--data-dir: not given and ${DATA_ENV} is not set")
        data_dir = Path(env)
    if args.timeout <= 0:
        raise ValueError(f"--timeout: must be positive, got {args.timeout}")
    dataset = DATASETS[args.name]
    where = args.url_base or ", ".join(dataset.mirrors)
    print(f"fetching {args.name} ({dataset.source}) from {where}", flush=True)
    folder = fetch_dataset(
        args.name, data_dir, base_url=args.url_base, timeout=args.timeout, report=print
    )
    print(f"{args.name} is ready in {folder}")
    return 0
