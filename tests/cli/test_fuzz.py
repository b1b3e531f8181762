"""Property-based fuzzing of every parser a stranger's file reaches: the IDX reader, the config
loader, the experiment-file loader, the model loader and the checkpoint loader.

Random bytes and mutations of valid files (flipped bytes, truncation, insertions, huge declared
dimensions, wrong dtypes, NaNs, extra or missing arrays) must end in a NetlabError or a clean load:
no other exception type, no hang (a deadline per example), no allocation sized by a lying header.
EXAMPLES (1000) examples per strategy, two to three strategies per parser (2,000–3,000 examples
per parser in `make test`); `NETLAB_FUZZ_EXAMPLES` raises it for a longer session. The
structure-aware families of hostile.py run here at the library level too (250 examples), each
file accepted exactly when its schema says it is valid.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="needs the dev extra (hypothesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mutate import toml_value  # noqa: E402  (tests/cli/mutate.py: the fuzzers share it)

import netlab  # noqa: E402
from netlab.config import Config, load_config  # noqa: E402
from netlab.data.idx import read_idx  # noqa: E402
from netlab.errors import NetlabError  # noqa: E402
from netlab.experiments.files import load_experiment  # noqa: E402
from netlab.files.model import model_metadata, read_model_file, save_model  # noqa: E402
from netlab.nn.layers import MLP  # noqa: E402
from netlab.training.checkpoint import TrainState, load_checkpoint, save_checkpoint  # noqa: E402

EXAMPLES = int(os.environ.get("NETLAB_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example: a parser that loops or allocates gigabytes fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
WORK = Path(tempfile.mkdtemp(prefix="netlab-fuzz-"))


def parse_or_netlab_error(parse, data: bytes, name: str) -> None:
    path = WORK / name
    path.write_bytes(data)
    try:
        parse(path)
    except NetlabError:
        pass  # the only acceptable failure


@st.composite
def mutations(draw, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "u32"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "u32" and len(data) >= 4:  # a header field set to any 32-bit value
            at = min(at, len(data) - 4)
            data[at : at + 4] = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
    return bytes(data)


# --------------------------------------------------------------------------- IDX

IMAGES = struct.pack(">HBBIII", 0, 0x08, 3, 5, 4, 4) + bytes(range(80))
LABELS = struct.pack(">HBBI", 0, 0x08, 1, 5) + bytes([0, 1, 2, 3, 4])


@FUZZ
@given(st.binary(max_size=200))
def test_idx_random_bytes(data):
    parse_or_netlab_error(read_idx, data, "random-idx")


@FUZZ
@given(st.sampled_from([IMAGES, LABELS]).flatmap(mutations))
def test_idx_mutations(data):
    parse_or_netlab_error(read_idx, data, "mutated-idx")


@FUZZ
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
    st.integers(0, 5),
    st.booleans(),
)
def test_idx_huge_declared_dimensions(n, rows, cols, code, ndim, gz):
    """Headers claiming up to 2^96 entries: refused from the file size, never allocated."""
    dims = [n, rows, cols][: min(ndim, 3)] + [1] * max(0, ndim - 3)
    data = struct.pack(">HBB", 0, code, ndim) + b"".join(struct.pack(">I", d) for d in dims)
    data += bytes(64)
    name = "huge-idx"
    if gz:
        data, name = gzip.compress(data), "huge-idx.gz"
    parse_or_netlab_error(read_idx, data, name)


# --------------------------------------------------------------------------- configs

KEYS = {
    "model": ["hidden", "activation", "leaky_slope", "init"],
    "training": ["epochs", "batch_size", "lr", "schedule", "momentum", "nesterov", "l2",
                 "dropout", "loss_norm", "patience", "monitor", "seed", "dtype"],
    "data": ["source", "dir", "val_fraction", "normalization"],
}  # fmt: skip

scalars = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def config_documents(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(f"name = {toml_value(draw(values))}")
    sections = draw(st.lists(st.sampled_from([*KEYS, "optimizer"]), max_size=4, unique=True))
    for section in sections:
        lines.append(f"[{section}]")
        keys = KEYS.get(section, []) + ["bogus"]
        for key in draw(st.lists(st.sampled_from(keys), max_size=5, unique=True)):
            lines.append(f"{key} = {toml_value(draw(values))}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(config_documents())
def test_config_structured(text):
    parse_or_netlab_error(load_config, text.encode(), "config.toml")


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_config_random_bytes(data):
    parse_or_netlab_error(load_config, data, "random.toml")


BASELINE = (Path(__file__).resolve().parents[2] / "configs" / "baseline.toml").read_bytes()


@FUZZ
@given(mutations(BASELINE))
def test_config_mutations(data):
    parse_or_netlab_error(load_config, data, "mutated.toml")


# --------------------------------------------------------------------------- experiment files

EXPERIMENT = b"""name = "fuzz"
seeds = 2
[overrides]
training = { epochs = 1 }
[[variants]]
name = "relu"
model = { activation = "relu" }
[grid]
training = { l2 = [0.0, 1e-3] }
"""


@st.composite
def experiment_documents(draw) -> str:
    lines = []
    for key in draw(st.lists(st.sampled_from(["name", "base", "seeds", "bogus"]), max_size=3,
                             unique=True)):  # fmt: skip
        lines.append(f"{key} = {toml_value(draw(values))}")
    for table in draw(st.lists(st.sampled_from(["overrides", "grid"]), max_size=2, unique=True)):
        lines.append(f"[{table}]")
        for section in draw(st.lists(st.sampled_from([*KEYS, "x"]), max_size=2, unique=True)):
            lines.append(f"{section} = {toml_value(draw(values))}")
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[variants]]")
        lines.append(f"name = {toml_value(draw(values))}")
        lines.append(f"model = {toml_value(draw(values))}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(experiment_documents())
def test_experiment_structured(text):
    parse_or_netlab_error(load_experiment, text.encode(), "exp.toml")


@FUZZ
@given(mutations(EXPERIMENT) | st.binary(max_size=200))
def test_experiment_mutations_and_bytes(data):
    parse_or_netlab_error(load_experiment, data, "exp-mutated.toml")


# --------------------------------------------------------------------------- model files


def _model_bytes() -> tuple[bytes, dict[str, np.ndarray]]:
    be = netlab.get_backend("cpu", "float32")
    model = MLP([4, 3, 2], "tanh", init="xavier", rng=np.random.default_rng(0), backend=be)
    meta = model_metadata(model, np.zeros(4), np.ones(4), {}, 0)
    path = WORK / "valid.npz"
    save_model(path, model, meta, force=True)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return path.read_bytes(), arrays


MODEL, MODEL_ARRAYS = _model_bytes()


@FUZZ
@given(mutations(MODEL))
def test_model_byte_mutations(data):
    parse_or_netlab_error(read_model_file, data, "mutated.npz")


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@st.composite
def structural_model_mutations(draw) -> bytes:
    arrays = dict(MODEL_ARRAYS)
    op = draw(st.sampled_from(["dtype", "shape", "nan", "extra", "missing", "meta", "zip"]))
    name = draw(st.sampled_from(sorted(k for k in arrays if k != "metadata")))
    if op == "dtype":
        kind = draw(st.sampled_from(["int64", "float16", "complex64", "bool", "uint8", "U3"]))
        arrays[name] = arrays[name].astype(kind)
    elif op == "shape":
        arrays[name] = np.zeros(draw(st.lists(st.integers(0, 5), max_size=3)), np.float32)
    elif op == "nan":
        a = arrays[name].copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arrays[name] = a
    elif op == "extra":
        arrays[draw(st.text(min_size=1, max_size=5).filter(lambda s: "/" not in s))] = np.zeros(2)
    elif op == "missing":
        del arrays[name]
    elif op == "meta":
        meta = json.loads(arrays["metadata"].tobytes())
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = draw(values)
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    else:  # a compressed archive, or a member whose header lies about its size
        if draw(st.booleans()):
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            return buf.getvalue()
        data = bytearray(_npz(arrays))
        at = data.find(b"'shape': (")
        data[at + 10 : at + 11] = b"9"
        return bytes(data)
    return _npz(arrays)


@FUZZ
@given(structural_model_mutations())
def test_model_structural_mutations(data):
    parse_or_netlab_error(read_model_file, data, "structural.npz")


def test_lying_member_header_is_refused_before_allocation(tmp_path):
    """A 1 KB file whose array header claims 10^12 floats is refused from its headers."""
    data = bytearray(MODEL)
    good = b"'shape': (4, 3)"
    at = data.find(good)
    assert at > 0
    data[at : at + len(good)] = b"'shape': (9999999, 99999)"[: len(good)].ljust(len(good))
    path = tmp_path / "lie.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(NetlabError):
        read_model_file(path)


# --------------------------------------------------------------------------- checkpoints


CKPT_CONFIG = Config()


def _checkpoint_bytes() -> bytes:
    """A valid checkpoint after epoch 1 of CKPT_CONFIG (the best epoch so far is that one)."""
    flat = np.arange(6, dtype=np.float32)
    record = {
        "epoch": 1,
        "train_loss": 0.5,
        "train_accuracy": 0.8,
        "val_loss": 0.6,
        "val_accuracy": 0.75,
        "lr": 0.012,
        "seconds": 0.1,
    }
    generators = np.random.default_rng(0).spawn(3)
    names = ("shuffle", "dropout", "augment")
    rngs = {k: g.bit_generator.state for k, g in zip(names, generators, strict=True)}
    state = TrainState(1, flat, flat, -0.75, 1, False, "sgd", {"velocity": flat * 0}, 0,
                       [record], rngs, CKPT_CONFIG.to_toml())  # fmt: skip
    save_checkpoint(WORK / "ck.npz", state)
    return (WORK / "ck.npz").read_bytes()


CHECKPOINT = _checkpoint_bytes()


@settings(FUZZ, max_examples=2 * EXAMPLES)
@given(mutations(CHECKPOINT))
def test_checkpoint_mutations(data):
    parse_or_netlab_error(lambda p: load_checkpoint(p, CKPT_CONFIG), data, "ck-mutated.npz")


# --------------------------------------------------------------------------- structure-aware

STRUCTURED = settings(FUZZ, max_examples=min(EXAMPLES, 250))


@pytest.fixture(scope="module")
def hostile_seeds(tmp_path_factory):
    import hostile

    return hostile.seeds(tmp_path_factory.mktemp("hostile-seeds"))


def _library_reads(case) -> bool:
    """Whether the library function behind the case's command accepts its files."""
    from netlab.files.history import read_history

    d = Path(tempfile.mkdtemp(dir=WORK))
    for name, data in case.files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    read = {
        "eval": lambda: read_model_file(d / "model.npz"),
        "export": lambda: read_model_file(d / "model.npz"),
        "resume": lambda: load_checkpoint(d / "run" / "checkpoint.npz",
                                          load_config(d / "run" / "config.toml").resolved()),
        "train": lambda: load_config(d / "config.toml"),
        "experiment": lambda: load_experiment(d / "exp.toml"),
        "plot": lambda: read_history(d / "run" / "history.csv"),
    }[case.command]  # fmt: skip
    try:
        read()
    except NetlabError:
        return False
    return True


@STRUCTURED
@given(st.randoms(use_true_random=False), st.sampled_from(sorted(
    ["npz-header", "npz-member", "model-json", "checkpoint-json", "json-depth", "csv",
     "toml-key", "toml-depth", "long-names", "huge-grid"])))  # fmt: skip
def test_structured_mutants_are_read_as_the_schema_says(hostile_seeds, rnd, family):
    """The families of tests/cli/hostile.py at the library level: every reader accepts exactly
    the files its schema calls valid (a NetlabError for the others, nothing else)."""
    import hostile

    make, _ = hostile.FAMILIES[family]
    case = make(hostile_seeds, rnd)
    assert _library_reads(case) == (not case.invalid), (case.family, case.what)


def test_the_valid_files_load():
    """The seeds of the mutations are valid, so the fuzzers start from real files."""
    assert read_idx(_write("ok-images", IMAGES)).shape == (5, 4, 4)
    assert read_model_file(_write("ok.npz", MODEL))[1]["sizes"] == [4, 3, 2]
    assert load_checkpoint(_write("ok-ck.npz", CHECKPOINT), CKPT_CONFIG).epoch == 1
    assert len(load_experiment(_write("ok.toml", EXPERIMENT)).variants) == 3
    assert zipfile.is_zipfile(io.BytesIO(MODEL))


def _write(name: str, data: bytes) -> Path:
    path = WORK / name
    path.write_bytes(data)
    return path
