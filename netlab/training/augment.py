"""Training-time augmentation of square images, on the batch after it is gathered (opt-in).

shift: each image moves by up to 2 pixels in each direction (uniform), the uncovered border taking
the value a black pixel has after normalization; flip: each image is mirrored left-right with
probability 1/2. Every combination is one precomputed gather of the flattened image, so a batch
costs one take_along_axis. Draws come from their own generator, so turning augmentation on changes
neither the split, the init, the batch order nor the dropout masks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..nn.arrays import Array

MAX_SHIFT = 2


class Augmenter:
    def __init__(self, kinds: tuple[str, ...], n_features: int, fill: np.ndarray, backend: Any):
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ConfigError(
                f"training.augment needs square images; the inputs have {n_features} features"
            )
        shifts = range(-MAX_SHIFT, MAX_SHIFT + 1) if "shift" in kinds else (0,)
        flips = (False, True) if "flip" in kinds else (False,)
        rows, cols = np.divmod(np.arange(n_features), side)
        maps = []
        for flip in flips:
            for dy in shifts:
                for dx in shifts:
                    src_r, src_c = rows - dy, cols - dx
                    if flip:
                        src_c = side - 1 - src_c
                    inside = (src_r >= 0) & (src_r < side) & (src_c >= 0) & (src_c < side)
                    maps.append(np.where(inside, src_r * side + src_c, n_features))
        fill = np.asarray(fill, dtype=np.float64).ravel()
        if np.all(fill == fill[0]):
            fill = fill[:1]  # one value (standardize, scale): no per-feature pass needed
        self.backend = backend
        self.maps = backend.asarray(np.stack(maps))  # (variants, features); n_features = fill
        self.fill = backend.asarray(np.asarray(fill, dtype=backend.dtype).reshape(1, -1))
        self.n_variants = len(maps)

    def apply(self, x: Array, rng: np.random.Generator) -> Array:
        """A new (batch, features) array: each row transformed by a randomly drawn variant."""
        xp = self.backend.xp
        pick = self.backend.asarray(rng.integers(0, self.n_variants, len(x)))
        padded = xp.concatenate([x, xp.broadcast_to(self.fill[:, :1], (len(x), 1))], axis=1)
        out = xp.take_along_axis(padded, self.maps[pick], axis=1)
        if self.fill.shape[1] > 1:  # per-feature fill (per-pixel normalization)
            outside = self.maps[pick] == x.shape[1]
            out = xp.where(outside, self.fill, out)
        return out
