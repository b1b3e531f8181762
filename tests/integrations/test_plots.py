"""Figures: curves with bands over seeds, confusion heat maps, and the commands that draw them."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("matplotlib", reason='needs the plots extra (pip install -e ".[plots]")')

from netlab.cli import main  # noqa: E402

from netlab.errors import DataError, NetlabError  # noqa: E402
from netlab.integrations.plots import histories_under, plot_confusion, plot_curves  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def history(n, shift=0.0):
    return [
        {"epoch": e, "train_loss": 1 / e + shift, "train_accuracy": 0.5 + e / 100,
         "val_loss": 1.2 / e + shift, "val_accuracy": 0.45 + e / 100, "seconds": 0.1}
        for e in range(1, n + 1)
    ]  # fmt: skip


def test_curves_have_a_line_per_variant_and_split(tmp_path):
    groups = {"tanh": [history(5), history(5, 0.1)], "relu": [history(4), history(5)]}
    fig = plot_curves(groups, tmp_path / "c.png", title="activations")
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
    loss, acc = fig.axes
    assert loss.get_title() == "Loss" and acc.get_ylabel() == "accuracy (%)"
    assert len(loss.lines) == 4 and len(acc.lines) == 4  # 2 variants x (train, validation)
    (legend,) = fig.legends  # one legend for both panels, outside the axes
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0] == "tanh (2 seeds), train" and labels[3] == "relu (2 seeds), validation"
    assert len(acc.lines[2].get_xdata()) == 4  # cut to the shortest run of the variant
    assert len(loss.collections) == 4  # one band per line (2 seeds each)
    assert fig._suptitle.get_text() == "activations"


def test_loss_axis_turns_logarithmic_when_one_variant_is_far_off(tmp_path):
    calm = plot_curves({"a": [history(5)]}, tmp_path / "a.png", title="t")
    assert calm.axes[0].get_yscale() == "linear"
    wild = plot_curves({"a": [history(5)], "b": [history(5, 100.0)]}, tmp_path / "b.png", title="t")
    assert wild.axes[0].get_yscale() == "log" and "log scale" in wild.axes[0].get_ylabel()


def test_confusion_heat_map(tmp_path):
    names = ["a", "b", "c"]
    fig = plot_confusion([[5, 1, 0], [2, 7, 1], [0, 0, 9]], names, tmp_path / "m.png", "test")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert sorted(t.get_text() for t in ax.texts)[:3] == ["0", "0", "0"]
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG


def test_commands_draw_from_saved_runs(tmp_path, capsys):
    sweep = tmp_path / "exp.toml"
    sweep.write_text(
        'name = "s"\nseeds = 2\n[overrides]\ntraining = { epochs = 2 }\n'
        'data = { source = "sample" }\n[grid]\nmodel = { hidden = [[8], [12]] }\n'
    )
    out = tmp_path / "sweep"
    assert main(["experiment", str(sweep), "--out", str(out), "--quiet"]) == 0
    assert (out / "curves.png").read_bytes()[:8] == PNG
    groups, name = histories_under(out)
    assert name == "sweep" and all(len(runs) == 2 for runs in groups.values())
    assert sorted(groups) == ["hidden=12", "hidden=8"]  # names from the experiment file
    assert main(["plot", str(out / "hidden-8" / "seed0"), "--out", str(tmp_path / "one.png")]) == 0
    assert (tmp_path / "one.png").read_bytes()[:8] == PNG
    for bad, phrase in (
        ([str(out), "--out", str(tmp_path / "one.png")], "exists; pass --force"),
        ([str(out), "--out", str(tmp_path / "nodir" / "c.png")], "does not exist"),
        ([str(out), "--out", str(tmp_path / "c.foo")], "use a .png, .pdf or .svg"),
    ):
        assert main(["plot", *bad]) in (1, 2)
        err = capsys.readouterr().err
        assert err.startswith("error: ") and phrase in err and len(err.strip().splitlines()) == 1
    assert main(["plot", str(out), "--out", str(tmp_path / "one.png"), "--force"]) == 0
    model = out / "hidden-8" / "seed0" / "model.npz"
    assert main(["eval", str(model), "--plot", str(tmp_path / "cm.png")]) == 0
    assert (tmp_path / "cm.png").read_bytes()[:8] == PNG
    capsys.readouterr()
    assert main(["eval", str(model), "--plot", str(tmp_path / "cm.png")]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err
    with pytest.raises(DataError, match="no finished run"):
        histories_under(tmp_path)


def test_missing_matplotlib_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(NetlabError, match=r'pip install -e "\.\[plots\]"'):
        plot_curves({"a": [history(2)]}, tmp_path / "x.png", "t")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "history.csv").write_text(
        "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n1,1,0.5,1,0.5,0.1\n"
    )
    assert main(["plot", str(tmp_path / "r")]) == 1
    assert capsys.readouterr().err.startswith("error: plots need matplotlib")
