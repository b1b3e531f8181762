"""ONNX export: a netlab model file as an ONNX graph that any ONNX runtime can serve.

The graph takes raw pixel values (float, 0..255, shape (N, n_in)) and applies the model's own
input normalization, so a runtime needs nothing else:

    pixels -> Mul(1/255) -> Sub(mean) -> Div(std) -> [Gemm -> activation] per hidden layer
           -> Gemm -> logits -> Softmax -> probabilities

Built with the `onnx` package (the `onnx` extra); nodes: Mul, Sub, Div, Gemm, each activation's
own subgraph (its registry entry's `onnx`, nn/activations.py), Softmax. An activation without one
cannot be exported: an error, never a substitute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NetlabError

OPSET = 17


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise NetlabError(
            'ONNX export needs the onnx extra; pip install -e ".[onnx]" from the netlab checkout'
        ) from None
    return onnx


class GraphBuilder:
    """What an activation's `onnx(g, z, slope)` builds with: g.node(op, inputs, **attributes)
    returns the name of the new node's output; g.const(value) the name of a scalar constant."""

    def __init__(self, helper: Any, numpy_helper: Any, nodes: list, inits: list, dtype: Any):
        self.helper, self.numpy_helper, self.nodes, self.inits = helper, numpy_helper, nodes, inits
        self.dtype = dtype
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        out = self._name(op.lower() + "_")
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attributes))
        return out

    def const(self, value: float) -> str:
        name = self._name("c")
        self.inits.append(self.numpy_helper.from_array(np.array(value, dtype=self.dtype), name))
        return name


def _exportable(activation: str) -> Any:
    from ..nn.activations import ACTIVATIONS, ActivationDef

    act = ACTIVATIONS.get(activation)
    if type(act).onnx is ActivationDef.onnx:
        raise NetlabError(
            f"activation {activation!r} defines no ONNX subgraph, so this model cannot be "
            "exported; add `onnx` to its registry entry"
        )
    return act


def to_onnx(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
    """An onnx.ModelProto for a model file's arrays and metadata (io.read_model_file)."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    sizes = list(meta["sizes"])
    dtype = np.dtype(arrays["W1"].dtype)
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    inits = [
        numpy_helper.from_array(
            np.array(1.0 / float(meta.get("input_scale", 255.0)), dtype=dtype), "inv_scale"
        ),
        numpy_helper.from_array(np.asarray(meta["normalization"]["mean"], dtype=dtype), "mean"),
        numpy_helper.from_array(np.asarray(meta["normalization"]["std"], dtype=dtype), "std"),
    ]
    nodes = [
        helper.make_node("Mul", ["pixels", "inv_scale"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "mean"], ["centered"]),
        helper.make_node("Div", ["centered", "std"], ["h0"]),
    ]
    activation, slope = meta["activation"], float(meta.get("leaky_slope", 0.01))
    act = _exportable(activation)
    scale = float(meta.get("input_scale", 255.0))
    g = GraphBuilder(helper, numpy_helper, nodes, inits, dtype)
    layers = len(sizes) - 1
    h = "h0"
    for i in range(1, layers + 1):
        inits.append(numpy_helper.from_array(arrays[f"W{i}"].astype(dtype), f"W{i}"))
        inits.append(numpy_helper.from_array(arrays[f"b{i}"].astype(dtype), f"b{i}"))
        z = "logits" if i == layers else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"b{i}"], [z]))  # h @ W + b
        if i < layers:
            h = act.onnx(g, z, slope)
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes,
        f"netlab-{'-'.join(map(str, sizes))}-{activation}",
        [helper.make_tensor_value_info("pixels", elem, ["N", sizes[0]])],
        [
            helper.make_tensor_value_info("logits", elem, ["N", sizes[-1]]),
            helper.make_tensor_value_info("probabilities", elem, ["N", sizes[-1]]),
        ],
        inits,
    )
    model = helper.make_model(
        graph, producer_name="netlab", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.doc_string = (
        f"netlab MLP; input: raw values as float (divided by {scale:g} inside), shape (N, "
        f"{sizes[0]}); outputs: logits and softmax probabilities over {sizes[-1]} classes"
    )
    onnx.checker.check_model(model)
    return model


def export_onnx(model_path: str | Path, out: str | Path, force: bool = False) -> Path:
    """Write the ONNX graph of a netlab model file to `out` (atomically; refuses to overwrite
    an existing file without force)."""
    from ..errors import OutputExistsError
    from ..files.atomic import atomic_write
    from ..files.model import read_model_file

    out = Path(out)
    if out.suffix != ".onnx":
        raise NetlabError(f"cannot export to {out}; use a file name ending in .onnx")
    if out.exists() and not force:
        raise OutputExistsError(
            f"{out} exists; pass --force to overwrite it or choose another path"
        )
    if not out.parent.is_dir():
        raise NetlabError(f"cannot write {out}: directory {out.parent} does not exist")
    _onnx()  # the extra is checked before the model file is read
    arrays, meta = read_model_file(model_path)
    proto = to_onnx(arrays, meta)
    data = proto.SerializeToString()
    atomic_write(out, lambda f: f.write(data), force=True)
    return out
