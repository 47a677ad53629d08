"""Read a Caffe ``.prototxt`` (deploy or train_val) into archc layers.

The protobuf text format is parsed here by hand (a tokenizer and a recursive-descent reader of
``name: value`` and ``name { ... }`` fields), so importing Caffe needs neither Caffe nor
protobuf.  Every field keeps its line, so an error points at the layer in the file.

What becomes what: input layers and ``input``/``input_dim``/``input_shape`` (and a Data layer's
``crop_size``) give the network's input; Convolution (group, dilation, bias_term),
Deconvolution, Pooling (Caffe rounds up: ``ceil=true``; ``global_pooling``), InnerProduct (a
``flatten`` before it when its input is a map), ReLU (``negative_slope`` is a leaky ReLU),
PReLU, Sigmoid, TanH, ELU, LRN, Concat, Eltwise (SUM as ``add``, PROD as ``mul``), BatchNorm
followed by Scale (one ``batchnorm``: Caffe's statistics and the Scale's weight and bias),
Dropout, Softmax, Split (another name for its input), Flatten and Reshape to features.
In-place layers (top = bottom) are followed through.  Layers of the TRAIN phase, losses and
accuracies are left out; a loss's input becomes the network's output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archc.importers.model import FlatModel, ImportModelError, Layer
from archc.source import Span, register_source

_TOKEN = re.compile(
    r"""\s*(?:(?P<comment>\#[^\n]*)|(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|"""
    r"""(?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)[fF]?)(?![\w.])|"""
    r"""(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[{}:<>\[\],;]))"""
)


@dataclass
class Field:
    name: str
    value: Any  # str, int, float, bool, an identifier (enum) as str, or a Message
    line: int
    column: int


@dataclass
class Message:
    fields: list[Field] = field(default_factory=list)
    line: int = 1
    column: int = 1

    def all(self, name: str) -> list[Any]:
        return [f.value for f in self.fields if f.name == name]

    def get(self, name: str, default: Any = None) -> Any:
        values = self.all(name)
        return values[-1] if values else default

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def sub(self, name: str) -> Message:
        value = self.get(name)
        return value if isinstance(value, Message) else Message(line=self.line)


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.tokens: list[tuple[str, str, int, int]] = []
        line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        pos = 0
        import bisect

        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                rest = text[pos:].lstrip()
                if not rest:
                    break
                at = len(text) - len(rest)
                line = bisect.bisect_right(line_starts, at)
                column = at - line_starts[line - 1] + 1
                raise ImportModelError(
                    f"unexpected character {rest[0]!r} in the prototxt",
                    Span(file, line, column),
                )
            pos = m.end()
            kind = m.lastgroup or ""
            if kind == "comment":
                continue
            start = m.start(kind)
            line = bisect.bisect_right(line_starts, start)
            self.tokens.append((kind, m.group(kind), line, start - line_starts[line - 1] + 1))
        self.i = 0

    def _span(self) -> Span:
        if self.i < len(self.tokens):
            _, _, line, col = self.tokens[self.i]
            return Span(self.file, line, col)
        last = self.tokens[-1] if self.tokens else ("", "", 1, 1)
        return Span(self.file, last[2], last[3])

    def message(self, closing: str | None) -> Message:
        msg = Message()
        while self.i < len(self.tokens):
            kind, text, line, col = self.tokens[self.i]
            if kind == "punct" and closing is not None and text == closing:
                self.i += 1
                return msg
            if kind == "punct" and text in ",;":
                self.i += 1
                continue
            if kind != "name":
                raise ImportModelError(f"expected a field name, got {text!r}", self._span())
            self.i += 1
            colon = self._peek(":")
            if colon:
                self.i += 1
            if self._peek("{") or self._peek("<"):
                close = "}" if self._peek("{") else ">"
                self.i += 1
                sub = self.message(close)
                sub.line, sub.column = line, col
                msg.fields.append(Field(text, sub, line, col))
            elif self._peek("["):
                self.i += 1
                while not self._peek("]"):
                    if self._peek(","):
                        self.i += 1
                        continue
                    msg.fields.append(Field(text, self._scalar(), line, col))
                self.i += 1
            else:
                if not colon:
                    raise ImportModelError(f"expected ':' or '{{' after {text!r}", self._span())
                msg.fields.append(Field(text, self._scalar(), line, col))
        if closing is not None:
            raise ImportModelError(f"unexpected end of file: '{closing}' missing", self._span())
        return msg

    def _peek(self, punct: str) -> bool:
        if self.i >= len(self.tokens):
            return False
        kind, text, _, _ = self.tokens[self.i]
        return kind == "punct" and text == punct

    def _scalar(self) -> Any:
        if self.i >= len(self.tokens):
            raise ImportModelError("unexpected end of file: a value is missing", self._span())
        kind, text, _, _ = self.tokens[self.i]
        self.i += 1
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "number":
            body = text.rstrip("fF")
            if re.fullmatch(r"[-+]?\d+", body):
                return int(body)
            return float(body)
        if kind == "name":
            if text in ("true", "True"):
                return True
            if text in ("false", "False"):
                return False
            return text  # an enum value (MAX, SUM, TEST)
        self.i -= 1
        raise ImportModelError(f"expected a value, got {text!r}", self._span())


def parse_prototxt(text: str, file: str) -> Message:
    """The text format into nested :class:`Message` s, every field with its line."""
    register_source(file, text)
    return _Parser(text, file).message(None)


# V1 layer types (``layers { type: CONVOLUTION }``) -> current names
_V1 = {
    "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution",
    "POOLING": "Pooling",
    "INNER_PRODUCT": "InnerProduct",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "TANH": "TanH",
    "LRN": "LRN",
    "CONCAT": "Concat",
    "ELTWISE": "Eltwise",
    "DROPOUT": "Dropout",
    "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split",
    "FLATTEN": "Flatten",
    "DATA": "Data",
    "IMAGE_DATA": "ImageData",
    "MEMORY_DATA": "MemoryData",
    "HDF5_DATA": "HDF5Data",
    "ACCURACY": "Accuracy",
    "WINDOW_DATA": "WindowData",
    "DUMMY_DATA": "DummyData",
}
_DATA = {"Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData", "Input",
         "AnnotatedData", "Python"}  # fmt: skip
_DROPPED = {"Accuracy", "Silence", "SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss",
            "HingeLoss", "InfogainLoss", "MultinomialLogisticLoss", "ContrastiveLoss"}  # fmt: skip


def _pair(param: Message, name: str, default: int) -> tuple[int, int]:
    """Caffe's size fields: ``kernel_size`` (once, or per axis), or ``kernel_h``/``kernel_w``."""
    h, w = param.get(f"{name}_h"), param.get(f"{name}_w")
    if h is not None or w is not None:
        return (int(h if h is not None else default), int(w if w is not None else default))
    field_name = "kernel_size" if name == "kernel" else name
    values = param.all(field_name)
    if not values:
        return (default, default)
    if len(values) == 1:
        return (int(values[0]), int(values[0]))
    return (int(values[0]), int(values[1]))


class _Importer:
    def __init__(self, net: Message, file: str, name: str) -> None:
        self.net = net
        self.file = file
        self.flat = FlatModel(name=name, inputs={})
        self.blobs: dict[str, str] = {}  # blob -> the layer (or input) that last wrote it
        self.rank: dict[str, int] = {}
        self.used: set[str] = set()
        self.pending_bn: dict[str, Layer] = {}  # blob -> a BatchNorm awaiting its Scale
        self.read: set[str] = set()
        self.folded: set[str] = set()
        self.nested: set[str] = set()  # in-place layers named under their blob's writer
        self.ops: dict[str, str] = {}

    def error(self, where: Message | Field, message: str, *hints: str) -> ImportModelError:
        return ImportModelError(message, Span(self.file, where.line, where.column), hints)

    def _claim(self, name: str) -> str:
        base = name.replace("/", ".").strip(".") or "layer"
        base = re.sub(r"\.+", ".", base)
        out, k = base, 2
        while out in self.used:
            out, k = f"{base}_{k}", k + 1
        self.used.add(out)
        return out

    def add_input(self, blob: str, dims: list[int], where: Message | Field) -> None:
        if len(dims) == 4:
            dims = dims[1:]
        if len(dims) not in (1, 3) or any(d <= 0 for d in dims):
            raise self.error(where, f"input {blob!r} has shape {dims}; archc takes C×H×W or F")
        name = self._claim(blob)
        self.flat.inputs[name] = tuple(int(d) for d in dims)
        self.blobs[blob] = name
        self.rank[name] = len(dims)

    def run(self) -> FlatModel:
        net = self.net
        inputs = net.all("input")
        dims = [int(d) for d in net.all("input_dim")]
        shapes = [s for s in net.all("input_shape") if isinstance(s, Message)]
        for k, blob in enumerate(inputs):
            where = net.field("input") or net
            if shapes:
                shape = shapes[min(k, len(shapes) - 1)].all("dim")
                self.add_input(blob, [int(d) for d in shape], where)
            else:
                self.add_input(blob, dims[4 * k : 4 * k + 4], where)
        layers = [f for f in net.fields if f.name in ("layer", "layers")]
        for f in layers:
            if isinstance(f.value, Message):
                self.layer(f.value)
        for layer in self.pending_bn.values():
            if any(x is layer for x in self.flat.layers) and layer.name not in self.folded:
                raise ImportModelError(
                    f"layer {layer.name!r}: a BatchNorm without a Scale after it (Caffe's "
                    "BatchNorm has no weight or bias; archc's batchnorm has both)",
                    Span(self.file, layer.line or 1, 1),
                    ["follow it with a Scale layer (bias_term: true), as Caffe models do"],
                )
        self._outputs()
        return self.flat

    def _phase_skipped(self, msg: Message) -> bool:
        for include in msg.all("include"):
            if isinstance(include, Message) and include.get("phase") == "TRAIN":
                return True
        return False

    def layer(self, msg: Message) -> None:
        kind = msg.get("type", "")
        kind = _V1.get(kind, kind)
        name = str(msg.get("name", kind))
        tops = [str(t) for t in msg.all("top")]
        bottoms = [str(b) for b in msg.all("bottom")]
        if self._phase_skipped(msg):
            return
        if kind in _DATA:
            self._data(msg, kind, tops)
            return
        if kind in _DROPPED:
            return
        for b in bottoms:
            if b not in self.blobs:
                raise self.error(msg, f"layer {name!r} reads blob {b!r}, which nothing wrote")
        handler = _LAYERS.get(kind)
        if handler is None:
            raise self.error(
                msg.field("type") or msg,
                f"layer {name!r} has type {kind!r}, which archc cannot import",
                "supported: " + ", ".join(sorted(_LAYERS)),
            )
        handler(self, msg, name, bottoms, tops)

    def _data(self, msg: Message, kind: str, tops: list[str]) -> None:
        if not tops or tops[0] in self.blobs:
            return
        where: Message | Field = msg
        if kind == "Input":
            shape = msg.sub("input_param").sub("shape")
            self.add_input(tops[0], [int(d) for d in shape.all("dim")], where)
        elif kind == "DummyData":
            shape = msg.sub("dummy_data_param").sub("shape")
            self.add_input(tops[0], [int(d) for d in shape.all("dim")], where)
        elif kind == "MemoryData":
            p = msg.sub("memory_data_param")
            dims = [int(p.get(k, 0)) for k in ("channels", "height", "width")]
            self.add_input(tops[0], dims, where)
        else:
            crop = msg.sub("transform_param").get("crop_size")
            if crop is None:
                raise self.error(
                    msg,
                    f"data layer {msg.get('name')!r} does not say its image size",
                    "give it transform_param { crop_size: N }, or use a deploy prototxt",
                )
            self.add_input(tops[0], [3, int(crop), int(crop)], where)

    def emit(
        self, msg: Message, name: str, op: str, args: dict[str, Any], bottoms: list[str], top: str
    ) -> Layer:
        producer = self.blobs.get(top)
        if (
            len(bottoms) == 1
            and top == bottoms[0]
            and producer in self.used
            and (
                producer in self.nested or self.ops.get(producer) in ("conv", "linear", "batchnorm")
            )
        ):
            # in place (top = bottom): scoped under the layer that wrote the blob, so the
            # spec chains it there (conv1 = conv(...) -> batchnorm -> relu)
            name = f"{self.blobs[top]}.{re.sub(r'[/.]', '_', name)}"
            self.nested.add(name)
        layer = Layer(self._claim(name), op, args, [self.blobs[b] for b in bottoms], msg.line)
        self.ops[layer.name] = op
        if name in self.nested:
            self.nested.add(layer.name)
        for b in bottoms:
            self.read.add(self.blobs[b])
        self.flat.layers.append(layer)
        self.blobs[top] = layer.name
        rank = self.rank.get(layer.inputs[0], 3) if layer.inputs else 3
        self.rank[layer.name] = 1 if op in ("linear", "flatten") else rank
        return layer

    def flat_input(self, msg: Message, name: str, bottom: str) -> str:
        """InnerProduct flattens a map itself; archc says so with a flatten layer."""
        if self.rank.get(self.blobs[bottom], 3) == 1:
            return bottom
        flat_blob = f"{bottom}\0flat"
        self.emit(msg, f"{name}_flatten", "flatten", {}, [bottom], flat_blob)
        return flat_blob

    def _outputs(self) -> None:
        produced = [layer.name for layer in self.flat.layers]
        final: dict[str, str] = {}
        for blob, layer in self.blobs.items():
            if layer in produced and layer not in self.read and "\0" not in blob:
                final[layer] = blob
        for layer in produced:
            if layer in final:
                self.flat.outputs.append((re.sub(r"\W", "_", final[layer]), layer))


# ---------------------------------------------------------------------------------- layers
def _conv(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    kind = _V1.get(msg.get("type"), msg.get("type"))
    p = msg.sub("convolution_param")
    if p.get("num_output") is None:
        raise imp.error(msg, f"layer {name!r} has no convolution_param.num_output")
    if len(p.all("dilation")) > 1 or p.get("axis", 1) != 1:
        raise imp.error(msg, f"layer {name!r}: only 2-D convolutions over channels are supported")
    args: dict[str, Any] = {
        "out": int(p.get("num_output")),
        "kernel": _pair(p, "kernel", 1),
        "stride": _pair(p, "stride", 1),
        "pad": _pair(p, "pad", 0),
        "dilation": _pair(p, "dilation", 1),
        "groups": int(p.get("group", 1)),
        "bias": bool(p.get("bias_term", True)),
    }
    op = "conv_transpose" if kind == "Deconvolution" else "conv"
    imp.emit(msg, name, op, args, bottoms[:1], tops[0])


def _pool(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    p = msg.sub("pooling_param")
    method = p.get("pool", "MAX")
    method = {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}.get(method, method)
    if method not in ("MAX", "AVE"):
        raise imp.error(msg, f"layer {name!r}: {method} pooling has no archc op")
    if p.get("global_pooling", False):
        if method == "AVE":
            imp.emit(msg, name, "global_avgpool", {}, bottoms[:1], tops[0])
        else:
            imp.emit(msg, name, "adaptive_maxpool", {"size": (1, 1)}, bottoms[:1], tops[0])
        return
    args: dict[str, Any] = {
        "kernel": _pair(p, "kernel", 1),
        "stride": _pair(p, "stride", 1),
        "pad": _pair(p, "pad", 0),
        "ceil": True,  # Caffe rounds the output size up
    }
    imp.emit(msg, name, "maxpool" if method == "MAX" else "avgpool", args, bottoms[:1], tops[0])


def _inner(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    p = msg.sub("inner_product_param")
    if p.get("num_output") is None:
        raise imp.error(msg, f"layer {name!r} has no inner_product_param.num_output")
    if p.get("transpose", False):
        raise imp.error(msg, f"layer {name!r}: a transposed InnerProduct is not supported")
    source = imp.flat_input(msg, name, bottoms[0])
    args = {"out": int(p.get("num_output")), "bias": bool(p.get("bias_term", True))}
    imp.emit(msg, name, "linear", args, [source], tops[0])


def _activation(op: str) -> Any:
    def handle(
        imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]
    ) -> None:
        args: dict[str, Any] = {}
        chosen = op
        if op == "relu":
            slope = float(msg.sub("relu_param").get("negative_slope", 0.0))
            if slope:
                chosen, args = "leaky_relu", {"slope": slope}
        elif op == "prelu":
            args = {"shared": bool(msg.sub("prelu_param").get("channel_shared", False))}
        elif op == "elu":
            args = {"alpha": float(msg.sub("elu_param").get("alpha", 1.0))}
        elif op == "softmax" and msg.sub("softmax_param").get("axis", 1) != 1:
            raise imp.error(msg, f"layer {name!r}: softmax over an axis other than 1")
        imp.emit(msg, name, chosen, args, bottoms[:1], tops[0])

    return handle


def _lrn(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    p = msg.sub("lrn_param")
    if p.get("norm_region", "ACROSS_CHANNELS") not in ("ACROSS_CHANNELS", 0):
        raise imp.error(msg, f"layer {name!r}: LRN within a channel has no archc op")
    args = {
        "size": int(p.get("local_size", 5)),
        "alpha": float(p.get("alpha", 1.0)),
        "beta": float(p.get("beta", 0.75)),
        "k": float(p.get("k", 1.0)),
    }
    imp.emit(msg, name, "lrn", args, bottoms[:1], tops[0])


def _concat(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    p = msg.sub("concat_param")
    if p.get("axis", p.get("concat_dim", 1)) != 1:
        raise imp.error(msg, f"layer {name!r}: concat along an axis other than channels")
    imp.emit(msg, name, "concat", {}, bottoms, tops[0])


def _eltwise(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    p = msg.sub("eltwise_param")
    operation = p.get("operation", "SUM")
    operation = {0: "PROD", 1: "SUM", 2: "MAX"}.get(operation, operation)
    coeffs = [float(c) for c in p.all("coeff")]
    if operation == "SUM" and all(c == 1.0 for c in coeffs):
        imp.emit(msg, name, "add", {}, bottoms, tops[0])
    elif operation == "PROD":
        imp.emit(msg, name, "mul", {}, bottoms, tops[0])
    else:
        what = "a weighted sum" if operation == "SUM" else f"{operation}"
        raise imp.error(
            p.field("operation") or msg,
            f"layer {name!r}: Eltwise {what} has no archc op (the language has add and mul)",
        )


def _batchnorm(
    imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]
) -> None:
    p = msg.sub("batch_norm_param")
    args = {"eps": float(p.get("eps", 1e-5))}  # the moving average counts for nothing here
    layer = imp.emit(msg, name, "batchnorm", args, bottoms[:1], tops[0])
    imp.pending_bn[tops[0]] = layer


def _scale(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    bn = imp.pending_bn.pop(bottoms[0], None)
    p = msg.sub("scale_param")
    if (
        bn is not None
        and len(bottoms) == 1
        and imp.blobs[bottoms[0]] == bn.name
        and p.get("bias_term", False)
    ):
        imp.blobs[tops[0]] = bn.name  # BatchNorm's statistics + Scale's weight and bias
        imp.folded.add(bn.name)
        return
    raise imp.error(
        msg,
        f"layer {name!r}: a Scale is imported only right after a BatchNorm, with bias_term: true "
        "(the pair is one batchnorm)",
    )


def _dropout(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    ratio = float(msg.sub("dropout_param").get("dropout_ratio", 0.5))
    imp.emit(msg, name, "dropout", {"p": ratio}, bottoms[:1], tops[0])


def _split(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    for top in tops:
        imp.blobs[top] = imp.blobs[bottoms[0]]


def _flatten(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    p = msg.sub("flatten_param")
    if p.get("axis", 1) != 1 or p.get("end_axis", -1) != -1:
        raise imp.error(msg, f"layer {name!r}: only a flatten of C×H×W to features is supported")
    imp.emit(msg, name, "flatten", {}, bottoms[:1], tops[0])


def _reshape(imp: _Importer, msg: Message, name: str, bottoms: list[str], tops: list[str]) -> None:
    dims = [int(d) for d in msg.sub("reshape_param").sub("shape").all("dim")]
    if len(dims) == 2 and dims[1] in (-1,) and dims[0] in (0, -1, 1):
        imp.emit(msg, name, "flatten", {}, bottoms[:1], tops[0])
        return
    raise imp.error(msg, f"layer {name!r}: only a reshape to (batch, -1), a flatten, is supported")


_LAYERS = {
    "Convolution": _conv,
    "Deconvolution": _conv,
    "Pooling": _pool,
    "InnerProduct": _inner,
    "ReLU": _activation("relu"),
    "PReLU": _activation("prelu"),
    "Sigmoid": _activation("sigmoid"),
    "TanH": _activation("tanh"),
    "ELU": _activation("elu"),
    "Softmax": _activation("softmax"),
    "LRN": _lrn,
    "Concat": _concat,
    "Eltwise": _eltwise,
    "BatchNorm": _batchnorm,
    "Scale": _scale,
    "Dropout": _dropout,
    "Split": _split,
    "Flatten": _flatten,
    "Reshape": _reshape,
}


def read_caffe(path: str | Path, text: str | None = None, name: str | None = None) -> FlatModel:
    """The prototxt at ``path`` (or ``text``) as archc layers."""
    from archc.source import display_name

    path = Path(path)
    shown = display_name(path)
    if text is None:
        from archc.loader import read_text

        text = read_text(path)
    net = parse_prototxt(text, shown)
    model_name = name or str(net.get("name") or path.stem)
    flat = _Importer(net, shown, model_name).run()
    if not flat.inputs:
        raise ImportModelError(
            "the prototxt declares no input (input:/input_shape, an Input or Data layer)",
            Span(shown, 1, 1),
        )
    flat.source = f"{path.name} (Caffe prototxt, {len(text.splitlines())} lines)"
    _plain_rounding(flat)
    return flat


def _plain_rounding(flat: FlatModel) -> None:
    """Caffe rounds pooled sizes up; say ``ceil=true`` only where that changes a size."""
    from archc.importers.model import shapes_of

    pools = [x for x in flat.layers if x.op in ("maxpool", "avgpool") and x.args.get("ceil")]
    if not pools:
        return
    before = shapes_of(flat)
    for layer in pools:
        layer.args["ceil"] = False
        try:
            same = shapes_of(flat)[layer.name] == before[layer.name]
        except ImportModelError:
            same = False
        if not same:
            layer.args["ceil"] = True
