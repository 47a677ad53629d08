"""Read an ONNX model into archc layers (:class:`~archc.importers.model.FlatModel`).

Initializers are read for their shapes only (small ones, a Reshape's target or a Clip's bounds,
also for their values); subgraphs that compute shapes (``Shape -> Gather -> Concat ->
Reshape``) are folded to constants; node names become scopes (``/layer1/layer1.0/conv1/Conv``
is ``layer1.0.conv1``, an archc-emitted node is named by its scope path already).  A node archc
has no op for is an :class:`~archc.importers.model.ImportModelError` naming the node.  Imports
``onnx`` and ``numpy`` only (never torch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from archc.importers.model import FlatModel, ImportModelError, Layer
from archc.importers.onnx_file import SMALL as _SMALL
from archc.importers.onnx_file import load_onnx
from archc.importers.onnx_layout import (
    View,
    materialise,
    matmul,
    per_sample_axis,
    reshape,
    slice_,
    split,
    takes_view,
    transpose,
)
from archc.importers.onnx_patterns import f32, scope_of
from archc.importers.onnx_tokens import class_token, gather, pos_embed, weight_view


class _Reader:
    """One pass over the graph's nodes in order."""

    def __init__(self, model: Any, name: str) -> None:
        import numpy as np
        from onnx import numpy_helper, shape_inference

        self.np = np
        self.model = model
        self.graph = model.graph
        try:  # data propagation: shapes computed by Shape -> Gather -> Concat -> Reshape too
            inferred = shape_inference.infer_shapes(model, data_prop=True).graph
        except Exception:  # shape inference is a help, not a requirement
            try:
                inferred = shape_inference.infer_shapes(model).graph
            except Exception:
                inferred = self.graph
        self.shapes: dict[str, tuple[int, ...] | None] = {}
        for vi in [*inferred.value_info, *inferred.input, *inferred.output]:
            self.shapes[vi.name] = self._dims(vi)
        self.consts: dict[str, Any] = {}  # value name -> numpy value (small constants)
        self.weights: dict[str, tuple[int, ...]] = {}  # value name -> shape (weights)
        for init in self.graph.initializer:
            size = tuple(int(d) for d in init.dims)
            self.weights[init.name] = size
            count = int(np.prod(size)) if size else 1
            if count <= _SMALL and not init.external_data and self._has_data(init):
                self.consts[init.name] = numpy_helper.to_array(init)
        self.values: dict[str, str] = {}  # ONNX value -> layer or input name
        self.views: dict[str, View] = {}  # Reshapes and Transposes not yet layers (onnx_tokens)
        self._layer_shapes: dict[str, tuple[int, ...]] = {}  # per sample, by the registry
        self.producer: dict[str, Layer] = {}  # ONNX value -> the layer writing it
        self.flat = FlatModel(name=name, inputs={})
        self.used_names: set[str] = set()
        self.readers: dict[str, int] = {}
        for node in self.graph.node:
            for i in node.input:
                self.readers[i] = self.readers.get(i, 0) + 1
        weight_like = self._weight_inputs()
        batched = [vi.name for vi in self.graph.input if self._symbolic_batch(vi)]
        if batched:  # archc's --weights none: data has a symbolic batch, weights do not
            weight_like |= {
                vi.name
                for vi in self.graph.input
                if vi.name not in batched and vi.name not in self.weights
            }
        for vi in self.graph.input:
            if vi.name in self.weights:
                continue
            dims = self._dims(vi) or ()
            if vi.name in weight_like:
                self.weights[vi.name] = tuple(d if d > 0 else 1 for d in dims or ())
                continue
            if not dims or len(dims) < 2 or any(d <= 0 for d in dims[1:]):
                raise ImportModelError(
                    f"input {vi.name!r} has no fixed shape ({dims})",
                    hints=["export the model with a fixed input size (batch may stay dynamic)"],
                )
            name = self._claim(vi.name)
            self.flat.inputs[name] = tuple(dims[1:])
            self.values[vi.name] = name

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _symbolic_batch(vi: Any) -> bool:
        dims = vi.type.tensor_type.shape.dim
        return len(dims) > 0 and not dims[0].HasField("dim_value")

    @staticmethod
    def _has_data(init: Any) -> bool:
        return bool(init.raw_data) or any(
            len(getattr(init, f)) for f in ("float_data", "int32_data", "int64_data", "double_data")
        )

    @staticmethod
    def _dims(vi: Any) -> tuple[int, ...] | None:
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            return None
        return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)

    def _weight_inputs(self) -> set[str]:
        """Graph inputs that nodes read as weights (``--weights none`` models)."""
        found: set[str] = set()
        positions = {
            "Conv": (1, 2),
            "ConvTranspose": (1, 2),
            "Gemm": (1, 2),
            "BatchNormalization": (1, 2, 3, 4),
            "PRelu": (1,),
            "MatMul": (1,),
            "InstanceNormalization": (1, 2),
            "LayerNormalization": (1, 2),
        }
        for node in self.graph.node:
            for k in positions.get(node.op_type, ()):
                if k < len(node.input) and node.input[k]:
                    found.add(node.input[k])
        return found

    def _claim(self, name: str) -> str:
        base = name or "layer"
        out, k = base, 2
        while out in self.used_names:
            out, k = f"{base}_{k}", k + 1
        self.used_names.add(out)
        return out

    @staticmethod
    def _attrs(node: Any) -> dict[str, Any]:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def error(self, node: Any, message: str, *hints: str) -> ImportModelError:
        where = node.name or f"#{list(self.graph.node).index(node)}"
        return ImportModelError(f"node {where} ({node.op_type}): {message}", hints=hints)

    def shape(self, value: str) -> tuple[int, ...] | None:
        """``value``'s shape with the batch: ONNX's shape inference, else (a size it could not
        follow, as after a Reshape to a target computed from a dynamic batch) the shape archc's
        op registry gives the layer that computes it."""
        found = self.shapes.get(value)
        if found is not None and all(d >= 0 for d in found[1:]):
            return found
        name = self.values.get(value)
        if name is None:
            return found
        if name not in self._layer_shapes:
            from archc.importers.model import shapes_of

            try:
                shapes_of(self.flat, self._layer_shapes)  # the layers added since
            except ImportModelError:
                return found
        known = self.flat.inputs.get(name) or self._layer_shapes.get(name)
        return found if known is None else (found[0] if found else -1, *known)

    def data(self, node: Any, value: str) -> str:
        if value in self.views:  # a view no node took whole: a reshape or permute layer
            materialise(self, value)
        if value in self.values:
            return self.values[value]
        raise self.error(node, f"reads {value!r}, which no layer computes")

    def const(self, value: str) -> Any:
        return self.consts.get(value)

    def add(
        self,
        node: Any,
        op: str,
        args: dict[str, Any],
        inputs: Sequence[str],
        out: str | None = None,
    ) -> Layer:
        scope = scope_of(node.name) or op
        if scope in self.used_names:  # a second function called in one module's forward
            scope = f"{scope}.{op}"
        layer = Layer(self._claim(scope), op, args, [self.data(node, i) for i in inputs])
        self.flat.layers.append(layer)
        output = out if out is not None else node.output[0]
        self.values[output] = layer.name
        self.producer[output] = layer
        return layer

    def alias(self, value: str, to: str) -> None:
        """``value`` is another name for ``to`` (an Identity of data, a folded no-op)."""
        if to in self.consts:
            self.consts[value] = self.consts[to]
        if to in self.weights:
            self.weights[value] = self.weights[to]
        if to in self.values:
            self.values[value] = self.values[to]
            if to in self.producer:
                self.producer[value] = self.producer[to]

    # ------------------------------------------------------------------ the walk
    def run(self) -> FlatModel:
        from archc.importers.onnx_patterns import find

        nodes = list(self.graph.node)
        for node in nodes:  # constants first: a pattern may read one defined after its start
            if node.op_type == "Constant":
                self._constant(node)
        fused = find(nodes, self.const, self._attrs, self.shapes, self.weights, list(self.values))
        skip = {i for f in fused.values() for i in f.nodes}
        for i, node in enumerate(nodes):
            if i in fused:
                f = fused[i]
                named = node if f.scope is None else nodes[f.scope]
                self.add(named, f.op, dict(f.args), [f.source], out=f.output)
                continue
            if i in skip or node.op_type == "Constant":
                continue
            if self._fold(node):
                continue
            for value in node.input:
                if value in self.views and not takes_view(node, value, self.views[value]):
                    materialise(self, value)
            handler = _HANDLERS.get(node.op_type)
            if handler is None:
                raise self.error(
                    node,
                    "archc has no op for this node type",
                    "the ops archc knows: archc ops (docs/ops.md)",
                )
            handler(self, node)
        for k, out in enumerate(self.graph.output):
            if out.name in self.views:
                materialise(self, out.name)
            if out.name not in self.values:
                raise ImportModelError(f"output {out.name!r} is not computed by any layer")
            name = out.name
            if not name[:1].isalpha():  # torch numbers its outputs ("648")
                name = "logits" if len(self.graph.output) == 1 else f"output{k + 1}"
            self.flat.outputs.append((name, self.values[out.name]))
        return self.flat

    def _constant(self, node: Any) -> None:
        from onnx import numpy_helper

        a = self._attrs(node)
        out = node.output[0]
        if "value" in a:
            self.consts[out] = numpy_helper.to_array(a["value"])
        elif "value_float" in a:
            self.consts[out] = self.np.float32(a["value_float"])
        elif "value_ints" in a:
            self.consts[out] = self.np.array(a["value_ints"], self.np.int64)
        elif "value_int" in a:
            self.consts[out] = self.np.int64(a["value_int"])
        elif "value_floats" in a:
            self.consts[out] = self.np.array(a["value_floats"], self.np.float32)

    def _fold(self, node: Any) -> bool:
        """Evaluate a node whose inputs are all constants (or that asks for a static shape)."""
        np = self.np
        ins = [i for i in node.input if i]
        if node.op_type == "Shape" and node.input[0] in self.consts:
            self.consts[node.output[0]] = np.array(np.shape(self.consts[node.input[0]]), np.int64)
            return True
        if node.op_type == "Shape":
            shape = self.shape(node.input[0])
            if shape is None or any(d < 0 for d in shape[1:]):
                return False
            self.consts[node.output[0]] = np.array([1, *shape[1:]], np.int64)
            return True
        if node.op_type == "Identity" and ins and ins[0] not in self.values:
            self.alias(node.output[0], ins[0])
            return True
        if (
            node.op_type in ("Unsqueeze", "Reshape")
            and ins
            and ins[0] in self.weights
            and ins[0] not in self.consts
        ):
            self.weights[node.output[0]] = self.weights[ins[0]]  # a weight shaped to broadcast
            return True
        if (
            node.op_type in ("Transpose", "Expand")
            and ins
            and ins[0] in self.weights
            and weight_view(self, node)  # a weight transposed (MatMul) or expanded
        ):
            return True
        if not ins or not all(i in self.consts for i in ins):
            return False
        fold = _FOLDS.get(node.op_type)
        if fold is None:
            return False
        try:
            value = fold(self, [self.consts[i] for i in ins], self._attrs(node))
        except Exception:
            return False
        self.consts[node.output[0]] = value
        return True


# ---------------------------------------------------------------------------------- folding
def _fold_gather(r: _Reader, v: list[Any], a: dict[str, Any]) -> Any:
    return r.np.take(v[0], v[1], axis=a.get("axis", 0))


def _fold_unsqueeze(r: _Reader, v: list[Any], a: dict[str, Any]) -> Any:
    axes = a.get("axes", v[1].tolist() if len(v) > 1 else [])
    out = v[0]
    for ax in sorted(int(x) for x in axes):
        out = r.np.expand_dims(out, ax)
    return out


def _fold_concat(r: _Reader, v: list[Any], a: dict[str, Any]) -> Any:
    return r.np.concatenate([r.np.atleast_1d(x) for x in v], axis=a.get("axis", 0))


def _fold_slice(r: _Reader, v: list[Any], a: dict[str, Any]) -> Any:
    data, starts, ends = v[0], v[1], v[2]
    axes = v[3] if len(v) > 3 else range(len(starts))
    steps = v[4] if len(v) > 4 else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=False):
        index[int(ax)] = slice(int(s), int(e), int(st))
    return data[tuple(index)]


_FOLDS: dict[str, Callable[[_Reader, list[Any], dict[str, Any]], Any]] = {
    "Gather": _fold_gather,
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": lambda r, v, a: r.np.squeeze(v[0]),
    "Concat": _fold_concat,
    "Cast": lambda r, v, a: v[0],
    "Slice": _fold_slice,
    "Identity": lambda r, v, a: v[0],
    "Add": lambda r, v, a: v[0] + v[1],
    "Sub": lambda r, v, a: v[0] - v[1],
    "Mul": lambda r, v, a: v[0] * v[1],
    "Div": lambda r, v, a: v[0] // v[1] if v[0].dtype.kind == "i" else v[0] / v[1],
    "Reshape": lambda r, v, a: v[0].reshape(v[1]),
    "ConstantOfShape": lambda r, v, a: r.np.zeros(v[0].astype(int)),
    "Equal": lambda r, v, a: v[0] == v[1],
    "Where": lambda r, v, a: r.np.where(v[0], v[1], v[2]),
    "Mod": lambda r, v, a: r.np.fmod(v[0], v[1]) if a.get("fmod") else r.np.mod(v[0], v[1]),
    "Sqrt": lambda r, v, a: r.np.sqrt(v[0]),
    "Neg": lambda r, v, a: -v[0],
    "Expand": lambda r, v, a: v[0] * r.np.ones(v[1].astype(int), v[0].dtype),
}


# ---------------------------------------------------------------------------------- handlers
def _pads(r: _Reader, node: Any, a: dict[str, Any], spatial: int = 2) -> Any:
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return "same"
    if auto == "VALID":
        return (0,) * spatial
    pads = list(a.get("pads", [0] * (2 * spatial)))
    begin, end = pads[:spatial], pads[spatial:]
    if begin != end:
        raise r.error(
            node,
            f"asymmetric padding {pads} (archc pads each side alike)",
            "add a pad(...) layer before it in the spec",
        )
    return tuple(int(p) for p in begin)


#: archc's op for a window op over 1, 2 or 3 spatial axes
_BY_RANK = {
    "conv": ("conv1d", "conv", "conv3d"),
    "maxpool": ("maxpool1d", "maxpool", "maxpool3d"),
    "avgpool": ("avgpool1d", "avgpool", "avgpool3d"),
    "adaptive_maxpool": ("adaptive_maxpool1d", "adaptive_maxpool", "adaptive_maxpool3d"),
}


def _conv(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    w = r.weights.get(node.input[1])
    transposed = node.op_type == "ConvTranspose"
    if w is None or not 3 <= len(w) <= 5 or (transposed and len(w) != 4):
        raise r.error(
            node,
            "only 1-D, 2-D and 3-D convolutions (2-D transposed) with a known weight shape "
            "are supported",
        )
    n = len(w) - 2
    groups = int(a.get("group", 1))
    kernel = tuple(int(k) for k in a.get("kernel_shape", w[2:]))
    args: dict[str, Any] = {
        "out": int(w[1]) * groups if transposed else int(w[0]),
        "kernel": kernel,
        "stride": tuple(int(s) for s in a.get("strides", (1,) * n)),
        "pad": _pads(r, node, a, n),
        "dilation": tuple(int(d) for d in a.get("dilations", (1,) * n)),
        "groups": groups,
        "bias": len(node.input) > 2 and bool(node.input[2]),
    }
    if transposed:
        args["output_padding"] = tuple(int(p) for p in a.get("output_padding", (0, 0)))
        r.add(node, "conv_transpose", args, node.input[:1])
    else:
        r.add(node, _BY_RANK["conv"][n - 1], args, node.input[:1])


def _gemm(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    w = r.weights.get(node.input[1])
    if w is None or len(w) != 2 or a.get("transA", 0):
        raise r.error(node, "only x · Wᵀ + b with a weight initializer is a linear layer")
    out = int(w[0] if a.get("transB", 0) else w[1])
    bias = len(node.input) > 2 and bool(node.input[2])
    r.add(node, "linear", {"out": out, "bias": bias}, node.input[:1])


def _matmul(r: _Reader, node: Any) -> None:
    if matmul(r, node):  # a product of two tensors (attention written out)
        return
    w = r.weights.get(node.input[1])
    if w is None or len(w) != 2:
        raise r.error(node, "only a product with a 2-D weight is a linear layer")
    r.add(node, "linear", {"out": int(w[1]), "bias": False}, node.input[:1])


def _window(r: _Reader, node: Any) -> dict[str, Any]:
    a = r._attrs(node)
    if any(d != 1 for d in a.get("dilations", ())):
        raise r.error(node, "dilated pooling is not an archc op")
    kernel = tuple(int(k) for k in a["kernel_shape"])
    if not 1 <= len(kernel) <= 3:
        raise r.error(node, f"a pool over {len(kernel)} axes")
    return {
        "kernel": kernel,
        "stride": tuple(int(s) for s in a.get("strides", (1,) * len(kernel))),
        "pad": _pads(r, node, a, len(kernel)),
        "ceil": bool(a.get("ceil_mode", 0)),
    }


def _maxpool(r: _Reader, node: Any) -> None:
    args = _window(r, node)
    r.add(node, _BY_RANK["maxpool"][len(args["kernel"]) - 1], args, node.input[:1])


def _avgpool(r: _Reader, node: Any) -> None:
    args = _window(r, node)
    args["count_include_pad"] = bool(r._attrs(node).get("count_include_pad", 0))
    r.add(node, _BY_RANK["avgpool"][len(args["kernel"]) - 1], args, node.input[:1])


def _batchnorm(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    args = {
        "eps": f32(a.get("epsilon", 1e-5)),
        "momentum": round(1.0 - a.get("momentum", 0.9), 6),
    }
    r.add(node, "batchnorm", args, node.input[:1])


def _simple(op: str) -> Callable[[_Reader, Any], None]:
    def handle(r: _Reader, node: Any) -> None:
        r.add(node, op, {}, node.input[:1])

    return handle


def _softmax(r: _Reader, node: Any) -> None:
    axis = per_sample_axis(r, node, r._attrs(node).get("axis", -1))
    r.add(node, "softmax", {"axis": axis} if axis else {}, node.input[:1])


def _clip(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    low = a.get("min", r.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None)
    high = a.get("max", r.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None)
    low = None if low is None else float(low)
    high = None if high is None else float(high)
    if low == 0.0 and high == 6.0:
        r.add(node, "relu6", {}, node.input[:1])
    elif low == 0.0 and high is None:
        r.add(node, "relu", {}, node.input[:1])
    else:
        raise r.error(node, f"Clip({low}, {high}) is neither relu6 nor relu")


def _hardsigmoid(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    if abs(a.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(a.get("beta", 0.5) - 0.5) > 1e-6:
        raise r.error(node, "HardSigmoid with alpha ≠ 1/6 (archc's is relu6(x + 3) / 6)")
    r.add(node, "hardsigmoid", {}, node.input[:1])


def _activation_of(r: _Reader, value: str) -> Layer | None:
    layer = r.producer.get(value)
    return layer


def _merge(op: str) -> Callable[[_Reader, Any], None]:
    def handle(r: _Reader, node: Any) -> None:
        ins = [i for i in node.input if i]
        data = [i for i in ins if i in r.values]
        consts = [i for i in ins if i not in r.values]
        if op == "mul" and len(data) == 2 and len(ins) == 2:
            # x · sigmoid(x) is silu, x · hardsigmoid(x) hardswish (how exporters spell them)
            for x, g in ((data[0], data[1]), (data[1], data[0])):
                gate = r.producer.get(g)
                if (
                    gate is not None
                    and gate.op in ("sigmoid", "hardsigmoid")
                    and gate.inputs == [r.values[x]]
                    and r.readers.get(g) == 1
                    and r.flat.layers[-1] is gate
                ):
                    r.flat.layers.pop()
                    r.used_names.discard(gate.name)
                    fused = "silu" if gate.op == "sigmoid" else "hardswish"
                    r.add(node, fused, {}, [x])
                    return
        if len(data) >= 2 and not consts:
            r.add(node, op, {}, data)
            return
        if len(data) == 1 and len(consts) == 1:
            layer = r.producer.get(data[0])
            shape = r.weights.get(consts[0]) or tuple(getattr(r.const(consts[0]), "shape", ()))
            if (
                op == "add"
                and layer is not None
                and layer.op == "linear"
                and not layer.args["bias"]
                and len(shape) == 1
                and r.readers.get(data[0]) == 1
            ):
                layer.args["bias"] = True  # MatMul + Add: a linear layer with its bias
                r.alias(node.output[0], data[0])
                return
            factor = r.const(consts[0])
            if op == "mul" and factor is not None and getattr(factor, "size", 0) == 1:
                r.add(node, "rescale", {"factor": float(factor.reshape(-1)[0])}, data)
                return  # by a constant (attention's 1/√d written out)
            if op == "mul" and len(shape) >= 1:
                r.add(node, "layer_scale", {}, data)
                return
            if op == "add" and pos_embed(r, node, data[0], shape):
                return
        raise r.error(node, f"{node.op_type} of a tensor and a constant has no archc op")

    return handle


def _concat(r: _Reader, node: Any) -> None:
    if class_token(r, node, [i for i in node.input if i]):
        return
    axis = per_sample_axis(r, node, r._attrs(node).get("axis", 1), node.output[0])
    inputs = [i for i in node.input if i]
    if len(inputs) == 1:  # torch.cat of one tensor (DenseNet's first layer): that tensor
        r.alias(node.output[0], inputs[0])
        return
    r.add(node, "concat", {"axis": axis} if axis else {}, inputs)


def _flatten(r: _Reader, node: Any) -> None:
    if r._attrs(node).get("axis", 1) != 1:
        raise r.error(node, "flatten from an axis other than 1")
    r.add(node, "flatten", {}, node.input[:1])


def _reshape(r: _Reader, node: Any) -> None:
    target = r.const(node.input[1])
    shape_in = r.shape(node.input[0])
    if target is not None and len(target) == 2 and shape_in is not None:
        r.add(node, "flatten", {}, node.input[:1])
        return
    reshape(r, node)  # tokens, split heads, merge heads, any other reshape


def _identity(r: _Reader, node: Any) -> None:
    r.add(node, "identity", {}, node.input[:1])


def _dropout(r: _Reader, node: Any) -> None:
    ratio = r._attrs(node).get("ratio")
    if ratio is None and len(node.input) > 1 and node.input[1]:
        ratio = r.const(node.input[1])
    r.add(node, "dropout", {"p": float(0.5 if ratio is None else ratio)}, node.input[:1])


def _lrn(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    args = {
        "size": int(a["size"]),
        "alpha": float(a.get("alpha", 1e-4)),
        "beta": float(a.get("beta", 0.75)),
        "k": float(a.get("bias", 1.0)),
    }
    r.add(node, "lrn", args, node.input[:1])


def _leaky(r: _Reader, node: Any) -> None:
    r.add(node, "leaky_relu", {"slope": float(r._attrs(node).get("alpha", 0.01))}, node.input[:1])


def _elu(r: _Reader, node: Any) -> None:
    r.add(node, "elu", {"alpha": float(r._attrs(node).get("alpha", 1.0))}, node.input[:1])


def _prelu(r: _Reader, node: Any) -> None:
    slope = r.weights.get(node.input[1]) or tuple(getattr(r.const(node.input[1]), "shape", ()))
    shared = int(__import__("math").prod(slope)) == 1 if slope else True
    r.add(node, "prelu", {"shared": shared}, node.input[:1])


def _global_maxpool(r: _Reader, node: Any) -> None:
    n = len(r.shape(node.input[0]) or (0, 0, 0, 0)) - 2
    if not 1 <= n <= 3:
        raise r.error(node, f"a global max pool over {n} axes")
    r.add(node, _BY_RANK["adaptive_maxpool"][n - 1], {"size": (1,) * n}, node.input[:1])


def _pad(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    pads = a.get("pads")
    if pads is None and len(node.input) > 1:
        pads = r.const(node.input[1])
    if pads is None or len(pads) != 8:
        raise r.error(node, "only a pad of N×C×H×W with constant amounts is supported")
    p = [int(x) for x in pads]
    if p[0] or p[1] or p[4] or p[5]:
        raise r.error(node, "padding the batch or channel axis has no archc op")
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    modes = {"constant": "zero", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise r.error(node, f"pad mode {mode!r}")
    r.add(node, "pad", {"amount": (p[3], p[7], p[2], p[6]), "mode": modes[mode]}, node.input[:1])


def _resize(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    scales = r.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    sizes = r.const(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    args: dict[str, Any] = {"mode": "bilinear" if mode == "linear" else "nearest"}
    axes = [int(x) for x in a.get("axes", [])]
    if axes and sorted(x % 4 for x in axes) == [2, 3]:  # opset 18: scales or sizes of H, W
        scales = None if scales is None else [1.0, 1.0, *scales]
        sizes = None if sizes is None else [1, 1, *sizes]
    if scales is not None and len(scales) == 4 and scales[2] == scales[3]:
        args["scale"] = float(scales[2])
    elif sizes is not None and len(sizes) == 4:
        args["size"] = (int(sizes[2]), int(sizes[3]))
    else:
        raise r.error(node, "a resize needs constant scales (equal for height and width) or sizes")
    ct = a.get("coordinate_transformation_mode", b"")
    ct = ct.decode() if isinstance(ct, bytes) else ct
    if args["mode"] == "bilinear" and ct == "align_corners":
        args["align_corners"] = True
    r.add(node, "upsample", args, node.input[:1])


def _layernorm(r: _Reader, node: Any) -> None:
    a = r._attrs(node)
    rank = len(r.shape(node.input[0]) or ())
    if rank not in (2, 3) or a.get("axis", -1) not in (-1, rank - 1):
        raise r.error(
            node,
            "a layer norm over the last axis of a map (archc's layernorm normalises channels, "
            "the features of a flat input, or each token's features)",
        )
    affine = len(node.input) > 1 and bool(node.input[1])
    r.add(node, "layernorm", {"eps": f32(a.get("epsilon", 1e-5)), "affine": affine}, node.input[:1])


def _gelu(r: _Reader, node: Any) -> None:
    approximate = r._attrs(node).get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    r.add(node, "gelu", {"approximate": approximate}, node.input[:1])


_HANDLERS: dict[str, Callable[[_Reader, Any], None]] = {
    "Conv": _conv,
    "ConvTranspose": _conv,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "MaxPool": _maxpool,
    "AveragePool": _avgpool,
    "GlobalAveragePool": _simple("global_avgpool"),
    "GlobalMaxPool": _global_maxpool,
    "BatchNormalization": _batchnorm,
    "Relu": _simple("relu"),
    "Sigmoid": _simple("sigmoid"),
    "Tanh": _simple("tanh"),
    "HardSigmoid": _hardsigmoid,
    "HardSwish": _simple("hardswish"),
    "Mish": _simple("mish"),
    "LeakyRelu": _leaky,
    "Elu": _elu,
    "PRelu": _prelu,
    "Softmax": _softmax,
    "Clip": _clip,
    "LRN": _lrn,
    "Concat": _concat,
    "Add": _merge("add"),
    "Sum": _merge("add"),
    "Mul": _merge("mul"),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Identity": _identity,
    "Dropout": _dropout,
    "Pad": _pad,
    "Resize": _resize,
    "LayerNormalization": _layernorm,
    "Gelu": _gelu,
    "Upsample": _resize,
    "Split": split,
    "Slice": slice_,
    "Transpose": transpose,
    "Gather": gather,
}


def read_onnx(path: str | Path, name: str | None = None) -> FlatModel:
    """The model at ``path`` as archc layers; checked with ``onnx.checker`` first."""
    path = Path(path)
    model = load_onnx(path)
    graph_name = name or path.stem
    if model.graph.name and model.graph.name not in ("main_graph", "torch_jit", "graph"):
        graph_name = name or model.graph.name
    reader = _Reader(model, graph_name)
    flat = reader.run()
    flat.source = (
        f"{path.name} (ONNX, opset {max((o.version for o in model.opset_import), default=0)})"
    )
    return flat
