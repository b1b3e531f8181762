"""Presets: the checkout's configs/ ship as netlab.configs and are found by name from anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netlab.cli import main

from netlab.config import load_config, same_run
from netlab.errors import ConfigError
from netlab.experiments.files import load_experiment
from netlab.experiments.study.plan import default_experiments_dir, plan_study
from netlab.presets import (
    config_path,
    config_presets,
    experiment_path,
    experiment_presets,
    experiments_dir,
    list_presets,
    presets_dir,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_presets_are_the_checkouts_configs():
    # one source of truth: in an editable install netlab.configs IS configs/, not a copy
    assert presets_dir().resolve() == (ROOT / "configs").resolve()
    files = {p.resolve() for p in (ROOT / "configs").rglob("*.toml")}
    named = {*config_presets().values(), *experiment_presets().values()}
    assert {p.resolve() for p in named} == files
    assert list(config_presets()) == ["baseline", "best", "paper"]
    assert {"paper/regularization", "corrected/depth", "best-search"} <= set(experiment_presets())


def test_every_preset_loads_and_matches_its_file():
    for name, path in config_presets().items():
        assert same_run(load_config(config_path(name)), load_config(path))
    for name in experiment_presets():
        exp = load_experiment(experiment_path(name))
        assert exp.variants and exp.seeds  # base references ("../../paper/baseline.toml") resolve
    paper = load_experiment(experiment_path("paper/regularization"))
    assert same_run(paper.base, load_config(ROOT / "configs" / "paper" / "baseline.toml"))


def test_names_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        config_path("paper") == config_path("paper/baseline") == config_path("paper/baseline.toml")
    )
    assert config_path("paper").name == "baseline.toml"
    (tmp_path / "paper").mkdir()  # a directory never shadows a preset...
    assert config_path("paper") == config_presets()["paper"]
    (tmp_path / "best").write_text('name = "mine"\n')  # ...a file does
    assert config_path("best") == Path("best") and load_config(config_path("best")).name == "mine"
    with pytest.raises(ConfigError, match=r"no preset is named 'nope'; presets: baseline, best, "):
        config_path("nope")
    with pytest.raises(ConfigError, match=r"presets: [a-z0-9/, -]*best-search, [a-z0-9/, -]*"
                       r"corrected/activations, "):  # fmt: skip
        experiment_path("paper/nope")


def test_an_experiment_file_can_build_on_a_preset(tmp_path):
    exp = tmp_path / "mine.toml"
    exp.write_text('base = "paper"\n[grid]\ntraining = { l2 = [0.0, 1e-3] }\n')
    assert same_run(load_experiment(exp).base, load_config(config_presets()["paper"]))
    exp.write_text('base = "nowhere.toml"\n')
    with pytest.raises(ConfigError, match=r"config file .*nowhere.toml not found, and no preset"):
        load_experiment(exp)


def test_reproduce_finds_the_presets_from_an_empty_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_experiments_dir() == experiments_dir()
    study = plan_study(default_experiments_dir(), tmp_path / "out")
    assert len(study.experiments) == 8
    (tmp_path / "configs" / "experiments").mkdir(parents=True)  # a local copy wins
    assert default_experiments_dir() == Path("configs/experiments")


def test_cli_config_list_and_train_by_preset_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["config", "list", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in shown["presets"]] == [p["name"] for p in list_presets()]
    assert {"kind": "config", "name": "paper", "file": "paper/baseline.toml"}.items() <= next(
        p for p in shown["presets"] if p["name"] == "paper"
    ).items()
    assert main(["config", "list"]) == 0
    out = capsys.readouterr().out
    assert "Configs (netlab train -c NAME)" in out and "paper/regularization" in out
    argv = ["train", "-c", "paper", "--data", "sample", "--epochs", "1", "--out", "r", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 1
    config = load_config(tmp_path / "r" / "config.toml")
    assert config.name == "paper-baseline" and config.model.init == "normal"


def test_cli_unknown_preset_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "-c", "configs/paper/baseline.toml", "--data", "sample"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: config file configs/paper/baseline.toml")
    assert "presets: baseline, best, paper; pass an existing file or a preset name" in err
    assert main(["experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no preset is named 'nope'; presets: " in err
    listed = err.split("presets: ")[1].split(";")[0].split(", ")
    assert {"best-search", "best-final", "paper/regularization"} <= set(listed)
