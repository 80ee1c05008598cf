#!/usr/bin/env bash
# Creates (or completes) the PyTorch peer's virtual environment for `python -m bench.dcls_speed`
# (never our dependency): Python 3.11, torch 2.13.0 CPU build and the `dcls` package
# (Khalfaoui-Hassani's Dcls1d, which the DCLS paper's code is built on). Pin exactly
# `torch==2.13.0`: the CPU wheel `2.13.0+cpu` satisfies it, while an unpinned `torch`
# would pull the much larger CUDA build. The venv may be shared with other peers (for
# example snntorch); an existing one only gets what it lacks.
set -euo pipefail
VENV="${BRAINSIM_DCLS_VENV:-/tmp/brainsim-bench/venv311}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import torch, DCLS" 2>/dev/null; then
  echo "$VENV"; exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="${PYTHON311:-}"
  if [ -z "$PY" ]; then  # a python3.11 that runs (a pyenv shim may exist and still fail)
    for cand in "$(command -v python3.11 || true)" "$HOME"/.pyenv/versions/3.11*/bin/python3.11; do
      if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "" 2>/dev/null; then PY="$cand"; break; fi
    done
  fi
  if [ -z "$PY" ]; then
    echo "setup_dcls_peer: Python 3.11 not found (set PYTHON311)" >&2; exit 1
  fi
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
"$VENV/bin/pip" install -q torch==2.13.0 dcls numpy
"$VENV/bin/python" -c "import torch, DCLS; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$VENV"
