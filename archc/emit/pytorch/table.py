"""What each op becomes in PyTorch: one :class:`TorchOp` row per registry op."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archc import nodes as n
from archc.emit import pyexpr as px
from archc.emit.codegen import (
    Call,
    py_literal,
)
from archc.errors import EmitError

if TYPE_CHECKING:  # pragma: no cover
    from archc.emit.pytorch.classgen import ClassGen


#: a tensor's rank and whether its channels come last (see :class:`Tensor`)
Form = tuple[int, bool]


@dataclass(frozen=True)
class Tensor:
    """A tensor while a class is generated: the ``forward`` variable holding it, and what
    ``__init__`` knows of it: channels (features when flat), rank, and the spatial sizes (L,
    H×W or D×H×W) where they can be known (always at network level; after a global pool
    inside a block)."""

    var: str
    size: px.PyExpr
    rank: int  # 1: F, 2: C×L, 3: C×H×W, 4: C×D×H×W
    spatial: tuple[px.PyExpr, ...] | None = None
    #: channels last (tokens T×D): ``size`` is the last axis, ``spatial`` the ones before it
    last: bool = False

    @property
    def form(self) -> Form:
        """Rank and layout: what a generated class's input must keep across its calls."""
        return (self.rank, self.last)

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The whole per-sample shape, when every part of it is a known number."""
        if not isinstance(self.size, px.Lit):
            return None
        if self.rank == 1:
            return (self.size.value,)
        if self.spatial is not None and all(isinstance(v, px.Lit) for v in self.spatial):
            rest: tuple[int, ...] = tuple(v.value for v in self.spatial)  # type: ignore[union-attr,misc]
            size: int = self.size.value
            return (*rest, size) if self.last else (size, *rest)
        return None


Attrs = dict[str, px.PyExpr]


@dataclass
class OpContext:
    """What an op's rendering may ask while it is built (see :class:`TorchOp`)."""

    gen: ClassGen
    link: n.Link
    #: the op has the ``inplace`` trait and may overwrite its input here
    inplace: bool

    def code(self, e: px.PyExpr) -> str:
        return self.gen.code(e)

    def pair(self, e: px.PyExpr) -> str:
        """A size argument: ``3`` for (3, 3), ``(1, 7)``, or the expression."""
        if isinstance(e, px.Lit) and isinstance(e.value, tuple) and len(set(e.value)) == 1:
            return py_literal(e.value[0])
        return self.code(e)

    def ir_features(self, last: bool = False) -> px.PyExpr:
        """The flattened size from the analysis, when every instance of this layer agrees."""
        return self.gen.em.ir_size(self.link, last)


def _is(e: px.PyExpr, value: Any) -> bool:
    return isinstance(e, px.Lit) and e.value == value


def _kw(ctx: OpContext, a: Attrs, specs: Iterable[tuple[str, str, Any]]) -> list[tuple[str, str]]:
    """Keyword arguments ``(torch name, attr, torch default)``, leaving out known defaults."""
    out = []
    for keyword, attr, default in specs:
        value = a[attr]
        if _is(value, default):
            continue
        out.append((keyword, ctx.pair(value) if isinstance(default, tuple) else ctx.code(value)))
    return out


def _conv(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = [("kernel_size", ctx.pair(a["kernel"]))]
    kwargs += _kw(ctx, a, [("stride", "stride", (1, 1))])
    if not _is(a["pad"], (0, 0)):
        kwargs.append(("padding", ctx.pair(a["pad"])))
    kwargs += _kw(ctx, a, [("dilation", "dilation", (1, 1)), ("groups", "groups", 1)])
    kwargs += _kw(ctx, a, [("bias", "bias", True)])
    cls = _nd("nn.Conv", ins[0])
    return Call(cls, (ctx.code(ins[0].size), ctx.code(a["out"])), tuple(kwargs))


def _nd(family: str, x: Tensor) -> str:
    """PyTorch's class of ``family`` for ``x``'s spatial rank: ``nn.Conv`` -> ``nn.Conv3d``
    for a C×D×H×W input (a flat input counts as 1-D, as ``nn.BatchNorm1d`` takes it)."""
    return f"{family}{max(1, x.rank - 1)}d"


def _pool(family: str, extra: tuple[tuple[str, str, Any], ...] = ()) -> Callable[..., Call]:
    def render(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
        cls = _nd(family, ins[0])
        kwargs = [("kernel_size", ctx.pair(a["kernel"]))]
        if a["stride"] is not a["kernel"] and a["stride"] != a["kernel"]:
            kwargs.append(("stride", ctx.pair(a["stride"])))
        if not _is(a["pad"], (0, 0)):
            kwargs.append(("padding", ctx.pair(a["pad"])))
        kwargs += _kw(ctx, a, [("ceil_mode", "ceil", False), *extra])
        return Call(cls, (), tuple(kwargs))

    return render


def _torch_axis(axis: px.PyExpr) -> px.PyExpr:
    """A per-sample axis as PyTorch's ``dim``: one more for the batch; from the end as is."""
    if isinstance(axis, px.Lit) and isinstance(axis.value, int):
        return px.lit(axis.value + 1 if axis.value >= 0 else axis.value)
    return px.ifelse(px.binop(">=", axis, px.lit(0)), px.binop("+", axis, px.lit(1)), axis)


def _slice(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    args = (ctx.code(a["start"]), ctx.code(a["end"]))
    if _is(a["axis"], 0):
        return Call("Slice", args)
    return Call("Slice", args, (("dim", ctx.code(_torch_axis(a["axis"]))),))


def _slice_inline(a: Attrs, xs: list[str], ctx: OpContext) -> str | None:
    """``x[:, start:end]`` (``x[..., start:end]`` on the last axis) when the bounds are known;
    else None: the Slice module holds them."""
    start, end, axis = a["start"], a["end"], a["axis"]
    if not (isinstance(start, px.Lit) and isinstance(end, px.Lit) and isinstance(axis, px.Lit)):
        return None
    cut, dim = f"{start.value}:{end.value}", int(axis.value)
    if dim == -1:
        return f"{xs[0]}[..., {cut}]"
    if dim >= 0:
        return f"{xs[0]}[{':, ' * (dim + 1)}{cut}]"
    return None


def _matmul(a: Attrs, xs: list[str], ctx: OpContext) -> str:
    left, right = xs
    if _is(a["transpose"], True):
        return f"{left} @ {right}.transpose(-2, -1)"
    if not _is(a["transpose"], False):
        raise EmitError("matmul's transpose must be written out, not computed", ctx.link.span)
    return f"{left} @ {right}"


def _last_axis(x: Tensor, ctx: OpContext) -> px.PyExpr:
    """The size of ``x``'s last axis (a token's features), which ``nn.Linear``,
    ``nn.LayerNorm`` and attention are built with."""
    if x.last or x.rank == 1:
        return x.size
    if x.spatial is not None:
        return x.spatial[-1]
    raise EmitError(
        f"this layer works on the last axis of a {x.rank}-axis tensor whose size is known only "
        "when the module is built",
        ctx.link.span,
        ["make the tensor with 'tokens' (its features then come last)"],
    )


def _token_count(x: Tensor, ctx: OpContext) -> px.PyExpr:
    """T of a T×D token tensor, for layers sized by it (a position embedding)."""
    if x.last and x.spatial is not None:
        return x.spatial[0]
    if not x.last and x.rank == 2:
        return x.size
    raise EmitError(
        "the number of tokens is known only when the module is built, and this layer is "
        "sized by it",
        ctx.link.span,
        ["add the position embedding at network level, where the input size is known"],
    )


def _linear(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("bias", "bias", True)])
    features = _last_axis(ins[0], ctx)
    return Call("nn.Linear", (ctx.code(features), ctx.code(a["out"])), tuple(kwargs))


def _attention(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("dropout", "dropout", 0.0), ("bias", "bias", True)])
    dim = ctx.code(_last_axis(ins[0], ctx))
    return Call("SelfAttention", (dim, ctx.code(a["heads"])), tuple(kwargs))


def _window_attention(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(
        ctx,
        a,
        [
            ("window", "window", 7),
            ("shift", "shift", 0),
            ("dropout", "dropout", 0.0),
            ("proj_dropout", "proj_dropout", 0.0),
            ("bias", "bias", True),
            ("proj_bias", "proj_bias", True),
        ],
    )
    return Call("WindowAttention", (ctx.code(ins[0].size), ctx.code(a["heads"])), tuple(kwargs))


def _pos_embed(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    x = ins[0]
    return Call("PositionEmbedding", (ctx.code(_token_count(x, ctx)), ctx.code(_last_axis(x, ctx))))


def _batchnorm(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("eps", "eps", 1e-5), ("momentum", "momentum", 0.1)])
    return Call(_nd("nn.BatchNorm", ins[0]), (ctx.code(ins[0].size),), tuple(kwargs))


def _lrn(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("alpha", "alpha", 1e-4), ("beta", "beta", 0.75), ("k", "k", 1.0)])
    return Call("nn.LocalResponseNorm", (ctx.code(a["size"]),), tuple(kwargs))


def _plain(cls: str, *args: str) -> Callable[..., Call]:
    return lambda a, ins, ctx: Call(cls, args)


def _activation(cls: str) -> Callable[..., Call]:
    def render(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
        return Call(cls, (), (("inplace", "True"),) if ctx.inplace else ())

    return render


def _activation_kw(cls: str, specs: tuple[tuple[str, str, Any], ...]) -> Callable[..., Call]:
    """An activation with arguments (``nn.LeakyReLU(0.2, inplace=True)``), defaults left out."""

    def render(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
        kwargs = _kw(ctx, a, specs)
        if ctx.inplace:
            kwargs.append(("inplace", "True"))
        return Call(cls, (), tuple(kwargs))

    return render


def _prelu(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = [] if _is(a["shared"], True) else [("num_parameters", ctx.code(ins[0].size))]
    kwargs += _kw(ctx, a, [("init", "init", 0.25)])
    return Call("nn.PReLU", (), tuple(kwargs))


def _groupnorm(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("eps", "eps", 1e-5), ("affine", "affine", True)])
    return Call("nn.GroupNorm", (ctx.code(a["groups"]), ctx.code(ins[0].size)), tuple(kwargs))


def _instancenorm(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    specs = [
        ("eps", "eps", 1e-5),
        ("momentum", "momentum", 0.1),
        ("affine", "affine", False),
        ("track_running_stats", "track_running_stats", False),
    ]
    return Call(_nd("nn.InstanceNorm", ins[0]), (ctx.code(ins[0].size),), tuple(_kw(ctx, a, specs)))


def _layernorm(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("eps", "eps", 1e-5), ("elementwise_affine", "affine", True)])
    if ins[0].rank == 3:
        return Call("LayerNorm2d", (ctx.code(ins[0].size),), tuple(kwargs))
    return Call("nn.LayerNorm", (ctx.code(_last_axis(ins[0], ctx)),), tuple(kwargs))


def _layer_scale(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = [("flat", "True")] if ins[0].rank == 1 else []
    return Call("LayerScale", (ctx.code(ins[0].size), ctx.code(a["init"])), tuple(kwargs))


def _stochastic_depth(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    return Call(
        "StochasticDepth", (ctx.code(a["p"]),), tuple(_kw(ctx, a, [("mode", "mode", "row")]))
    )


def _conv_transpose(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = [("kernel_size", ctx.pair(a["kernel"]))]
    kwargs += _kw(
        ctx,
        a,
        [
            ("stride", "stride", (1, 1)),
            ("padding", "pad", (0, 0)),
            ("output_padding", "output_padding", (0, 0)),
            ("groups", "groups", 1),
            ("bias", "bias", True),
            ("dilation", "dilation", (1, 1)),
        ],
    )
    return Call("nn.ConvTranspose2d", (ctx.code(ins[0].size), ctx.code(a["out"])), tuple(kwargs))


def _upsample(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    if _is(a["size"], None):
        kwargs = [("scale_factor", ctx.code(a["scale"]))]
    else:
        # always (h, w): nn.Upsample takes one number too, but tools read size as given
        # (DeepSpeed counts an int size as one pixel)
        kwargs = [("size", ctx.code(a["size"]))]
    kwargs += _kw(ctx, a, [("mode", "mode", "nearest"), ("align_corners", "align_corners", False)])
    return Call("nn.Upsample", (), tuple(kwargs))


_PAD_MODULES = {
    "zero": "nn.ZeroPad2d",
    "reflect": "nn.ReflectionPad2d",
    "replicate": "nn.ReplicationPad2d",
}


def _pad(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    mode = a["mode"]
    if not isinstance(mode, px.Lit):
        raise EmitError("pad's mode must be written out, not computed", ctx.link.span)
    amount = ctx.pair(a["amount"])
    if mode.value == "zero" and not _is(a["value"], 0.0):
        return Call("nn.ConstantPad2d", (amount, ctx.code(a["value"])))
    return Call(_PAD_MODULES[mode.value], (amount,))


def _adaptive(family: str) -> Callable[..., Call]:
    return lambda a, ins, ctx: Call(_nd(family, ins[0]), (ctx.pair(a["size"]),))


_AVG = (("count_include_pad", "count_include_pad", True),)


def _forms(op: str) -> tuple[str, ...]:
    """An op and its 1-D and 3-D forms (``maxpool``, ``maxpool1d``, ``maxpool3d``): one
    rendering serves all three, the class following the input's rank."""
    return (op, f"{op}1d", f"{op}3d")


@dataclass(frozen=True)
class TorchOp:
    """How one op becomes PyTorch.

    ``module`` builds the constructor call (None for ``input``: a ``forward`` argument).  What
    the output's channels, rank and spatial size are comes from the op's own
    :meth:`~archc.ops.base.Op.symbolic_shape`, not from this table.  ``fresh`` means the output is a new tensor that autograd
    does not keep, so a following ReLU may overwrite it in place; ``helper`` names the helper
    class the module needs.  ``inline`` renders the op as an expression in ``forward`` over its
    inputs' variables instead of a module (a residual ``y + shortcut`` reads as what it is); an
    inline op has no module path.  A merge is only ever inline (it starts a chain); an op with
    both (``slice``) is inline where it starts a statement and a module inside a chain.
    """

    module: Callable[[Attrs, list[Tensor], OpContext], Call] | None
    fresh: bool = False
    helper: str | None = None
    inline: Callable[[Attrs, list[str], OpContext], str | Call | None] | None = None


TORCH_OPS: dict[str, TorchOp] = {
    "input": TorchOp(None),
    "conv": TorchOp(_conv, fresh=True),
    "conv1d": TorchOp(_conv, fresh=True),
    "conv3d": TorchOp(_conv, fresh=True),
    **{name: TorchOp(_pool("nn.MaxPool"), fresh=True) for name in _forms("maxpool")},
    **{name: TorchOp(_pool("nn.AvgPool", _AVG), fresh=True) for name in _forms("avgpool")},
    "global_avgpool": TorchOp(
        lambda a, ins, ctx: Call(_nd("nn.AdaptiveAvgPool", ins[0]), ("1",)), fresh=True
    ),
    **{
        name: TorchOp(_adaptive("nn.AdaptiveMaxPool"), fresh=True)
        for name in _forms("adaptive_maxpool")
    },
    **{
        name: TorchOp(_adaptive("nn.AdaptiveAvgPool"), fresh=True)
        for name in _forms("adaptive_avgpool")
    },
    "conv_transpose": TorchOp(_conv_transpose, fresh=True),
    "upsample": TorchOp(_upsample, fresh=True),
    "pad": TorchOp(_pad, fresh=True),
    "channel_shuffle": TorchOp(
        lambda a, ins, ctx: Call("nn.ChannelShuffle", (ctx.code(a["groups"]),))
    ),
    "linear": TorchOp(_linear, fresh=True),
    "flatten": TorchOp(_plain("nn.Flatten")),
    "relu": TorchOp(_activation("nn.ReLU")),
    "relu6": TorchOp(_activation("nn.ReLU6")),
    "hardswish": TorchOp(_activation("nn.Hardswish")),
    "silu": TorchOp(_activation("nn.SiLU")),
    "hardsigmoid": TorchOp(_activation("nn.Hardsigmoid")),
    "gelu": TorchOp(_activation_kw("nn.GELU", (("approximate", "approximate", "none"),))),
    "leaky_relu": TorchOp(_activation_kw("nn.LeakyReLU", (("negative_slope", "slope", 0.01),))),
    "elu": TorchOp(_activation_kw("nn.ELU", (("alpha", "alpha", 1.0),))),
    "mish": TorchOp(_activation("nn.Mish")),
    "prelu": TorchOp(_prelu, fresh=True),
    "sigmoid": TorchOp(_plain("nn.Sigmoid")),
    "tanh": TorchOp(_plain("nn.Tanh")),
    "softmax": TorchOp(
        lambda a, ins, ctx: Call("nn.Softmax", (), (("dim", ctx.code(_torch_axis(a["axis"]))),))
    ),
    "batchnorm": TorchOp(_batchnorm, fresh=True),
    "lrn": TorchOp(_lrn, fresh=True),
    "groupnorm": TorchOp(_groupnorm, fresh=True),
    "instancenorm": TorchOp(_instancenorm, fresh=True),
    "layernorm": TorchOp(_layernorm, fresh=True, helper="LayerNorm2d"),
    "layer_scale": TorchOp(_layer_scale, helper="LayerScale"),
    "stochastic_depth": TorchOp(_stochastic_depth, helper="StochasticDepth"),
    "dropout": TorchOp(lambda a, ins, ctx: Call("nn.Dropout", (ctx.code(a["p"]),))),
    "identity": TorchOp(_plain("nn.Identity")),
    "concat": TorchOp(
        None,
        fresh=True,
        inline=lambda a, xs, ctx: Call(
            "torch.cat", (Call("", tuple(xs)),), (("dim", ctx.code(_torch_axis(a["axis"]))),)
        ),
    ),
    "add": TorchOp(None, fresh=True, inline=lambda a, xs, ctx: " + ".join(xs)),
    "slice": TorchOp(_slice, helper="Slice", inline=_slice_inline),
    "mul": TorchOp(None, fresh=True, inline=lambda a, xs, ctx: " * ".join(xs)),
    "tokens": TorchOp(_plain("Tokens"), helper="Tokens"),
    "class_token": TorchOp(
        lambda a, ins, ctx: Call("ClassToken", (ctx.code(_last_axis(ins[0], ctx)),)),
        fresh=True,
        helper="ClassToken",
    ),
    "pos_embed": TorchOp(_pos_embed, fresh=True, helper="PositionEmbedding"),
    "select": TorchOp(
        lambda a, ins, ctx: Call("Select", (ctx.code(a["index"]),)),
        helper="Select",
        inline=lambda a, xs, ctx: (
            f"{xs[0]}[:, {a['index'].value}]" if isinstance(a["index"], px.Lit) else None
        ),
    ),
    "attention": TorchOp(_attention, fresh=True, helper="SelfAttention"),
    "param": TorchOp(
        lambda a, ins, ctx: Call(
            "Param", (ctx.code(a["shape"]),), () if _is(a["init"], "zeros") else (("std", "0.02"),)
        ),
        helper="Param",
    ),
    "reshape": TorchOp(
        lambda a, ins, ctx: Call("Reshape", (ctx.code(a["shape"]),)), helper="Reshape"
    ),
    "permute": TorchOp(
        lambda a, ins, ctx: Call("Permute", (ctx.code(a["order"]),)), helper="Permute"
    ),
    "split_heads": TorchOp(
        lambda a, ins, ctx: Call("SplitHeads", (ctx.code(a["heads"]),)), helper="SplitHeads"
    ),
    "merge_heads": TorchOp(_plain("MergeHeads"), fresh=True, helper="MergeHeads"),
    "matmul": TorchOp(None, fresh=True, inline=_matmul),
    "rescale": TorchOp(
        lambda a, ins, ctx: Call("Rescale", (ctx.code(a["factor"]),)), fresh=True, helper="Rescale"
    ),
    "window_attention": TorchOp(_window_attention, fresh=True, helper="WindowAttention"),
    "patch_merge": TorchOp(_plain("PatchMerge"), fresh=True, helper="PatchMerge"),
}
