"""Fixtures of the CUDA tests that run without a GPU: CuPy replaced by a NumPy stand-in and the
kernels by their interpreter (standin.py)."""

from __future__ import annotations

import sys

import pytest
from standin import ReferenceKernels, make_cupy

from netlab.cuda import kernels as K


@pytest.fixture
def standin(monkeypatch):
    """`import cupy` gives the stand-in (one GPU), and graph mode's kernels are interpreted."""
    fake = make_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(K, "Kernels", ReferenceKernels)
    return fake
