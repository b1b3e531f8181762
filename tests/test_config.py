from pathlib import Path

import pytest

from netlab.config import Config, config_from_dict, load_config, with_overrides
from netlab.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_baseline_file():
    cfg = load_config(ROOT / "configs" / "baseline.toml")
    assert cfg == Config(name="baseline").resolved()
    assert cfg.model.hidden == (50, 50) and cfg.training.lr == 0.012 and cfg.model.init == "xavier"


def test_paper_config_differs_only_by_init():
    paper = load_config(ROOT / "configs" / "paper" / "baseline.toml")
    base = load_config(ROOT / "configs" / "baseline.toml")
    assert paper.name == "paper-baseline" and paper.model.init == "normal"
    assert paper.training == base.training and paper.data == base.data
    assert (
        paper.model.hidden == base.model.hidden and paper.model.activation == base.model.activation
    )


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"training": {"learning_rate": 0.1}}, "unknown key training.learning_rate"),
        ({"optimizer": {}}, r"unknown section \[optimizer\]"),
        ({"training": {"lr": "fast"}}, "training.lr must be a float > 0; got 'fast'"),
        ({"training": {"lr": 0}}, "training.lr must be a float > 0; got 0"),
        ({"training": {"lr": -0.1}}, "training.lr must be a float > 0"),
        (
            {"training": {"epochs": 2.5}},
            r"training.epochs must be an integer in \[1, 1000000\]; got 2.5",
        ),
        ({"training": {"batch_size": True}}, "training.batch_size must be an integer"),
        ({"training": {"momentum": 1.0}}, r"training.momentum must be a float in \[0, 1\)"),
        ({"model": {"hidden": []}}, "model.hidden must be a non-empty list"),
        ({"model": {"hidden": [50, -1]}}, "model.hidden"),
        ({"model": {"activation": "swish"}}, "model.activation must be one of 'tanh'"),
        ({"model": {"init": "zeros"}}, "model.init must be one of"),
        ({"data": {"val_fraction": 1.0}}, "data.val_fraction"),
        ({"training": {"lr": float("nan")}}, "training.lr"),
        ({"model": 3}, "must be a table"),
        ({"name": "a b"}, "name must be"),
    ],
)
def test_bad_values_name_key_expectation_and_value(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw, origin="x.toml")


def test_overrides_and_roundtrip(tmp_path):
    cfg = with_overrides(
        Config(), {"training.lr": 0.5, "model.hidden": (10, 20, 30), "training.seed": None}
    )
    assert cfg.training.lr == 0.5 and cfg.model.hidden == (10, 20, 30) and cfg.training.seed == 0
    path = tmp_path / "resolved.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg
    with pytest.raises(ConfigError, match="training.lr"):
        with_overrides(cfg, {"training.lr": -1.0})


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\nlr = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
