"""Every code example in README.md and docs/*.md is run or checked, so a wrong one fails here:
shell lines parse with the real command (a flag that does not exist, a missing argument), the
config a `netlab train` line resolves to is valid, the TOML examples load as experiments, and
the Python examples not run elsewhere run (test_docs.py runs the README's and the interface
pages'; test_extension_guide.py applies the extension guide's in a scratch copy)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from netlab.cli import app, main, options

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_NETLAB = ("make", "python", "source", ".venv/bin/pip", "pip")  # checked by other tests


def blocks(lang: str) -> list[tuple[str, str]]:
    """(page, code) of every ```lang block."""
    found = []
    for page in PAGES:
        for code in re.findall(rf"```{lang}\n(.*?)```", page.read_text(), flags=re.S):
            found.append((page.name, code))
    return found


def shell_lines() -> list[tuple[str, list[str]]]:
    """(page, argv after `netlab`) of every netlab command in a bash block."""
    lines = []
    for page, code in blocks("bash"):
        for line in code.splitlines():
            words = shlex.split(line.split("  #")[0].split(" # ")[0])
            if not words or words[0] in NOT_NETLAB:
                continue
            assert words[0] in ("netlab", ".venv/bin/netlab"), (page, line)
            lines.append((page, words[1:]))
    return lines


def _rest(ctx) -> list[str]:
    """What a group left for its subcommand (click >= 8.2 keeps the name in _protected_args)."""
    protected = getattr(ctx, "_protected_args", None)
    return [*(protected if protected is not None else ctx.protected_args), *ctx.args]


def _id(value) -> str:
    return " ".join(value)[:60] if isinstance(value, list) else value


def test_the_docs_have_shell_examples():
    pages = {page for page, _ in shell_lines()}
    assert {"README.md", "experiments.md", "presets.md", "onnx.md", "results.md"} <= pages


@pytest.mark.parametrize("page,argv", shell_lines(), ids=_id)
def test_every_shell_example_parses(page, argv):
    """The command line as written is accepted by the real parser (nothing runs)."""
    command = typer.main.get_command(app)
    options.refresh_registry_help(command)  # what main() does: the derived setting flags
    ctx = command.make_context("netlab", list(argv))
    args = _rest(ctx)
    while args and hasattr(command, "commands"):
        sub = command.get_command(ctx, args[0])
        assert sub is not None, (page, argv)
        ctx = sub.make_context(args[0], args[1:], parent=ctx)
        command, args = sub, _rest(ctx) if hasattr(sub, "commands") else []
    assert not hasattr(command, "commands"), (page, argv, "names no command")


TRAIN_LINES = [(p, a) for p, a in shell_lines() if a[:1] == ["train"] and "--resume" not in a]


@pytest.mark.parametrize("page,argv", TRAIN_LINES, ids=_id)
def test_every_train_example_resolves_to_a_valid_config(page, argv, capsys, monkeypatch):
    """`netlab config show FLAGS` of each train line: the values, presets and files exist."""
    monkeypatch.chdir(ROOT)
    assert main(["config", "show", *argv[1:]]) == 0, (page, capsys.readouterr().err)


def test_the_toml_examples_load_as_experiments(tmp_path):
    from netlab.experiments.files import load_experiment

    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    examples = blocks("toml")
    assert len(examples) >= 2
    for i, (page, code) in enumerate(examples):
        path = tmp_path / "configs" / "experiments" / f"example{i}.toml"
        path.write_text(code)
        experiment = load_experiment(path)
        assert experiment.variants and experiment.seeds, page


def test_the_npz_example_writes_a_file_that_trains(tmp_path, monkeypatch, capsys):
    """docs/data.md's np.savez, on three Gaussian blobs, then `netlab train --data mine.npz`."""
    ((page, code),) = [(p, c) for p, c in blocks("python") if p == "data.md"]
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, (3, 6))
    y_train, y_test = np.arange(300) % 3, np.arange(90) % 3
    data = {
        "x_train": centers[y_train] + rng.normal(0, 1, (300, 6)),
        "x_test": centers[y_test] + rng.normal(0, 1, (90, 6)),
        "y_train": y_train,
        "y_test": y_test,
    }
    monkeypatch.chdir(tmp_path)
    exec(compile(code, page, "exec"), dict(data))
    argv = ["train", "--data", "mine.npz", "--epochs", "2", "--hidden", "8", "--out", "r", "-q"]
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "model.npz").is_file()
