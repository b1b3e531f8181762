"""benchmarks/stacked.py runs as documented (--quick --json) and reports what docs/stacks.md
quotes: per model-epoch times both ways, their ratio, for each K, batch and kind of stack. The
times themselves are never checked (a shared machine is noisy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stacked.py"


def test_quick_json_run_reports_every_case():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", "--repeats", "1"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    cases = {(r["batch"], r["kind"], r["K"]) for r in report["results"]}
    assert cases == {(b, kind, k) for b in (128, 1) for kind in ("sweep", "seeds") for k in (1, 4)}
    for r in report["results"]:
        a, b = r["one_by_one_s_per_model_epoch"], r["stacked_s_per_model_epoch"]
        assert a > 0 and b > 0 and abs(r["speedup"] - a / b) < 1e-12
    assert report["environment"]["peak_rss_mib"] > 0
