"""The README's and the interface pages' Python examples run as written (on the shipped sample)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no Python example"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert (tmp_path / "runs" / "api-demo" / "model.npz").is_file()


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
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, page, "exec"), {"__name__": "docs"})
    assert "accuracy" in capsys.readouterr().out or page == "logs.md"
