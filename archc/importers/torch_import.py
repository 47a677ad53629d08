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
        self.params: dict[str, tuple[int, ...]] = {}  # fx node computing from parameters only
        self.tuples: dict[str, str] = {}  # a module's tuple result -> the layer of its item 0
        self.used: set[str] = set()
        self.modules = dict(self.model.named_modules())

    def claim(self, name: str) -> str:
        out, k = name or "layer", 2
        while out in self.used:
            out, k = f"{name}_{k}", k + 1
        self.used.add(out)
        return out

    def run(self) -> FlatModel:
        from torch.fx.passes.shape_prop import ShapeProp

        try:
            graph_module = _trace(self.model)
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
            elif node.op == "get_attr":  # a parameter read directly (ViT's class token)
                if self._is_tensor(node):
                    self.params[node.name] = tuple(node.meta["tensor_meta"].shape)
            elif node.op == "call_module" and _is_attention(self.modules[node.target]):
                self.attention(node)
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

    def tensors_of_tuple(self, arg: Any) -> str | None:
        name = getattr(arg, "name", None)
        return self.tuples.get(name) if isinstance(name, str) else None

    def error(self, what: str, where: str) -> ImportModelError:
        return ImportModelError(
            f"{where}: {what} has no archc op",
            hints=["the ops archc knows: archc ops (docs/ops.md)"],
        )

    def param_args(self, args: Any) -> list[tuple[int, ...]]:
        """The shapes (with the batch axis) of the parameter-only tensors among ``args``."""
        import torch.fx

        out = []
        for a in args:
            if isinstance(a, torch.fx.Node) and a.name in self.params:
                out.append(self.params[a.name])
            elif isinstance(a, list | tuple):
                out.extend(self.param_args(a))
        return out

    def attention(self, node: Any) -> None:
        """``nn.MultiheadAttention`` called as self-attention on batch-first tokens."""
        m = self.modules[node.target]
        where = str(node.target)
        args = [*node.args, *[node.kwargs.get(k) for k in ("query", "key", "value")]]
        qkv = [a for a in args if a is not None][:3]
        masks = [node.kwargs.get(k) for k in ("key_padding_mask", "attn_mask")]
        if len(qkv) != 3 or len({a.name for a in qkv}) != 1 or any(x is not None for x in masks):
            raise self.error("attention other than self-attention (query = key = value)", where)
        if not m.batch_first or not m._qkv_same_embed_dim or m.bias_k is not None:
            raise self.error("attention that is not batch-first over one embedding", where)
        if m.add_zero_attn or (m.in_proj_bias is None) != (m.out_proj.bias is None):
            raise self.error("attention with zero attention or one projection's bias", where)
        args_ = {"heads": m.num_heads, "bias": m.in_proj_bias is not None}
        args_["dropout"] = float(m.dropout)
        self.add(node, where, "attention", args_, qkv[:1])
        self.tuples[node.name] = self.values.pop(node.name)

    def node(self, node: Any) -> None:
        ins = self.tensors(node.args) + self.tensors(node.kwargs.values())
        if node.op in ("call_method", "call_function") and not ins:
            if node.args and self.tensors_of_tuple(node.args[0]) is not None:
                self.values[node.name] = self.tensors_of_tuple(node.args[0]) or ""
                return  # item 0 of attention's (output, weights)
            self.params[node.name] = tuple(node.meta["tensor_meta"].shape)
            return  # computed from parameters alone (the class token expanded to the batch)
        if node.op == "call_module":
            module = self.modules[node.target]
            rule = _rule_for(module)
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
def _axes(m: Any) -> int:
    """The spatial axes of a module whose class (or torch base class) is named ...1d, ...2d
    or ...3d."""
    for cls in type(m).__mro__:
        if cls.__name__[-2:] in ("1d", "2d", "3d"):
            return int(cls.__name__[-2])
    return 2


def _sizes(v: Any, n: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    return tuple(int(x) for x in v)


def _ranked(op: str, n: int) -> str:
    """archc's op for ``n`` spatial axes: conv1d, conv, conv3d (maxpool1d, ...)."""
    return op if n == 2 else f"{op}{n}d"


def _conv(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    if m.padding_mode != "zeros":
        raise t.error(f"{type(m).__name__} with padding_mode {m.padding_mode!r}", str(node.target))
    n = _axes(m)
    transposed = type(m).__name__.startswith("ConvTranspose")
    if transposed and n != 2:
        raise t.error(f"module {type(m).__name__}", str(node.target))
    args: dict[str, Any] = {
        "out": m.out_channels,
        "kernel": _sizes(m.kernel_size, n),
        "stride": _sizes(m.stride, n),
        "pad": m.padding if isinstance(m.padding, str) else _sizes(m.padding, n),
        "dilation": _sizes(m.dilation, n),
        "groups": m.groups,
        "bias": m.bias is not None,
    }
    if transposed:
        args["output_padding"] = _pair(m.output_padding)
        return "conv_transpose", args
    return _ranked("conv", n), args


def _bn(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    if not m.affine or not m.track_running_stats:
        raise t.error("a batch norm without weights or running statistics", str(node.target))
    return "batchnorm", {"eps": float(m.eps), "momentum": float(m.momentum or 0.1)}


def _pool(kind: str) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]:
    def rule(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
        n = _axes(m)
        if kind == "maxpool" and set(_sizes(m.dilation, n)) != {1}:
            raise t.error("a dilated max pool", str(node.target))
        args: dict[str, Any] = {
            "kernel": _sizes(m.kernel_size, n),
            "stride": _sizes(m.stride or m.kernel_size, n),
            "pad": _sizes(m.padding, n),
            "ceil": bool(m.ceil_mode),
        }
        if kind == "avgpool":
            args["count_include_pad"] = bool(m.count_include_pad)
            if getattr(m, "divisor_override", None):
                raise t.error("an average pool with a divisor override", str(node.target))
        return _ranked(kind, n), args

    return rule


def _adaptive(kind: str) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]:
    def rule(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
        n = _axes(m)
        if m.output_size is None or None in _as_tuple(m.output_size):
            raise t.error("an adaptive pool keeping an input size (None)", str(node.target))
        size = _sizes(m.output_size, n)
        if kind == "avg" and set(size) == {1}:
            return "global_avgpool", {}
        return _ranked(f"adaptive_{kind}pool", n), {"size": size}

    return rule


def _as_tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v) if isinstance(v, tuple | list) else (v,)


def _plain(op: str, **fixed: Any) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]:
    return lambda m, t, node: (op, dict(fixed))


def _flatten_module(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    if m.start_dim != 1 or m.end_dim != -1:
        raise t.error("a flatten other than from dimension 1", str(node.target))
    return "flatten", {}


def _is_attention(module: Any) -> bool:
    return type(module).__name__ == "MultiheadAttention"


def _layernorm(m: Any, t: _Tracer, node: Any) -> tuple[str, dict[str, Any]]:
    features = t.shape(node)[-1:]
    if tuple(m.normalized_shape) != features or len(t.shape(node)) > 2:
        raise t.error("a layer norm over more than the last axis of tokens", str(node.target))
    if m.elementwise_affine and getattr(m, "bias", True) is None:
        raise t.error("a layer norm with a weight and no bias", str(node.target))
    return "layernorm", {"eps": float(m.eps), "affine": bool(m.elementwise_affine)}


_MODULES: dict[str, Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]]] = {
    **{f"Conv{n}d": _conv for n in (1, 2, 3)},
    "ConvTranspose2d": _conv,
    "Linear": lambda m, t, n: ("linear", {"out": m.out_features, "bias": m.bias is not None}),
    **{f"BatchNorm{n}d": _bn for n in (1, 2, 3)},
    **{f"MaxPool{n}d": _pool("maxpool") for n in (1, 2, 3)},
    **{f"AvgPool{n}d": _pool("avgpool") for n in (1, 2, 3)},
    **{f"AdaptiveAvgPool{n}d": _adaptive("avg") for n in (1, 2, 3)},
    **{f"AdaptiveMaxPool{n}d": _adaptive("max") for n in (1, 2, 3)},
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
    "Dropout": lambda m, t, n: ("dropout", {"p": float(m.p)}) if m.p else ("", {}),
    "LayerNorm": _layernorm,
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
        params = t.param_args(node.args)
        if op == "add" and len(ins) == 1 and len(params) == 1:
            shape = t.shape(ins[0])
            if len(shape) == 2 and params[0] == (1, *shape):  # ViT's input + pos_embedding
                return "pos_embed", {}
        if len(ins) != 2:
            raise t.error(f"{op} of a tensor and a number", node.name)
        return op, {}

    return rule


def _flatten(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    if len(t.shape(node)) == 1:
        return "flatten", {}
    if _token_view(t, node, ins):
        return "", {}  # C×H×W as C×(H·W), read only by the transpose that makes the tokens
    raise t.error("a reshape other than to (batch, features)", node.name)


def _token_view(t: _Tracer, node: Any, ins: list[Any]) -> bool:
    """A map reshaped to C×L (ViT's ``reshape(n, c, h * w)``, ``flatten(2)``) whose only
    reader swaps the last two axes: the two are ``tokens``."""
    shape, source = t.shape(node), t.shape(ins[0]) if ins else ()
    users = list(node.users)
    return (
        len(shape) == 2
        and 3 <= len(source) <= 4
        and shape[0] == source[0]
        and len(users) == 1
        and users[0].target in ("permute", "transpose")
        and _swaps_last_two(users[0])
    )


def _swaps_last_two(node: Any) -> bool:
    dims = [d for d in node.args[1:] if isinstance(d, int)]
    if node.target == "permute":
        return dims == [0, 2, 1]
    return sorted(d % 3 for d in dims) == [1, 2]


def _tokens(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    source = t.shape(ins[0]) if ins else ()
    if not _swaps_last_two(node) or len(t.shape(node)) != 2 or len(source) not in (2, 3, 4):
        raise t.error(f"a {node.target} other than a map's positions as tokens", node.name)
    return "tokens", {}


def _getitem(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    """``x[:, i]`` of N×T×D tokens: ``select(i)``."""
    index = node.args[1] if len(node.args) > 1 else None
    source = t.shape(ins[0]) if ins else ()
    if (
        isinstance(index, tuple)
        and len(index) == 2
        and index[0] == slice(None)
        and isinstance(index[1], int)
        and len(source) == 2
    ):
        i = index[1]
        return "select", {"index": i + source[0] if i < 0 else i}
    raise t.error(f"indexing with {index!r}", node.name)


def _cat(t: _Tracer, node: Any, ins: list[Any]) -> tuple[str, dict[str, Any]]:
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
    parts = node.args[0] if node.args else []
    if (
        len(parts) == 2
        and len(ins) == 1
        and parts[1] is ins[0]
        and dim in (1, -2)
        and len(t.shape(ins[0])) == 2
        and t.param_args(parts[:1])[-1:] == [(1, 1, t.shape(ins[0])[1])]
    ):
        return "class_token", {}  # ViT's cat([class_token.expand(n, -1, -1), x], dim=1)
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
    "permute": _tokens,
    "transpose": _tokens,
    "getitem": _getitem,
}
_ = operator  # operator.add and friends are matched by their __name__


def _rule_for(module: Any) -> Callable[[Any, _Tracer, Any], tuple[str, dict[str, Any]]] | None:
    """The rule of the module's class, or of the nearest torch class it derives from
    (torchvision's ``Conv3DSimple`` is an ``nn.Conv3d``)."""
    for cls in type(module).__mro__:
        rule = _MODULES.get(cls.__name__)
        if rule is not None and (cls is type(module) or cls.__module__.startswith("torch.nn")):
            return rule
    return None


def _trace(model: Any) -> Any:
    """``torch.fx.symbolic_trace``, a subclass of a layer archc knows kept whole."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return super().is_leaf_module(m, qualname) or _rule_for(m) is not None

    graph = Tracer().trace(model)
    return torch.fx.GraphModule(model, graph, type(model).__name__)


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
