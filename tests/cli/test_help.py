"""`--help` of every command (issue 12, items 13 and 14): every option described with its
default, on/off options shown as flags, and mistyped options answered without nonsense."""

from __future__ import annotations

import re

import pytest
import typer
from netlab.cli import app, main


def _commands(command=None, path=()):
    """(command path, click command) for every command of the app, groups included."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = [path for path, _ in _commands()]


def _help(capsys, path) -> str:
    assert main([*path, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "netlab" for p in COMMANDS])
def test_every_option_is_described_with_its_default(path, capsys):
    command = dict(_commands())[path]
    text = " ".join(_help(capsys, path).split())
    for param in command.params:
        if param.param_type_name != "option":
            continue
        name = param.opts[-1]
        assert param.help, f"{name} has no description"
        if param.is_flag and not param.secondary_opts:
            continue  # a plain flag: off unless given
        stated = "default" in param.help.lower() or (
            param.default is not None and param.show_default is not False
        )
        assert stated, f"{name}: the help states no default"
        # The default is shown as Typer shows its own, "[default: ...]", in the rendered help.
        assert "default" in text.lower()


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "netlab" for p in COMMANDS])
def test_flags_are_shown_as_flags(path, capsys):
    text = _help(capsys, path)
    assert "<bool>" not in text  # `--force`, not `--force <bool>` (which it would reject)


def test_train_help_shows_every_default_from_the_schema(capsys):
    from netlab.schema import FIELDS

    text = " ".join(_help(capsys, ("train",)).split())
    keys = ["training.epochs", "training.batch_size", "training.momentum", "model.init",
            "model.hidden", "data.val_fraction"]  # fmt: skip
    for key in keys:
        section, _, name = key.partition(".")
        field = FIELDS[section][name]
        default = field.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else f"{default:g}" \
            if isinstance(default, float) else str(default)  # fmt: skip
        assert f"{field.help}" in text and f"[default: {shown}]" in text, key
    assert "--nesterov --no-nesterov" in text and "[default: off]" in text


def test_a_flag_given_a_value_says_it_takes_none(capsys):
    code = main(["train", "--force", "true", "--data", "sample"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "true" in err


@pytest.mark.parametrize(
    "typed,suggested",
    [("--bogus", None), ("--epoch", "--epochs"), ("--batchsize", "--batch-size"),
     ("--learning-rate", None), ("--forse", "--force"), ("--o", None)],
)  # fmt: skip
def test_unknown_options_get_close_suggestions_or_none(typed, suggested, capsys):
    assert main(["train", typed]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    hint = re.search(r"did you mean (.*)\?", line)
    assert line.startswith(f"error: no such option {typed}")
    assert (hint.group(1) if hint else None) == suggested, line
    assert "Possible options" not in line
