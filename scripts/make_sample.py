"""Build netlab/sample_data/ from the real Fashion-MNIST files: a stratified, seeded subset.

    python scripts/make_sample.py [--data-dir DIR]

300 training and 100 test images per class (3,000 + 1,000), chosen with seed 0, written as
gzip'd IDX files (mtime 0, so the bytes are reproducible) plus SHA256SUMS of the decompressed data.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np

from netlab.data.idx import read_idx
from netlab.data.locate import STEMS as FILES
from netlab.data.locate import find_data
from netlab.data.sources import FASHION_CLASSES, SYSTEM_DIR

N_CLASSES = len(FASHION_CLASSES)

OUT = Path(__file__).resolve().parent.parent / "netlab" / "sample_data"
PER_CLASS = {"train": 300, "test": 100}


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    directory, _ = find_data(args.data_dir, "fashion-mnist", (SYSTEM_DIR,))
    rng = np.random.default_rng(0)
    sums = []
    for split in ("train", "test"):
        stem_i, stem_l = FILES[f"{split}_images"], FILES[f"{split}_labels"]
        images = read_idx(next(directory.glob(stem_i + "*")))
        labels = read_idx(next(directory.glob(stem_l + "*")))
        chosen = np.sort(
            np.concatenate(
                [
                    rng.choice(np.flatnonzero(labels == c), PER_CLASS[split], replace=False)
                    for c in range(N_CLASSES)
                ]
            )
        )
        for stem, array in ((stem_i, images[chosen]), (stem_l, labels[chosen])):
            data = idx_bytes(array)
            (OUT / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {stem}.gz")
    (OUT / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
