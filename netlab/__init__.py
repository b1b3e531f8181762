"""netlab: one explicit forward/backward MLP code path on NumPy (CPU) or CuPy (CUDA).

Submodules are named after their idea (netlab.train, netlab.gradcheck, ...); the functions
exported here use names that do not shadow them. Imports nothing heavy: CuPy is imported only
by `get_backend("cuda")`; typer and rich only by the CLI.
"""

from __future__ import annotations

from ._version import __version__
from .activations import Activation, get_activation
from .backend import Backend, array_module, cuda_available, get_backend
from .config import Config, DataConfig, ModelConfig, TrainingConfig, load_config, with_overrides
from .data import CLASS_NAMES, load_raw, prepare, read_idx
from .errors import (
    BackendError,
    ConfigError,
    DataError,
    GradcheckError,
    ModelFileError,
    NetlabError,
    OutputExistsError,
    TrainingDiverged,
)
from .gradcheck import GradcheckReport, check_model
from .gradcheck import gradcheck as check_gradients
from .io import load_model, save_model
from .layers import MLP, linear_backward, linear_forward
from .losses import log_softmax, softmax_cross_entropy
from .optim import SGD
from .runs import write_run
from .train import TrainResult, evaluate, fit
from .train import train as train_from_config

__all__ = [
    "__version__",
    "Activation",
    "Backend",
    "BackendError",
    "CLASS_NAMES",
    "Config",
    "ConfigError",
    "DataConfig",
    "DataError",
    "GradcheckError",
    "MLP",
    "ModelConfig",
    "ModelFileError",
    "NetlabError",
    "OutputExistsError",
    "SGD",
    "TrainingConfig",
    "TrainingDiverged",
    "array_module",
    "cuda_available",
    "evaluate",
    "fit",
    "get_activation",
    "get_backend",
    "check_gradients",
    "check_model",
    "GradcheckReport",
    "linear_backward",
    "linear_forward",
    "load_config",
    "load_model",
    "load_raw",
    "log_softmax",
    "prepare",
    "read_idx",
    "save_model",
    "softmax_cross_entropy",
    "train_from_config",
    "TrainResult",
    "with_overrides",
    "write_run",
]
