#!/usr/bin/env bash
# Build one notebook from a jupytext percent script: scripts/nb.sh NAME
#   scratch/NAME.py -> nbs/NAME.ipynb (with a kernelspec, so nbdev_test runs it), nbdev_clean, nbdev_export.
# NAME may have a folder, e.g. experiments/fig2. To start from a committed notebook:
#   .venv/bin/jupytext --to py:percent -o scratch/NAME.py nbs/NAME.ipynb
set -euo pipefail
cd "$(dirname "$0")/.."
src=scratch/$1.py; dst=nbs/$1.ipynb
mkdir -p "$(dirname "$dst")"
tmp=$(mktemp --suffix .ipynb)
.venv/bin/jupytext --to ipynb --set-kernel python3 -q "$src" -o "$tmp"
mv "$tmp" "$dst"
.venv/bin/nbdev_clean --fname "$dst"
if grep -q default_exp "$dst"; then .venv/bin/nbdev_export --path "$dst"; fi
