#!/usr/bin/env bash
# Set up transfertune on a fresh Debian 12 machine with Python 3.11:
# system packages (clang-19 with Polly and OpenMP, BLAS for docc's runtime, OpenBLAS for the
# library-call recipe step), a .venv at
# the repository root, and the package installed (editable) with its console script.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(clang-19 llvm-19 libomp-19-dev libpolly-19-dev libblas-dev libopenblas-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# PyTorch: the CPU build. This machine kind carries its wheel in /opt/wheels; a plain
# resolve could otherwise pull a multi-GB CUDA build.
FIND_LINKS=(); [ -d /opt/wheels ] && FIND_LINKS=(--find-links /opt/wheels)
.venv/bin/python -m pip install -q "${FIND_LINKS[@]}" "torch==2.13.0"
.venv/bin/python -m pip install -q "${FIND_LINKS[@]}" -e ".[test]"
echo "transfertune set up: $(.venv/bin/transfertune --help 2>&1 | head -1)"
