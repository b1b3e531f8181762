"""The files netlab writes (issue 12, items 3, 11 and 12): readable by others under the usual
umask, replaced by --force without touching the user's own files, and all listed in the README."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from netlab.cli import main

from netlab.files.atomic import atomic_write
from netlab.files.runs import RUN_FILES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def umask():
    """Run under a chosen umask, restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_gives_the_mode_open_would(mask, expected, umask, tmp_path):
    umask(mask)
    target = tmp_path / "f.bin"
    atomic_write(target, lambda f: f.write(b"x"))
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")  # what an ordinary open() gives under this umask
    assert mode(target) == mode(plain) == expected
    atomic_write(target, lambda f: f.write(b"y"), force=True)  # also when replacing a file
    assert mode(target) == expected


def test_every_file_a_run_writes_is_readable_by_others(umask, tmp_path, capsys):
    umask(0o022)
    run_dir = tmp_path / "r"
    assert main(["train", "--data", "sample", "--epochs", "1", "--out", str(run_dir), "-q"]) == 0
    outputs = [*run_dir.iterdir()]
    pytest.importorskip("matplotlib", reason="needs the plots extra")
    assert main(["plot", str(run_dir)]) == 0
    assert main(["eval", str(run_dir / "model.npz"), "--plot", str(tmp_path / "cm.png")]) == 0
    outputs += [run_dir / "curves.png", tmp_path / "cm.png"]
    capsys.readouterr()
    assert {p.name for p in outputs} >= set(RUN_FILES)
    assert {p.name: oct(mode(p)) for p in outputs} == {p.name: oct(0o644) for p in outputs}


def test_an_exported_model_is_readable_by_others(umask, tmp_path, capsys):
    pytest.importorskip("onnx", reason="needs the onnx extra")
    umask(0o022)
    run_dir = tmp_path / "r"
    assert main(["train", "--data", "sample", "--epochs", "1", "--out", str(run_dir), "-q"]) == 0
    assert main(["export", str(run_dir / "model.npz"), str(tmp_path / "m.onnx")]) == 0
    capsys.readouterr()
    assert mode(tmp_path / "m.onnx") == 0o644


def test_force_replaces_netlabs_files_and_leaves_the_users(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="needs the plots extra")
    run_dir = tmp_path / "r"
    assert main(["train", "--data", "sample", "--epochs", "2", "--out", str(run_dir), "-q"]) == 0
    assert main(["plot", str(run_dir)]) == 0  # curves.png of the old run
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / ".model.npz.abc123.tmp").write_bytes(b"left by a killed write")
    old_model = (run_dir / "model.npz").read_bytes()
    capsys.readouterr()
    argv = ["train", "--data", "sample", "--epochs", "1", "--hidden", "8", "--out", str(run_dir)]
    assert main([*argv, "--force"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "note: --force: removed the previous run's config.toml, checkpoint.npz, model.npz, "
        "history.csv, history.jsonl, metrics.json, curves.png, .model.npz.abc123.tmp" in out
    )
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == sorted([*RUN_FILES.keys() - {"curves.png"}, "notes.txt"])  # no stale figure
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert (run_dir / "model.npz").read_bytes() != old_model
    assert "hidden = [8]" in (run_dir / "config.toml").read_text()


def test_force_in_a_directory_netlab_never_trained_in_removes_nothing(tmp_path, capsys):
    """Only a run directory (one with the .lock every training leaves) has netlab's files."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "curves.png").write_bytes(b"my own figure")
    (mine / "history.csv").write_text("my own table")
    argv = ["train", "--data", "sample", "--epochs", "1", "--out", str(mine), "--force"]
    assert main(argv) == 0
    assert "removed" not in capsys.readouterr().out
    assert (mine / "curves.png").read_bytes() == b"my own figure"


def test_readme_lists_every_file_of_a_run_directory():
    """One line per file, the same set that --force replaces and a training writes."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Files in a run directory")[1].split("\n#")[0]
    listed = [line.split("`")[1] for line in section.splitlines() if line.startswith("- `")]
    assert listed == list(RUN_FILES)
