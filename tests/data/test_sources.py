"""Data sources: MNIST from a directory, the user's .npz and CSV files, through the library and the
real command line; bad files end in one line naming the problem."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
from netlab.cli import main

from netlab.data import sources as S
from netlab.data.download import Remote, download
from netlab.data.sources import DATA_SOURCES, load_data, source_for_path
from netlab.errors import DataError


def idx_bytes(a: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape)
    return header + a.astype(np.uint8).tobytes()


def write_mnist(directory, n_train=300, n_test=100):
    """A small MNIST-shaped set: digit d is a bright vertical bar at column 2 + 2d."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28))
        for i, d in enumerate(labels):
            images[i, :, 2 + 2 * d] = 250
        (directory / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (directory / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return directory


def blobs(n, rng, features=12, classes=3):
    y = np.arange(n) % classes
    centers = np.random.default_rng(42).normal(0, 4, (classes, features))
    return (centers[y] + rng.normal(0, 1, (n, features))).astype(np.float32), y.astype(np.int64)


def write_npz(path, with_val=False, names=True, **overrides):
    rng = np.random.default_rng(1)
    (x, y), (xt, yt), (xv, yv) = blobs(300, rng), blobs(90, rng), blobs(60, rng)
    arrays = {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}
    if with_val:
        arrays.update(x_val=xv, y_val=yv)
    if names:
        arrays["class_names"] = np.array(["left", "middle", "right"])
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def write_csv(path, split=True, rows=None):
    rng = np.random.default_rng(2)
    x, y = blobs(240, rng, features=5)
    header = ["label", *(["split"] if split else []), *[f"f{i}" for i in range(5)]]
    lines = [",".join(header)]
    for i in range(len(x)):
        where = ["train", "train", "val", "test"][i % 4]
        cells = [str(y[i]), *([where] if split else []), *(f"{v:.5f}" for v in x[i])]
        lines.append(",".join(cells))
    if rows:
        lines += rows
    path.write_text("\n".join(lines) + "\n")
    return path


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_registry_knows_every_source():
    assert {"fashion-mnist", "mnist", "sample", "npz", "csv"} <= set(DATA_SOURCES.names())
    assert source_for_path("x/my.NPZ") == "npz" and source_for_path("a.csv,b.csv") == "csv"
    assert source_for_path("notes.txt") is None


def test_mnist_from_a_directory(isolated_env):
    d = load_data("mnist", write_mnist(isolated_env / "mnist"))
    assert d.class_names == tuple("0123456789") and d.x_train.shape == (300, 28, 28)
    assert d.scale == 255.0 and d.checksums_ok is False  # not the official files
    with pytest.raises(DataError, match="mnist not found.*--data-dir"):
        load_data("mnist", None)  # nothing in the (empty) cache
    cached = write_mnist(isolated_env / "cache" / "netlab" / "mnist")
    assert load_data("mnist", None).location == cached


def test_mnist_trains_and_evaluates_end_to_end(tmp_path, capsys):
    data = write_mnist(tmp_path / "mnist")
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "--data", "mnist", "--data-dir", str(data),
                         "--epochs", "4", "--hidden", "32", "--out", str(run), "-q")  # fmt: skip
    assert code == 0, err
    meta = json.loads((run / "metrics.json").read_text())
    assert meta["test_accuracy"] > 0.9  # the bars are easy
    code, out, err = cli(capsys, "eval", str(run / "model.npz"), "--json")
    report = json.loads(out)
    assert report["class_names"] == list("0123456789") and report["data_source"] == "mnist"
    # Evaluated on another compatible source (784 features, 10 classes): it runs, on its data.
    code, out, err = cli(capsys, "eval", str(run / "model.npz"), "--data", "sample", "--json")
    assert code == 0 and json.loads(out)["n_test"] == 1000


def test_mnist_download_verifies_the_published_gz_checksums(tmp_path):
    """MNIST's publishers list SHA-256 of the .gz files: the download checks those."""
    import http.server
    import threading
    from functools import partial

    served = write_mnist(tmp_path / "served")
    sums = {p.name[:-3]: hashlib.sha256(p.read_bytes()).hexdigest() for p in served.glob("*.gz")}
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        got = download(Remote(url, sums, "gz"), tmp_path / "dest", dataset="mnist")
        assert [r["status"] for r in got] == ["downloaded"] * 4
        bad = dict(sums, **{"t10k-labels-idx1-ubyte": "0" * 64})
        with pytest.raises(DataError, match="checksum mismatch"):
            download(Remote(url, bad, "gz"), tmp_path / "dest2", dataset="mnist")
        assert not (tmp_path / "dest2" / "t10k-labels-idx1-ubyte.gz").exists()
    finally:
        server.shutdown()
        server.server_close()
    assert S.MNIST.digest_of == "gz" and len(S.MNIST.sha256) == 4


def test_npz_with_its_own_validation_split_trains_end_to_end(tmp_path, capsys):
    path = write_npz(tmp_path / "mine.npz", with_val=True)
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "--data", str(path), "--epochs", "5", "--hidden", "16",
                         "--out", str(run), "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["n_train"] == 300 and summary["n_val"] == 60 and summary["n_test"] == 90
    assert summary["test_accuracy"] > 0.9
    code, out, err = cli(capsys, "eval", str(run / "model.npz"), "--json")
    report = json.loads(out)
    assert report["class_names"] == ["left", "middle", "right"] and report["data_source"] == "npz"
    assert report["test_accuracy"] == summary["test_accuracy"]


def test_csv_with_a_split_column_and_as_two_files(tmp_path, capsys):
    one = write_csv(tmp_path / "all.csv")
    d = load_data("csv", one)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (120, 60, 60) and d.scale == 1.0
    train_part = write_csv(tmp_path / "train.csv", split=False)
    test_part = write_csv(tmp_path / "test.csv", split=False)
    two = load_data("csv", f"{train_part},{test_part}")
    assert len(two.y_train) == 240 and two.x_val is None
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "--data", str(one), "--epochs", "5", "--hidden", "8",
                         "--batch-size", "32", "--out", str(run), "-q")  # fmt: skip
    assert code == 0, err
    code, out, err = cli(capsys, "eval", str(run / "model.npz"), "--data",
                         f"{train_part},{test_part}", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["n_test"] == 240


BAD = [
    ("npz missing a key", lambda t: write_npz(t / "a.npz", y_test=None), "missing y_test"),
    ("npz labels of another length",
     lambda t: write_npz(t / "a.npz", y_train=np.zeros(7, np.int64)), "same length"),
    ("npz NaN features",
     lambda t: write_npz(t / "a.npz", x_test=np.full((90, 12), np.nan, np.float32)), "finite"),
    ("npz label out of range",
     lambda t: write_npz(t / "a.npz", y_test=np.full(90, 7)), "label 7 out of range"),
    ("npz float labels", lambda t: write_npz(t / "a.npz", y_train=np.zeros(300)), "integer"),
    ("npz features of another width",
     lambda t: write_npz(t / "a.npz", x_test=np.zeros((90, 3), np.float32)), "features"),
    ("npz not a zip", lambda t: _write(t / "a.npz", b"nope"), "not a readable .npz"),
    ("csv non-integer label", lambda t: write_csv(t / "a.csv", rows=["cat,train,1,2,3,4,5"]),
     "holds 'cat'"),
    ("csv fractional label", lambda t: write_csv(t / "a.csv", rows=["1.5,train,1,2,3,4,5"]),
     "labels must be integers"),
    ("csv ragged row", lambda t: write_csv(t / "a.csv", rows=["1,train,1,2"]), "columns"),
    ("csv NaN feature", lambda t: write_csv(t / "a.csv", rows=["1,train,nan,2,3,4,5"]), "finite"),
    ("csv bad split", lambda t: write_csv(t / "a.csv", rows=["1,dev,1,2,3,4,5"]), "'dev'"),
    ("csv without split", lambda t: write_csv(t / "a.csv", split=False), "no split column"),
    ("missing file", lambda t: t / "none.npz", "no such .npz file"),
]  # fmt: skip


@pytest.mark.parametrize("name,make,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_data_files_are_one_line_errors(name, make, phrase, tmp_path, capsys):
    path = make(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code, out, err = cli(capsys, "train", "--data", str(path), "--epochs", "1",
                         "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 1, (out, err)
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and phrase in line, line
    assert not (tmp_path / "run").exists()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
