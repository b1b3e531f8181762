"""Regressions: every hostile file issue 16 and its fuzz runs found, through the real CLI.

Each case was a traceback, a hang or a file accepted against the schema; now each is one
`error:` line naming the file and the field, the documented exit code, and nothing written.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import hostile
import mutate
import numpy as np
import pytest
from netlab.cli import main
from snapshots import snapshot

CUT_HEADER = b"{'descr': '<f4', 'fortran_order': False, 'shape': (50,"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> hostile.Seeds:
    return hostile.seeds(tmp_path_factory.mktemp("seeds"))


def model_meta(s: hostile.Seeds, **changes) -> bytes:
    members = mutate.unpack(s.model)
    _, meta = hostile._meta_member(members)
    for key, value in changes.items():
        if value is KeyError:
            del meta[key]
        else:
            meta[key] = value
    return hostile._with_meta(members, meta)


def deep_model_meta(s: hostile.Seeds, n: int) -> bytes:
    """The model's metadata with netlab_version a list nested n deep (JSON text: json.dumps
    cannot write it)."""
    members = mutate.unpack(s.model)
    _, meta = hostile._meta_member(members)
    meta["netlab_version"] = "@deep@"
    text = json.dumps(meta).replace('"@deep@"', "[" * n + "]" * n)
    return hostile._with_meta(members, text)


def normalization(s: hostile.Seeds, key: str, value) -> bytes:
    members = mutate.unpack(s.model)
    _, meta = hostile._meta_member(members)
    meta["normalization"][key][3] = value
    return hostile._with_meta(members, meta)


def checkpoint_meta(s: hostile.Seeds, edit) -> dict[str, bytes]:
    members = mutate.unpack(s.checkpoint)
    _, meta = hostile._meta_member(members)
    edit(meta)
    return {
        "run/checkpoint.npz": hostile._with_meta(members, meta),
        "run/config.toml": s.run_config.encode(),
    }


def checkpoint_of_another_size(s: hostile.Seeds) -> dict[str, bytes]:
    """Every array one longer and n_params to match: consistent, but not this run's model."""
    members = mutate.unpack(s.checkpoint)
    _, meta = hostile._meta_member(members)
    out = []
    for name, data in members:
        if name != "metadata.npy":
            buf = io.BytesIO()
            np.save(buf, np.zeros(meta["n_params"] + 1, np.float32))
            data = buf.getvalue()
        out.append((name, data))
    meta["n_params"] += 1
    return {
        "run/checkpoint.npz": hostile._with_meta(out, meta),
        "run/config.toml": s.run_config.encode(),
    }


def cut_header(npz: bytes, member: str) -> bytes:
    members = mutate.unpack(npz)
    at = [n for n, _ in members].index(member)
    magic, text, data = mutate.split_npy(members[at][1])
    members[at] = (
        member,
        mutate.join_npy(magic, mutate.padded(CUT_HEADER.decode(), text), data),
    )
    return mutate.pack(members)


HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds"


def history(rows: list[str]) -> dict[str, bytes]:
    return {"run/history.csv": ("\n".join([HEADER, *rows]) + "\n").encode()}


ROW = "0.9,0.7,0.95,0.68,0.012,0.1"
EXPERIMENT_HEAD = (
    "seeds = 1\n[overrides]\ntraining = { epochs = 1 }\ndata = { source = 'sample' }\n"
)


def experiment(body: str) -> dict[str, bytes]:
    return {"exp.toml": (EXPERIMENT_HEAD + body).encode()}


def set_shuffle(value):
    return lambda m: m["rng_states"].__setitem__("shuffle", value)


def shuffle_state(key, value):
    return lambda m: m["rng_states"]["shuffle"]["state"].__setitem__(key, value)


# (id, command, files builder (seeds) -> {path: bytes}, exit code, phrases the line must contain)
CASES = [
    # tracebacks
    (
        "cut .npy header, eval",
        "eval",
        lambda s: {"model.npz": cut_header(s.model, "W1.npy")},
        1,
        ["model.npz", "member 'W1' has a malformed header"],
    ),
    (
        "cut .npy header, export",
        "export",
        lambda s: {"model.npz": cut_header(s.model, "b2.npy")},
        1,
        ["member 'b2' has a malformed header"],
    ),
    (
        "cut .npy header, resume",
        "resume",
        lambda s: {
            "run/checkpoint.npz": cut_header(s.checkpoint, "flat.npy"),
            "run/config.toml": s.run_config.encode(),
        },
        1,
        ["checkpoint.npz", "member 'flat'"],
    ),
    (
        "model metadata 5,000 deep",
        "eval",
        lambda s: {"model.npz": deep_model_meta(s, 5000)},
        1,
        ["model.npz", "nested more than 32 levels"],
    ),
    (
        "config 2,000 tables deep",
        "train",
        lambda s: {"config.toml": ("[" + ".".join(["a"] * 2000) + "]\n").encode()},
        2,
        ["config.toml", "nested more than 32 levels"],
    ),
    (
        "config 100,000 arrays deep",
        "train",
        lambda s: {"config.toml": ("x = " + "[" * 100_000 + "]" * 100_000).encode()},
        2,
        ["config.toml", "nested more than 32 levels"],
    ),
    (
        "run config 2,000 tables deep",
        "resume",
        lambda s: {
            "run/config.toml": ("[" + ".".join(["a"] * 2000) + "]\n").encode(),
            "run/checkpoint.npz": s.checkpoint,
        },
        2,
        ["config.toml", "nested more than 32 levels"],
    ),
    (
        "experiment 100,000 arrays deep",
        "experiment",
        lambda s: {"exp.toml": ("x = " + "[" * 100_000 + "]" * 100_000).encode()},
        2,
        ["exp.toml", "nested more than 32 levels"],
    ),
    (
        "model dtype [1]",
        "eval",
        lambda s: {"model.npz": model_meta(s, dtype=[1])},
        1,
        ["metadata field dtype must be one of 'float32', 'float64'; got [1]"],
    ),
    *[
        (
            f"checkpoint history {v!r}",
            "resume",
            lambda s, v=v: checkpoint_meta(s, lambda m: m.__setitem__("history", v)),
            1,
            ["checkpoint.npz", "field history"],
        )
        for v in (["a", "b"], [[1, 2]], {"a": 1})
    ],
    (
        "checkpoint rng_states {}",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("rng_states", {})),
        1,
        ["field rng_states must hold shuffle, dropout"],
    ),
    *[
        (
            f"shuffle state {v!r:.20}",
            "resume",
            lambda s, v=v: checkpoint_meta(s, set_shuffle(v)),
            1,
            ["field rng_states.shuffle"],
        )
        for v in ("x", -1, 10**60, None)
    ],
    (
        "shuffle state of MT19937",
        "resume",
        lambda s: checkpoint_meta(
            s, lambda m: m["rng_states"]["shuffle"].__setitem__("bit_generator", "MT19937")
        ),
        1,
        ["rng_states.shuffle.bit_generator must be one of 'PCG64'"],
    ),
    *[
        (
            f"shuffle inner state {v!r:.20}",
            "resume",
            lambda s, v=v: checkpoint_meta(s, shuffle_state("state", v)),
            1,
            ["rng_states.shuffle.state.state"],
        )
        for v in (-1, 2**128, "1", 1.5)
    ],
    (
        "shuffle increment even",
        "resume",
        lambda s: checkpoint_meta(s, shuffle_state("inc", 2)),
        1,
        ["rng_states.shuffle.state.inc must be odd"],
    ),
    (
        "history.csv field of 200,000",
        "plot",
        lambda s: history(["1," + "1" * 200_000 + "," + ROW[4:]]),
        1,
        ["history.csv", "field larger than field limit"],
    ),
    (
        "variant name of 300",
        "experiment",
        lambda s: experiment(f"[[variants]]\nname = '{'v' * 300}'\n"),
        2,
        ["exp.toml", "variants[0].name has 300 characters; the limit is 200"],
    ),
    (
        "variant name of 1 MB",
        "experiment",
        lambda s: experiment(f"[[variants]]\nname = '{'v' * 1_000_000}'\n"),
        2,
        ["exp.toml", "variants[0].name has 1000000 characters"],
    ),
    (
        "grid of 10^6 variants",
        "experiment",
        lambda s: experiment(
            "[grid]\ntraining = { l2 = [%s], dropout = [%s], momentum = [%s] }\n"
            % ((", ".join(f"{i / 1000}" for i in range(100)),) * 3)
        ),
        2,
        [
            "1000000 variants x 1 seeds = 1000000 runs, more than the limit of 10000",
            "max_runs = 1000000",
        ],
    ),
    # accepted with exit 0 before
    *[
        (
            f"normalization {key} {v!r}",
            "eval",
            lambda s, key=key, v=v: {"model.npz": normalization(s, key, v)},
            1,
            [f"metadata field normalization.{key}[3]"],
        )
        for key, v in (
            ("mean", float("nan")),
            ("mean", float("inf")),
            ("std", float("inf")),
            ("std", True),
            ("std", 1e-320),
            ("std", 0),
            ("std", -1.0),
        )
    ],
    *[
        (
            f"model config {v!r}",
            "eval",
            lambda s, v=v: {"model.npz": model_meta(s, config=v)},
            1,
            ["metadata field config"],
        )
        for v in (None, KeyError, "x", {"data": {"source": "imagenet"}})
    ],
    (
        "model data source unknown",
        "eval",
        lambda s: {"model.npz": model_meta(s, data_source="imagenet")},
        1,
        ["metadata field data_source must be one of"],
    ),
    (
        "model input_scale 1e-320",
        "eval",
        lambda s: {"model.npz": model_meta(s, input_scale=1e-320)},
        1,
        ["metadata field input_scale"],
    ),
    (
        "model format_version 2.0",
        "eval",
        lambda s: {"model.npz": model_meta(s, format_version=2.0)},
        1,
        ["model format version 2.0 is not supported"],
    ),
    *[
        (
            f"checkpoint epoch {v!r}",
            "resume",
            lambda s, v=v: checkpoint_meta(s, lambda m: m.__setitem__("epoch", v)),
            1,
            ["field epoch must be an integer in [1, 2]"],
        )
        for v in (-5, 10**12, 1.0, 0)
    ],
    (
        "checkpoint epoch 1 of 2 records",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("epoch", 1)),
        1,
        ["field history has 2 records for 1 epochs"],
    ),
    (
        "checkpoint stopped 'false'",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("stopped", "false")),
        1,
        ["field stopped must be true or false; got 'false'"],
    ),
    (
        "checkpoint stopped true",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("stopped", True)),
        1,
        ["field stopped must be false"],
    ),
    (
        "checkpoint empty history",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("history", [])),
        1,
        ["field history has 0 records for 2 epochs"],
    ),
    (
        "checkpoint history row without a key",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m["history"][1].pop("val_loss")),
        1,
        ["field history[1] must have exactly the keys"],
    ),
    (
        "checkpoint history string value",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m["history"][0].__setitem__("train_loss", "0.5")),
        1,
        ["field history[0].train_loss must be a finite number"],
    ),
    (
        "checkpoint best value NaN",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("best_value", float("nan"))),
        1,
        ["field best_value must be a finite number"],
    ),
    (
        "checkpoint best epoch not the best",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("best_epoch", 1)),
        1,
        ["field best_epoch and best_value must be 2"],
    ),
    (
        "checkpoint n_params float",
        "resume",
        lambda s: checkpoint_meta(s, lambda m: m.__setitem__("n_params", float(m["n_params"]))),
        1,
        ["field n_params must be an integer"],
    ),
    (
        "checkpoint of another model size",
        "resume",
        checkpoint_of_another_size,
        1,
        ["checkpoint.npz holds 6371 parameters, this run's model has 6370"],
    ),
    *[
        (
            f"plot epoch {e}",
            "plot",
            lambda s, e=e: history([f"{e},{ROW}"]),
            1,
            ["history.csv", "history[0].epoch must be 1"],
        )
        for e in ("nan", "inf", "-4", "10**12", "0")
    ],
    (
        "plot accuracy 1e308",
        "plot",
        lambda s: history(["1,0.9,1e308,0.95,0.68,0.012,0.1"]),
        1,
        ["history[0].train_accuracy must be a finite number in [0, 1]"],
    ),
    (
        "plot row missing a field",
        "plot",
        lambda s: history(["1,0.9,0.7,0.95,0.68,0.012"]),
        1,
        ["history[0] has 6 fields, expected 7"],
    ),
]


def _write(files: dict[str, bytes], d: Path) -> None:
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)


@pytest.mark.parametrize("name,command,build,code,phrases", CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_one_line_error_and_changes_nothing(
    name, command, build, code, phrases, seeds, tmp_path, capsys, monkeypatch
):
    _write(build(seeds), tmp_path)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    case = hostile.Case("regression", name, command, {}, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would reach stderr
        got = main(hostile.argv(case, tmp_path))
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert got == code, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert snapshot(tmp_path) == before


def test_the_seed_files_are_accepted(seeds, tmp_path, capsys):
    """The regressions' starting points are valid: each edit above is what makes them fail."""
    files = {
        "model.npz": seeds.model,
        "run/checkpoint.npz": seeds.checkpoint,
        "run/config.toml": seeds.run_config.encode(),
        "run/history.csv": seeds.history.encode(),
        "config.toml": seeds.train_config.encode(),
        "exp.toml": seeds.experiment.encode(),
    }
    _write(files, tmp_path)
    for command in ("eval", "export", "plot", "train", "resume", "experiment"):
        argv = hostile.argv(hostile.Case("seed", "", command, {}, False), tmp_path)
        assert main(argv) == 0, capsys.readouterr()


def test_json_output_is_strict_when_the_loss_is_not_finite(seeds, tmp_path, capsys):
    """Weights of 3e38 overflow the logits: eval --json says null, never NaN, and no warning."""
    members = mutate.unpack(seeds.model)
    at = [n for n, _ in members].index("W2.npy")
    magic, text, data = mutate.split_npy(members[at][1])
    members[at] = (
        "W2.npy",
        mutate.join_npy(magic, text, np.full(len(data) // 4, 3e38, np.float32).tobytes()),
    )
    (tmp_path / "model.npz").write_bytes(mutate.pack(members))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["eval", str(tmp_path / "model.npz"), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out, parse_constant=lambda token: pytest.fail(f"{token} in --json"))
    assert report["test_loss"] is None and err == ""


def test_huge_values_plot_without_warnings(tmp_path):
    """Losses of 1e308 are valid (finite); their mean over seeds overflows quietly."""
    pytest.importorskip("matplotlib", reason="needs the plots extra")
    for seed in (0, 1):
        run = tmp_path / "sweep" / "big" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "history.csv").write_bytes(
            history(["1,1e308,0.5,1e308,0.5,0.012,0.1", "2,1e308,0.5,1e308,0.5,0.012,0.1"])[
                "run/history.csv"
            ]
        )
        (run / "metrics.json").write_text(json.dumps({"variant": "big"}))
    done = subprocess.run(
        [str(Path(sys.executable).with_name("netlab")), "plot", str(tmp_path / "sweep")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (tmp_path / "sweep" / "curves.png").is_file()
