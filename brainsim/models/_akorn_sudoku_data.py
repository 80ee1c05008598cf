"""Sudoku puzzles generated locally: random complete grids, cells removed while the
solution stays unique (checked by an exact solver), all from a seed."""

import numpy as np

_UNITS = [[r * 9 + c for c in range(9)] for r in range(9)]  # rows, then columns, boxes
_UNITS += [[r * 9 + c for r in range(9)] for c in range(9)]
_UNITS += [
    [(br * 3 + r) * 9 + bc * 3 + c for r in range(3) for c in range(3)]
    for br in range(3)
    for bc in range(3)
]
_ALL = 0x3FE  # bits 1..9


def _peers_of(cell: int) -> tuple[int, int, int]:
    r, c = divmod(cell, 9)
    return r, c, (r // 3) * 3 + c // 3


_PEERS = [_peers_of(i) for i in range(81)]


def solve_sudoku(grid, *, limit: int = 2, rng: np.random.Generator | None = None):
    """Search the solutions of a 9 x 9 Sudoku (0 = blank), up to `limit` of them.

    Depth-first search on the cell with the fewest candidates (bitmasks).

    **Arguments:**

    - `grid`: 81 digits (or a 9 x 9 array), 0 for a blank.
    - `limit`: stop after this many solutions.
    - `rng`: a NumPy generator to shuffle the candidate order (random complete grids).

    **Returns:** `(count, first)`: the number of solutions found (at most `limit`) and
    the first one as a `(9, 9)` int array (`None` when there is none).

    ```python
    >>> count, first = solve_sudoku([0] * 81, limit=1)
    >>> count, sorted(first[0].tolist())
    (1, [1, 2, 3, 4, 5, 6, 7, 8, 9])

    ```
    """
    g = [int(v) for v in np.asarray(grid).reshape(81)]
    rows, cols, boxes = [0] * 9, [0] * 9, [0] * 9
    for i, v in enumerate(g):
        if v:
            r, c, b = _PEERS[i]
            bit = 1 << v
            if (rows[r] | cols[c] | boxes[b]) & bit:
                return 0, None
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
    blanks = [i for i in range(81) if not g[i]]
    found: list[list[int]] = []

    def search() -> None:
        best, best_mask, best_n = -1, 0, 10
        for i in blanks:
            if g[i]:
                continue
            r, c, b = _PEERS[i]
            mask = _ALL & ~(rows[r] | cols[c] | boxes[b])
            n = bin(mask).count("1")
            if n < best_n:
                best, best_mask, best_n = i, mask, n
                if n <= 1:
                    break
        if best < 0:
            found.append(list(g))
            return
        if best_n == 0:
            return
        digits = [d for d in range(1, 10) if best_mask >> d & 1]
        if rng is not None:
            rng.shuffle(digits)
        r, c, b = _PEERS[best]
        for d in digits:
            bit = 1 << d
            g[best] = d
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            search()
            rows[r] &= ~bit
            cols[c] &= ~bit
            boxes[b] &= ~bit
            g[best] = 0
            if len(found) >= limit:
                return

    search()
    first = np.array(found[0], np.int32).reshape(9, 9) if found else None
    return len(found), first


def is_valid_solution(grid) -> bool:
    """Whether a `(9, 9)` grid holds 1..9 exactly once in every row, column and box."""
    flat = np.asarray(grid).reshape(81)
    return all(sorted(flat[u].tolist()) == list(range(1, 10)) for u in _UNITS)


def make_puzzle(rng: np.random.Generator, givens: int) -> tuple[np.ndarray, np.ndarray]:
    """One puzzle with a unique solution and as close to `givens` clues as removal reaches.

    A random complete grid; cells are blanked in a random order, each kept blank only if
    the solution stays unique, until `givens` clues remain or no cell can go (a minimal
    puzzle, which usually has 22-27 clues).

    **Returns:** `(puzzle, solution)`, `(9, 9)` int arrays (0 = blank in the puzzle).
    """
    _, solution = solve_sudoku(np.zeros(81, np.int32), limit=1, rng=rng)
    if solution is None:  # cannot happen: the empty grid has solutions
        raise RuntimeError("make_puzzle: no complete grid found")
    puzzle = solution.reshape(81).copy()
    n_given = 81
    for cell in rng.permutation(81):
        if n_given <= givens:
            break
        keep = puzzle[cell]
        puzzle[cell] = 0
        if solve_sudoku(puzzle, limit=2)[0] != 1:
            puzzle[cell] = keep
        else:
            n_given -= 1
    return puzzle.reshape(9, 9), solution


def make_sudoku_set(
    n: int, *, min_givens: int, max_givens: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`n` puzzles with unique solutions, the target number of clues drawn uniformly
    from `[min_givens, max_givens]` (the reached number can exceed a target below what
    removal reaches).

    **Returns:** `(puzzles, solutions)`, int8 arrays `(n, 9, 9)`.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 17 <= min_givens <= max_givens <= 81:
        raise ValueError(
            f"min_givens, max_givens must satisfy 17 <= min <= max <= 81, got "
            f"{min_givens}, {max_givens}"
        )
    rng = np.random.default_rng(seed)
    puzzles = np.zeros((n, 9, 9), np.int8)
    solutions = np.zeros((n, 9, 9), np.int8)
    for k in range(n):
        target = int(rng.integers(min_givens, max_givens + 1))
        puzzles[k], solutions[k] = make_puzzle(rng, target)
    return puzzles, solutions
