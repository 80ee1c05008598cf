#!/usr/bin/env bash
# Creates the peers' virtual environment for `python -m bench` (never our dependency):
# BrainPy 2.9.0 (needs Python >= 3.12) and Brian2 2.11.0 (needs >= 3.13), with numba,
# brainevent's CPU kernel backend, which BrainPy does not pull in by itself.
set -euo pipefail
VENV="${BRAINSIM_BENCH_VENV:-/tmp/brainsim-bench/venv}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import brainpy, brian2, numba" 2>/dev/null; then
  echo "$VENV"; exit 0
fi
PY="${PYTHON313:-}"
if [ -z "$PY" ]; then  # a python3.13 that runs (a pyenv shim may exist and still fail)
  for cand in "$(command -v python3.13 || true)" "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "" 2>/dev/null; then PY="$cand"; break; fi
  done
fi
if [ -z "$PY" ]; then
  echo "setup_peers: Python 3.13 not found (set PYTHON313)" >&2; exit 1
fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q brainpy==2.9.0 brian2==2.11.0 numba
echo "$VENV"
