"""Tetrominoes-like multi-object images, generated locally from a seed, with masks.

Each image is `size x size` RGB on a black background with `n_objects` tetrominoes
(four square blocks of `block` pixels joined edge to edge, in any of the 19 fixed
orientations), placed on the block grid without overlapping. Colours are drawn
independently from a palette of `n_colors` (so two objects can share a colour, as in
DeepMind's Tetrominoes); `n_colors = 1` leaves only shape and position to separate
the objects. The mask labels background 0 and the objects 1..n_objects.
"""

import numpy as np

# The seven free tetrominoes and their distinct rotations and reflections: 19 in all.
_BASE = {
    "I": [(0, 0), (0, 1), (0, 2), (0, 3)],
    "O": [(0, 0), (0, 1), (1, 0), (1, 1)],
    "T": [(0, 0), (0, 1), (0, 2), (1, 1)],
    "S": [(0, 1), (0, 2), (1, 0), (1, 1)],
    "Z": [(0, 0), (0, 1), (1, 1), (1, 2)],
    "J": [(0, 0), (1, 0), (1, 1), (1, 2)],
    "L": [(0, 2), (1, 0), (1, 1), (1, 2)],
}


def _orientations() -> list[np.ndarray]:
    shapes: set[tuple[tuple[int, int], ...]] = set()
    for cells in _BASE.values():
        a = np.array(cells)
        for _ in range(4):
            a = np.stack([a[:, 1], -a[:, 0]], 1)  # rotate by 90 degrees
            a = a - a.min(0)
            shapes.add(tuple(sorted(map(tuple, a.tolist()))))
    return [np.array(s) for s in sorted(shapes)]


TETROMINOES = _orientations()

PALETTE = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0],
        [0.0, 1.0, 1.0],
    ],
    np.float32,
)


def make_shapes(
    n: int,
    *,
    size: int = 32,
    block: int = 4,
    n_objects: int = 3,
    n_colors: int = 6,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """`n` images of `n_objects` tetrominoes with their object masks.

    **Arguments:**

    - `n`: number of images; `size`: image side (px), a multiple of `block`.
    - `block`: side of a tetromino's square (px).
    - `n_objects`: tetrominoes per image; `n_colors`: palette size (1 to 6).
    - `seed`: fixes the set.

    **Returns:** `(images, masks)`: float32 `(n, 3, size, size)` in [0, 1] and int8
    `(n, size, size)` (0 background, 1..n_objects the objects).

    ```python
    >>> images, masks = make_shapes(2, size=16, block=2, n_objects=2, seed=0)
    >>> images.shape, sorted(set(masks[0].ravel().tolist())), int((masks[0] == 1).sum())
    ((2, 3, 16, 16), [0, 1, 2], 16)

    ```
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if block < 1 or size % block or size // block < 4:
        raise ValueError(f"size must be a multiple of block with >= 4 blocks, got {size}, {block}")
    if not 1 <= n_colors <= len(PALETTE):
        raise ValueError(f"n_colors must be in 1..{len(PALETTE)}, got {n_colors}")
    grid = size // block
    if n_objects < 1 or 4 * n_objects > grid * grid // 2:
        raise ValueError(f"n_objects must be in 1..{grid * grid // 8} for a {grid}x{grid} grid")
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, size, size), np.float32)
    masks = np.zeros((n, size, size), np.int8)
    for k in range(n):
        cells = np.zeros((grid, grid), np.int8)
        placed = 0
        while placed < n_objects:
            shape = TETROMINOES[rng.integers(len(TETROMINOES))]
            extent = shape.max(0) + 1
            r0 = rng.integers(grid - extent[0] + 1)
            c0 = rng.integers(grid - extent[1] + 1)
            rows, cols = shape[:, 0] + r0, shape[:, 1] + c0
            if cells[rows, cols].any():
                continue
            placed += 1
            cells[rows, cols] = placed
            color = PALETTE[rng.integers(n_colors)]
            for r, c in zip(rows, cols, strict=True):
                sl = (slice(r * block, (r + 1) * block), slice(c * block, (c + 1) * block))
                images[k, :, sl[0], sl[1]] = color[:, None, None]
        masks[k] = np.kron(cells, np.ones((block, block), np.int8))
    return images, masks
