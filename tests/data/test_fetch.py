"""`brainsim data fetch`, against a loopback HTTP server (never the internet)."""

import functools
import gzip
import hashlib
import http.server
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from brainsim.cli import main
from brainsim.data import load_mnist, load_nmnist
from brainsim.data._fetch import DATASETS, DownloadError, RemoteFile, fetch_file


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; `/truncated/<name>` announces the full length but stops halfway."""

    def do_GET(self):
        if self.path.startswith("/truncated/"):
            data = (Path(self.directory) / self.path.split("/")[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def serve():
    """`serve(folder) -> base URL` of a loopback server for that folder."""
    servers = []

    def start(folder):
        handler = functools.partial(_Handler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _spec(path: Path, **kw) -> RemoteFile:
    data = path.read_bytes()
    return RemoteFile(
        path.name, len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), **kw
    )


@pytest.fixture
def remote(tmp_path):
    folder = tmp_path / "remote"
    folder.mkdir()
    (folder / "good.bin").write_bytes(bytes(range(256)) * 40)
    return folder


def test_a_good_file_is_downloaded_verified_and_then_kept(serve, remote, tmp_path):
    base, dest = serve(remote), tmp_path / "dest"
    path, status = fetch_file(_spec(remote / "good.bin"), [base], dest)
    assert (path, status) == (dest / "good.bin", "downloaded")
    assert path.read_bytes() == (remote / "good.bin").read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == ["good.bin"]  # no part file left
    assert fetch_file(_spec(remote / "good.bin"), [base], dest)[1] == "present"


def test_a_checksum_mismatch_is_refused_and_nothing_is_left(serve, remote, tmp_path):
    spec = _spec(remote / "good.bin")
    wrong = RemoteFile(spec.name, spec.size, sha256="0" * 64)
    with pytest.raises(DownloadError, match=r"good.bin: sha256 [0-9a-f]{64}, expected 0{64}"):
        fetch_file(wrong, [serve(remote)], tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_a_corrupt_local_copy_is_replaced(serve, remote, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "good.bin").write_bytes(b"not it")
    path, status = fetch_file(_spec(remote / "good.bin"), [serve(remote)], dest)
    assert status == "downloaded" and path.read_bytes() == (remote / "good.bin").read_bytes()


def test_a_truncated_download_is_detected(serve, remote, tmp_path):
    base = serve(remote) + "truncated/"
    with pytest.raises(DownloadError, match="truncated"):
        fetch_file(_spec(remote / "good.bin"), [base], tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_a_missing_file_names_the_http_error_and_the_next_mirror_is_tried(serve, remote, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = _spec(remote / "good.bin")
    with pytest.raises(DownloadError, match=r"good.bin: HTTP 404"):
        fetch_file(spec, [serve(empty)], tmp_path / "dest")
    path, status = fetch_file(spec, [serve(empty), serve(remote)], tmp_path / "dest")
    assert status == "downloaded"


def test_gunzip_unpacks_only_after_verification(serve, remote, tmp_path):
    payload = b"spikes" * 1000
    (remote / "x.h5.gz").write_bytes(gzip.compress(payload))
    spec = _spec(remote / "x.h5.gz", unpack="gunzip", unpacked_md5=hashlib.md5(payload).hexdigest())
    path, _ = fetch_file(spec, [serve(remote)], tmp_path / "dest")
    assert path.name == "x.h5" and path.read_bytes() == payload
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.h5"]


def _mnist_like(folder: Path) -> None:
    """Four small files named like MNIST's (their checksums are not MNIST's)."""
    folder.mkdir(parents=True)
    for spec in DATASETS["mnist"].files:
        (folder / spec.name).write_bytes(gzip.compress(b"\x00" * 64))


def test_cli_exits_2_with_one_line_for_a_corrupt_mirror(serve, tmp_path, capsys):
    _mnist_like(tmp_path / "mirror")
    argv = [
        "data",
        "fetch",
        "mnist",
        "--data-dir",
        str(tmp_path / "data"),
        "--url-base",
        serve(tmp_path / "mirror"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "brainsim: error:" in err
    assert "train-images-idx3-ubyte.gz" in err and "expected 9912422" in err
    assert not (tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_cli_exits_2_for_a_404_and_for_a_missing_data_dir(serve, tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    argv = [
        "data",
        "fetch",
        "shd",
        "--to",
        str(tmp_path / "d"),
        "--url-base",
        serve(tmp_path / "empty"),
    ]
    assert main(argv) == 2
    assert "shd_train.h5.gz: HTTP 404" in capsys.readouterr().err
    monkeypatch.delenv("BRAINSIM_DATA", raising=False)
    assert main(["data", "fetch", "mnist"]) == 2
    assert "--data-dir: not given" in capsys.readouterr().err
    assert main(["data", "fetch", "cifar"]) == 2  # not a known dataset: a usage error


def test_cli_fetches_real_mnist_from_a_loopback_mirror(serve, tmp_path, capsys):
    """The published checksums accept the real files (served from BRAINSIM_DATA)."""
    source = os.environ.get("BRAINSIM_DATA")
    if not source or not (Path(source) / "mnist").is_dir():
        pytest.skip("BRAINSIM_DATA is not set (or has no mnist/): no real MNIST to serve")
    argv = [
        "data",
        "fetch",
        "mnist",
        "--data-dir",
        str(tmp_path / "data"),
        "--url-base",
        serve(Path(source) / "mnist"),
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.count("checksum ok") == 4
    images, labels = load_mnist(tmp_path / "data", "test")
    assert images.shape == (10000, 28, 28) and np.bincount(labels)[0] == 980


def _nmnist_zip(path: Path, split: str) -> None:
    """A zip in the published layout: `<Split>/<class>/<id>.bin` of 5-byte events."""
    with zipfile.ZipFile(path, "w") as z:
        for label in (3, 7):
            # one event: x 2, y 5, polarity 1, t 1000 us
            event = bytes([2, 5, 0x80 | (1000 >> 16), (1000 >> 8) & 0xFF, 1000 & 0xFF])
            z.writestr(f"{split}/{label}/0000{label}.bin", event * (label + 1))


def test_unzip_extracts_the_readers_layout_only_after_verification(serve, remote, tmp_path):
    for split in ("Train", "Test"):
        _nmnist_zip(remote / f"{split}.zip", split)
    dest = tmp_path / "data" / "nmnist"
    for split in ("Train", "Test"):
        spec = _spec(remote / f"{split}.zip", unpack="unzip", remote=f"{split}.zip")
        path, status = fetch_file(spec, [serve(remote)], dest)
        assert status == "downloaded" and path.name == f".{split}.zip.unpacked"
        assert fetch_file(spec, [serve(remote)], dest)[1] == "present"
    # the archives and staging folders are gone; the reader takes the extracted folders
    assert sorted(p.name for p in dest.iterdir()) == [
        ".Test.zip.unpacked",
        ".Train.zip.unpacked",
        "Test",
        "Train",
    ]
    events, labels = load_nmnist(tmp_path / "data", split="test")
    assert sorted(labels.tolist()) == [3, 7]
    assert sorted(len(e) for e in events) == [4, 8] and events[0]["t"][0] == 1000


def test_a_corrupt_zip_is_refused_and_leaves_no_marker(serve, remote, tmp_path):
    data = b"PK\x03\x04" + b"\x00" * 100  # a zip header and nothing sound after it
    (remote / "Train.zip").write_bytes(data)
    spec = _spec(remote / "Train.zip", unpack="unzip")
    with pytest.raises(DownloadError, match="Train.zip: not a complete zip file"):
        fetch_file(spec, [serve(remote)], tmp_path / "dest")
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == []


def test_nmnist_is_listed_with_the_publishers_archives():
    files = DATASETS["nmnist"].files
    assert [f.name for f in files] == ["Train.zip", "Test.zip"]
    assert all(f.unpack == "unzip" and f.md5 and f.remote for f in files)
