"""The on-disk record of a sweep: `results.csv` and `progress.json`.

Each finished chunk is appended to `results.csv` (flushed to disk) and then
`progress.json` is replaced atomically with the number of runs done. A sweep killed
at any moment restarts from the last recorded chunk; rows written after it (a chunk
whose progress was not recorded) are dropped and redone.
"""

import csv
import json
import os
import tempfile
from pathlib import Path

RESULTS_CSV = "results.csv"
PROGRESS_JSON = "progress.json"


def _write_progress(out: Path, fingerprint: str, chunk: int, done: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".progress-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"fingerprint": fingerprint, "chunk": chunk, "done": done}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out / PROGRESS_JSON)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def start_output(out: Path, header: list[str], fingerprint: str, chunk: int) -> tuple[int, int]:
    """Prepare `out` for a sweep; returns `(runs already done, chunk size)`.

    A folder holding the same sweep resumes it (with its recorded chunk size); one
    holding another sweep is a `ValueError`.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    progress = out / PROGRESS_JSON
    if progress.exists():
        state = json.loads(progress.read_text())
        if state.get("fingerprint") != fingerprint:
            raise ValueError(
                f"out: {out} holds a different sweep (other parameters, seeds, model or "
                "summaries); choose another folder or delete it"
            )
        done, chunk = int(state["done"]), int(state["chunk"])
        _truncate(out / RESULTS_CSV, header, done)
        return done, chunk
    if (out / RESULTS_CSV).exists():
        raise ValueError(f"out: {out / RESULTS_CSV} exists without {PROGRESS_JSON}; delete it")
    with open(out / RESULTS_CSV, "w", newline="") as f:
        csv.writer(f).writerow(header)
    _write_progress(out, fingerprint, chunk, 0)
    return 0, chunk


def _truncate(path: Path, header: list[str], done: int) -> None:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != header or len(rows) - 1 < done:
        raise ValueError(f"out: {path} does not match its progress file; delete the folder")
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows[: done + 1])


def read_rows(out: Path, done: int) -> list[list[float]]:
    """The first `done` rows of `results.csv` as floats."""
    with open(out / RESULTS_CSV, newline="") as f:
        rows = list(csv.reader(f))[1 : done + 1]
    return [[float(x) for x in row] for row in rows]


def write_chunk(
    out: Path, rows: list[list[float]], fingerprint: str, chunk: int, done: int
) -> None:
    """Append a finished chunk's rows, then record that `done` runs are finished."""
    with open(out / RESULTS_CSV, "a", newline="") as f:
        csv.writer(f).writerows([[_fmt(x) for x in row] for row in rows])
        f.flush()
        os.fsync(f.fileno())
    _write_progress(out, fingerprint, chunk, done)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**53 else repr(float(x))
