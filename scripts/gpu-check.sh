#!/usr/bin/env bash
# The one script to run on a lent GPU machine; the whole of it fits in 10 minutes with the kernel
# caches empty (every command has its own time limit; the sum is under 600 s). Stages, each logged
# to ${OUT:-gpu-out}/NAME.txt with its exit code in $out/results.txt:
#   smoke (30 s): the backend's probe, one plain step and one graph step, compared;
#   doctor, doctor-json: `netlab doctor` as text and JSON;
#   cuda-tests: the cuda-marked tests, one result per test in cuda-tests.xml (JUnit) and the log;
#   gpu-benchmark: benchmarks/gpu.py once (its JSON rewritten after every section, so a section
#   cut off by the time limit leaves the others in gpu.json).
# Needs CuPy (and numpy, pytest); typer/rich for the CLI and PyTorch with CUDA for its benchmark
# rows are used when present. Works offline: it installs nothing from a registry.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-out}"
mkdir -p "$out"
: > "$out/results.txt"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Empty kernel caches, as a first run on a new machine has them (CuPy's compiled modules).
CUPY_CACHE_DIR="$(mktemp -d)"
export CUPY_CACHE_DIR
status=0

stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, log to $out/NAME.txt
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most ${limit}s)"
    local started=$SECONDS
    timeout -k 5 "$limit" "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    tail -30 "$out/$name.txt"
    echo "== $name: exit $rc ($((SECONDS - started)) s)"
    echo "$name exit=$rc seconds=$((SECONDS - started))" >> "$out/results.txt"
    [ "$rc" -eq 0 ] || status=1
    return "$rc"
}

stage smoke 30 python scripts/gpu_smoke.py
# The CLI is the package netlab.cli (the cli/ folder): importable once netlab is installed. Where
# pip cannot install it offline, a sitecustomize on PYTHONPATH maps netlab.cli to cli/ for this
# run and its subprocesses.
if ! timeout 20 python -c "import netlab.cli" > /dev/null 2>&1; then
    if ! timeout 60 python -m pip install -q --no-deps --no-build-isolation -e . \
        > "$out/install.txt" 2>&1; then
        shim="$out/.netlab-shim"
        mkdir -p "$shim"
        printf 'import os, netlab\nnetlab.__path__.append(%s)\n' "'$PWD'" > "$shim/sitecustomize.py"
        export PYTHONPATH="$shim:$PYTHONPATH"
    fi
fi
if timeout 20 python -c "import netlab.cli" > /dev/null 2>&1; then
    stage doctor 45 python -c "from netlab.cli import main; raise SystemExit(main(['doctor']))"
    stage doctor-json 45 python -c "from netlab.cli import main; main(['doctor', '--json'])"
else  # typer or rich missing: the library's report as JSON
    stage doctor 45 python -c "import json; from netlab.cuda.doctor import diagnose
found = diagnose('cuda').as_dict(); print(json.dumps(found, indent=2))
raise SystemExit(0 if found['ok'] else 1)"
fi
# The benchmark runs once, below: its cuda-marked test is left out here.
stage cuda-tests 150 python -m pytest -m cuda -p no:cacheprovider -rA \
    --continue-on-collection-errors --junitxml="$out/cuda-tests.xml" \
    --deselect tests/cuda/test_benchmark.py::test_gpu_benchmark_runs_with_the_kernel_variants \
    tests/
stage gpu-benchmark 210 python benchmarks/gpu.py --epochs 3 --variants --sweep \
    --json "$out/gpu.json"
rm -rf "$CUPY_CACHE_DIR"
exit $status
