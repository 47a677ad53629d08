"""Read a PyTorch model into archc layers by tracing it with ``torch.fx``.

``module:callable`` (``torchvision.models:resnet50``) is imported and called with keyword
arguments, or an ``nn.Module`` is given directly.  ``torch.fx.symbolic_trace`` gives the graph;
``ShapeProp`` runs it once on zeros (eval mode, no gradients) for the shapes.  A module call
becomes the archc op of its class, with the module's path as its scope (``layer1.0.conv1``); a
function or method call (``x + identity``, ``torch.flatten(x, 1)``, ``torch.cat``) becomes the op
it means, scoped beside the layer it reads.  Module classes are kept (``FlatModel.classes``), so a
repeated ``Bottleneck`` becomes a block called ``bottleneck``.  A module or function archc has no
op for is an :class:`ImportModelError` naming it.  Only this module imports torch.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable
from typing import Any

from archc.importers.model import FlatModel, ImportModelError, Layer
from archc.importers.torchvision_hook import allow_torchvision_import


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def load_callable(reference: str, kwargs: dict[str, Any] | None = None) -> Any:
    """``package.module:name`` imported and called with ``kwargs`` (a module class or builder).

    :func:`~archc.importers.torchvision_hook.allow_torchvision_import` is installed first, so
    ``torchvision.models:resnet50`` imports where torchvision's compiled ops do not load."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ImportModelError(
            f"{reference!r}: expected module:callable (torchvision.models:resnet50)"
        )
    # torchvision's CUDA wheel fails to import against CPU torch; the hook makes its models
    # importable (and steps aside where its ops load): for torchvision.models:... and for a
    # user's module that imports torchvision itself
    allow_torchvision_import()
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ImportModelError(f"cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ImportModelError(f"{module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    try:
        return target(**(kwargs or {}))
    except Exception as exc:
        raise ImportModelError(f"{reference}({kwargs or ''}) failed: {exc}") from None


class _Tracer:
    def __init__(self, model: Any, input_shape: tuple[int, ...], name: str) -> None:
        import torch

        self.torch = torch
        self.model = model.eval()
        self.input_shape = input_shape
        self.flat = FlatModel(name=name, inputs={})
        self.values: dict[str, str] = {}  # fx node name -> layer or input name
        self.used: set[str] = set()
        self.modules = dict(self.model.named_modules())

    def claim(self, name: str) -> str:
        out, k = name or "layer", 2
        while out in self.used:
            out, k = f"{name}_{k}", k + 1
        self.used.add(out)
        return out

    def run(self) -> FlatModel:
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp

        try:
            graph_module = torch.fx.symbolic_trace(self.model)
        except Exception as exc:
            raise ImportModelError(
                f"torch.fx cannot trace {type(self.model).__name__}: {exc}",
                hints=["data-dependent control flow cannot be traced; export to ONNX instead"],
            ) from None
        with self.torch.no_grad():
            ShapeProp(graph_module).propagate(self.torch.zeros(1, *self.input_shape))
        for path, module in self.modules.items():
            if path:
                self.flat.classes[path] = type(module).__name__
        for node in graph_module.graph.nodes:
            if node.op == "placeholder":
                name = self.claim(node.name)
                self.flat.inputs[name] = tuple(self.input_shape)
                self.values[node.name] = name
            elif node.op == "output":
                outs = node.args[0]
                outs = outs if isinstance(outs, tuple | list) else [outs]
                for k, out in enumerate(outs):
                    if getattr(out, "name", None) not in self.values:
                        raise ImportModelError(f"output {k} is not a tensor a layer computes")
                    label = "logits" if len(outs) == 1 else f"output{k + 1}"
                    self.flat.outputs.append((label, self.values[out.name]))
            elif node.op == "get_attr":
                continue  # a parameter or buffer read directly: a constant here
            elif self._is_tensor(node):
                self.node(node)
        return self.flat

    @staticmethod
    def _is_tensor(node: Any) -> bool:
        meta = node.meta.get("tensor_meta")
        return meta is not None and hasattr(meta, "shape")

    def shape(self, node: Any) -> tuple[int, ...]:
        return tuple(int(d) for d in node.meta["tensor_meta"].shape[1:])

    def tensors(self, args: Any) -> list[Any]:
        import torch.fx

        out = []
        for a in args:
            if isinstance(a, torch.fx.Node) and a.name in self.values:
                out.append(a)
            elif isinstance(a, list | tuple):
                out.extend(self.tensors(a))
        return out

    def add(self, node: Any, scope: str, op: str, args: dict[str, Any], inputs: list[Any]) -> None:
        layer = Layer(self.claim(scope), op, args, [self.values[i.name] for i in inputs])
        self.flat.layers.append(layer)
        self.values[node.name] = layer.name

    def error(self, what: str, where: str) -> ImportModelError:
        return ImportModelError(
            f"{where}: {what} has no archc op",
            hints=["the ops archc knows: archc ops (docs/ops.md)"],
        )

    def node(self, node: Any) -> None:
        ins = self.tensors(node.args) + self.tensors(node.kwargs.values())
        if node.op == "call_module":
            module = self.modules[node.target]
            rule = _MODULES.get(type(module).__name__)
            if rule is None:
                raise self.error(f"module {type(module).__name__}", str(node.target))
            op, args = rule(module, self, node)
            if op == "":
                self.values[node.name] = self.values[ins[0].name]  # an identity
                return
            self.add(node, str(node.target), op, args, ins[:1])
            return
        target = node.target
        key = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        rule_f = _FUNCTIONS.get(key)
        if rule_f is None:
            raise self.error(f"function {key}", node.name)
        op, args = rule_f(self, node, ins)
        if op == "":
            self.values[node.name] = self.values[ins[0].name]
            return
        stack = node.meta.get("nn_module_stack") or {}
        if stack:  # the module whose forward made the call: x + self.conv(x) in features.3
            parent = str(list(stack)[-1])
        else:
            first = self.values[ins[0].name] if ins else ""
            parent = first.rsplit(".", 1)[0] if "." in first else ""
        scope = f"{parent}.{node.name}" if parent else node.name
        self.add(node, scope, op, args, ins if op in ("add", "mul", "concat") else ins[:1])


# ------------------------------------------------------------------------------ modules
def _conv(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    if m.padding_mode != "zeros" or len(m.kernel_size) != 2:
        raise t.error(f"{type(m).__name__} with padding_mode {m.padding_mode!r}", str(node.target))
    transposed = type(m).__name__ == "ConvTranspose2d"
    args: dict[str, Any] = {
        "out": m.out_channels,
        "kernel": _pair(m.kernel_size),
        "stride": _pair(m.stride),
        "pad": m.padding if isinstance(m.padding, str) else _pair(m.padding),
        "dilation": _pair(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
    }
    if transposed:
        args["output_padding"] = _pair(m.output_padding)
        return "conv_transpose", args
    return "conv", args


def _bn(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    if not m.affine or not m.track_running_stats:
        raise t.error("a batch norm without weights or running statistics", str(node.target))
    return "batchnorm", {"eps": float(m.eps), "momentum": float(m.momentum or 0.1)}


def _pool(kind: str) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]:
    def rule(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
        if kind == "maxpool" and _pair(m.dilation) != (1, 1):
            raise t.error("a dilated max pool", str(node.target))
        args: dict[str, Any] = {
            "kernel": _pair(m.kernel_size),
            "stride": _pair(m.stride or m.kernel_size),
            "pad": _pair(m.padding),
            "ceil": bool(m.ceil_mode),
        }
        if kind == "avgpool":
            args["count_include_pad"] = bool(m.count_include_pad)
        return kind, args

    return rule


def _adaptive(kind: str) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]:
    def rule(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
        size = _pair(m.output_size)
        if kind == "avg" and size == (1, 1):
            return "global_avgpool", {}
        return f"adaptive_{kind}pool", {"size": size}

    return rule


def _plain(op: str, **fixed: Any) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]:
    return lambda m, t, node: (op, dict(fixed))


def _flatten_module(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    if m.start_dim != 1 or m.end_dim != -1:
        raise t.error("a flatten other than from dimension 1", str(node.target))
    return "flatten", {}


_MODULES: dict[str, Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]] = {
    "Conv2d": _conv,
    "ConvTranspose2d": _conv,
    "Linear": lambda m, t, n: ("linear", {"out": m.out_features, "bias": m.bias is not None}),
    "BatchNorm2d": _bn,
    "BatchNorm1d": _bn,
    "MaxPool2d": _pool("maxpool"),
    "AvgPool2d": _pool("avgpool"),
    "AdaptiveAvgPool2d": _adaptive("avg"),
    "AdaptiveMaxPool2d": _adaptive("max"),
    "ReLU": _plain("relu"),
    "ReLU6": _plain("relu6"),
    "SiLU": _plain("silu"),
    "Sigmoid": _plain("sigmoid"),
    "Tanh": _plain("tanh"),
    "Hardswish": _plain("hardswish"),
    "Hardsigmoid": _plain("hardsigmoid"),
    "Mish": _plain("mish"),
    "GELU": lambda m, t, n: ("gelu", {"approximate": m.approximate}),
    "LeakyReLU": lambda m, t, n: ("leaky_relu", {"slope": float(m.negative_slope)}),
    "ELU": lambda m, t, n: ("elu", {"alpha": float(m.alpha)}),
    "PReLU": lambda m, t, n: ("prelu", {"shared": m.num_parameters == 1}),
    "Softmax": lambda m, t, n: ("softmax", {}),
    "Dropout": lambda m, t, n: ("dropout", {"p": float(m.p)}),
    "Identity": lambda m, t, n: ("", {}),
    "Flatten": _flatten_module,
    "LocalResponseNorm": lambda m, t, n: (
        "lrn",
        {"size": m.size, "alpha": float(m.alpha), "beta": float(m.beta), "k": float(m.k)},
    ),
    "StochasticDepth": lambda m, t, n: ("stochastic_depth", {"p": float(m.p), "mode": m.mode}),
    "GroupNorm": lambda m, t, n: ("groupnorm", {"groups": m.num_groups, "eps": float(m.eps)}),
    "ChannelShuffle": lambda m, t, n: ("channel_shuffle", {"groups": m.groups}),
}


# ------------------------------------------------------------------------------ functions
def _merge(op: str) -> Callable[[_Tracer, Any, list[Any]], tuple[str, dict[str, Any]]]:
    def rule(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
        if len(ins) != 2:
            raise t.error(f"{op} of a tensor and a number", node.name)
        return op, {}

    return rule


def _flatten(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    if len(t.shape(node)) != 1:
        raise t.error("a reshape other than to (batch, features)", node.name)
    return "flatten", {}


def _cat(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
    if dim not in (1, -3):
        raise t.error(f"a concatenation along dimension {dim}", node.name)
    return ("concat", {}) if len(ins) > 1 else ("", {})


def _same(op: str) -> Callable[[_Tracer, Any, list[Any]], tuple[str, dict[str, Any]]]:
    return lambda t, node, ins: (op, {})


def _adaptive_avg(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    size = _pair(node.args[1] if len(node.args) > 1 else node.kwargs["output_size"])
    return ("global_avgpool", {}) if size == (1, 1) else ("adaptive_avgpool", {"size": size})


def _stochastic_depth(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    p = node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.0)
    mode = node.kwargs.get("mode", node.args[2] if len(node.args) > 2 else "row")
    return "stochastic_depth", {"p": float(p), "mode": str(mode)}


def _dropout(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    p = node.kwargs.get("p", node.args[1] if len(node.args) > 1 else 0.5)
    return "dropout", {"p": float(p)}


_FUNCTIONS: dict[str, Callable[[_Tracer, Any, list[Any]], tuple[str, dict[str, Any]]]] = {
    "add": _merge("add"),
    "iadd": _merge("add"),
    "add_": _merge("add"),
    "mul": _merge("mul"),
    "imul": _merge("mul"),
    "mul_": _merge("mul"),
    "flatten": _flatten,
    "view": _flatten,
    "reshape": _flatten,
    "cat": _cat,
    "relu": _same("relu"),
    "relu_": _same("relu"),
    "relu6": _same("relu6"),
    "sigmoid": _same("sigmoid"),
    "silu": _same("silu"),
    "hardswish": _same("hardswish"),
    "hardsigmoid": _same("hardsigmoid"),
    "tanh": _same("tanh"),
    "adaptive_avg_pool2d": _adaptive_avg,
    "dropout": _dropout,
    "stochastic_depth": _stochastic_depth,
    "contiguous": lambda t, node, ins: ("", {}),
}
_ = operator  # operator.add and friends are matched by their __name__


def read_torch(
    source: Any,
    input_shape: tuple[int, ...] = (3, 224, 224),
    kwargs: dict[str, Any] | None = None,
    name: str | None = None,
) -> FlatModel:
    """``source`` (``module:callable`` or an ``nn.Module``) as archc layers."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        from archc.errors import MissingDependencyError

        raise MissingDependencyError(
            "importing a PyTorch model needs torch", hints=["pip install 'archc[torch]'"]
        ) from exc
    reference = source if isinstance(source, str) else None
    model = load_callable(source, kwargs) if isinstance(source, str) else source
    label = name or (reference.rpartition(":")[2] if reference else type(model).__name__.lower())
    flat = _Tracer(model, tuple(input_shape), label).run()
    flat.source = f"{reference or type(model).__name__} (PyTorch, torch.fx)"
    return flat
