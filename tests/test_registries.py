"""One seam per idea: an activation, an optimizer and a data source, each defined as one throwaway
entry in a temporary module, work everywhere with no other edit (the worked examples of
docs/architecture.md): gradient check, training, checkpoint and resume, save, load, eval, ONNX."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import numpy as np
import pytest
from netlab.cli import main

from netlab.data.sources import DATA_SOURCES
from netlab.nn.activations import ACTIVATIONS
from netlab.nn.optimizers import OPTIMIZERS

PLUGIN = """
import numpy as np

from netlab.data.sources import DATA_SOURCES, DataSource, Dataset
from netlab.nn.activations import ACTIVATIONS, ActivationDef
from netlab.nn.optimizers import OPTIMIZERS, Optimizer


@ACTIVATIONS.register("softsign_t")
class Softsign(ActivationDef):
    summary = "y = z / (1 + |z|)"
    saves = "z"

    def forward(self, z, xp, slope):
        return z / (1.0 + xp.abs(z))

    def backward(self, z, dy, xp, slope):
        d = 1.0 + xp.abs(z)
        dy /= d * d
        return dy

    def reference(self, z, slope):
        return z / (1.0 + np.abs(z))

    def onnx(self, g, z, slope):
        return g.node("Softsign", [z])


@OPTIMIZERS.register("rmsprop_t")
class RMSprop(Optimizer):
    summary = "RMSprop (Hinton 2012)"
    default_lr = 1e-3
    hyper = {"beta2": 0.9, "eps": 1e-8}
    buffers = ("sq",)

    def update(self, g):
        sq = self.state["sq"]
        sq *= self.beta2
        sq += (1.0 - self.beta2) * g * g
        self.flat -= self.lr * g / (np.sqrt(sq) + self.eps)


@DATA_SOURCES.register("blobs_t")
class Blobs(DataSource):
    summary = "three Gaussian blobs in 20 dimensions"

    def load(self, location):
        rng = np.random.default_rng(0)
        centers = rng.normal(0, 3, (3, 20))
        def draw(n):
            y = np.arange(n) % 3
            return centers[y] + rng.normal(0, 1, (n, 20)), y
        (x, y), (xt, yt) = draw(600), draw(150)
        return Dataset(x, y, xt, yt, ("a", "b", "c"), self.name, "generated", scale=1.0)
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The entries above, in a module of their own; unregistered afterwards."""
    (tmp_path / "netlab_plugin_t.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("netlab_plugin_t")
    yield module
    ACTIVATIONS.remove("softsign_t")
    OPTIMIZERS.remove("rmsprop_t")
    DATA_SOURCES.remove("blobs_t")
    sys.modules.pop("netlab_plugin_t", None)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, (argv, out, err)
    return out


def test_a_new_activation_works_everywhere(plugin, tmp_path, capsys):
    report = json.loads(run(capsys, "gradcheck", "--activation", "softsign_t", "--json"))
    assert report["passed"] and report["settings"]["activation"] == "softsign_t"
    out = tmp_path / "run"
    run(capsys, "train", "--data", "sample", "--epochs", "1", "--hidden", "16",
        "--activation", "softsign_t", "--out", str(out), "-q")  # fmt: skip
    evaluated = json.loads(run(capsys, "eval", str(out / "model.npz"), "--json"))
    assert evaluated["test_accuracy"] > 0.5
    pytest.importorskip("onnxruntime", reason="needs the onnx extra")
    import onnxruntime as ort

    run(capsys, "export", str(out / "model.npz"), str(tmp_path / "m.onnx"))
    from netlab.files.model import load_model

    loaded = load_model(out / "model.npz", "cpu")
    pixels = np.random.default_rng(0).integers(0, 256, (5, 784)).astype(np.float32)
    x = (pixels / 255.0 - loaded.mean) / loaded.std
    expected = loaded.model.logits(x.astype(np.float32))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"pixels": pixels})
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert "softsign_t" in run(capsys, "train", "--help")  # the help lists the registry


def test_an_activation_without_onnx_is_refused_by_export_never_substituted(plugin, tmp_path,
                                                                             capsys):  # fmt: skip
    del type(ACTIVATIONS.get("softsign_t")).onnx
    out = tmp_path / "run"
    run(capsys, "train", "--data", "sample", "--epochs", "1", "--hidden", "8",
        "--activation", "softsign_t", "--out", str(out), "-q")  # fmt: skip
    pytest.importorskip("onnx", reason="needs the onnx extra")
    assert main(["export", str(out / "model.npz"), str(tmp_path / "m.onnx")]) == 1
    assert "defines no ONNX subgraph" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_a_new_optimizer_trains_checkpoints_and_resumes_bit_for_bit(plugin, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    """Its state ("sq") and step count travel through the generic checkpoint: resuming from the
    epoch-1 checkpoint ends with the uninterrupted run's weights."""
    import netlab.training.checkpoint as C
    from netlab.config import Config, with_overrides
    from netlab.training.run import train

    settings = {"data.source": "sample", "training.epochs": 3, "model.hidden": (16,),
                "training.optimizer": "rmsprop_t"}  # fmt: skip
    cfg = with_overrides(Config(), settings)
    assert cfg.resolved().training.lr == 1e-3  # its own default rate
    saved, real = {}, C.save_checkpoint

    def keep(path, state):
        real(path, state)
        saved.setdefault(state.epoch, path.read_bytes())

    monkeypatch.setattr(C, "save_checkpoint", keep)
    (tmp_path / "full").mkdir()
    full = train(cfg, run_dir=tmp_path / "full")
    monkeypatch.setattr(C, "save_checkpoint", real)
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    (resumed_dir / C.NAME).write_bytes(saved[1])
    with np.load(resumed_dir / C.NAME) as z:
        assert "opt.sq" in z.files
    resumed = train(cfg, run_dir=resumed_dir, resume=True)
    assert np.array_equal(resumed.model.flat, full.model.flat)
    assert full.test.accuracy > 0.6


def test_a_new_data_source_trains_and_evaluates(plugin, tmp_path, capsys):
    out = tmp_path / "run"
    run(capsys, "train", "--data", "blobs_t", "--epochs", "3", "--hidden", "8",
        "--out", str(out), "-q")  # fmt: skip
    evaluated = json.loads(run(capsys, "eval", str(out / "model.npz"), "--json"))
    assert evaluated["class_names"] == ["a", "b", "c"] and evaluated["n_test"] == 150
    assert evaluated["test_accuracy"] > 0.9
    assert "blobs_t" in run(capsys, "train", "--help")


def test_the_docs_name_every_entry():
    """The entry lists that prose keeps (docs/data.md's table, docs/architecture.md's layout)
    name every registered entry; help texts render theirs from the registries."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    table = (docs / "data.md").read_text().split("| `--data` |", 1)[1].split("\n\n", 1)[0]
    for name, entry in DATA_SOURCES.items():
        shown = [f"file{s}`" for s in entry.suffixes] if entry.takes == "file" else [f"`{name}`"]
        assert all(s in table for s in shown), (name, "docs/data.md")
    layout = (docs / "architecture.md").read_text()
    for registry in (ACTIVATIONS, OPTIMIZERS, DATA_SOURCES):
        line = next(
            x for x in layout.splitlines() if f"{registry.kind.replace(' ', '_').upper()}S:" in x
        )
        assert all(name in line for name in registry if name not in ("npz", "csv")), line


def test_a_setting_declared_with_different_defaults_defaults_to_the_entrys_own():
    from netlab.registry import Registry, Setting
    from netlab.schema import _setting_fields

    reg = Registry("optimizer")
    for name, default in (("a", 0.999), ("b", 0.9)):
        reg.add(
            name, type(name, (), {"settings": (Setting("beta2", default, "beta2.", 0.0, 1.0),)})
        )
    field = _setting_fields(reg)["beta2"]
    assert field.default is None and field.check(0.5) == 0.5 and field.check(2.0) is None
    assert field.help == "a, b: beta2. Default: the optimizer's own (a 0.999, b 0.9)."
    reg.add("c", type("c", (), {"settings": (Setting("beta2", 0.9, "beta2.", 0.0, 2.0),)}))
    with pytest.raises(ValueError, match="another range"):
        _setting_fields(reg)
