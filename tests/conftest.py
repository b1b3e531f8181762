"""Shared fixtures: a `backend` over cpu and cuda, data availability, small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import netlab
from netlab.data.locate import find_data
from netlab.data.sources import SYSTEM_DIR
from netlab.nn.backend import cuda_available

_CUDA = None


def has_cuda() -> bool:
    global _CUDA
    if _CUDA is None:
        _CUDA = cuda_available()
    return _CUDA


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None and not has_cuda():
            item.add_marker(skip_cuda)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request) -> str:
    return request.param


@pytest.fixture
def backend(device):
    """float32 backend on each device (cuda skipped without a GPU)."""
    return netlab.get_backend(device, "float32")


@pytest.fixture
def backend64(device):
    return netlab.get_backend(device, "float64")


def real_data_dir() -> Path | None:
    try:
        directory, _ = find_data(None, "fashion-mnist", (SYSTEM_DIR,))
    except netlab.DataError:
        return None
    return directory


@pytest.fixture(scope="session")
def real_data() -> Path:
    directory = real_data_dir()
    if directory is None:
        pytest.skip(
            f"full Fashion-MNIST not found (install dataset-fashion-mnist into {SYSTEM_DIR} "
            "or run `netlab data download`)"
        )
    return directory


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No $NETLAB_DATA, an empty cache dir and no system dir: discovery finds nothing."""
    monkeypatch.delenv("NETLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("netlab.data.sources.SYSTEM_DIR", tmp_path / "no-system-data")
    return tmp_path


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


os.environ.setdefault("COLUMNS", "160")
