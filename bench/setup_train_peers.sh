#!/usr/bin/env bash
# Creates (or completes) the virtual environments of the training-throughput peers for
# `python bench/train_throughput.py --peers` (never our dependencies):
#
# - snnTorch: Python 3.11, torch 2.13.0 CPU build and snntorch, in
#   ${BRAINSIM_BENCH_VENV311:-/tmp/brainsim-bench/venv311} (may be shared with other
#   torch peers; an existing venv only gets what it lacks). Pin exactly
#   `torch==2.13.0`: the local CPU wheel `2.13.0+cpu` satisfies it, while an unpinned
#   `torch` would pull the multi-GB CUDA build.
# - spyx: Python 3.11 and spyx (JAX), in ${BRAINSIM_BENCH_VENV_SPYX:-/tmp/brainsim-bench/venv-spyx}.
#
# BrainPy's venv is made by bench/setup_peers.sh.
set -euo pipefail
VENV311="${BRAINSIM_BENCH_VENV311:-/tmp/brainsim-bench/venv311}"
VENV_SPYX="${BRAINSIM_BENCH_VENV_SPYX:-/tmp/brainsim-bench/venv-spyx}"

find_python311() {
  local cand
  if [ -n "${PYTHON311:-}" ]; then echo "$PYTHON311"; return; fi
  # a python3.11 that runs (a pyenv shim may exist and still fail)
  for cand in "$(command -v python3.11 || true)" "$HOME"/.pyenv/versions/3.11*/bin/python3.11; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "" 2>/dev/null; then echo "$cand"; return; fi
  done
  echo "setup_train_peers: Python 3.11 not found (set PYTHON311)" >&2
  exit 1
}

make_venv() {  # make_venv DIR: a Python 3.11 venv at DIR unless one is there
  if [ ! -x "$1/bin/python" ]; then
    local py
    py="$(find_python311)"
    mkdir -p "$(dirname "$1")"
    "$py" -m venv "$1"
    "$1/bin/pip" install -q --upgrade pip
  fi
}

if ! "$VENV311/bin/python" -c "import torch, snntorch" 2>/dev/null; then
  make_venv "$VENV311"
  "$VENV311/bin/pip" install -q torch==2.13.0 snntorch
fi
"$VENV311/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
echo "$VENV311"

if ! "$VENV_SPYX/bin/python" -c "import spyx" 2>/dev/null; then
  make_venv "$VENV_SPYX"
  "$VENV_SPYX/bin/pip" install -q spyx
fi
echo "$VENV_SPYX"
