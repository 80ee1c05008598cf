"""A batching iterator on numpy: seeded shuffling, background prefetch, padding."""

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


def pad_sequences(
    seqs: Sequence[np.ndarray], *, max_len: int | None = None, pad_value: float = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length arrays along a new batch axis, padding the first axis.

    **Arguments:**

    - `seqs`: arrays of shapes `(L_i, ...)` with equal trailing shapes.
    - `max_len`: pad (or cut) to this length; default the longest.
    - `pad_value`: value of the padding.

    **Returns:** `(padded, mask)`: `(B, max_len, ...)` and bool `(B, max_len)`, True on
    real entries.

    >>> x, m = pad_sequences([np.array([1, 2, 3]), np.array([4])])
    >>> x.tolist(), m.tolist()
    ([[1, 2, 3], [4, 0, 0]], [[True, True, True], [True, False, False]])
    """
    if not seqs:
        raise ValueError("seqs: empty")
    length = max(len(s) for s in seqs) if max_len is None else max_len
    first = np.asarray(seqs[0])
    out = np.full((len(seqs), length, *first.shape[1:]), pad_value, first.dtype)
    mask = np.zeros((len(seqs), length), bool)
    for i, s in enumerate(seqs):
        s = np.asarray(s)[:length]
        out[i, : len(s)] = s
        mask[i, : len(s)] = True
    return out, mask


def _take(field: Any, idx: np.ndarray) -> Any:
    if isinstance(field, np.ndarray):
        return field[idx]
    return [field[i] for i in idx]


class DataLoader:
    """Batches of numpy arrays, shuffled by `(seed, epoch)`, prefetched by a thread.

    The order of epoch `e` depends only on `(seed, e)`, so a run resumed at any step
    sees the same batches as an uninterrupted one.

    **Arguments:**

    - `data`: a tuple of fields with the same length `N`: numpy arrays (indexed along
      axis 0) or lists (e.g. ragged event arrays, gathered into lists).
    - `batch_size`: samples per batch (at most `N`).
    - `shuffle`: shuffle each epoch; `seed`: the shuffling seed.
    - `drop_last`: drop the final short batch (keeps one compiled shape).
    - `collate`: optional function applied to each batch tuple (e.g. to pad lists with
      `pad_sequences`, or to encode images as spikes).
    - `prefetch`: batches prepared ahead by the background thread (0: no thread).
    """

    def __init__(
        self,
        data: tuple[Any, ...],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        collate: Callable[..., Any] | None = None,
        prefetch: int = 2,
    ):
        data = tuple(data)
        if not data:
            raise ValueError("data: no fields given")
        sizes = {len(f) for f in data}
        if len(sizes) != 1:
            raise ValueError(f"data: fields of different lengths {sorted(sizes)}")
        n = sizes.pop()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: must be a positive integer, got {batch_size!r}")
        if batch_size > n:
            raise ValueError(f"batch_size: {batch_size} is larger than the dataset ({n} samples)")
        if prefetch < 0:
            raise ValueError(f"prefetch: must be >= 0, got {prefetch}")
        self.data = data
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.collate = collate
        self.prefetch = prefetch

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self, epoch: int) -> np.ndarray:
        """The sample order of `epoch` (a permutation when shuffling)."""
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def _batch(self, idx: np.ndarray) -> Any:
        batch = tuple(_take(f, idx) for f in self.data)
        return self.collate(*batch) if self.collate is not None else batch

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Any]:
        """Iterate over the batches of `epoch`, beginning at batch index `start`."""
        order = self.order(epoch)
        bounds = [
            (i * self.batch_size, min((i + 1) * self.batch_size, self.n)) for i in range(len(self))
        ]
        indices = [order[a:b] for a, b in bounds[start:]]
        if self.prefetch == 0:
            return (self._batch(idx) for idx in indices)
        return self._prefetched(indices)

    def _prefetched(self, indices: list[np.ndarray]) -> Iterator[Any]:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def work():
            try:
                for idx in indices:
                    item = (True, self._batch(idx))
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put((True, done))
            except BaseException as e:  # handed to the consumer, raised there
                q.put((False, e))

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while True:
                ok, item = q.get()
                if not ok:
                    raise item
                if item is done:
                    return
                yield item
        finally:
            stop.set()
            thread.join(timeout=1.0)

    def __iter__(self) -> Iterator[Any]:
        """The batches of epoch 0."""
        return self.epoch(0)
