"""The README's and the interface pages' examples run as written (on the shipped sample), and what
the pages say about the checkout, the CLI and its tests is true."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1].parent
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
STUDY = "Multi-Layer Neural Network Classification of Fashion MNIST Dataset"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no Python example"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert (tmp_path / "runs" / "api-demo" / "model.npz").is_file()


def _quick_start() -> list[str]:
    """The shell lines of the README's quick start: its first two bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)[:2]
    assert "make train" in blocks[0]
    return [line.split("  #")[0].strip() for b in blocks for line in b.splitlines() if line]


def test_readme_quick_start_runs_verbatim_after_make_train(tmp_path):
    """Issue 12, item 1: every command after `make train` works as written in a fresh shell
    (no `netlab` on PATH until the venv is activated). Here `make train` is played by a short
    training on the sample into the run directory it would create."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(VENV_BIN.parent)
    shutil.copytree(ROOT / "configs", work / "configs")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if Path(p).resolve() != VENV_BIN.resolve()
    )
    train = [".venv/bin/netlab", "train", "-c", "configs/baseline.toml", "--data", "sample",
             "--epochs", "1", "-q"]  # fmt: skip
    assert subprocess.run(train, cwd=work, env=env, capture_output=True).returncode == 0
    lines = [line for line in _quick_start() if not line.startswith("make ")]
    assert lines and lines[0].startswith(".venv/bin/netlab eval runs/baseline-seed0-")
    script = " && ".join(lines)  # one shell, as a user types them one after the other
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test accuracy" in done.stdout and "command not found" not in done.stderr


def test_readme_cites_the_study_and_points_only_at_files_that_exist():
    """Issue 12, item 2: the study by its title; no path that is not in the checkout (the
    study's text lies outside it, and the README says where)."""
    text = README.read_text()
    assert STUDY in " ".join(text.split())
    pages = [README, *(ROOT / "docs" / p for p in ("cli.md", "config.md", "onnx.md", "logs.md"))]
    for page in pages:
        body = page.read_text().split("\n## Layout\n")[0]  # the layout is the lead's to redo
        assert "paper.txt" not in body.replace("../shared/paper.txt", ""), page.name
        for ref in re.findall(r"`((?:configs|docs|tests|netlab|cli|scripts|benchmarks)/[\w./-]+)`",
                              body):  # fmt: skip
            assert (ROOT / ref).exists() or list(ROOT.glob(ref)), f"{page.name}: {ref} missing"


@pytest.mark.parametrize(
    "page,extras",
    [
        ("sklearn.md", ["sklearn"]),
        ("onnx.md", ["onnx", "onnxruntime"]),
        ("logs.md", ["tensorboardX"]),
    ],
)
def test_interface_page_examples_run(page, extras, tmp_path, monkeypatch, capsys):
    for module in extras:
        pytest.importorskip(module, reason=f"needs the extra that provides {module}")
    text = (README.parent / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"docs/{page} has no Python example"
    import tempfile

    (tmp_path / "cwd").mkdir()
    (tmp_path / "tmp").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    for _ in range(2):  # issue 12, item 10: a second run works as well, from nothing stale
        for code in blocks:
            exec(compile(code, page, "exec"), {"__name__": "docs"})
    assert "accuracy" in capsys.readouterr().out or page == "logs.md"
    if page != "sklearn.md":
        assert list((tmp_path / "cwd").iterdir()) == []  # nothing left where the reader ran it


@pytest.mark.parametrize("page", ["onnx.md", "logs.md"])
def test_interface_page_examples_stop_at_a_failed_command(page, tmp_path, monkeypatch):
    """main() returns the exit code; the examples check it instead of going on from stale files."""
    import tempfile

    import netlab.cli

    monkeypatch.setattr(netlab.cli, "main", lambda argv: 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / page).read_text(), flags=re.S)[0]
    with pytest.raises(SystemExit, match="failed"):
        exec(compile(code, page, "exec"), {"__name__": "docs"})


def test_cli_page_counts_the_catalog():
    from test_cli import CATALOG

    text = " ".join((ROOT / "docs" / "cli.md").read_text().split())
    assert f"runs a catalog of {len(CATALOG)} bad inputs" in text


def test_cli_page_shows_the_live_display_at_80_and_120_columns():
    """Issue 12, item 7: the captures are there and fit their widths."""
    text = (ROOT / "docs" / "cli.md").read_text()
    shots = re.findall(r"```\n(epoch .*?)```", text, flags=re.S)
    assert len(shots) == 2
    for shot, width in zip(shots, (80, 120), strict=True):
        lines = shot.splitlines()
        assert max(map(len, lines)) <= width and any(line.startswith("epochs ") for line in lines)
        assert any(len(line) > 80 for line in lines) == (width == 120)


def test_make_train_prints_only_netlabs_lines(real_data, tmp_path):
    """Issue 12, item 19: no echoed recipes, no pip chatter (pip writes .venv/pip.log)."""
    out = tmp_path / "r"
    args = f"ARGS=--data sample --epochs 1 --quiet --out {out}"
    make = ["make", "--no-print-directory", "train", f"VENV={VENV_BIN.parent}", args]
    done = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("fashion-mnist: ") and "(found via" in lines[0]  # the data step
    assert lines[1].startswith("best epoch 1/1: ") and lines[-1].startswith("saved ")
    assert done.stderr == ""
    plan = subprocess.run(["make", "-n", "venv", f"VENV={tmp_path / 'v'}"], cwd=ROOT,
                          capture_output=True, text=True).stdout  # fmt: skip
    installs = [line for line in plan.replace("\\\n", " ").splitlines() if "pip install" in line]
    assert installs and all("pip.log" in line for line in installs)


def test_readme_says_how_long_make_train_takes():
    text = " ".join(README.read_text().split())
    assert re.search(r"`make train` took [\d.]+ minutes", text)
