"""The CLI end to end on the shipped sample, and the catalog of bad inputs."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from netlab.cli import main
from snapshots import snapshot

from netlab.data.sources import sample_dir
from netlab.files.npz import npz_bytes

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run on the shipped sample, shared by the tests below."""
    run_dir = tmp_path_factory.mktemp("run") / "r"
    assert (
        main(["train", "--data", "sample", "--epochs", "2", "--out", str(run_dir), "--quiet"]) == 0
    )
    return run_dir


def test_train_writes_the_run_directory(trained):
    assert sorted(p.name for p in trained.iterdir()) == [
        ".lock",  # held (flock) while a training writes here
        "checkpoint.npz",  # the last epoch's state, for --resume
        "config.toml",
        "history.csv",
        "history.jsonl",
        "metrics.json",
        "model.npz",
    ]
    lines = (trained / "history.csv").read_text().splitlines()
    assert (
        lines[0] == "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds"
        and len(lines) == 3
    )
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and 0.5 < metrics["test_accuracy"] <= 1
    assert "data.source" not in (trained / "config.toml").read_text()
    assert 'source = "sample"' in (trained / "config.toml").read_text()


def test_train_plain_progress_and_summary(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "train",
        "--data",
        "sample",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "r"),
        "--hidden",
        "20",
        "--activation",
        "relu",
        "--lr",
        "0.05",
        "--seed",
        "4",
    )
    assert code == 0, err
    assert "epoch 1/2  train loss" in out and "epoch 2/2" in out
    assert "validation accuracy" in out and "test accuracy" in out
    cfg = (tmp_path / "r" / "config.toml").read_text()
    assert "hidden = [20]" in cfg and 'activation = "relu"' in cfg and "seed = 4" in cfg


def test_train_json_and_config_file(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "tiny"\n[model]\nhidden = [16]\n[training]\nepochs = 1\n[data]\nsource = "sample"\n'
    )
    code, out, _ = run(capsys, "train", "-c", str(cfg), "--out", str(tmp_path / "r"), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["epochs_run"] == 1 and summary["n_train"] == 2400


def test_eval_json_and_tables(capsys, trained):
    code, out, _ = run(capsys, "eval", str(trained / "model.npz"), "--json")
    report = json.loads(out)
    assert code == 0 and report["split"] == "test" and report["n_test"] == 1000
    metrics = json.loads((trained / "metrics.json").read_text())
    assert report["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert report["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)
    cm = np.array(report["confusion_matrix"])
    assert (
        cm.shape == (10, 10)
        and cm.sum() == 1000
        and cm.trace() / 1000 == pytest.approx(report["test_accuracy"])
    )
    code, out, _ = run(capsys, "eval", str(trained / "model.npz"))
    assert "test accuracy" in out and "Ankle boot" in out and "Confusion matrix" in out


def test_gradcheck_cli(capsys):
    code, out, _ = run(
        capsys,
        "gradcheck",
        "--sizes",
        "20,12,10",
        "--activation",
        "sigmoid",
        "--l2",
        "0.01",
        "--json",
    )
    report = json.loads(out)
    assert code == 0 and report["passed"] and report["max_rel_error"] < 1e-6
    assert [t["checked"] for t in report["tensors"]] == [200, 120, 12, 10]
    code, out, _ = run(capsys, "gradcheck", "--paper")
    assert code == 0 and "Hidden to output" in out and "Weight(31, 2)" in out and "PASS" in out


def test_gradcheck_exit_1_on_failure(capsys, monkeypatch):
    from netlab.nn.activations import Activation

    real = Activation.backward
    monkeypatch.setattr(Activation, "backward", lambda self, y, dy: real(self, y, dy) * 0.9)
    code, out, _ = run(capsys, "gradcheck", "--sizes", "10,8,4")
    assert code == 1 and "FAIL" in out


def test_data_info(capsys):
    code, out, _ = run(capsys, "data", "info", "--data", "sample", "--json")
    info = json.loads(out)
    assert code == 0 and info["checksums_ok"] and info["test_count"] == 1000


def test_version_and_help_through_the_installed_command():
    exe = shutil.which("netlab", path=str(Path(sys.executable).parent))
    assert exe, "the netlab entry point is not installed in this environment"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("netlab ")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "gradcheck" in out.stdout
    out = subprocess.run(
        [exe, "train", "--lr", "-1", "--data", "sample"], capture_output=True, text=True
    )
    assert (
        out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    )


# ---------------------------------------------------------------------------- bad inputs


def _data_dir_with(tmp_path: Path, name: str, content: bytes) -> Path:
    d = tmp_path / "data"
    shutil.copytree(sample_dir(), d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (d / name).write_bytes(content)
    return d


def _idx(array, code=0x08) -> bytes:
    return (
        bytes([0, 0, code, array.ndim])
        + b"".join(d.to_bytes(4, "big") for d in array.shape)
        + array.astype(np.uint8).tobytes()
    )


def _model_variant(trained: Path, tmp_path: Path, mutate) -> Path:
    with np.load(trained / "model.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    mutate(arrays)
    p = tmp_path / "bad.npz"
    p.write_bytes(npz_bytes(arrays))
    return p


def _object_array_model(trained, tmp_path):
    with np.load(trained / "model.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["W1"] = np.array([{"x": 1}], dtype=object)
    p = tmp_path / "obj.npz"
    np.savez(p, **arrays)
    return p


def _version_model(trained, tmp_path):
    def mutate(a):
        meta = json.loads(a["metadata"].tobytes())
        meta["format_version"] = 7
        a["metadata"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    return _model_variant(trained, tmp_path, mutate)


def _config(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return str(p)


# (id, argv builder (tmp_path, trained) -> argv, exit code, a phrase the message must contain)
CATALOG = [
    (
        "missing data dir",
        lambda t, m: ["train", "--data-dir", str(t / "nope"), "--epochs", "1"],
        1,
        "does not exist",
    ),
    (
        "corrupt gzip",
        lambda t, m: [
            "train",
            "--data-dir",
            str(_data_dir_with(t, "train-images-idx3-ubyte.gz", b"\x1f\x8b" + b"x" * 40)),
            "--epochs",
            "1",
        ],
        1,
        "corrupt",
    ),
    (
        "truncated idx",
        lambda t, m: [
            "train",
            "--data-dir",
            str(
                _data_dir_with(
                    t, "train-labels-idx1-ubyte.gz", gzip.compress(_idx(np.zeros(3000))[:-5])
                )
            ),
            "--epochs",
            "1",
        ],
        1,
        "truncated",
    ),
    (
        "wrong magic",
        lambda t, m: [
            "train",
            "--data-dir",
            str(
                _data_dir_with(
                    t, "t10k-images-idx3-ubyte.gz", gzip.compress(b"\x12\x34\x08\x03" + b"\0" * 100)
                )
            ),
            "--epochs",
            "1",
        ],
        1,
        "not an IDX file",
    ),
    (
        "labels out of range",
        lambda t, m: [
            "train",
            "--data-dir",
            str(
                _data_dir_with(
                    t, "train-labels-idx1-ubyte.gz", gzip.compress(_idx(np.full(3000, 12)))
                )
            ),
            "--epochs",
            "1",
        ],
        1,
        "label 12 out of range",
    ),
    (
        "count mismatch",
        lambda t, m: [
            "train",
            "--data-dir",
            str(
                _data_dir_with(t, "train-labels-idx1-ubyte.gz", gzip.compress(_idx(np.zeros(2999))))
            ),
            "--epochs",
            "1",
        ],
        1,
        "2999 labels for 3000 images",
    ),
    (
        "images not 28x28",
        lambda t, m: [
            "train",
            "--data-dir",
            str(
                _data_dir_with(
                    t, "t10k-images-idx3-ubyte.gz", gzip.compress(_idx(np.zeros((1000, 28, 27))))
                )
            ),
            "--epochs",
            "1",
        ],
        1,
        "756 features, train examples 784",
    ),
    (
        "unknown config key",
        lambda t, m: ["train", "-c", _config(t, "[training]\nlearning_rate = 0.1\n")],
        2,
        "unknown key training.learning_rate",
    ),
    (
        "wrong type in config",
        lambda t, m: ["train", "-c", _config(t, "[training]\nepochs = 'ten'\n")],
        2,
        "training.epochs must be an integer in [1, 1000000]; got 'ten'",
    ),
    (
        "lr <= 0 in config",
        lambda t, m: ["train", "-c", _config(t, "[training]\nlr = 0.0\n")],
        2,
        "training.lr must be a float > 0",
    ),
    (
        "lr <= 0 flag",
        lambda t, m: ["train", "--lr", "-0.5", "--data", "sample"],
        2,
        "training.lr must be a float > 0; got -0.5",
    ),
    (
        "empty layer list",
        lambda t, m: ["train", "-c", _config(t, "[model]\nhidden = []\n")],
        2,
        "model.hidden must be a non-empty list",
    ),
    (
        "unknown activation",
        lambda t, m: ["train", "--activation", "swish", "--data", "sample"],
        2,
        "model.activation must be one of",
    ),
    (
        "unknown init",
        lambda t, m: ["train", "--init", "zeros", "--data", "sample"],
        2,
        "model.init must be one of",
    ),
    (
        "unknown section",
        lambda t, m: ["train", "-c", _config(t, "[optimizer]\nlr = 1\n")],
        2,
        "unknown section",
    ),
    ("bad toml", lambda t, m: ["train", "-c", _config(t, "[training\n")], 2, "not valid TOML"),
    ("missing config", lambda t, m: ["train", "-c", str(t / "none.toml")], 2, "not found"),
    (
        "bad hidden flag",
        lambda t, m: ["train", "--hidden", "50,abc", "--data", "sample"],
        2,
        "comma-separated integers",
    ),
    (
        "non-number flag",
        lambda t, m: ["train", "--epochs", "many"],
        2,
        "'--epochs': Input should be a valid integer",
    ),
    ("unknown flag", lambda t, m: ["train", "--learning-rate", "0.1"], 2, "--learning-rate"),
    (
        "batch larger than train",
        lambda t, m: ["train", "--data", "sample", "--batch-size", "3000", "--out", str(t / "r")],
        2,
        "at most the training split size (2400)",
    ),
    (
        "momentum >= 1",
        lambda t, m: ["train", "--momentum", "1.5", "--data", "sample"],
        2,
        "training.momentum",
    ),
    (
        "val fraction 0",
        lambda t, m: ["train", "--val-fraction", "0", "--data", "sample"],
        2,
        "data.val_fraction",
    ),
    (
        "unknown data source",
        lambda t, m: ["train", "--data", "imagenet"],
        2,
        "neither a data source",
    ),
    (
        "unknown dtype",
        lambda t, m: ["train", "--dtype", "float16", "--data", "sample"],
        2,
        "training.dtype",
    ),
    (
        "cuda without cupy",
        lambda t, m: ["train", "--device", "cuda", "--data", "sample", "--out", str(t / "r")],
        2,
        "CuPy is not installed",
    ),
    (
        "unknown device",
        lambda t, m: ["eval", str(m / "model.npz"), "--device", "tpu"],
        2,
        "unknown device 'tpu'",
    ),
    ("model not npz", lambda t, m: ["eval", _config(t, "not a model")], 1, "not an .npz file"),
    ("model missing", lambda t, m: ["eval", str(t / "absent.npz")], 1, "no such model file"),
    (
        "model missing arrays",
        lambda t, m: ["eval", str(_model_variant(m, t, lambda a: a.pop("W3")))],
        1,
        "missing arrays W3",
    ),
    (
        "model mis-shaped",
        lambda t, m: [
            "eval",
            str(_model_variant(m, t, lambda a: a.update(W2=np.zeros((3, 3), np.float32)))),
        ],
        1,
        "has shape (3, 3)",
    ),
    (
        "model object arrays",
        lambda t, m: ["eval", str(_object_array_model(m, t))],
        1,
        "holds objects (pickles are never loaded)",
    ),
    (
        "model format version",
        lambda t, m: ["eval", str(_version_model(m, t))],
        1,
        "format version 7 is not supported",
    ),
    (
        "model NaN weights",
        lambda t, m: [
            "eval",
            str(_model_variant(m, t, lambda a: a.update(b1=np.full_like(a["b1"], np.nan)))),
        ],
        1,
        "NaN",
    ),
    (
        "model without metadata",
        lambda t, m: ["eval", str(_model_variant(m, t, lambda a: a.pop("metadata")))],
        1,
        "no metadata",
    ),
    (
        "output exists",
        lambda t, m: ["train", "--data", "sample", "--epochs", "1", "--out", str(m)],
        1,
        "exists; pass --force",
    ),
    (
        "gradcheck eps 0",
        lambda t, m: ["gradcheck", "--eps", "0", "--sizes", "4,3"],
        2,
        "epsilon must be a finite number > 0",
    ),
    (
        "gradcheck paper eps 0",
        lambda t, m: ["gradcheck", "--paper", "--eps", "0"],
        2,
        "epsilon must be a finite number > 0",
    ),
    (
        "gradcheck infinite l2",
        lambda t, m: ["gradcheck", "--l2", "inf", "--sizes", "4,3"],
        2,
        "l2 must be a finite number >= 0",
    ),
    (
        "gradcheck negative seed",
        lambda t, m: ["gradcheck", "--seed", "-1", "--sizes", "4,3"],
        2,
        "seed must be an integer >= 0",
    ),
    (
        "gradcheck negative max entries",
        lambda t, m: ["gradcheck", "--max-entries", "-5", "--sizes", "4,3"],
        2,
        "max_entries must be >= 0",
    ),
    (
        "gradcheck bad sizes",
        lambda t, m: ["gradcheck", "--sizes", "784"],
        2,
        "at least an input and an output",
    ),
    (
        "gradcheck unknown activation",
        lambda t, m: ["gradcheck", "--activation", "swish", "--sizes", "4,3"],
        2,
        "unknown activation 'swish'",
    ),
    (
        "data info missing dir",
        lambda t, m: ["data", "info", "--data-dir", str(t / "nope")],
        1,
        "does not exist",
    ),
    (
        "download insecure url",
        lambda t, m: [
            "data",
            "download",
            "--dir",
            str(t / "dl"),
            "--base-url",
            "http://example.org/x/",
        ],
        1,
        "use an https:// URL",
    ),
    (
        "experiment file missing",
        lambda t, m: ["experiment", str(t / "none.toml")],
        2,
        "experiment file",
    ),
    (
        "experiment bad variant",
        lambda t, m: [
            "experiment",
            _config(t, "[[variants]]\nname = 'x'\nmodel = { init = 'zero' }\n"),
        ],
        2,
        "variant 'x'",
    ),
    (
        "experiment zero workers",
        lambda t, m: [
            "experiment",
            _config(t, "seeds = 1\n"),
            "--workers",
            "0",
            "--out",
            str(t / "s"),
        ],
        2,
        "'--workers' / '-w': Input should be greater than or equal to 1",
    ),
    (
        "train --resume of a non-run directory",
        lambda t, m: ["train", "--resume", str(t)],
        2,
        "is not a netlab run directory",
    ),
    (
        "train --resume with --config",
        lambda t, m: ["train", "--resume", str(t), "--config", _config(t, "")],
        2,
        "drop --config",
    ),
    (
        "train dropout of 1",
        lambda t, m: ["train", "--data", "sample", "--dropout", "1", "--out", str(t / "r")],
        2,
        "training.dropout must be a float in [0, 1)",
    ),
    (
        "train unknown schedule",
        lambda t, m: ["train", "--data", "sample", "--schedule", "step", "--out", str(t / "r")],
        2,
        "training.schedule must be one of 'constant', 'cosine'",
    ),
    (
        "plot a missing directory",
        lambda t, m: ["plot", str(t / "none")],
        1,
        "none does not exist; pass a run directory (netlab train) or a sweep directory",
    ),
    (
        "plot to a bad file type",
        lambda t, m: ["plot", str(m.parent), "--out", str(t / "c.gif")],
        1,
        "use a .png, .pdf or .svg file name",
    ),
    (
        "reproduce experiments folder missing",
        lambda t, m: ["reproduce", "--experiments", str(t / "none"), "--report", str(t / "r.md")],
        2,
        "not found; pass --experiments DIR holding paper/ and corrected/",
    ),
    (
        "reproduce negative batch-1 epochs",
        lambda t, m: ["reproduce", "--batch1-epochs", "-1", "--report", str(t / "r.md")],
        2,
        "--batch1-epochs must be an integer >= 0",
    ),
    (
        "reproduce report not markdown",
        lambda t, m: ["reproduce", "--report", str(t / "r.txt")],
        2,
        "must be a Markdown file",
    ),
    (
        "reproduce report folder missing",
        lambda t, m: ["reproduce", "--report", str(t / "no" / "r.md")],
        2,
        "directory",
    ),
    (
        "reproduce zero workers",
        lambda t, m: ["reproduce", "--workers", "0", "--report", str(t / "r.md")],
        2,
        "'--workers' / '-w': Input should be greater than or equal to 1",
    ),
    ("unknown command", lambda t, m: ["fit"], 2, "No such command"),
    (
        "model with an encrypted member",
        lambda t, m: ["eval", _encrypted_member_model(m, t)],
        1,
        "member 'W2' is encrypted",
    ),
    # issue 12: the first hour of a new user
    (
        "eval --plot onto an existing file",
        lambda t, m: ["eval", str(m / "model.npz"), "--plot", _file(t, "cm.png")],
        1,
        "cm.png exists; pass --force to overwrite it",
    ),
    (
        "train --resume of a finished run with fewer epochs",
        lambda t, m: ["train", "--resume", str(m), "--epochs", "1"],
        2,
        "with training.epochs 1 instead of 2: a resume can add epochs, not remove them",
    ),
    (
        "train --resume with a flag a resume cannot change",
        lambda t, m: ["train", "--resume", str(m), "--lr", "0.5", "--epochs", "3"],
        2,
        "--lr cannot change when resuming",
    ),
    (
        "train --resume with two flags a resume cannot change",
        lambda t, m: ["train", "--resume", str(m), "--hidden", "8", "--seed", "3"],
        2,
        "--hidden, --seed cannot change when resuming",
    ),
    (
        "train --resume of a cosine run with more epochs",
        lambda t, m: ["train", "--resume", _run(t, "--schedule", "cosine"), "--epochs", "4"],
        2,
        "its cosine schedule sets every epoch's learning rate from the epoch count (epoch 2",
    ),
    (
        "train --resume of an early-stopped run with more epochs",
        lambda t, m: ["train", "--resume", _stopped_run(t), "--epochs", "9"],
        2,
        "it stopped early after epoch 2 (no better val_accuracy since epoch 1, patience 1)",
    ),
    (
        "a mistyped flag suggests nothing unrelated",
        lambda t, m: ["train", "--bogus"],
        2,
        "error: no such option --bogus; see 'netlab train --help'",
    ),
    (
        "a flag close to a real one is suggested",
        lambda t, m: ["train", "--epoch", "3"],
        2,
        "no such option --epoch (did you mean --epochs?)",
    ),
    (
        "eval of a run directory",
        lambda t, m: ["eval", str(m)],
        1,
        "r is a directory, not a model file; pass /",  # ... pass <run dir>/model.npz
    ),
    (
        "plot a file instead of a directory",
        lambda t, m: ["plot", str(m / "config.toml")],
        1,
        "config.toml is not a directory; pass a run directory (netlab train) or a sweep",
    ),
    (
        "an experiment file passed as --config",
        lambda t, m: ["train", "-c", str(ROOT / "configs/experiments/paper/depth.toml")],
        2,
        "depth.toml is an experiment file (it has base, grid, seeds), not a config; run it with "
        "netlab experiment",
    ),
    (
        "a directory passed as --config",
        lambda t, m: ["train", "-c", str(t)],
        2,
        "is a directory; pass a config file (.toml)",
    ),
    (
        "a directory passed as the experiment file",
        lambda t, m: ["experiment", str(t)],
        2,
        "is a directory; pass an experiment file",
    ),
    (
        "config show of nothing that exists",
        lambda t, m: ["config", "show", str(t / "none")],
        2,
        "none is neither a run directory nor a config file",
    ),
    (
        "config show with a bad flag value",
        lambda t, m: ["config", "show", "--lr", "-1"],
        2,
        "training.lr must be a float > 0; got -1.0",
    ),
    (
        "config show of a run with a flag a resume cannot change",
        lambda t, m: ["config", "show", str(m), "--dropout", "0.5"],
        2,
        "--dropout cannot change when resuming",
    ),
    (
        "config show with a mistyped flag",
        lambda t, m: ["config", "show", "--epoch", "3"],
        2,
        "no such option --epoch (did you mean --epochs?); see 'netlab config show --help'",
    ),
]


def _encrypted_member_model(trained: Path, tmp_path: Path) -> str:
    """model.npz with W2's "encrypted" flag set (found by the fuzz test: zipfile raised
    RuntimeError asking for a password)."""
    data = bytearray((trained / "model.npz").read_bytes())
    for signature, flags_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        at = data.find(signature)
        while at != -1:
            name_at = at + (46 if signature == b"PK\x01\x02" else 30)
            if data[name_at : name_at + 6] == b"W2.npy":
                data[at + flags_at] |= 0x1
            at = data.find(signature, at + 4)
    p = tmp_path / "encrypted.npz"
    p.write_bytes(bytes(data))
    return str(p)


def _file(tmp_path: Path, name: str, content: bytes = b"previous") -> str:
    p = tmp_path / name
    p.write_bytes(content)
    return str(p)


def _run(tmp_path: Path, *flags: str) -> str:
    """A finished 2-epoch run on the sample, made before the catalog's snapshot."""
    out = tmp_path / "run"
    argv = ["train", "--data", "sample", "--epochs", "2", "--hidden", "8", "--out", str(out), "-q"]
    assert main([*argv, *flags]) == 0
    return str(out)


def _stopped_run(tmp_path: Path) -> str:
    """A run that stopped early after epoch 2: a learning rate too small to change any
    prediction keeps epoch 1 the best (ties keep the earlier epoch), and patience is 1."""
    run = _run(tmp_path, "--epochs", "5", "--patience", "1", "--lr", "1e-30")
    assert json.loads((Path(run) / "metrics.json").read_text())["epochs_run"] == 2
    return run


@pytest.mark.parametrize("name,build,code,phrase", CATALOG, ids=[c[0] for c in CATALOG])
def test_bad_input_gives_one_line_error_and_changes_nothing(
    name, build, code, phrase, capsys, tmp_path, trained, monkeypatch
):
    monkeypatch.setitem(sys.modules, "cupy", None)  # the machine-independent "no CuPy" case
    monkeypatch.chdir(tmp_path)
    argv = build(tmp_path, trained)
    capsys.readouterr()  # what building the input printed
    before, model_before = snapshot(tmp_path), snapshot(trained)
    got, out, err = run(capsys, *argv)
    assert got == code, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase in lines[0], lines[0]
    if name == "eval of a run directory":
        assert lines[0].endswith(f"pass {trained / 'model.npz'}")
    assert out == "", out  # validated before anything is printed (issue 12, item 17)
    assert "Traceback" not in err + out
    assert snapshot(tmp_path) == before and snapshot(trained) == model_before
    assert not (tmp_path / "runs").exists()


def test_catalog_is_large_enough():
    assert len(CATALOG) >= 40


def test_rich_progress_renders_on_a_terminal(monkeypatch):
    """The live display (epoch and batch bars, metrics) runs through a whole training."""
    import io

    from netlab.cli import ui
    from rich.console import Console

    from netlab.config import Config, with_overrides
    from netlab.training.run import train

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=150)
    monkeypatch.setattr(ui, "console", term)
    assert ui.progress_mode(False) == "rich" and ui.progress_mode(True) == "quiet"
    cfg = with_overrides(Config(), {"data.source": "sample", "training.epochs": 2})
    with ui.TrainingProgress("rich") as progress:
        train(cfg, progress=progress)
    text = buf.getvalue()
    assert "epochs" in text and "epoch 2" in text and "best" in text and "2/2" in text


def test_ctrl_c_during_training_is_one_line_and_says_how_to_resume(capsys, tmp_path, monkeypatch):
    import netlab.training.loop as T

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules["netlab.training.loop"], "train_epoch", interrupted)
    assert T.train_epoch is interrupted
    code, out, err = run(capsys, "train", "--data", "sample", "--out", str(tmp_path / "r"))
    assert code == 130 and len(err.strip().splitlines()) == 1
    # What is on disk, said as it is: a config and no checkpoint (issue 12, item 9).
    assert err.startswith(f"error: interrupted in epoch 1; {tmp_path / 'r'} holds its config.toml "
                          "but no checkpoint yet")  # fmt: skip
    assert f"--resume {tmp_path / 'r'} starts it again from epoch 1" in err
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [".lock", "config.toml"]


def test_review_findings_give_one_line_errors(capsys, tmp_path, monkeypatch):
    """Inputs found by review that used to end in tracebacks or misleading messages."""
    monkeypatch.chdir(tmp_path)
    cases = [
        (["gradcheck", "--paper", "--sizes", "784,50,50,5"], 2, "at least 784-10-32-10"),
        (["data", "download", "--dir", "/proc/netlab"], 1, "cannot"),
        (
            [
                "data",
                "download",
                "--dir",
                str(tmp_path / "d"),
                "--base-url",
                "https://exa mple.org/",
            ],
            1,
            "failed",
        ),
        (["train", "--data", "sample", "--val-fraction", "0.0001"], 2, "validation split empty"),
        (["train", "--data", "sample", "--data-dir", str(tmp_path)], 1, "drop --data-dir"),
    ]
    for argv, code, phrase in cases:
        got, out, err = run(capsys, *argv)
        lines = err.strip().splitlines()
        assert got == code and len(lines) == 1 and phrase in lines[0], (argv, err)
    cfg = tmp_path / "lr=0.1.toml"
    cfg.write_text("[training]\nepochs = 1\n[data]\nsource = 'sample'\n")
    assert main(["train", "-c", str(cfg), "--quiet"]) == 0
    assert [p.name.startswith("lr_0.1-seed0-") for p in (tmp_path / "runs").iterdir()] == [True]

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(sys.modules["netlab.training.run"], "train", no_memory)
    got, _, err = run(capsys, "train", "--data", "sample", "--out", str(tmp_path / "oom"))
    assert got == 1 and err.strip().startswith("error: out of memory")


def test_hand_made_npz_members_are_refused(tmp_path, trained, capsys):
    import zipfile

    bad = tmp_path / "raw.npz"
    with zipfile.ZipFile(trained / "model.npz") as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "metadata.npy":  # the JSON as a raw member: np.load hands back bytes
                dst.writestr("metadata", b'{"format": "netlab-mlp"}')
            else:
                dst.writestr(item, data)
    code, _, err = run(capsys, "eval", str(bad))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ") and "member 'metadata' is not an array" in err


def test_eval_force_overwrites_an_existing_figure(capsys, tmp_path, trained):
    """Issue 12, item 4: the error says `pass --force`, and eval has it."""
    pytest.importorskip("matplotlib", reason="needs the plots extra")
    figure = tmp_path / "cm.png"
    figure.write_bytes(b"previous")
    code, _, err = run(capsys, "eval", str(trained / "model.npz"), "--plot", str(figure))
    assert code == 1 and "pass --force to overwrite it" in err
    code, _, err = run(capsys, "eval", str(trained / "model.npz"), "--plot", str(figure), "--force")
    assert code == 0, err
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_confusion_matrix_shows_full_class_names(capsys, trained):
    """Issue 12, item 18: rows carry the full names, columns the same numbers."""
    code, out, _ = run(capsys, "eval", str(trained / "model.npz"))
    assert code == 0 and "Confusion matrix" in out, out
    matrix = out.split("Confusion matrix")[1]
    header = next(line for line in matrix.splitlines() if line.startswith("┃ true class"))
    assert re.findall(r"\b\d\b", header) == [*"0123456789"]
    for i, name in enumerate(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                              "Shirt", "Sneaker", "Bag", "Ankle boot"]):  # fmt: skip
        assert f"{i} {name} " in matrix
