"""Launch geometry of the real Kernels class (issue 17 item 4), with a CuPy whose modules record
their launches instead of running them."""

from __future__ import annotations

import types

import numpy as np
import pytest

from netlab.cuda.kernels import MAX_GRID_Y, Kernels, gemm_grid
from netlab.cuda.sources import EPI_BIAS_ACT, GATHER_ROWS, IDENTITY, TRANS_NONE, Variant
from netlab.nn.layers import MAX_WIDTH
from netlab.nn.optimizers import SGD


class Recorded:
    def __init__(self, launches, name):
        self.launches, self.name = launches, name

    def __call__(self, grid, block, args):
        self.launches.append((self.name, grid, block))

    def compile(self):
        pass


def recording_cupy(launches):
    def module(code, options):
        return types.SimpleNamespace(get_function=lambda name: Recorded(launches, name))

    return types.SimpleNamespace(RawModule=module)


@pytest.mark.parametrize("tile", [16, 8])
def test_batch_rows_go_on_grid_x(tile):
    """A batch of 2,000,000 rows needed 125,000 blocks on grid.y, whose limit is 65,535: the
    launch failed during capture. Rows are on grid.x now (limit 2**31 - 1)."""
    launches = []
    k = Kernels(recording_cupy(launches), np.float32, "tanh", 0.0, SGD, Variant(tile=tile))
    m, n = 2_000_000, 50
    k.gemm(act=IDENTITY, epi=EPI_BIAS_ACT, gather=GATHER_ROWS, trans=TRANS_NONE, A=None,
           perm=None, base=None, offset=0, sa=(784, 1), B=None, sb=(n, 1), C=None, ldc=n, E=None,
           m=m, n=n, k=784)  # fmt: skip
    ((name, grid, block),) = launches
    assert name == "gemm" and block == (tile, tile)
    assert grid == (-(-m // tile), -(-n // tile)) and grid[1] <= MAX_GRID_Y


def test_every_width_the_config_allows_fits_on_grid_y_and_more_is_refused():
    assert gemm_grid(10_000_000, MAX_WIDTH, 16) == (625_000, 62_500)
    with pytest.raises(ValueError, match="CUDA allows at most"):
        gemm_grid(10, 16 * MAX_GRID_Y + 1, 16)
