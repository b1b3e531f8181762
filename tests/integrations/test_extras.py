"""Optional extras stay optional: without scikit-learn, onnx, onnxruntime and tensorboardX,
`import netlab` and the core CLI work, and each command that needs one names the extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    for name in ("sklearn", "onnx", "onnxruntime", "tensorboardX"):
        sys.modules[name] = None  # any import of them now fails, as if not installed
    import netlab
    from netlab.cli import main
    from netlab.errors import NetlabError

    out = sys.argv[1]
    assert main(["train", "--data", "sample", "--epochs", "1", "--out", out + "/r", "-q"]) == 0
    assert main(["eval", out + "/r/model.npz", "--data", "sample"]) == 0
    assert main(["export", out + "/r/model.npz", out + "/m.onnx"]) == 1
    assert main(["train", "--data", "sample", "--epochs", "1", "--out", out + "/t",
                 "--tensorboard", out + "/tb", "-q"]) == 1
    try:
        import netlab.integrations.sklearn
    except NetlabError as exc:
        print("sklearn:", exc, file=sys.stderr)
    else:
        raise SystemExit("netlab.integrations.sklearn imported without scikit-learn")
    """
)


def test_core_works_without_the_optional_extras(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert 'error: ONNX export needs the onnx extra; pip install -e ".[onnx]"' in err
    tensorboard = (
        'error: --tensorboard needs the tensorboard extra; pip install -e ".[tensorboard]"'
    )
    assert tensorboard in err
    assert 'netlab.integrations.sklearn needs scikit-learn; pip install -e ".[sklearn]"' in err
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "t").exists()
