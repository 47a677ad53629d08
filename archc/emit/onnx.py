"""ONNX emission: an analysed network -> an ONNX model, built with ``onnx.helper`` and numpy only.

No torch anywhere on this path: a CI job or an edge deployment can emit ONNX with the ``onnx``
extra alone.  The graph mirrors the IR one to one: every layer is one ONNX node named by its
scope path (ops that need several ONNX nodes add helpers named ``<path>/<step>``); every tensor
between layers carries the analyzer's shape as ``value_info`` with a symbolic batch ``N``; graph
inputs and outputs carry the spec's names; weights are initializers named by their canonical
``<layer path>.<role>`` (:meth:`~archc.analysis.Network.weights`).

How each op becomes ONNX is one entry of :data:`LOWERINGS`, keyed by op name, which also names
the op's random initialiser (:mod:`archc.emit.onnx_weights`).  Writing streams one tensor at a
time and switches to external data above 2 GB (:mod:`archc.emit.onnx_serialize`).

Public API: :func:`to_onnx` (in memory), :func:`write` (to a file), :func:`default_opset`, and
the target's :func:`emit` / :func:`stream` / :func:`write_file` with :class:`OnnxOptions` (the
command line's flags live in :mod:`archc.cli.emit`).  docs/onnx.md is the user's guide.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from archc import __version__, ir
from archc.emit import onnx_lowerings as modern
from archc.emit import onnx_tokens as tokens
from archc.emit import onnx_windows as windows
from archc.emit.onnx_serialize import PROTOBUF_LIMIT, ModelWriter, add_initializers
from archc.emit.onnx_weights import (
    GivenWeights,
    Initialiser,
    RandomWeights,
    WeightSource,
    ZeroWeights,
    batchnorm_init,
    constant_init,
    fan_in_uniform,
)
from archc.errors import EmitError, MissingDependencyError, UsageError
from archc.fileio import write_atomic
from archc.ops import REGISTRY, Shape
from archc.ops.conv import resolved_padding

if TYPE_CHECKING:
    import onnx

    from archc.analysis import Network

#: the oldest opset archc emits (Softmax over one axis, Clip bounds as inputs, Unsqueeze axes input)
MIN_OPSET = 13
WEIGHT_MODES = ("random", "zeros", "none")
#: the symbolic batch dimension of every graph input, output and value_info
BATCH = "N"


# ---------------------------------------------------------------------------------- lowering
class _Site:
    """One layer being lowered: its attributes, shapes and value names, and node builders."""

    def __init__(self, builder: _Builder, node: str) -> None:
        net = builder.network
        self._builder = builder
        self.layer = net.layer(node)
        self.attrs = self.layer.attrs
        self.in_shapes: list[Shape] = [net.shape(src) for src in self.layer.inputs]
        self.out_shape: Shape = net.shape(node)
        self.inputs = [builder.values[src] for src in self.layer.inputs]
        self.output = builder.values[node]
        self.weights = builder.layer_weights.get(node, [])

    @property
    def x(self) -> str:
        return self.inputs[0]

    @property
    def opset(self) -> int:
        """The opset being emitted (for ops whose ONNX form changed between opsets)."""
        return self._builder.opset

    def tensor(self, name: str, values: Any) -> str:
        """A float32 ``Constant`` helper holding ``values`` (a numpy array); returns its output."""
        import numpy as np
        from onnx import numpy_helper

        return self.constant(name, value=numpy_helper.from_array(np.asarray(values, np.float32)))

    def node(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> None:
        """The layer's own node: named by the scope path, writing the layer's output."""
        self._builder.add_node(op_type, inputs, self.output, self.layer.name, self._doc(), attrs)

    def step(
        self,
        name: str,
        op_type: str,
        inputs: Sequence[str],
        shape: Shape,
        batched: bool = True,
        elem: int | None = None,
        **attrs: Any,
    ) -> str:
        """A helper node ``<path>/<name>`` whose output has per-sample ``shape`` (the whole
        shape when not ``batched``: a reshaped weight, a shape) of type ``elem`` (float when
        None); returns it."""
        value = f"{self.layer.name}/{name}"
        self._builder.add_node(op_type, inputs, value, value, "", attrs)
        self._builder.add_value_info(value, shape, batched=batched, elem=elem)
        return value

    def constant(self, name: str, **value: Any) -> str:
        """A ``Constant`` helper (``value_float=6.0``, ``value_ints=[1]``); returns its output."""
        from onnx import TensorProto

        out = f"{self.layer.name}/{name}"
        self._builder.add_node("Constant", [], out, out, "", value)
        if "value_float" in value:
            self._builder.add_value_info(out, (), batched=False)
        elif "value" in value:  # a TensorProto
            tensor = value["value"]
            self._builder.add_value_info(
                out, tuple(tensor.dims), batched=False, elem=tensor.data_type
            )
        else:
            ints = value["value_ints"]
            self._builder.add_value_info(out, (len(ints),), batched=False, elem=TensorProto.INT64)
        return out

    def batch_source(self) -> str:
        """The network's first input: what gives a tensor that reads none its batch size."""
        net = self._builder.network
        first = next(iter(net.graph.graph[ir.G_INPUTS].values()))
        return self._builder.values[first]

    def batch_shape(self) -> Shape:
        """The per-sample shape of :meth:`batch_source`."""
        net = self._builder.network
        return net.shape(next(iter(net.graph.graph[ir.G_INPUTS].values())))

    def unsupported(self, message: str, *hints: str) -> EmitError:
        return EmitError(f"cannot emit ONNX: {message}", self.layer.span, hints=hints)

    def declare_input(self) -> None:
        self._builder.add_graph_input(self.output, self.out_shape)

    def _doc(self) -> str:
        span = self.layer.span
        return f"{REGISTRY[self.layer.op].summary(self.attrs)} ({Path(span.file).name}:{span.line})"


@dataclass(frozen=True)
class Lowering:
    """How one op becomes ONNX: ``lower`` adds its nodes; ``init`` gives random initial weights
    (for ops that own tensors; PyTorch's defaults)."""

    lower: Callable[[_Site], None]
    init: Initialiser | None = None


def _input(s: _Site) -> None:
    s.declare_input()


def _conv(s: _Site) -> None:
    a = s.attrs
    padding = resolved_padding(a)  # "same" worked out, possibly asymmetric
    s.node(
        "Conv",
        [s.x, *s.weights],
        kernel_shape=a["kernel"],
        strides=a["stride"],
        pads=[before for before, _ in padding] + [after for _, after in padding],
        dilations=a["dilation"],
        group=a["groups"],
    )


def _window(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kernel_shape": a["kernel"],
        "strides": a["stride"],
        "pads": [*a["pad"], *a["pad"]],
        "ceil_mode": int(a["ceil"]),
    }


def _maxpool(s: _Site) -> None:
    s.node("MaxPool", [s.x], **_window(s.attrs))


def _avgpool(s: _Site) -> None:
    s.node(
        "AveragePool",
        [s.x],
        count_include_pad=int(s.attrs["count_include_pad"]),
        **_window(s.attrs),
    )


def _global_avgpool(s: _Site) -> None:
    s.node("GlobalAveragePool", [s.x])


def _linear(s: _Site) -> None:
    if len(s.in_shapes[0]) == 2:  # tokens: each token's features
        tokens.linear(s)
        return
    s.node("Gemm", [s.x, *s.weights], transB=1)


def _flatten(s: _Site) -> None:
    s.node("Flatten", [s.x], axis=1)


def _relu6(s: _Site) -> None:
    s.node("Clip", [s.x, s.constant("min", value_float=0.0), s.constant("max", value_float=6.0)])


def _hardswish(s: _Site) -> None:
    # ONNX defines HardSwish as x · HardSigmoid(x) with alpha 1/6, beta 1/2; the HardSwish op
    # itself needs opset 14, and archc emits from MIN_OPSET.
    gate = s.step("gate", "HardSigmoid", [s.x], s.out_shape, alpha=1 / 6, beta=0.5)
    s.node("Mul", [s.x, gate])


def _softmax(s: _Site) -> None:
    s.node("Softmax", [s.x], axis=tokens.onnx_axis(s.attrs["axis"]))


def _batchnorm(s: _Site) -> None:
    # weight, bias, running_mean, running_var are ONNX's scale, B, input_mean, input_var.
    # ONNX's momentum weighs the running value, PyTorch's the batch value.
    a = s.attrs
    s.node("BatchNormalization", [s.x, *s.weights], epsilon=a["eps"], momentum=1.0 - a["momentum"])


def _lrn(s: _Site) -> None:
    a = s.attrs
    size = a["size"]
    shape = s.out_shape
    if size % 2 and len(shape) == 3:
        # ONNX sums channels c - (size-1)/2 .. c + (size-1)/2 and divides alpha by size: exactly
        # PyTorch's LocalResponseNorm for an odd window.
        s.node("LRN", [s.x], size=size, alpha=a["alpha"], beta=a["beta"], bias=a["k"])
        return
    # An even window is off-centre, and ONNX and PyTorch put the extra channel on opposite
    # sides (and ONNX Runtime's LRN takes only N×C×H×W): spell out PyTorch's formula, the
    # average of x² over channels c - size//2 .. c + (size-1)//2.
    lifted = (1, *shape)
    square = s.step("square", "Mul", [s.x, s.x], shape)
    axis = s.constant("axis", value_ints=[1])
    stacked = s.step("unsqueeze", "Unsqueeze", [square, axis], lifted)
    rest = [0] * (len(shape) - 1)
    mean = s.step(
        "mean",
        "AveragePool",
        [stacked],
        lifted,
        kernel_shape=[size, *[1] * len(rest)],
        pads=[size // 2, *rest, (size - 1) // 2, *rest],
        count_include_pad=1,
    )
    mean = s.step("squeeze", "Squeeze", [mean, axis], shape)
    scaled = s.step("scale", "Mul", [mean, s.constant("alpha", value_float=a["alpha"])], shape)
    shifted = s.step("shift", "Add", [scaled, s.constant("k", value_float=a["k"])], shape)
    divisor = s.step("power", "Pow", [shifted, s.constant("beta", value_float=a["beta"])], shape)
    s.node("Div", [s.x, divisor])


def _simple(op_type: str) -> Callable[[_Site], None]:
    def lower(s: _Site) -> None:
        s.node(op_type, s.inputs)

    lower.__name__ = f"_{op_type.lower()}"
    return lower


def _concat(s: _Site) -> None:
    s.node("Concat", s.inputs, axis=tokens.onnx_axis(s.attrs["axis"]))


def _add(s: _Site) -> None:
    # Add and Sum broadcast as PyTorch does (numpy rules; the batch axis leads)
    s.node("Add" if len(s.inputs) == 2 else "Sum", s.inputs)


def _mul(s: _Site) -> None:
    product = s.inputs[0]
    shapes = s.in_shapes
    partial = shapes[0]
    for i, (x, shape) in enumerate(zip(s.inputs[1:-1], shapes[1:-1], strict=True)):
        partial = tuple(max(p, q) for p, q in zip(partial, shape, strict=True))
        product = s.step(f"product{i + 1}", "Mul", [product, x], partial)
    s.node("Mul", [product, s.inputs[-1]])


#: op name -> its ONNX lowering; every op of the registry, the internal ``input`` included.
LOWERINGS: dict[str, Lowering] = {
    "input": Lowering(_input),
    "conv": Lowering(_conv, fan_in_uniform),
    "conv1d": Lowering(_conv, fan_in_uniform),
    "conv3d": Lowering(_conv, fan_in_uniform),
    **{name: Lowering(_maxpool) for name in ("maxpool", "maxpool1d", "maxpool3d")},
    **{name: Lowering(_avgpool) for name in ("avgpool", "avgpool1d", "avgpool3d")},
    "global_avgpool": Lowering(_global_avgpool),
    **{
        name: Lowering(modern.adaptive("AveragePool"))
        for name in ("adaptive_avgpool", "adaptive_avgpool1d", "adaptive_avgpool3d")
    },
    **{
        name: Lowering(modern.adaptive("MaxPool"))
        for name in ("adaptive_maxpool", "adaptive_maxpool1d", "adaptive_maxpool3d")
    },
    "conv_transpose": Lowering(modern.conv_transpose, fan_in_uniform),
    "upsample": Lowering(modern.upsample),
    "pad": Lowering(modern.pad),
    "channel_shuffle": Lowering(modern.channel_shuffle),
    "slice": Lowering(modern.slice_channels),
    "linear": Lowering(_linear, fan_in_uniform),
    "flatten": Lowering(_flatten),
    "relu": Lowering(_simple("Relu")),
    "relu6": Lowering(_relu6),
    "hardswish": Lowering(_hardswish),
    "silu": Lowering(modern.silu),
    "hardsigmoid": Lowering(modern.hardsigmoid),
    "gelu": Lowering(modern.gelu),
    "leaky_relu": Lowering(modern.leaky_relu),
    "elu": Lowering(modern.elu),
    "mish": Lowering(modern.mish),
    "prelu": Lowering(modern.prelu, constant_init),
    "sigmoid": Lowering(_simple("Sigmoid")),
    "tanh": Lowering(_simple("Tanh")),
    "softmax": Lowering(_softmax),
    "batchnorm": Lowering(_batchnorm, batchnorm_init),
    "lrn": Lowering(_lrn),
    "groupnorm": Lowering(modern.groupnorm, constant_init),
    "instancenorm": Lowering(modern.instancenorm, constant_init),
    "layernorm": Lowering(modern.layernorm, constant_init),
    "layer_scale": Lowering(modern.layer_scale, constant_init),
    "stochastic_depth": Lowering(_simple("Identity")),  # inference: the identity
    "dropout": Lowering(_simple("Identity")),  # inference: dropout is the identity
    "identity": Lowering(_simple("Identity")),
    "concat": Lowering(_concat),
    "add": Lowering(_add),
    "mul": Lowering(_mul),
    "tokens": Lowering(tokens.tokens),
    "class_token": Lowering(tokens.class_token, constant_init),
    "pos_embed": Lowering(tokens.pos_embed, tokens.position_init),
    "select": Lowering(tokens.select),
    "attention": Lowering(tokens.attention, tokens.attention_init),
    "param": Lowering(tokens.param, tokens.learned_init),
    "reshape": Lowering(tokens.reshape),
    "permute": Lowering(tokens.permute),
    "split_heads": Lowering(tokens.split_heads),
    "merge_heads": Lowering(tokens.merge_heads),
    "matmul": Lowering(tokens.matmul),
    "rescale": Lowering(tokens.rescale),
    "window_attention": Lowering(windows.window_attention, windows.window_init),
    "patch_merge": Lowering(windows.patch_merge),
}

INITIALISERS: dict[str, Initialiser | None] = {op: rule.init for op, rule in LOWERINGS.items()}


# ---------------------------------------------------------------------------------- the graph
def _value_names(network: Network) -> dict[str, str]:
    """Node id -> the name of its output value: the spec's name for inputs and outputs (the
    first output naming a node), the scope path otherwise."""
    graph = network.graph.graph
    names: dict[str, str] = {}
    for name, node in graph[ir.G_INPUTS].items():
        names[node] = name
    for name, node in graph[ir.G_OUTPUTS].items():
        names.setdefault(node, name)
    taken = set(names.values())
    for node in network.order:
        if node not in names:
            value = node
            while value in taken:  # a layer path that is also another tensor's spec name
                value += "_"
            names[node] = value
            taken.add(value)
    return names


class _Builder:
    """Collects nodes, graph inputs and outputs and value_info while the layers are lowered."""

    def __init__(self, network: Network, weights_as_inputs: bool) -> None:
        from onnx import TensorProto

        self.network = network
        self.values = _value_names(network)
        self.nodes: list[onnx.NodeProto] = []
        self.value_info: list[onnx.ValueInfoProto] = []
        self.data_inputs: dict[str, onnx.ValueInfoProto] = {}
        self.weight_inputs: list[onnx.ValueInfoProto] = []
        self.layer_weights: dict[str, list[str]] = {}
        self._float = TensorProto.FLOAT
        self.opset = MIN_OPSET  # set by build(); lowerings whose ONNX form changed ask it
        for name, layer, spec in network.weights():
            self.layer_weights.setdefault(layer, []).append(name)
            if weights_as_inputs:
                self.weight_inputs.append(self._info(name, spec.shape, batched=False))

    def _info(
        self, name: str, shape: Shape, batched: bool = True, elem: int | None = None
    ) -> onnx.ValueInfoProto:
        from onnx import helper

        dims: list[int | str] = [BATCH, *shape] if batched else list(shape)
        return helper.make_tensor_value_info(name, self._float if elem is None else elem, dims)

    def add_node(
        self,
        op_type: str,
        inputs: Sequence[str],
        output: str,
        name: str,
        doc: str,
        attrs: Mapping[str, Any],
    ) -> None:
        from onnx import helper

        attrs = {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}
        node = helper.make_node(op_type, list(inputs), [output], name=name, **attrs)
        if doc:
            node.doc_string = doc
        self.nodes.append(node)

    def add_value_info(
        self, name: str, shape: Shape, batched: bool = True, elem: int | None = None
    ) -> None:
        self.value_info.append(self._info(name, shape, batched, elem))

    def add_graph_input(self, name: str, shape: Shape) -> None:
        self.data_inputs[name] = self._info(name, shape)

    def build(self, opset: int, weights: str) -> onnx.ModelProto:
        from onnx import helper

        self.opset = opset
        net = self.network
        outputs_by_node = net.graph.graph[ir.G_OUTPUTS]
        graph_names = set(net.graph.graph[ir.G_INPUTS]) | set(outputs_by_node)
        for node in net.order:
            op = net.layer(node).op
            LOWERINGS[op].lower(_Site(self, node))
            value = self.values[node]
            if value not in graph_names:
                self.add_value_info(value, net.shape(node))
        outputs = []
        for name, node in outputs_by_node.items():
            if self.values[node] != name:  # a second name for a tensor, or an input passed out
                self.add_node("Identity", [self.values[node]], name, f"output/{name}", "", {})
            outputs.append(self._info(name, net.shape(node)))
        inputs = [self.data_inputs[name] for name in net.graph.graph[ir.G_INPUTS]]
        spec_file = Path(net.file).name
        graph = helper.make_graph(
            self.nodes,
            net.name,
            inputs + self.weight_inputs,
            outputs,
            doc_string=f"{net.name}, compiled by archc from {spec_file}",
            value_info=self.value_info,
        )
        opsets = [helper.make_opsetid("", opset)]
        model = helper.make_model(
            graph,
            opset_imports=opsets,
            ir_version=helper.find_min_ir_version_for(opsets),
            producer_name="archc",
            producer_version=__version__,
        )
        helper.set_model_props(model, {"archc.spec": spec_file, "archc.weights": weights})
        return model


# ---------------------------------------------------------------------------------- options
def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "ONNX emission needs the 'onnx' package", hints=["pip install 'archc[onnx]'"]
        ) from None
    return onnx


@functools.lru_cache(maxsize=1)
def default_opset() -> int:
    """The newest opset the installed onnxruntime runs (onnx's newest if it is not installed)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper

    newest = onnx.defs.onnx_opset_version()
    try:
        import onnxruntime
    except ImportError:
        return newest
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    probe = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    for opset in range(newest, MIN_OPSET - 1, -1):
        ids = [helper.make_opsetid("", opset)]
        model = helper.make_model(
            probe, opset_imports=ids, ir_version=helper.find_min_ir_version_for(ids)
        )
        try:
            onnxruntime.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception:
            continue
        return opset
    return MIN_OPSET


def _resolve_opset(opset: int | None) -> int:
    onnx = _import_onnx()
    if opset is None:
        return default_opset()
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise UsageError(
            f"opset {opset} is not supported: archc emits opsets {MIN_OPSET} to {newest} "
            f"(the newest that onnx {onnx.__version__} knows)"
        )
    return opset


def _prepare(
    network: Network, weights: str | Mapping[str, Any], seed: int | None, opset: int | None
) -> tuple[onnx.ModelProto, WeightSource | None]:
    resolved = _resolve_opset(opset)
    source: WeightSource | None
    if isinstance(weights, str):
        if weights not in WEIGHT_MODES:
            raise UsageError(
                f"weights must be one of {', '.join(WEIGHT_MODES)} or a mapping, not {weights!r}"
            )
        makers: dict[str, Callable[[], WeightSource | None]] = {
            "random": lambda: RandomWeights(network, 0 if seed is None else seed, INITIALISERS),
            "zeros": lambda: ZeroWeights(),
            "none": lambda: None,
        }
        source = makers[weights]()
    else:
        source = GivenWeights(network, weights)
    description = "none (graph inputs)" if source is None else source.description
    model = _Builder(network, weights_as_inputs=source is None).build(resolved, description)
    return model, source


# ---------------------------------------------------------------------------------- API
def to_onnx(
    network: Network,
    *,
    weights: str | Mapping[str, Any] = "random",
    seed: int | None = None,
    opset: int | None = None,
) -> onnx.ModelProto:
    """The network as an ONNX ``ModelProto``, weights inline.

    ``weights``: ``"random"`` (PyTorch-like init, seeded by ``seed``, default 0), ``"zeros"``,
    ``"none"`` (weights become graph inputs), or a mapping canonical name -> array (for example
    ``archc.emit.pytorch.state_dict_to_weights(network, module.state_dict())``).
    ``opset`` defaults to :func:`default_opset`.  For models over 2 GB use :func:`write`.
    """
    model, source = _prepare(network, weights, seed, opset)
    if source is not None:
        add_initializers(model, network.weights(), source)
    return model


def write(
    network: Network,
    path: str | Path,
    *,
    weights: str | Mapping[str, Any] = "random",
    seed: int | None = None,
    opset: int | None = None,
    external_threshold: int = PROTOBUF_LIMIT,
) -> list[Path]:
    """Write the model to ``path`` atomically, streaming one weight tensor at a time.

    A model larger than ``external_threshold`` bytes (default: protobuf's 2 GB limit) is written
    as ``path`` plus ``path.data`` (ONNX external data).  Returns the files written.  An
    unwritable path or a full disk raises :class:`EmitError` and leaves no partial file.
    """
    model, source = _prepare(network, weights, seed, opset)
    writer = ModelWriter(model, network.weights() if source is not None else [], source)
    target = Path(path)
    if writer.size <= external_threshold:
        write_atomic(target, writer.write)
        return [target]
    data = target.with_name(target.name + ".data")
    write_atomic(data, writer.write_data)
    try:
        write_atomic(target, writer.external_model(data.name).SerializeToString())
    except EmitError:
        data.unlink(missing_ok=True)
        raise
    return [target, data]


# ---------------------------------------------------------------------------------- target
@dataclass(frozen=True)
class OnnxOptions:
    """What the ONNX target can be asked for (``archc emit --target onnx`` flags)."""

    weights: str = "random"  # one of WEIGHT_MODES
    seed: int | None = None
    opset: int | None = None  # default: default_opset()
    external_threshold: int = PROTOBUF_LIMIT


def emit(network: Network, options: OnnxOptions | None = None) -> bytes:
    """The serialized model, weights inline.  A model over the protobuf limit needs external
    data, so it cannot be one byte string: :func:`write` it to a file instead."""
    buffer = io.BytesIO()
    stream(network, buffer, options)
    return buffer.getvalue()


def stream(network: Network, out: BinaryIO, options: OnnxOptions | None = None) -> None:
    """Serialize the model into ``out`` one weight tensor at a time (never whole in memory)."""
    options = options or OnnxOptions()
    model, source = _prepare(network, options.weights, options.seed, options.opset)
    writer = ModelWriter(model, network.weights() if source is not None else [], source)
    if writer.size > options.external_threshold:
        raise UsageError("the model is over 2 GB and needs external data: give -o FILE")
    writer.write(out)


def write_file(
    network: Network, path: str | Path, options: OnnxOptions | None = None
) -> list[Path]:
    """:func:`write` with the target's options."""
    options = options or OnnxOptions()
    return write(
        network,
        path,
        weights=options.weights,
        seed=options.seed,
        opset=options.opset,
        external_threshold=options.external_threshold,
    )
