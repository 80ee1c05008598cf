"""Dataset readers: the real files in $BRAINSIM_DATA, and broken files written here."""

import gzip
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from brainsim.data import (
    load_fashion_mnist,
    load_mnist,
    load_nmnist,
    load_shd,
    load_ssc,
    nmnist_channels,
    read_idx,
    read_nmnist_events,
    resolve_data_dir,
)

# Class counts from ../shared/data/README.md (MNIST) and the Fashion-MNIST paper (balanced).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def data_root():
    root = os.environ.get("BRAINSIM_DATA")
    if not root:
        pytest.skip("BRAINSIM_DATA is not set (point it at ../shared/data)")
    if not Path(root).is_dir():
        pytest.skip(f"BRAINSIM_DATA={root} is not a directory")
    return Path(root)


def test_mnist_real(data_root):
    x, y = load_mnist(split="train")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == MNIST_TRAIN_COUNTS
    x, y = load_mnist(data_root / "mnist", split="test")
    assert x.shape == (10000, 28, 28)
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS
    # Pixel mean over the test set: 0.1325 of 255 (train is the familiar 0.1307).
    assert abs(x.mean() / 255 - 0.1325) < 1e-3


def test_fashion_mnist_real(data_root):
    x, y = load_fashion_mnist(data_root, split="test")
    assert x.shape == (10000, 28, 28)
    assert np.bincount(y).tolist() == [1000] * 10
    x, y = load_fashion_mnist(split="train")
    assert x.shape == (60000, 28, 28) and np.bincount(y).tolist() == [6000] * 10
    # README: pixel mean and std over train are 0.2860 and 0.3530 of 255
    assert abs(x.mean() / 255 - 0.2860) < 5e-4 and abs(x.std() / 255 - 0.3530) < 5e-4


def test_nmnist_real(data_root):
    events, labels = load_nmnist(split="test")
    assert len(events) == 100 == labels.size
    mnist_test_labels = load_mnist(split="test")[1]
    np.testing.assert_array_equal(labels, mnist_test_labels[:100])  # README: same order
    train_events, train_labels = load_nmnist(data_root, split="train")
    assert len(train_events) == 1000
    np.testing.assert_array_equal(train_labels, load_mnist(split="train")[1][:1000])
    sizes = [e.size for e in train_events + events]
    assert min(sizes) == 1069 and max(sizes) == 7152  # README: 1,069 to 7,152 events
    assert abs(np.mean(sizes) - 4100) < 50  # README: mean about 4,100
    for ev in train_events[:50]:
        assert np.all(np.diff(ev["t"]) >= 0)
        assert ev["x"].max() <= 33 and ev["y"].max() <= 33
        assert 250_000 < ev["t"][-1] < 350_000  # about 0.3 s
    channels, n = nmnist_channels(train_events[0])
    assert n == 2 * 34 * 34 and channels.max() < n


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _write_mnist(folder, n=5, labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), 2051)
    labels = np.arange(n) % 10 if labels is None else labels
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.asarray(labels), 2049)


def test_idx_written_roundtrip(tmp_path):
    _write_mnist(tmp_path / "mnist", n=7)
    x, y = load_mnist(tmp_path, split="test")
    assert x.shape == (7, 28, 28) and y.tolist() == list(range(7))


def test_idx_truncated_gzip(tmp_path):
    _write_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*gzip"):
        load_mnist(tmp_path, split="test")


def test_idx_wrong_size(tmp_path):
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:
        f.write((2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (2, 28, 28)))
        f.write(bytes(28 * 28))  # one image for a header of two
    with pytest.raises(ValueError, match=r"x\.gz: 800 bytes, expected 1584"):
        read_idx(path)


def test_idx_wrong_magic(tmp_path):
    _write_mnist(tmp_path)
    os.replace(tmp_path / "t10k-labels-idx1-ubyte.gz", tmp_path / "t10k-images-idx3-ubyte.gz")
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5), 2049)
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        load_mnist(tmp_path, split="test")


def test_idx_label_out_of_range(tmp_path):
    _write_mnist(tmp_path, labels=np.array([0, 1, 12, 3, 4]))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: label 12 out of range"):
        load_mnist(tmp_path, split="test")


def test_missing_files_and_dirs(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz: file not found"):
        load_mnist(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_fashion_mnist(tmp_path / "nowhere")
    monkeypatch.delenv("BRAINSIM_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="BRAINSIM_DATA"):
        resolve_data_dir(None)
    with pytest.raises(ValueError, match="split: must be one of"):
        load_mnist(tmp_path, split="validation")
    with pytest.raises(FileNotFoundError, match="no N-MNIST train data"):
        load_nmnist(tmp_path)


def _nmnist_bytes(x, y, p, t):
    rows = np.stack([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    return rows.astype(np.uint8).tobytes()


def test_nmnist_decoding_and_truncation(tmp_path):
    t = np.array([0, 255, 65_536, 8_388_607])  # up to the largest 23-bit value
    raw = _nmnist_bytes(np.array([0, 33, 5, 7]), np.array([1, 2, 33, 0]), np.array([1, 0, 1, 0]), t)
    (tmp_path / "1.bs2").write_bytes(raw)
    (tmp_path / "train1K.txt").write_text("#sample #class\n1\t4\n")
    events, labels = load_nmnist(tmp_path)
    ev = events[0]
    assert ev["t"].tolist() == t.tolist() and ev["p"].tolist() == [1, 0, 1, 0]
    assert ev["x"].tolist() == [0, 33, 5, 7] and labels.tolist() == [4]
    (tmp_path / "1.bs2").write_bytes(raw[:-2])
    with pytest.raises(ValueError, match=r"1\.bs2: 18 bytes, expected a multiple of 5"):
        load_nmnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="2.bin: file not found"):
        read_nmnist_events(tmp_path / "2.bin")
    (tmp_path / "1.bs2").write_bytes(raw)
    (tmp_path / "train1K.txt").write_text("1\t11\n")
    with pytest.raises(ValueError, match="label 11 out of range"):
        load_nmnist(tmp_path)


def _write_shd(path, times, units, labels):
    with h5py.File(path, "w") as f:
        vf = h5py.vlen_dtype(np.float32)
        vu = h5py.vlen_dtype(np.uint16)
        t = f.create_dataset("spikes/times", (len(times),), dtype=vf)
        u = f.create_dataset("spikes/units", (len(units),), dtype=vu)
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i], u[i] = ti, ui
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))


def test_shd_reader(tmp_path):
    times = [np.array([0.01, 0.2, 0.5], np.float32), np.array([0.3], np.float32)]
    units = [np.array([0, 699, 3]), np.array([42])]
    (tmp_path / "shd").mkdir()
    _write_shd(tmp_path / "shd" / "shd_test.h5", times, units, [19, 0])
    t, u, y = load_shd(tmp_path, split="test")
    assert len(t) == 2 and y.tolist() == [19, 0]
    np.testing.assert_allclose(t[0], [0.01, 0.2, 0.5], rtol=1e-6)
    assert u[0].tolist() == [0, 699, 3] and u[1].tolist() == [42]
    _write_shd(tmp_path / "ssc_valid.h5", times, units, [34, 35])
    with pytest.raises(ValueError, match="ssc_valid.h5: label out of range 0..34"):
        load_ssc(tmp_path, split="valid")
    _write_shd(tmp_path / "shd" / "shd_train.h5", times, [np.array([0, 700, 3]), units[1]], [1, 2])
    with pytest.raises(ValueError, match="shd_train.h5: sample 0 has a unit outside"):
        load_shd(tmp_path)
    (tmp_path / "shd" / "shd_train.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="shd_train.h5: not a readable HDF5 file"):
        load_shd(tmp_path)
