#!/usr/bin/env bash
# The one script to run on a GPU machine (DEVELOPERS' brief): the cuda-marked tests, then the GPU
# benchmark; both outputs under ${OUT:-gpu-out}/. Needs CuPy and PyTorch with CUDA.
set -uo pipefail
out="${OUT:-gpu-out}"
mkdir -p "$out"
python -m pip install -q -e . --no-deps 2>&1 | tail -1
python -m pytest -q -m cuda tests/ 2>&1 | tee "$out/cuda-tests.txt" | tail -30
python benchmarks/gpu.py --json "$out/gpu.json" 2>&1 | tee "$out/gpu-benchmark.txt"
