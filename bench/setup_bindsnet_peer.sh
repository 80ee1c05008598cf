#!/usr/bin/env bash
# Adds BindsNET 0.3.4 to the torch peers' venv for `python -m bench.stdp_speed --peers`
# (never our dependency): ${BRAINSIM_BENCH_VENV311:-/tmp/brainsim-bench/venv311}, made
# by bench/setup_train_peers.sh (Python 3.11, torch 2.13.0 CPU build); run that first.
#
# BindsNET 0.3.4 asks for torch >= 2.14 and torchvision >= 0.29 but runs on the venv's
# torch 2.13.0, so it goes in with --no-deps. The benchmark imports only its network,
# learning, model and encoding subpackages (bench/peers/stdp_bindsnet.py skips
# `bindsnet/__init__.py`, which imports every subpackage and so needs torchvision,
# gymnasium + ale-py, OpenCV, matplotlib, pandas, scikit-learn/-image and tensorboardX);
# of its requirements those need only numpy and scipy. Installing the rest would not
# work here anyway: the only torchvision for torch 2.13 on the package index is the CUDA
# build, which fails to load next to the CPU torch. `torch==2.13.0` is pinned on the
# command line so pip keeps the local CPU wheel `2.13.0+cpu`.
set -euo pipefail
VENV311="${BRAINSIM_BENCH_VENV311:-/tmp/brainsim-bench/venv311}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -x "$VENV311/bin/python" ]; then
  echo "setup_bindsnet_peer: no venv at $VENV311; run bench/setup_train_peers.sh first" >&2
  exit 1
fi
ready="import scipy; from importlib.metadata import version; assert version('bindsnet') == '0.3.4'"
if ! "$VENV311/bin/python" -c "$ready" 2>/dev/null; then
  "$VENV311/bin/pip" install -q torch==2.13.0 "numpy>=2,<3" "scipy>=1,<2"
  "$VENV311/bin/pip" install -q --no-deps bindsnet==0.3.4
fi
"$VENV311/bin/python" - "$HERE/peers" <<'EOF'
import sys
from importlib.metadata import version

import torch

sys.path.insert(0, sys.argv[1])
import stdp_bindsnet

stdp_bindsnet._import_bindsnet()  # DiehlAndCook2015, Monitor, PoissonEncoder load
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert version("bindsnet") == "0.3.4", version("bindsnet")
EOF
echo "$VENV311"
