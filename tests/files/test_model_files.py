import json
import os
import zipfile

import numpy as np
import pytest

import netlab
from netlab.errors import ModelFileError, OutputExistsError
from netlab.files.model import (
    FORMAT_VERSION,
    load_model,
    model_metadata,
    read_model_file,
    save_model,
)
from netlab.files.npz import npz_bytes
from netlab.nn.layers import MLP


def make_model(dtype="float32"):
    be = netlab.get_backend("cpu", dtype)
    return MLP(
        [784, 8, 10], "leaky_relu", leaky_slope=0.2, rng=np.random.default_rng(0), backend=be
    )


def saved(tmp_path, **extra):
    m = make_model()
    meta = model_metadata(m, np.zeros(784), np.ones(784), {"training": {"lr": 0.1}}, 3)
    path = tmp_path / "model.npz"
    save_model(path, m, meta)
    return m, meta, path


def test_roundtrip_is_exact(tmp_path, backend):
    m, meta, path = saved(tmp_path)
    loaded = load_model(path, backend)
    for k, v in m.params.items():
        np.testing.assert_array_equal(backend.to_numpy(loaded.model.params[k]), v)
    assert loaded.model.activation.name == "leaky_relu" and loaded.model.activation.slope == 0.2
    assert loaded.meta["seed"] == 3 and loaded.meta["format_version"] == FORMAT_VERSION
    assert loaded.meta["netlab_version"] == netlab.__version__
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left behind


def test_no_overwrite_without_force(tmp_path):
    m, meta, path = saved(tmp_path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="--force"):
        save_model(path, m, meta)
    assert path.read_bytes() == before
    save_model(path, m, meta, force=True)


def arrays_of(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def write_npz(path, arrays):
    path.write_bytes(npz_bytes(arrays))
    return path


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda a: a.pop("W2"), "missing arrays W2"),
        (lambda a: a.update(W1=np.zeros((784, 9), np.float32)), "shape"),
        (lambda a: a.update(extra=np.zeros(3)), "unexpected arrays extra"),
        (lambda a: a.update(W1=np.full((784, 8), np.nan, np.float32)), "NaN"),
        (lambda a: a.update(b1=np.zeros(8, np.int64)), "dtype"),
        (lambda a: a.pop("metadata"), "no metadata"),
        (lambda a: a.update(metadata=np.frombuffer(b"{not json", np.uint8)), "not valid JSON"),
    ],
)
def test_corrupted_models_refused(tmp_path, mutate, message):
    _, _, path = saved(tmp_path)
    arrays = arrays_of(path)
    mutate(arrays)
    bad = write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFileError, match=message):
        read_model_file(bad)


def test_unknown_format_version(tmp_path):
    _, meta, path = saved(tmp_path)
    arrays = arrays_of(path)
    arrays["metadata"] = np.frombuffer(
        json.dumps({**meta, "format_version": 99}).encode(), np.uint8
    )
    with pytest.raises(ModelFileError, match="format version 99 is not supported"):
        read_model_file(write_npz(tmp_path / "v99.npz", arrays))


def test_not_an_npz(tmp_path):
    p = tmp_path / "model.npz"
    p.write_text("hello")
    with pytest.raises(ModelFileError, match="not an .npz"):
        read_model_file(p)
    with pytest.raises(ModelFileError, match="no such model file"):
        read_model_file(tmp_path / "absent.npz")


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {_Boom.marker}",))


def test_pickle_bearing_npz_is_refused_without_running_it(tmp_path):
    _, _, path = saved(tmp_path)
    marker = tmp_path / "pwned"
    _Boom.marker = marker
    arrays = arrays_of(path)
    arrays["W1"] = np.array([_Boom()], dtype=object)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)  # allow_pickle is on for writing object arrays
    assert zipfile.is_zipfile(evil)
    with pytest.raises(ModelFileError):
        load_model(evil, netlab.get_backend("cpu"))
    assert not marker.exists()


def test_oversized_metadata_refused(tmp_path):
    _, _, path = saved(tmp_path)
    arrays = arrays_of(path)
    arrays["metadata"] = np.zeros(2 << 20, np.uint8)
    with pytest.raises(ModelFileError, match="metadata.* is larger than"):
        read_model_file(write_npz(tmp_path / "big.npz", arrays))
