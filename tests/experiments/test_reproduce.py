"""`netlab reproduce`: the study's eight experiment files end to end, on the shipped sample.

The real experiment files are copied with two overrides (1 epoch, the sample data) and 2 seeds, so
the whole pipeline (plan, dedup of identical runs, execution, tables, figures, report, resume) runs
in seconds; the full-length numbers are in docs/reproduction.md.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from netlab.errors import ConfigError
from netlab.experiments.study.plan import FIGURE1, plan_study
from netlab.experiments.study.run import reproduce

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    """configs/ copied, every experiment cut to 1 epoch on the sample with seeds [0, 1]."""
    root = tmp_path_factory.mktemp("study")
    shutil.copytree(ROOT / "configs", root / "configs")
    for path in (root / "configs" / "experiments").glob("*/*.toml"):
        text = path.read_text().replace("seeds = 5", "seeds = 2")
        text += '\n[overrides]\ntraining = { epochs = 1 }\ndata = { source = "sample" }\n'
        path.write_text(text)
    return root


@pytest.fixture(scope="module")
def reproduced(study_dir):
    report = study_dir / "docs" / "reproduction.md"
    report.parent.mkdir()
    result = reproduce(
        experiments_dir=study_dir / "configs" / "experiments",
        out_dir=study_dir / "runs",
        report=report,
        workers=2,
        batch1_epochs=1,
    )
    return result, report


def test_plan_shares_identical_runs_and_caps_batch1(study_dir):
    study = plan_study(study_dir / "configs" / "experiments", study_dir / "plan", batch1_epochs=1)
    planned = [s for specs in study.specs.values() for s in specs]
    unique = study.unique_specs()
    # The tanh 50x50 baseline is in all four experiments of each protocol: 3 copies x 2 seeds x 2.
    assert len(planned) - len(unique) == 12 and len(unique) == 76
    tanh = study.canonical[study_dir / "plan" / "paper-activations" / "tanh" / "seed0"]
    assert tanh == study_dir / "plan" / "paper-regularization" / "l2-0" / "seed0"
    batch1 = [s for s in planned if s.config.training.batch_size == 1]
    assert len(batch1) == 8 and all(s.config.training.epochs == 1 for s in batch1)
    full = plan_study(study_dir / "configs" / "experiments", study_dir / "plan")  # the default
    assert all(s.config.training.epochs == 1 for s in full.unique_specs())  # not capped further
    # Paper and corrected runs never share (different init).
    assert all(
        study.canonical[s.run_dir].parent.parent.name.split("-")[0]
        == s.run_dir.parent.parent.name.split("-")[0]
        for s in planned
    )


def test_report_has_every_figure1_number_and_plots(reproduced):
    result, report = reproduced
    text = report.read_text()
    assert result["ran"] == 76 and result["reused"] == 0 and result["copied"] == 12
    for label, loss, acc, _, _ in FIGURE1:
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"{acc:.2f}%" and cells[2] == f"{loss:.2f}"
        # validation and test, each protocol: "mean ± std" from 2 seeds
        for c in cells[3:5] + cells[7:9]:
            assert re.fullmatch(r"\d+\.\d+ ± \d+\.\d+( †)?", c), row
        for diff, verdict in ((cells[5], cells[6]), (cells[9], cells[10])):
            if diff == "baseline":
                continue
            low, high = (
                float(v) for v in re.fullmatch(r"[+-]\d+\.\d+ \[(\S+), (\S+)\]", diff).groups()
            )
            expected = (
                "better"
                if low > 0
                else "worse"
                if high < 0
                else "no difference detectable with 2 seeds"
            )
            assert verdict == expected, row  # the wording follows the interval
    assert "## The study's Figure 3: gradient check" in text
    assert text.count("| Hidden to output |") == 2
    figures = sorted((report.parent / "reproduction").glob("*.png"))
    assert len(figures) == 12 and all(f.stat().st_size > 10_000 for f in figures)
    for f in figures:
        assert f"](reproduction/{f.name})" in text
    runs = sorted((report.parent / "reproduction" / "runs").glob("*/*/seed*"))
    assert len(runs) == 88
    assert {p.name for p in runs[0].iterdir()} == {
        "metrics.json",
        "history.csv",
        "config.toml",
        "weights.json",
    }


def test_report_only_renders_the_same_report_from_the_archive(reproduced, study_dir, tmp_path):
    """The archive beside the report holds every number: with the runs gone, --report-only writes
    the same report."""
    _, report = reproduced
    before = report.read_text()
    shutil.move(study_dir / "runs", tmp_path / "runs-moved")
    try:
        again = reproduce(experiments_dir=study_dir / "configs" / "experiments",
                          out_dir=study_dir / "runs", report=report, report_only=True)  # fmt: skip
        assert again["ran"] == 0 and report.read_text() == before
        assert not (study_dir / "runs").exists()
    finally:
        shutil.move(tmp_path / "runs-moved", study_dir / "runs")


def test_shortened_mark_follows_the_runs_not_the_variant_name():
    """† marks a variant whose runs ran fewer epochs than its file asks for (capped batch-1
    runs), never a "batch 128" row (the old test matched "batch 1" inside "batch 128")."""
    from netlab.experiments.study.report import shortened
    from netlab.experiments.study.results import Record, Results

    study = plan_study(ROOT / "configs" / "experiments", ROOT / "runs" / "unused", batch1_epochs=10)
    history = lambda n: [{"epoch": e} for e in range(1, n + 1)]  # noqa: E731
    runs = {"relu, lr 1.2e-4, batch 1": [Record(0, {}, history(10))],
            "relu, lr 1.2e-2, batch 128": [Record(0, {}, history(100))],
            "tanh": [Record(0, {"stopped_early": True}, history(40))]}  # fmt: skip
    results = Results({("paper", "activations"): runs}, study.experiments)
    mark = {v: shortened(study, results, "paper", "activations", v) for v in runs}
    assert mark == {"relu, lr 1.2e-4, batch 1": " †", "relu, lr 1.2e-2, batch 128": "",
                    "tanh": ""}  # fmt: skip


def test_copied_runs_name_their_source(reproduced, study_dir):
    run = study_dir / "runs" / "corrected-depth" / "hidden-50x50" / "seed1"
    info = json.loads((run / "metrics.json").read_text())
    source = Path(info["same_run_as"])
    assert source == study_dir / "runs" / "corrected-regularization" / "l2-0" / "seed1"
    assert info["variant"] == "hidden=50x50"
    assert (run / "history.csv").read_text() == (source / "history.csv").read_text()
    assert 'name = "hidden-50x50"' in (run / "config.toml").read_text()


def test_rerun_resumes_without_training(reproduced, study_dir):
    _, report = reproduced
    before = report.read_text()
    again = reproduce(
        experiments_dir=study_dir / "configs" / "experiments",
        out_dir=study_dir / "runs",
        report=report,
        workers=1,
        batch1_epochs=1,
    )
    assert again["ran"] == 0 and again["reused"] == 76 and again["copied"] == 0
    assert report.read_text() == before  # nothing trained, nothing changes
    (log,) = (study_dir / "runs" / "invocations.jsonl").read_text().splitlines()
    record = json.loads(log)
    assert record["command"] == "netlab reproduce --workers 2 --batch1-epochs 1"
    assert record["trained"] == 76 and record["failed"] == 0 and record["numpy"]
    assert f"`{record['command']}` (started {record['started']}): 76 runs in" in before


def _no_measuring(*args, **kwargs):
    raise AssertionError("--report-only measured something instead of reading the archive")


def test_committed_report_is_what_its_committed_archive_renders(tmp_path, monkeypatch):
    """docs/reproduction.md is exactly what `netlab reproduce --report-only` renders from the
    archive committed beside it (docs/reproduction/runs/): every number in it is read from
    committed files (none is recomputed, so the page is the same on every CPU and BLAS), and the
    full-length runs behind it are 5 seeds of all 190 distinct runs."""
    from netlab.experiments.study import archive, measurements

    committed = ROOT / "docs" / "reproduction.md"
    shutil.copytree(ROOT / "docs" / "reproduction" / "runs", tmp_path / "reproduction" / "runs")
    monkeypatch.chdir(ROOT)  # the report names the experiment files relative to the checkout
    for module, name in ((measurements, "measure"), (archive, "init_saturation"),
                         (archive, "sample_inputs")):  # fmt: skip
        monkeypatch.setattr(module, name, _no_measuring)
    monkeypatch.setattr("netlab.training.gradcheck.check_model", _no_measuring)
    result = reproduce(experiments_dir=Path("configs") / "experiments",
                       out_dir=tmp_path / "no-runs", report=tmp_path / "reproduction.md",
                       report_only=True)  # fmt: skip
    text = result["report"].read_text()
    assert text == committed.read_text()
    assert "Seeds [0, 1, 2, 3, 4] for every variant" in text and "†" not in text
    assert not (tmp_path / "no-runs").exists()
    log = (tmp_path / "reproduction" / "runs" / "invocations.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in log]
    assert sum(r["trained"] for r in records) == 190 and all(r["git_commit"] for r in records)
    notes = [r["note"] for r in records if "note" in r]  # hand-written: a run killed mid-way
    assert notes and all(note in text for note in notes)


def test_bad_inputs_fail_before_any_run(tmp_path, study_dir):
    with pytest.raises(ConfigError, match="not found; pass --experiments DIR"):
        plan_study(tmp_path, tmp_path / "out")
    with pytest.raises(ConfigError, match="--batch1-epochs must be an integer >= 0"):
        plan_study(study_dir / "configs" / "experiments", tmp_path / "out", batch1_epochs=-1)
    broken = tmp_path / "exps"
    shutil.copytree(study_dir / "configs", tmp_path / "configs")
    broken = tmp_path / "configs" / "experiments"
    depth = broken / "paper" / "depth.toml"
    depth.write_text(depth.read_text().replace("[47, 47, 47]", "[40, 40, 40]"))
    with pytest.raises(ConfigError, match="has no variant 'hidden=47x47x47'"):
        plan_study(broken, tmp_path / "out")
    with pytest.raises(ConfigError, match="must be a Markdown file"):
        reproduce(experiments_dir=broken, out_dir=tmp_path / "o", report=tmp_path / "r.txt")
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_archived_measurements_are_what_this_machine_measures_within_tolerance():
    """The committed gradient check and saturation shares were measured on one CPU; recomputed
    here (any CPU, any BLAS threads) they agree within the rounding the report shows them to:
    backprop and numerical derivatives to 1e-9 relative, differences to 10 resolutions, and the
    saturation shares to 1e-3 (a pre-activation within rounding of +-2.65 may flip)."""
    from netlab.experiments.study.measurements import measure, read_measurements

    archived = read_measurements(ROOT / "docs" / "reproduction" / "runs")
    fresh = measure(archived["init_saturation"]["seeds"])
    for a, f in zip(archived["gradcheck"]["entries"], fresh["gradcheck"]["entries"], strict=True):
        assert (a["parameter"], a["index"]) == (f["parameter"], list(f["index"]))
        assert f["analytic"] == pytest.approx(a["analytic"], rel=1e-9)
        assert f["numeric"] == pytest.approx(a["numeric"], rel=1e-9)
        assert abs(f["difference"] - a["difference"]) <= 10 * a["resolution"]
    for init in ("normal", "xavier"):
        assert fresh["init_saturation"][init] == pytest.approx(
            archived["init_saturation"][init], abs=1e-3
        )
    assert archived["environment"]["cpu"] and archived["environment"]["git_commit"]


def test_report_only_without_measurements_fails_in_one_line(reproduced, study_dir, tmp_path):
    """An archive without (or with a damaged) measurements.json: a ConfigError naming the fix,
    and the report already there is left as it was."""
    _, report = reproduced
    before = report.read_text()
    measured = report.with_suffix("") / "runs" / "measurements.json"
    kept = measured.read_bytes()
    try:
        for damage in (None, b'{"gradcheck": ', b'{"gradcheck": {}}'):
            measured.unlink(missing_ok=True)
            if damage is not None:
                measured.write_bytes(damage)
            with pytest.raises(ConfigError, match="without --report-only") as info:
                reproduce(experiments_dir=study_dir / "configs" / "experiments",
                          out_dir=study_dir / "runs", report=report, report_only=True)  # fmt: skip
            assert "\n" not in str(info.value) and report.read_text() == before
    finally:
        measured.write_bytes(kept)


def test_gradcheck_differences_show_only_digits_above_their_resolution():
    """The W1[21, 9] difference measured on an AMD EPYC (-3.39e-11) and on an Intel Xeon
    (-3.41e-11), at the resolution of the float64 central difference there (1.42e-12), print alike;
    values near the resolution print as a bound."""
    from netlab.training.gradcheck_paper import to_resolution

    assert to_resolution(-3.39e-11, 1.42e-12) == to_resolution(-3.41e-11, 1.42e-12) == "-3e-11"
    assert to_resolution(-4.9012e-7, 1.42e-12) == "-4.90e-07"  # at most 3 digits
    assert to_resolution(3.4e-10, 1.42e-12) == "3.4e-10"
    assert to_resolution(1.0e-12, 1.42e-12) == to_resolution(-1.3e-11, 1.42e-12) == "< 2e-11"
    assert to_resolution(0.0, 9.6e-13) == "< 1e-11"
