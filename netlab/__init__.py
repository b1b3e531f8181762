"""netlab: one explicit forward/backward MLP code path on NumPy (CPU) or CuPy (CUDA).

The public API below is loaded on first use (PEP 562), so `import netlab` is instant and imports
neither NumPy, CuPy, typer, rich nor matplotlib; `netlab.MLP` imports netlab.layers (and NumPy)
the first time it is touched. Submodules are named after their idea (netlab.train,
netlab.gradcheck, ...); the functions exported here use names that do not shadow them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# name -> (submodule, attribute in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    "Activation": ("activations", "Activation"),
    "get_activation": ("activations", "get_activation"),
    "Backend": ("backend", "Backend"),
    "array_module": ("backend", "array_module"),
    "cuda_available": ("backend", "cuda_available"),
    "get_backend": ("backend", "get_backend"),
    "Config": ("config", "Config"),
    "DataConfig": ("config", "DataConfig"),
    "ModelConfig": ("config", "ModelConfig"),
    "TrainingConfig": ("config", "TrainingConfig"),
    "load_config": ("config", "load_config"),
    "with_overrides": ("config", "with_overrides"),
    "CLASS_NAMES": ("data", "CLASS_NAMES"),
    "load_raw": ("data", "load_raw"),
    "prepare": ("data", "prepare"),
    "read_idx": ("data", "read_idx"),
    "BackendError": ("errors", "BackendError"),
    "ConfigError": ("errors", "ConfigError"),
    "DataError": ("errors", "DataError"),
    "GradcheckError": ("errors", "GradcheckError"),
    "ModelFileError": ("errors", "ModelFileError"),
    "NetlabError": ("errors", "NetlabError"),
    "OutputExistsError": ("errors", "OutputExistsError"),
    "TrainingDiverged": ("errors", "TrainingDiverged"),
    "GradcheckReport": ("gradcheck", "GradcheckReport"),
    "check_model": ("gradcheck", "check_model"),
    "check_gradients": ("gradcheck", "gradcheck"),
    "load_model": ("io", "load_model"),
    "save_model": ("io", "save_model"),
    "MLP": ("layers", "MLP"),
    "linear_backward": ("layers", "linear_backward"),
    "linear_forward": ("layers", "linear_forward"),
    "log_softmax": ("losses", "log_softmax"),
    "softmax_cross_entropy": ("losses", "softmax_cross_entropy"),
    "SGD": ("optim", "SGD"),
    "write_run": ("runs", "write_run"),
    "TrainResult": ("train", "TrainResult"),
    "evaluate": ("train", "evaluate"),
    "fit": ("train", "fit"),
    "train_from_config": ("train", "train"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attribute)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'netlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # static analysers and IDEs see ordinary imports
    from .activations import Activation, get_activation  # noqa: F401
    from .backend import Backend, array_module, cuda_available, get_backend  # noqa: F401
    from .config import (  # noqa: F401
        Config,
        DataConfig,
        ModelConfig,
        TrainingConfig,
        load_config,
        with_overrides,
    )
    from .data import CLASS_NAMES, load_raw, prepare, read_idx  # noqa: F401
    from .errors import (  # noqa: F401
        BackendError,
        ConfigError,
        DataError,
        GradcheckError,
        ModelFileError,
        NetlabError,
        OutputExistsError,
        TrainingDiverged,
    )
    from .gradcheck import GradcheckReport, check_model  # noqa: F401
    from .gradcheck import gradcheck as check_gradients  # noqa: F401
    from .io import load_model, save_model  # noqa: F401
    from .layers import MLP, linear_backward, linear_forward  # noqa: F401
    from .losses import log_softmax, softmax_cross_entropy  # noqa: F401
    from .optim import SGD  # noqa: F401
    from .runs import write_run  # noqa: F401
    from .train import TrainResult, evaluate, fit  # noqa: F401
    from .train import train as train_from_config  # noqa: F401
