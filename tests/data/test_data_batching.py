"""DataLoader (seeded order, coverage, prefetch, errors), padding and the array cache."""

import numpy as np
import pytest

from brainsim.data import DataLoader, cached_arrays, pad_sequences


def test_order_depends_on_seed_and_epoch_only():
    x = np.arange(23)
    a = DataLoader((x,), 5, seed=4)
    b = DataLoader((x,), 5, seed=4, prefetch=0)
    for epoch in (0, 1, 5):
        got_a = [batch[0].tolist() for batch in a.epoch(epoch)]
        got_b = [batch[0].tolist() for batch in b.epoch(epoch)]
        assert got_a == got_b
    assert a.order(0).tolist() != a.order(1).tolist()
    assert a.order(0).tolist() != DataLoader((x,), 5, seed=5).order(0).tolist()
    # starting mid-epoch gives the tail of the same epoch
    full = [batch[0].tolist() for batch in a.epoch(2)]
    assert [batch[0].tolist() for batch in a.epoch(2, start=3)] == full[3:]


def test_every_sample_once_and_fields_aligned():
    x = np.arange(23)
    y = x * 10
    loader = DataLoader((x, y), 5, seed=1)
    assert len(loader) == 5
    seen = []
    for xb, yb in loader.epoch(3):
        np.testing.assert_array_equal(yb, xb * 10)
        seen += xb.tolist()
    assert sorted(seen) == list(range(23))
    dropped = DataLoader((x, y), 5, drop_last=True)
    assert len(dropped) == 4 and all(len(b[0]) == 5 for b in dropped)


def test_ragged_fields_with_padding_collate():
    seqs = [np.arange(n, dtype=np.float32) + 1 for n in (3, 1, 4, 2)]
    labels = np.array([0, 1, 2, 3])

    def collate(events, y):
        padded, mask = pad_sequences(events)
        return padded, mask, y

    loader = DataLoader((seqs, labels), 2, shuffle=False, collate=collate)
    (p0, m0, y0), (p1, m1, y1) = list(loader)
    assert p0.tolist() == [[1, 2, 3], [1, 0, 0]]
    assert m0.tolist() == [[True, True, True], [True, False, False]]
    assert m1.sum(1).tolist() == [4, 2] and y1.tolist() == [2, 3]
    np.testing.assert_array_equal(p1[m1], np.concatenate([seqs[2], seqs[3]]))


def test_loader_errors():
    x = np.arange(10)
    with pytest.raises(ValueError, match=r"batch_size: 11 is larger than the dataset \(10 sam"):
        DataLoader((x,), 11)
    with pytest.raises(ValueError, match="fields of different lengths"):
        DataLoader((x, x[:5]), 2)

    def broken(xb):
        raise RuntimeError("bad sample")

    with pytest.raises(RuntimeError, match="bad sample"):
        list(DataLoader((x,), 2, collate=broken))


def test_cache_hit_and_miss(tmp_path):
    src = tmp_path / "source.bin"
    src.write_bytes(b"abc")
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(3.0) * len(calls)}

    kw = dict(cache_dir=tmp_path / "cache", name="demo", sources=[src])
    first = cached_arrays(compute, options={"dt": 1.0}, **kw)
    again = cached_arrays(compute, options={"dt": 1.0}, **kw)
    assert len(calls) == 1 and again["a"].tolist() == first["a"].tolist() == [0.0, 1.0, 2.0]
    cached_arrays(compute, options={"dt": 2.0}, **kw)  # other options: a miss
    assert len(calls) == 2
    src.write_bytes(b"abd")  # same size, new contents: a miss
    assert cached_arrays(compute, options={"dt": 1.0}, **kw)["a"].tolist() == [0.0, 3.0, 6.0]
    assert len(calls) == 3
    assert not list((tmp_path / "cache").glob("*.tmp"))
