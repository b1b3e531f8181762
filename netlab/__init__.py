"""netlab: one explicit forward/backward MLP code path on NumPy (CPU) or CuPy (CUDA).

The public API below is loaded on first use (PEP 562), so `import netlab` is instant and imports
neither NumPy, CuPy, typer, rich nor matplotlib; `netlab.MLP` imports netlab.nn.layers (and NumPy)
the first time it is touched. Subpackages are named after their idea: nn (the math), cuda, data,
training, files, experiments, integrations; cli is the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# name -> (submodule, attribute in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    "Activation": ("nn.activations", "Activation"),
    "ActivationDef": ("nn.activations", "ActivationDef"),
    "ACTIVATIONS": ("nn.activations", "ACTIVATIONS"),
    "get_activation": ("nn.activations", "get_activation"),
    "Backend": ("nn.backend", "Backend"),
    "array_module": ("nn.arrays", "array_module"),
    "cuda_available": ("nn.backend", "cuda_available"),
    "get_backend": ("nn.backend", "get_backend"),
    "MLP": ("nn.layers", "MLP"),
    "linear_backward": ("nn.layers", "linear_backward"),
    "linear_forward": ("nn.layers", "linear_forward"),
    "log_softmax": ("nn.losses", "log_softmax"),
    "softmax_cross_entropy": ("nn.losses", "softmax_cross_entropy"),
    "OPTIMIZERS": ("nn.optimizers", "OPTIMIZERS"),
    "Optimizer": ("nn.optimizers", "Optimizer"),
    "SGD": ("nn.optimizers", "SGD"),
    "Adam": ("nn.optimizers", "Adam"),
    "AdamW": ("nn.optimizers", "AdamW"),
    "SCHEDULES": ("nn.schedules", "SCHEDULES"),
    "Config": ("config", "Config"),
    "DataConfig": ("config", "DataConfig"),
    "ModelConfig": ("config", "ModelConfig"),
    "TrainingConfig": ("config", "TrainingConfig"),
    "load_config": ("config", "load_config"),
    "with_overrides": ("config", "with_overrides"),
    "DATA_SOURCES": ("data.sources", "DATA_SOURCES"),
    "DataSource": ("data.sources", "DataSource"),
    "Dataset": ("data.sources", "Dataset"),
    "load_data": ("data.sources", "load_data"),
    "prepare": ("data.prepare", "prepare"),
    "read_idx": ("data.idx", "read_idx"),
    "BackendError": ("errors", "BackendError"),
    "ConfigError": ("errors", "ConfigError"),
    "DataError": ("errors", "DataError"),
    "GradcheckError": ("errors", "GradcheckError"),
    "ModelFileError": ("errors", "ModelFileError"),
    "NetlabError": ("errors", "NetlabError"),
    "OutputExistsError": ("errors", "OutputExistsError"),
    "TrainingDiverged": ("errors", "TrainingDiverged"),
    "Registry": ("registry", "Registry"),
    "load_model": ("files.model", "load_model"),
    "save_model": ("files.model", "save_model"),
    "write_run": ("files.runs", "write_run"),
    "GradcheckReport": ("training.gradcheck", "GradcheckReport"),
    "check_model": ("training.gradcheck", "check_model"),
    "check_gradients": ("training.gradcheck", "gradcheck"),
    "Evaluation": ("training.evaluation", "Evaluation"),
    "evaluate": ("training.evaluation", "evaluate"),
    "fit": ("training.loop", "fit"),
    "TrainResult": ("training.run", "TrainResult"),
    "train_from_config": ("training.run", "train"),
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
    from .config import Config, DataConfig, ModelConfig, TrainingConfig, load_config, with_overrides  # noqa: F401  # noqa: F401
    from .data.idx import read_idx  # noqa: F401
    from .data.prepare import prepare  # noqa: F401
    from .data.sources import DATA_SOURCES, Dataset, DataSource, load_data  # noqa: F401
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
    from .files.model import load_model, save_model  # noqa: F401
    from .files.runs import write_run  # noqa: F401
    from .nn.activations import (  # noqa: F401
        ACTIVATIONS,
        Activation,
        ActivationDef,
        get_activation,  # noqa: F401
    )
    from .nn.arrays import array_module  # noqa: F401
    from .nn.backend import Backend, cuda_available, get_backend  # noqa: F401
    from .nn.layers import MLP, linear_backward, linear_forward  # noqa: F401
    from .nn.losses import log_softmax, softmax_cross_entropy  # noqa: F401
    from .nn.optimizers import OPTIMIZERS, SGD, Adam, AdamW, Optimizer  # noqa: F401
    from .nn.schedules import SCHEDULES  # noqa: F401
    from .registry import Registry  # noqa: F401
    from .training.evaluation import Evaluation, evaluate  # noqa: F401
    from .training.gradcheck import GradcheckReport, check_model  # noqa: F401
    from .training.gradcheck import gradcheck as check_gradients  # noqa: F401
    from .training.loop import fit  # noqa: F401
    from .training.run import TrainResult  # noqa: F401
    from .training.run import train as train_from_config  # noqa: F401
