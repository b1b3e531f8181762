#!/usr/bin/env bash
# The one script to run on a lent GPU machine, in under 5 minutes (each stage has a time limit):
# `netlab doctor`, the cuda-marked tests, then benchmarks/gpu.py --json with the kernel variants
# and the graph-vs-eager sweep. Everything it prints also lands in ${OUT:-gpu-out}/. Needs CuPy
# (and numpy, pytest); typer/rich for the CLI and PyTorch with CUDA for its benchmark rows are
# used when present. Works offline: it installs nothing from a registry.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-out}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, log to $out/NAME.txt
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most ${limit}s)"
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    tail -40 "$out/$name.txt"
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=1
}

# The CLI is the package netlab.cli (the cli/ folder): importable once netlab is installed. Where
# pip cannot install it offline, a sitecustomize on PYTHONPATH maps netlab.cli to cli/ for this
# run and its subprocesses.
if ! python -c "import netlab.cli" > /dev/null 2>&1; then
    if ! python -m pip install -q --no-deps --no-build-isolation -e . > "$out/install.txt" 2>&1; then
        shim="$out/.netlab-shim"
        mkdir -p "$shim"
        printf 'import os, netlab\nnetlab.__path__.append(%s)\n' "'$PWD'" > "$shim/sitecustomize.py"
        export PYTHONPATH="$shim:$PYTHONPATH"
    fi
fi
if python -c "import netlab.cli" > /dev/null 2>&1; then
    stage doctor 60 python -c "from netlab.cli import main; raise SystemExit(main(['doctor']))"
    python -c "from netlab.cli import main; main(['doctor', '--json'])" > "$out/doctor.json" 2>&1
else  # typer or rich missing: the library's report as JSON
    stage doctor 60 python -c "import json; from netlab.cuda.doctor import diagnose
found = diagnose('cuda').as_dict(); print(json.dumps(found, indent=2))
raise SystemExit(0 if found['ok'] else 1)"
fi
stage cuda-tests 120 python -m pytest -q -m cuda -p no:cacheprovider \
    --continue-on-collection-errors tests/
stage gpu-benchmark 150 python benchmarks/gpu.py --epochs 5 --variants --sweep \
    --json "$out/gpu.json"
exit $status
