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
    fused = {(r["batch"], r["K"]) for r in report["fused_vs_numpy"]}  # fused against NumPy's
    assert fused == ({(1, 1), (128, 4)} if report["environment"]["compiled_loops"] else set())
    for r in report["fused_vs_numpy"]:
        a, b = r["numpy_s_per_epoch"], r["fused_s_per_epoch"]
        assert a > 0 and b > 0 and abs(r["speedup"] - a / b) < 1e-12


def test_the_table_in_docs_stacks_is_the_archived_measurement():
    """Every cell of docs/stacks.md's speed table is benchmarks/results/stacked-cpu.json's figure
    (what was measured once, not recomputed here), printed to the digits the page shows."""
    root = SCRIPT.parents[1]
    archived = json.loads((root / "benchmarks" / "results" / "stacked-cpu.json").read_text())
    page = (root / "docs" / "stacks.md").read_text(encoding="utf-8")
    kinds = {"one seed (shared batch)": "sweep", "K seeds (a batch each)": "seeds"}
    cells, ks = {}, None
    for line in page.splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if parts[:2] == ["batch", "stack of"]:
            ks = [int(p.removeprefix("K = ")) for p in parts[2:]]
        elif len(parts) > 2 and parts[1] in kinds:
            for k, cell in zip(ks, parts[2:], strict=True):
                cells[(int(parts[0]), kinds[parts[1]], k)] = cell
    results = archived["results"]
    assert ks == sorted({r["K"] for r in results}) and len(ks) >= 4
    assert len(cells) == len(results) == 4 * len(ks)
    for r in results:
        a, b = r["one_by_one_s_per_model_epoch"], r["stacked_s_per_model_epoch"]
        want = f"{a:.3f} → {b:.3f} s ({r['speedup']:.2f}×)"
        assert cells[(r["batch"], r["kind"], r["K"])] == want
    assert archived["environment"]["compiled_loops"] is True  # measured with the fused step
    for r in archived["fused_vs_numpy"]:  # quoted in the prose
        a, b = r["numpy_s_per_epoch"], r["fused_s_per_epoch"]
        assert f"{a:.3f} → {b:.3f} s ({r['speedup']:.2f}×)" in " ".join(page.split())


def test_the_study_wall_times_in_the_docs_are_the_archived_measurement():
    """docs/stacks.md and docs/performance.md quote the whole-study wall times of
    benchmarks/results/study-wall-cpu.json (measured once), to the digits they print."""
    root = SCRIPT.parents[1]
    archived = json.loads((root / "benchmarks" / "results" / "study-wall-cpu.json").read_text())
    stacked, alone = archived["stacked_wall_s"], archived["alone_wall_s"]
    assert abs(archived["speedup"] - alone / stacked) < 1e-12
    assert archived["stacked"]["run_dirs"] == archived["alone"]["run_dirs"]
    figures = (f"{stacked:.1f} s", f"{alone:.1f} s", f"{alone / stacked:.2f}×")
    for page in ("stacks.md", "performance.md"):
        text = " ".join((root / "docs" / page).read_text(encoding="utf-8").split())
        for figure in figures:
            assert figure in text, (page, figure)


def test_the_full_length_study_wall_time_in_the_docs_is_the_archived_measurement():
    """docs/stacks.md and docs/performance.md quote the full-length study's wall time of
    benchmarks/results/study-wall-cpu-full.json (measured once, stacked), in seconds and
    minutes, to the digits they print; its run directories are the whole study's."""
    root = SCRIPT.parents[1]
    path = root / "benchmarks" / "results" / "study-wall-cpu-full.json"
    archived = json.loads(path.read_text())
    capped = json.loads((root / "benchmarks" / "results" / "study-wall-cpu.json").read_text())
    wall = archived["stacked_wall_s"]
    assert archived["stacked"]["run_dirs"] == capped["stacked"]["run_dirs"]
    assert (
        sum(archived["stacked"]["run_dirs_by_stack_size"].values())
        == archived["stacked"]["run_dirs"]
    )
    figures = (f"{wall:.1f} s", f"{wall / 60:.1f} min")
    for page in ("stacks.md", "performance.md"):
        text = " ".join((root / "docs" / page).read_text(encoding="utf-8").split())
        for figure in figures:
            assert figure in text, (page, figure)
