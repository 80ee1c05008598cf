"""`brainsim data fetch`: download a dataset from its publisher, verified by checksums.

This is the only code in brainsim that downloads anything, and it runs only when a
user asks for it. Every file is streamed into a hidden temporary file next to its
destination, its size and published checksums are checked, and only then is it renamed
to its final name (unpacked first when the readers expect it unpacked). An interrupted,
truncated or corrupted download therefore never leaves a file that looks complete.
"""

import dataclasses
import gzip
import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path


class DownloadError(ValueError):
    """A download failed (unreachable, HTTP error, truncated, wrong checksum)."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One published file.

    - `name`: its name on the server (appended to a base URL) and on disk.
    - `size`: bytes, or `None` when not published.
    - `md5`, `sha256`: published hex digests (at least one).
    - `unpack`: `"gunzip"` to store the decompressed file without the `.gz` suffix;
      `"unzip"` to extract a zip archive into the dataset's folder (the archive is then
      deleted, and a marker `.<name>.unpacked` holding its md5 says the extraction
      completed).
    - `unpacked_md5`: the published md5 of the decompressed file, if any.
    - `remote`: the file's path on the server when it differs from `name`.
    """

    name: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    unpack: str | None = None
    unpacked_md5: str | None = None
    remote: str | None = None

    def __post_init__(self):
        if self.md5 is None and self.sha256 is None:
            raise ValueError(f"{self.name}: a published md5 or sha256 is required")
        if self.unpack not in (None, "gunzip", "unzip"):
            raise ValueError(f"unpack: must be None, 'gunzip' or 'unzip', got {self.unpack!r}")

    @property
    def local_name(self) -> str:
        """The name the readers expect (without `.gz` when unpacked; a zip's marker)."""
        if self.unpack == "gunzip" and self.name.endswith(".gz"):
            return self.name[:-3]
        if self.unpack == "unzip":
            return f".{self.name}.unpacked"
        return self.name


@dataclasses.dataclass(frozen=True)
class RemoteDataset:
    """A dataset: its folder under the data directory, mirrors and files."""

    folder: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    source: str


# Checksums: MNIST's md5s are the published ones (torchvision checks them), its sha256s
# and Fashion-MNIST's are those of the byte-identical copies in ../shared/data (see its
# README); SHD's md5s are the publisher's md5sums.txt values as public loaders use them;
# N-MNIST's are those that tonic and SpikingJelly check for the publisher's Mendeley Data
# archives (no digest is printed on the dataset's page).
DATASETS: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        folder="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://yann.lecun.com/exdb/mnist/",
        ),
        source="LeCun, Cortes & Burges, The MNIST database (CC BY-SA 3.0)",
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                9912422,
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                28881,
                "d53e105ee54ea40749a09fcbcd1e9432",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                1648877,
                "9fb629c4189551a2d022fa330f9573f3",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                4542,
                "ec29112dd5afa0611ce80d1b7f02629c",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
    ),
    "fashion_mnist": RemoteDataset(
        folder="fashion_mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        source="Zalando Research, Fashion-MNIST (MIT)",
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                26421880,
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                29515,
                "25c81989df183df01b3e8a0aad5dffbe",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                4422102,
                "bef4ecab320f06d8554ea6380940ec79",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                5148,
                "bb300cfdad3c16e7a12a480ee83cd310",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        ),
    ),
    "shd": RemoteDataset(
        folder="shd",
        mirrors=("https://zenkelab.org/datasets/",),
        source="Cramer et al. 2022, Spiking Heidelberg Digits (CC BY 4.0)",
        files=(
            RemoteFile(
                "shd_train.h5.gz",
                md5="d47c9825dee33347913e8ce0f2be08b0",
                unpack="gunzip",
                unpacked_md5="8e9877c85f29a28dd353ea6a54402667",
            ),
            RemoteFile(
                "shd_test.h5.gz",
                md5="3062a80ec0c5719404d5b02e166543b1",
                unpack="gunzip",
                unpacked_md5="207ad1295a0ab611e22d1734989c254e",
            ),
        ),
    ),
    "nmnist": RemoteDataset(
        folder="nmnist",
        mirrors=("https://data.mendeley.com/public-files/datasets/468j46mzdv/files/",),
        source="Orchard et al. 2015, N-MNIST (CC BY-SA 4.0), Mendeley Data 468j46mzdv",
        files=(
            RemoteFile(
                "Train.zip",
                md5="20959b8e626244a1b502305a9e6e2031",
                unpack="unzip",
                remote="39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
            ),
            RemoteFile(
                "Test.zip",
                md5="69ca8762b2fe404d9b9bad1103e97832",
                unpack="unzip",
                remote="05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
            ),
        ),
    ),
}

_CHUNK = 1 << 16


def _digests(path: Path) -> dict[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _mismatch(spec: RemoteFile, path: Path) -> str | None:
    """Why `path` is not `spec`'s file, or `None` when size and checksums match."""
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"{size} bytes, expected {spec.size}"
    found = _digests(path)
    for kind in ("sha256", "md5"):
        expected = getattr(spec, kind)
        if expected is not None and found[kind] != expected.lower():
            return f"{kind} {found[kind]}, expected {expected}"
    return None


def _unpacked_ok(spec: RemoteFile, path: Path) -> bool:
    return spec.unpacked_md5 is None or _digests(path)["md5"] == spec.unpacked_md5


def _download(url: str, part: Path, timeout: float) -> None:
    """Stream `url` into `part`; `DownloadError` for HTTP errors and short bodies."""
    received, expected = 0, None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:
            expected = response.headers.get("Content-Length")
            while block := response.read(_CHUNK):
                out.write(block)
                received += len(block)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DownloadError(f"{url}: cannot connect ({e.reason})") from None
    except http.client.IncompleteRead as e:
        got = received + len(e.partial)
        raise DownloadError(f"{url}: connection closed after {got} bytes (truncated)") from None
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"{url}: download failed ({e})") from None
    if expected is not None and received != int(expected):
        raise DownloadError(f"{url}: received {received} of {expected} bytes (truncated)")


def _gunzip(src: Path, dst: Path) -> None:
    try:
        with gzip.open(src, "rb") as f_in, dst.open("wb") as f_out:
            shutil.copyfileobj(f_in, f_out, _CHUNK)
    except (OSError, EOFError) as e:
        dst.unlink(missing_ok=True)
        raise DownloadError(f"{src.name}: not a complete gzip file ({e})") from None


def _unzip(archive: Path, name: str, folder: Path, marker: Path, md5: str | None) -> None:
    """Extract `archive` (`name` on the server) into `folder` through a hidden staging
    folder, then write `marker`.

    The staging folder is moved entry by entry into place, so an interrupted extraction
    leaves only `.<name>.staging` (removed by the next attempt) and no marker.
    """
    staging = folder / f".{name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as z:
            bad = z.testzip()
            if bad is not None:
                raise DownloadError(f"{folder / name}: member {bad} is corrupt")
            for member in z.namelist():
                target = (staging / member).resolve()
                if not target.is_relative_to(staging.resolve()):
                    raise DownloadError(f"{folder / name}: member {member} leaves the folder")
            z.extractall(staging)
    except zipfile.BadZipFile as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(f"{folder / name}: not a complete zip file ({e})") from None
    except DownloadError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for entry in staging.iterdir():
        destination = folder / entry.name
        if destination.is_dir():
            shutil.rmtree(destination)
        os.replace(entry, destination)
    staging.rmdir()
    marker.write_text((md5 or "") + "\n")


def fetch_file(
    spec: RemoteFile, base_urls: Sequence[str], folder: Path, *, timeout: float = 60.0
) -> tuple[Path, str]:
    """Download one file into `folder` unless a verified copy is there.

    Tries each base URL in turn. The download goes to `.<name>.part` and is renamed
    only after its size and checksums match (and, for `unpack="gunzip"`, after it
    decompressed completely), so no partial file ever carries the final name.

    **Arguments:**

    - `spec`: the file; `base_urls`: URL prefixes (`base + spec.name`).
    - `folder`: destination (created).
    - `timeout`: seconds to wait for the server.

    **Returns:** `(path, status)` with status `"present"` or `"downloaded"`.

    **Raises:** `DownloadError` (a `ValueError`) naming the file and every failed
    attempt: HTTP error, truncation, or a checksum that does not match.
    """
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / spec.local_name
    if spec.unpack is None and final.is_file() and _mismatch(spec, final) is None:
        return final, "present"
    if spec.unpack == "gunzip" and final.is_file() and _unpacked_ok(spec, final):
        return final, "present"
    if spec.unpack == "unzip" and final.is_file():
        if final.read_text().strip() == (spec.md5 or ""):
            return final, "present"
    part = folder / f".{spec.name}.part"
    failures = []
    for base in base_urls:
        url = base.rstrip("/") + "/" + (spec.remote or spec.name)
        try:
            _download(url, part, timeout)
            why = _mismatch(spec, part)
            if why is not None:
                raise DownloadError(f"{url}: {why} (corrupt download, removed)")
        except DownloadError as e:
            part.unlink(missing_ok=True)
            failures.append(str(e))
            continue
        if spec.unpack == "gunzip":
            unpacked = folder / f".{spec.local_name}.part"
            try:
                _gunzip(part, unpacked)
            finally:
                part.unlink(missing_ok=True)
            if not _unpacked_ok(spec, unpacked):
                unpacked.unlink()
                raise DownloadError(f"{final}: md5 of the unpacked file is not {spec.unpacked_md5}")
            os.replace(unpacked, final)
        elif spec.unpack == "unzip":
            try:
                _unzip(part, spec.name, folder, final, spec.md5)
            finally:
                part.unlink(missing_ok=True)
        else:
            os.replace(part, final)
        return final, "downloaded"
    raise DownloadError(f"{final}: could not be fetched: " + "; ".join(failures))


def fetch_dataset(
    name: str,
    data_dir: str | os.PathLike,
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    report: Callable[[str], None] | None = None,
) -> Path:
    """Download a dataset into `data_dir/<folder>` in the layout its reader expects.

    **Arguments:**

    - `name`: one of `DATASETS` (`mnist`, `fashion_mnist`, `shd`, `nmnist`).
    - `data_dir`: the data directory (what `--data-dir` / `BRAINSIM_DATA` name later).
    - `base_url`: a mirror to use instead of the publisher's (files at `base_url/<name>`).
    - `timeout`: seconds to wait for the server.
    - `report`: called with one line per file (e.g. `print`).

    **Returns:** the dataset's folder.

    **Raises:** `ValueError` for an unknown name; `DownloadError` naming the file
    when a download fails or does not match its published checksum.
    """
    if name not in DATASETS:
        raise ValueError(f"name: unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    dataset = DATASETS[name]
    folder = Path(data_dir) / dataset.folder
    mirrors = (base_url,) if base_url is not None else dataset.mirrors
    for spec in dataset.files:
        if base_url is not None:  # a mirror holds the files under their own names
            spec = dataclasses.replace(spec, remote=None)
        path, status = fetch_file(spec, mirrors, folder, timeout=timeout)
        if report is not None:
            report(f"{path}: {status}, checksum ok")
    return folder
