import sys
import types

import numpy as np
import pytest

import netlab
from netlab.nn.backend import array_module, get_backend


def test_cpu_backend_basics():
    be = get_backend("cpu")
    assert be.name == "cpu" and be.xp is np and be.device == "cpu" and be.dtype == np.float32
    z = be.zeros((2, 3))
    assert z.dtype == np.float32 and z.shape == (2, 3)
    assert be.to_float(np.float32(2.5)) == 2.5 and type(be.to_float(np.float32(1))) is float
    assert np.array_equal(be.to_numpy(be.asarray([1, 2])), [1, 2])
    assert get_backend("cpu", "float64").dtype == np.float64
    be.synchronize()


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu:0", ""])
def test_unknown_device_is_a_backend_error(bad):
    with pytest.raises(netlab.BackendError, match="expected cpu, cuda, cuda:N or auto"):
        get_backend(bad)


def test_unknown_dtype_rejected():
    with pytest.raises(netlab.BackendError, match="float32"):
        get_backend("cpu", "float16")


def test_cuda_without_cupy_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(
        netlab.BackendError, match=r"CuPy is not installed; pip install -e \"\.\[cuda\]\""
    ):
        get_backend("cuda")
    assert get_backend("auto").name == "cpu"


def test_cuda_without_gpu_says_so(monkeypatch):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(netlab.BackendError, match="no usable CUDA GPU"):
        get_backend("cuda:0")
    assert get_backend("auto").name == "cpu"


def test_array_module_mixed_raises_typeerror():
    class FakeCupyArray:
        pass

    FakeCupyArray.__module__ = "cupy._core.core"
    with pytest.raises(TypeError, match="backend.asarray"):
        array_module(np.zeros(2), FakeCupyArray())
    assert array_module(np.zeros(2), None, 1.0) is np


@pytest.mark.parametrize(
    "statement",
    ["import netlab", "from netlab.cli import app"],  # the library, and what `netlab --help` loads
)
def test_imports_are_light(statement):
    import subprocess

    heavy = ("numpy", "cupy", "matplotlib", "torch") + (
        ("typer", "rich") if "cli" not in statement else ()
    )
    code = f"import sys; {statement}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _numpy_backed_cupy():
    """A stand-in `cupy` module built on NumPy: exercises netlab's CUDA branches without a GPU."""
    fake = types.ModuleType("cupy")
    for name in (
        "asarray",
        "zeros",
        "empty",
        "ones",
        "matmul",
        "arange",
        "concatenate",
        "copyto",
        "exp",
        "log",
        "tanh",
        "maximum",
        "multiply",
        "subtract",
        "divide",
        "where",
        "sum",
        "isfinite",
    ):
        setattr(fake, name, getattr(np, name))
    fake.take = lambda a, indices, axis=None, out=None: np.take(a, indices, axis=axis, out=out)
    fake.asnumpy = np.asarray
    synced = []
    stream = types.SimpleNamespace(synchronize=lambda: synced.append(1))
    fake.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 2),
        Device=lambda i: types.SimpleNamespace(use=lambda: None),
        get_current_stream=lambda: stream,
    )
    fake.synced = synced
    fake.RawModule = _ProbeModule  # get_backend's probe compiles and runs one small kernel
    return fake


class _ProbeModule:
    """CuPy's RawModule for the probe's kernel only (netlab/cuda/probe.py: y = 2 x + 1)."""

    def __init__(self, code, options=()):
        self.code = code

    def get_function(self, name):
        def kernel(grid, block, args):
            x, y, n = args
            y.reshape(-1)[:n] = 2 * x.reshape(-1)[:n] + 1

        return kernel


def test_cuda_branches_run_with_a_numpy_backed_cupy(monkeypatch):
    from netlab.config import Config, with_overrides
    from netlab.training.run import train

    fake = _numpy_backed_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    be = get_backend("cuda:1")
    assert (be.name, be.device, be.xp) == ("cuda", "cuda:1", fake)
    be.synchronize()
    assert fake.synced == [1]
    with pytest.raises(netlab.BackendError, match="only 2 GPU"):
        get_backend("cuda:2")
    assert get_backend("auto").name == "cuda"
    cfg = with_overrides(Config(), {"data.source": "sample", "training.epochs": 2})
    on_fake = train(cfg, device="cuda", graph=False)  # the eager CUDA branches
    on_cpu = train(cfg, device="cpu")
    assert on_fake.backend.name == "cuda"
    np.testing.assert_array_equal(on_fake.model.flat, on_cpu.model.flat)
    assert on_fake.test.accuracy == on_cpu.test.accuracy


def test_lazy_exports_resolve():
    for name in netlab.__all__:
        assert getattr(netlab, name) is not None
    assert netlab.train_from_config.__module__ == "netlab.training.run"
    with pytest.raises(AttributeError):
        netlab.does_not_exist  # noqa: B018
