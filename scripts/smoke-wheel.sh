#!/usr/bin/env bash
# netlab as a user installs it: build the sdist and, from it, the wheel; install the wheel with the
# plots and onnx extras into a fresh venv outside the checkout; run every command once there, from
# an empty directory, on the shipped sample (the presets by name, reproduce on 1 seed x 1 epoch).
# Usage: scripts/smoke-wheel.sh [PYTHON]   (PYTHON has `build`, from the dev extra; `make test` runs it)
set -euo pipefail
python=$(realpath -s "${1:-.venv/bin/python}")  # -s: a venv's python is a symlink
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/netlab-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { printf '\n== wheel smoke test: %s\n' "$*"; }
quietly() { # run "$@" with its output in a log that is shown only if it fails
  "$@" >"$work/log" 2>&1 || { cat "$work/log"; echo "failed: $*" >&2; exit 1; }
}

step "build the sdist, then the wheel from it"
# from a copy of the files git tracks (or would), so nothing ignored goes in and nothing is written
# into the checkout (building an sdist leaves an egg-info beside pyproject.toml)
mkdir "$work/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ]; then cp --parents -- "$f" "$work/src/"; fi
done)
quietly "$python" -m build --outdir "$work/dist" "$work/src"
tail -n 1 "$work/log"
"$python" - "$work"/dist/*.whl <<'EOF'
import sys, zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
presets = [n for n in names if n.startswith("netlab/configs/") and n.endswith(".toml")]
assert "netlab/configs/experiments/paper/regularization.toml" in presets, presets
assert any(n.startswith("netlab/cli/") for n in names) and not any(n.startswith(("cli/", "configs/", "tests/")) for n in names)
print(f"wheel: {len(names)} files, {len(presets)} presets under netlab/configs/")
EOF

step "install the wheel with its plots and onnx extras into a fresh venv"
"$python" -m venv "$work/venv"
wheel=$(ls "$work"/dist/*.whl)
quietly "$work/venv/bin/python" -m pip install --disable-pip-version-check "$wheel[plots,onnx]"
netlab=$work/venv/bin/netlab
mkdir "$work/empty" && cd "$work/empty"
"$work/venv/bin/python" -c 'import netlab, sys; print(f"netlab {netlab.__version__} from {netlab.__file__}"); sys.exit("imported from the checkout" if sys.argv[1] in netlab.__file__ else 0)' "$root"

run() { printf '\n$ netlab %s\n' "$*"; "$netlab" "$@"; }
run --version
run config list
run train -c paper --data sample --epochs 2 --out run -q
run eval run/model.npz
run gradcheck --sizes 784,16,10 --max-entries 20
run export run/model.npz run/model.onnx
cat >experiment.toml <<'EOF'
name = "smoke"
base = "paper"  # a preset, by name
seeds = 1
[overrides]
training = { epochs = 1 }
data = { source = "sample" }
[grid]
training = { l2 = [0.0] }
EOF
run experiment experiment.toml --out sweep -q
run plot sweep --out sweep.png
# reproduce: the installed experiment files, cut to 1 seed x 1 epoch on the sample
cp -r "$("$work/venv/bin/python" -c 'from netlab.presets import presets_dir; print(presets_dir())')" study
for f in study/experiments/{paper,corrected}/*.toml; do
  sed -i 's/^seeds = .*/seeds = 1/' "$f"
  printf '\n[overrides]\ntraining = { epochs = 1 }\ndata = { source = "sample" }\n' >>"$f"
done
run reproduce --experiments study/experiments --batch1-epochs 1 --workers 2 --out repro -q
test -s repro/reproduction.md
rm -r study && ls -A | tr '\n' ' ' && echo
"$work/venv/bin/python" - <<'EOF'
from netlab.experiments.study.plan import default_experiments_dir, plan_study

where = default_experiments_dir()  # what `netlab reproduce` uses here, outside any checkout
study = plan_study(where, "out")
runs = sum(map(len, study.specs.values()))
print(f"netlab reproduce here finds {where}: {len(study.experiments)} experiments, {runs} runs")
EOF
step "passed in $((SECONDS - started)) s"
