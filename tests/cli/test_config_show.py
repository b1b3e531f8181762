"""Config files documented and shown (issue 12, item 16): docs/config.md is the schema rendered, and
`netlab config show` prints the config a run directory, a file or train's flags resolve to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netlab.cli import main
from netlab.cli.config import reference

from netlab.config import Config, load_config, same_run, with_overrides
from netlab.schema import FIELDS

ROOT = Path(__file__).resolve().parents[2]


def show(capsys, *argv) -> str:
    code = main(["config", "show", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_docs_config_md_is_the_schema_rendered():
    page = (ROOT / "docs" / "config.md").read_text()
    assert page == reference(), (
        "docs/config.md differs from netlab/schema.py and the registries' declared settings; "
        "regenerate it: make docs"
    )
    for section, fields in FIELDS.items():
        assert f"## [{section}]" in page
        for key, field in fields.items():
            assert f"| `{key}` | {field.expected()} |" in page


def test_every_train_flag_is_in_the_reference_and_the_rest_are_file_only():
    page = reference()
    assert "| `epochs` | an integer in [1, 1000000] | `100` | `--epochs` | Epochs to run. |" in page
    # a declared optimizer setting gets a flag of its own (cli/options.add_setting_flags)
    assert "| `beta1` |" in page and "`0.9` | `--beta1` | adam, adamw: beta1. |" in page
    assert "| `augment` |" in page and "(file only)" in page


def test_show_of_a_run_directory_is_its_config(capsys, tmp_path):
    run_dir = tmp_path / "r"
    assert main(["train", "--data", "sample", "--epochs", "1", "--out", str(run_dir), "-q"]) == 0
    capsys.readouterr()
    assert show(capsys, str(run_dir)) == (run_dir / "config.toml").read_text()
    extended = show(capsys, str(run_dir), "--epochs", "3")  # what --resume RUN --epochs 3 uses
    assert "epochs = 3" in extended and "epochs = 1" not in extended


def test_show_of_flags_and_files_resolves_like_train(capsys, tmp_path):
    paper = ROOT / "configs" / "paper" / "baseline.toml"
    out = show(capsys, "-c", str(paper), "--optimizer", "adam", "--json")
    resolved = json.loads(out)
    assert resolved["name"] == "paper-baseline" and resolved["model"]["init"] == "normal"
    assert resolved["training"]["optimizer"] == "adam" and resolved["training"]["lr"] == 0.001
    assert show(capsys, str(paper)) == show(capsys, "-c", str(paper))
    text = show(capsys, "--hidden", "20,10", "--lr", "0.05")
    saved = tmp_path / "shown.toml"
    saved.write_text(text)  # the output is a config file that trains the same run
    expected = with_overrides(Config(), {"model.hidden": (20, 10), "training.lr": 0.05})
    assert same_run(load_config(saved), expected)
    assert show(capsys) == Config().to_toml()


def test_experiment_keys_are_the_experiment_files_own():
    from netlab.config import EXPERIMENT_KEYS
    from netlab.experiments.files import TOP_KEYS

    assert set(EXPERIMENT_KEYS) == set(TOP_KEYS) - {"name"}


@pytest.mark.parametrize("argv", [["--help"], ["show", "--help"]])
def test_config_help(argv, capsys):
    assert main(["config", *argv]) == 0
    assert "show" in capsys.readouterr().out
