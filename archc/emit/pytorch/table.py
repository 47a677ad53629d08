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

if TYPE_CHECKING:  # pragma: no cover
    from archc.emit.pytorch.classgen import ClassGen


@dataclass(frozen=True)
class Tensor:
    """A tensor while a class is generated: the ``forward`` variable holding it, and what
    ``__init__`` knows of it: channels (features when flat), rank, and height and width where
    they can be known (always at network level; after a global pool inside a block)."""

    var: str
    size: px.PyExpr
    rank: int  # 3: C×H×W, 1: F
    spatial: tuple[px.PyExpr, px.PyExpr] | None = None

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The whole per-sample shape, when every part of it is a known number."""
        if not isinstance(self.size, px.Lit):
            return None
        if self.rank == 1:
            return (self.size.value,)
        if self.spatial and all(isinstance(d, px.Lit) for d in self.spatial):
            return (self.size.value, self.spatial[0].value, self.spatial[1].value)  # type: ignore[union-attr]
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

    def ir_features(self) -> px.PyExpr:
        """The flattened size from the analysis, when every instance of this layer agrees."""
        return self.gen.em.ir_size(self.link)


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
    return Call("nn.Conv2d", (ctx.code(ins[0].size), ctx.code(a["out"])), tuple(kwargs))


def _pool(cls: str, extra: tuple[tuple[str, str, Any], ...] = ()) -> Callable[..., Call]:
    def render(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
        kwargs = [("kernel_size", ctx.pair(a["kernel"]))]
        if a["stride"] is not a["kernel"] and a["stride"] != a["kernel"]:
            kwargs.append(("stride", ctx.pair(a["stride"])))
        if not _is(a["pad"], (0, 0)):
            kwargs.append(("padding", ctx.pair(a["pad"])))
        kwargs += _kw(ctx, a, [("ceil_mode", "ceil", False), *extra])
        return Call(cls, (), tuple(kwargs))

    return render


def _linear(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("bias", "bias", True)])
    return Call("nn.Linear", (ctx.code(ins[0].size), ctx.code(a["out"])), tuple(kwargs))


def _batchnorm(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("eps", "eps", 1e-5), ("momentum", "momentum", 0.1)])
    cls = "nn.BatchNorm2d" if ins[0].rank == 3 else "nn.BatchNorm1d"
    return Call(cls, (ctx.code(ins[0].size),), tuple(kwargs))


def _lrn(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
    kwargs = _kw(ctx, a, [("alpha", "alpha", 1e-4), ("beta", "beta", 0.75), ("k", "k", 1.0)])
    return Call("nn.LocalResponseNorm", (ctx.code(a["size"]),), tuple(kwargs))


def _plain(cls: str, *args: str) -> Callable[..., Call]:
    return lambda a, ins, ctx: Call(cls, args)


def _activation(cls: str) -> Callable[..., Call]:
    def render(a: Attrs, ins: list[Tensor], ctx: OpContext) -> Call:
        return Call(cls, (), (("inplace", "True"),) if ctx.inplace else ())

    return render


@dataclass(frozen=True)
class TorchOp:
    """How one op becomes PyTorch.

    ``module`` builds the constructor call (None for ``input``: a ``forward`` argument).  What
    the output's channels, rank and spatial size are comes from the op's own
    :meth:`~archc.ops.base.Op.symbolic_shape`, not from this table.  ``fresh`` means the output is a new tensor that autograd
    does not keep, so a following ReLU may overwrite it in place; ``helper`` names the helper
    class the module needs.
    """

    module: Callable[[Attrs, list[Tensor], OpContext], Call] | None
    fresh: bool = False
    helper: str | None = None


TORCH_OPS: dict[str, TorchOp] = {
    "input": TorchOp(None),
    "conv": TorchOp(_conv, fresh=True),
    "maxpool": TorchOp(_pool("nn.MaxPool2d"), fresh=True),
    "avgpool": TorchOp(
        _pool("nn.AvgPool2d", (("count_include_pad", "count_include_pad", True),)), fresh=True
    ),
    "global_avgpool": TorchOp(_plain("nn.AdaptiveAvgPool2d", "1"), fresh=True),
    "adaptive_avgpool": TorchOp(
        lambda a, ins, ctx: Call("nn.AdaptiveAvgPool2d", (ctx.pair(a["size"]),)), fresh=True
    ),
    "linear": TorchOp(_linear, fresh=True),
    "flatten": TorchOp(_plain("nn.Flatten")),
    "relu": TorchOp(_activation("nn.ReLU")),
    "relu6": TorchOp(_activation("nn.ReLU6")),
    "hardswish": TorchOp(_activation("nn.Hardswish")),
    "sigmoid": TorchOp(_plain("nn.Sigmoid")),
    "tanh": TorchOp(_plain("nn.Tanh")),
    "softmax": TorchOp(_plain("nn.Softmax", "dim=1")),
    "batchnorm": TorchOp(_batchnorm, fresh=True),
    "lrn": TorchOp(_lrn, fresh=True),
    "dropout": TorchOp(lambda a, ins, ctx: Call("nn.Dropout", (ctx.code(a["p"]),))),
    "identity": TorchOp(_plain("nn.Identity")),
    "concat": TorchOp(_plain("Concat"), fresh=True, helper="Concat"),
    "add": TorchOp(_plain("Add"), fresh=True, helper="Add"),
}
