import gzip
import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import netlab
from netlab.data import download as DL
from netlab.data import idx, locate
from netlab.data import prepare as P
from netlab.data import sources as S
from netlab.data.download import Remote
from netlab.errors import DataError


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_dataset(directory: Path, n_train=40, n_test=20, gz=True, labels_max=9) -> Path:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % (labels_max + 1),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % (labels_max + 1),
    }
    for stem, a in arrays.items():
        raw = idx_bytes(a)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw, mtime=0))
        else:
            (directory / stem).write_bytes(raw)
    return directory


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_and_digest(tmp_path, gz):
    a = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    raw = idx_bytes(a)
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    b, digest = idx.read_idx_with_digest(path)
    np.testing.assert_array_equal(a, b)
    assert digest == hashlib.sha256(raw).hexdigest()


def test_idx_bigendian_int32(tmp_path):
    a = np.array([1, -2, 70000], dtype=">i4")
    path = tmp_path / "ints"
    path.write_bytes(bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big") + a.tobytes())
    np.testing.assert_array_equal(idx.read_idx(path), [1, -2, 70000])


def _good(tmp_path) -> bytes:
    return idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda b: b"\x08\x03" + b[2:], "not an IDX file"),  # wrong magic
        (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),  # unknown dtype code
        (lambda b: b[:-10], "truncated"),
        (lambda b: b + b"extra", "oversized"),
        (lambda b: b[:6], "truncated"),  # ends inside the dimensions
        (lambda b: b[:4] + (10**9).to_bytes(4, "big") + b[8:], "truncated"),  # lying count
        (lambda b: b"", "truncated"),
    ],
)
def test_idx_raw_errors(tmp_path, mutate, message):
    path = tmp_path / "bad"
    path.write_bytes(mutate(_good(tmp_path)))
    with pytest.raises(DataError, match=message):
        idx.read_idx(path)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda raw: gzip.compress(raw)[:-30], "truncated|corrupt"),
        (lambda raw: gzip.compress(raw[:-100]), "truncated|corrupt"),
        (lambda raw: gzip.compress(raw + b"more"), "truncated|corrupt|oversized"),
        (
            lambda raw: gzip.compress(raw[:4] + (2**31).to_bytes(4, "big") + raw[8:]),
            "truncated|corrupt",
        ),
        (lambda raw: b"\x1f\x8b" + b"\x00" * 30, "corrupt|truncated"),
    ],
)
def test_idx_gzip_errors(tmp_path, make, message):
    path = tmp_path / "bad.gz"
    path.write_bytes(make(_good(tmp_path)))
    with pytest.raises(DataError, match=message):
        idx.read_idx(path)


def test_huge_declared_size_refused_before_allocation(tmp_path, monkeypatch):
    raw = (
        bytes([0, 0, 8, 3])
        + b"".join(d.to_bytes(4, "big") for d in (60000, 28000, 28000))
        + b"\0" * 64
    )
    path = tmp_path / "huge"
    path.write_bytes(raw)
    allocations = []
    real_empty = np.empty
    monkeypatch.setattr(
        idx.np, "empty", lambda *a, **k: allocations.append(a) or real_empty(*a, **k)
    )
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(path)
    assert allocations == []


def test_labels_out_of_range_and_count_mismatch(tmp_path):
    d = write_dataset(tmp_path / "d1", labels_max=10)
    with pytest.raises(DataError, match="label 10 out of range"):
        S.load_data("fashion-mnist", d)
    d2 = write_dataset(tmp_path / "d2")
    (d2 / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(7, np.uint8))))
    with pytest.raises(DataError, match="7 labels for 20 images"):
        S.load_data("fashion-mnist", d2)


def test_discovery_order(isolated_env, monkeypatch):
    tmp = isolated_env
    system = write_dataset(tmp / "system")
    monkeypatch.setattr(S, "SYSTEM_DIR", system)
    assert locate.find_data(None, "fashion-mnist", (S.SYSTEM_DIR,)) == (
        system,
        "system package directory",
    )
    cache = write_dataset(tmp / "cache" / "netlab" / "fashion-mnist", gz=False)
    assert locate.find_data(None, "fashion-mnist", (S.SYSTEM_DIR,))[0] == cache
    env = write_dataset(tmp / "env")
    monkeypatch.setenv("NETLAB_DATA", str(env))
    assert locate.find_data(None, "fashion-mnist", (S.SYSTEM_DIR,)) == (env, "$NETLAB_DATA")
    explicit = write_dataset(tmp / "explicit")
    assert locate.find_data(explicit) == (explicit, "--data-dir")


def test_discovery_errors(isolated_env):
    with pytest.raises(DataError, match="fashion-mnist not found.*netlab data download"):
        locate.find_data(None, "fashion-mnist", (S.SYSTEM_DIR,))
    with pytest.raises(DataError, match="does not exist"):
        locate.find_data(isolated_env / "nope")
    partial_dir = write_dataset(isolated_env / "partial")
    (partial_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte"):
        locate.find_data(partial_dir)


def test_sample_is_real_and_verified():
    raw = S.load_data("sample")
    assert raw.checksums_ok is True
    assert raw.x_train.shape == (3000, 28, 28) and raw.x_test.shape == (1000, 28, 28)
    assert np.bincount(raw.y_train).tolist() == [300] * 10
    info = S.data_info("sample")
    assert info["checksums_ok"] and info["train_count"] == 3000


def test_stratified_split_is_seeded_and_stratified():
    labels = np.repeat(np.arange(10), 100)
    a_tr, a_va = P.stratified_split(labels, 0.2, np.random.default_rng(5))
    b_tr, b_va = P.stratified_split(labels, 0.2, np.random.default_rng(5))
    c_tr, _ = P.stratified_split(labels, 0.2, np.random.default_rng(6))
    np.testing.assert_array_equal(a_va, b_va)
    assert not np.array_equal(a_tr, c_tr)
    assert np.bincount(labels[a_va]).tolist() == [20] * 10
    assert len(np.intersect1d(a_tr, a_va)) == 0 and len(a_tr) + len(a_va) == 1000


def test_normalization_uses_training_rows_only():
    X = np.zeros((4, 3), dtype=np.float32)
    X[:2] = [[1, 2, 5], [3, 2, 5]]
    X[2:] = 100.0  # validation rows must not leak into the statistics
    mean, std = P.normalization_stats(X, np.array([0, 1]), "per_pixel")
    np.testing.assert_allclose(mean, [2, 2, 5])
    np.testing.assert_allclose(std, [1, 1, 1])  # constant pixels get std 1
    g_mean, g_std = P.normalization_stats(X, np.array([0, 1]), "standardize")
    assert g_mean[0] == pytest.approx(3.0) and np.all(g_mean == 3.0)
    assert g_std[0] == pytest.approx(np.std([1, 2, 5, 3, 2, 5])) and np.all(g_std == g_std[0])
    s_mean, s_std = P.normalization_stats(X, np.array([0, 1]), "scale")
    assert not s_mean.any() and np.all(s_std == 1)


def test_prepare_standardizes_with_train_statistics(backend):
    raw = S.load_data("sample")
    p = P.prepare(
        raw, backend, val_fraction=0.2, normalization="standardize", rng=np.random.default_rng(0)
    )
    X = backend.to_numpy(p.X)
    train = X[p.train_idx]
    assert X.dtype == np.float32 and X.shape == (3000, 784)
    assert abs(train.mean()) < 1e-4 and abs(train.std() - 1.0) < 1e-3
    assert len(p.val_idx) == 600 and backend.to_numpy(p.X_test).shape == (1000, 784)


def test_prepare_lays_the_splits_out_contiguously_in_file_order():
    """Training rows first, then validation rows, each in file order; file_rows maps back."""
    be = netlab.get_backend("cpu", "float64")
    raw = S.load_data("sample")
    p = P.prepare(raw, be, val_fraction=0.2, normalization="scale", rng=np.random.default_rng(3))
    train_file, val_file = P.stratified_split(raw.y_train, 0.2, np.random.default_rng(3))
    assert np.array_equal(p.file_rows, np.concatenate([train_file, val_file]))
    assert np.array_equal(p.train_idx, np.arange(2400)) and p.train_rows == slice(0, 2400)
    assert np.array_equal(p.val_idx, np.arange(2400, 3000)) and p.val_rows == slice(2400, 3000)
    flat = raw.x_train.reshape(3000, -1) * (1.0 / 255.0)
    np.testing.assert_array_equal(p.X[:2400], flat[train_file])
    np.testing.assert_array_equal(p.X[2400:], flat[val_file])
    assert np.array_equal(p.y_host, raw.y_train[p.file_rows])


# ---------------------------------------------------- download, against a local server


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """Serve a directory over HTTP on 127.0.0.1; yields (directory, base_url)."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sample_as_official(monkeypatch):
    """Make the shipped sample the 'official' files (their checksums replace the real ones)."""
    monkeypatch.setattr(S, "FASHION_MNIST", Remote("https://unused/", S.sample_checksums()))
    return S.sample_dir()


def test_download_verifies_and_installs(served, sample_as_official, tmp_path):
    root, url = served
    for f in sample_as_official.glob("*.gz"):
        (root / f.name).write_bytes(f.read_bytes())
    dest = tmp_path / "dest"
    seen = []
    results = DL.download(
        S.FASHION_MNIST, dest, base_url=url, progress=lambda name, done, total: seen.append(name)
    )
    assert [r["status"] for r in results] == ["downloaded"] * 4
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in root.iterdir())
    assert seen
    again = DL.download(S.FASHION_MNIST, dest, base_url=url)
    assert [r["status"] for r in again] == ["present"] * 4
    raw = S.load_data("fashion-mnist", dest)
    assert raw.checksums_ok and len(raw.y_train) == 3000


def test_download_checksum_mismatch_leaves_nothing(served, sample_as_official, tmp_path):
    root, url = served
    for f in sample_as_official.glob("*.gz"):
        (root / f.name).write_bytes(f.read_bytes())
    (root / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not the right bytes"))
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="checksum mismatch"):
        DL.download(S.FASHION_MNIST, dest, base_url=url)
    assert not (dest / "train-images-idx3-ubyte.gz").exists()
    assert not list(dest.glob("*.part"))


def test_download_missing_file_and_insecure_url(served, sample_as_official, tmp_path):
    _, url = served
    with pytest.raises(DataError, match="download of .* failed"):
        DL.download(S.FASHION_MNIST, tmp_path / "dest", base_url=url)
    with pytest.raises(DataError, match="https"):
        DL.download(S.FASHION_MNIST, tmp_path / "dest", base_url="http://example.org/data/")


def test_reference_checksums_match_the_brief():
    assert S.FASHION_MNIST.sha256["train-images-idx3-ubyte"].startswith("c59f468a")
    assert S.FASHION_MNIST.sha256["t10k-labels-idx1-ubyte"].startswith("0402a96d")


def test_empty_image_file_refused(tmp_path):
    d = write_dataset(tmp_path / "d")
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((0, 28, 28)))))
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(0))))
    with pytest.raises(DataError, match="holds no images"):
        S.load_data("fashion-mnist", d)


def test_download_goes_where_discovery_looks(isolated_env, monkeypatch):
    assert locate.default_download_dir() == isolated_env / "cache" / "netlab" / "fashion-mnist"
    monkeypatch.setenv("NETLAB_DATA", str(isolated_env / "mine"))
    assert (
        locate.default_download_dir()
        == isolated_env / "mine"
        == locate.search_dirs(None, "fashion-mnist")[0][0]
    )
