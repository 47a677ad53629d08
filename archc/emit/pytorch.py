"""PyTorch: readable ``nn.Module`` source for a network, and the module itself in process.

``archc emit SPEC --target pytorch`` writes one Python file: a class per block definition
(GoogLeNet's ``inception`` is one class, instantiated nine times), a class per multi-statement
repeat body, and a class for the network.  :func:`to_torch` executes that same source and
instantiates the network class, so the file and the in-process module are one network.

How the source is made
    The emitter walks the spec's AST the way elaboration does (same statements, same naming
    rules) but *symbolically*: inside a block class the block's parameters are Python
    variables, so ``if``, ``repeat``, constants and expressions over parameters become Python
    (``if project:``, ``for i in range(blocks):``, ``width * 4``).  Input channels are not
    written in a spec; every class takes ``in_channels`` first and tracks each tensor's channel
    count as an expression (:mod:`archc.emit.pyexpr`).  At network level every value is known,
    so every expression folds to a literal: ``Inception(480, 192, 96, 208, 16, 48, 64)``.

What each op becomes
    One entry per registry op in :data:`TORCH_OPS` (the internal ``input`` op included): the
    module it constructs, how it changes the channel count, rank and spatial size, and whether
    its output may be overwritten by an in-place ReLU.

Names
    Module paths are the IR's layer paths: a block instance, a named chain (a :class:`Chain`, a
    named ``nn.Sequential``), a repeat (an ``nn.Sequential`` indexed 0, 1, ...) are submodules,
    so ``inception_3a.b2.conv`` is ``model.inception_3a.b2.conv``.  Every identifier comes from a
    :class:`~archc.emit.codegen.Namespace`: a spec name that is a Python keyword, an
    ``nn.Module`` attribute (``forward``, ``train``) or, for a local variable, ``torch``, ``nn``,
    ``self`` or a builtin gets a trailing ``_``; a leading double underscore becomes one.  :func:`layer_paths` maps every IR layer to its module path, and the emitter
    checks that map against the IR, so a naming disagreement is an error, never a wrong file.

torch is imported only by :func:`to_torch` and :func:`reset_weights`; writing source needs none.
"""

from __future__ import annotations

import argparse
import linecache
import sys
import weakref
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import archc
from archc import nodes as n
from archc.analysis import Network
from archc.emit import pyexpr as px
from archc.emit.codegen import (
    AMBIGUOUS,
    PY_BUILTINS,
    Call,
    Namespace,
    Writer,
    py_literal,
    safe_comment,
)
from archc.errors import EmitError, IRError, MissingDependencyError
from archc.fileio import write_atomic
from archc.ir import G_BLOCKS, G_CONSTS, G_INPUTS, G_NETWORK
from archc.ops import ArgProblem, Op, ShapeProblem, lookup
from archc.ops.attrs import bind, normalise
from archc.source import Span

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

BLOCK_INPUT = "in"
BLOCK_OUTPUT = "out"
INSTALL_HINT = "pip install 'archc[torch]'"

#: Every attribute an ``nn.Module`` / ``nn.Sequential`` has (torch 2.x).  A submodule or stored
#: value with one of these names would hide a method (``self.train(x)``) or break the module, so
#: spec names never become them.  tests/test_emit_pytorch.py checks the list against torch.
MODULE_ATTRIBUTES = frozenset(
    """
    T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl
    _compiled_call_impl _forward_hooks _forward_hooks_always_called
    _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_backward_hooks _get_backward_pre_hooks _get_item_by_idx _get_name
    _is_full_backward_hook _load_from_state_dict _load_state_dict_post_hooks
    _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
    _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
    _register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward
    _state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl add_module append
    apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
    eval extend extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half insert ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters pop register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training type
    xpu zero_grad
    """.split()  # noqa: SIM905 - a word list reads best as words
)
#: names the generated code uses itself, kept from every local
_CODE_NAMES = frozenset({"self", "torch", "nn"})
_LOCAL_RESERVED = PY_BUILTINS | AMBIGUOUS | _CODE_NAMES


# =========================================================================== generated helpers
HELPERS: dict[str, str] = {
    "Chain": '''
class Chain(nn.Sequential):
    """Layers applied in order, named as in the spec; the first may join several tensors."""

    def __init__(self, **layers: nn.Module) -> None:
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        first, *rest = self
        x = first(*inputs)
        for layer in rest:
            x = layer(x)
        return x
''',
    "Concat": '''
class Concat(nn.Module):
    """Joins tensors along the channel (or feature) dimension."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=1)
''',
    "Add": '''
class Add(nn.Module):
    """Elementwise sum of same-shaped tensors (a residual connection)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total
''',
}


#: appended to the source by ``--seed``: the network built as ``to_torch(seed=...)`` builds it
BUILD_FUNCTION = """

def build(seed: int | None = {seed}) -> {cls}:
    \"\"\"The network with PyTorch's default initialisation, as archc's to_torch(seed) makes it.\"\"\"
    with torch.device("meta"):
        model = {cls}()
    model = model.to_empty(device="cpu")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if reset is not None:
                reset()
    return model
"""


# =========================================================================== tensors, op table
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
class _OpContext:
    """What an op's rendering may ask while it is built (see :class:`TorchOp`)."""

    gen: _ClassGen
    link: n.Link
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


def _kw(ctx: _OpContext, a: Attrs, specs: Iterable[tuple[str, str, Any]]) -> list[tuple[str, str]]:
    """Keyword arguments ``(torch name, attr, torch default)``, leaving out known defaults."""
    out = []
    for keyword, attr, default in specs:
        value = a[attr]
        if _is(value, default):
            continue
        out.append((keyword, ctx.pair(value) if isinstance(default, tuple) else ctx.code(value)))
    return out


def _conv(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> Call:
    kwargs = [("kernel_size", ctx.pair(a["kernel"]))]
    kwargs += _kw(ctx, a, [("stride", "stride", (1, 1))])
    if not _is(a["pad"], (0, 0)):
        kwargs.append(("padding", ctx.pair(a["pad"])))
    kwargs += _kw(ctx, a, [("dilation", "dilation", (1, 1)), ("groups", "groups", 1)])
    kwargs += _kw(ctx, a, [("bias", "bias", True)])
    return Call("nn.Conv2d", (ctx.code(ins[0].size), ctx.code(a["out"])), tuple(kwargs))


def _pool(cls: str, extra: tuple[tuple[str, str, Any], ...] = ()) -> Callable[..., Call]:
    def render(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> Call:
        kwargs = [("kernel_size", ctx.pair(a["kernel"]))]
        if a["stride"] is not a["kernel"] and a["stride"] != a["kernel"]:
            kwargs.append(("stride", ctx.pair(a["stride"])))
        if not _is(a["pad"], (0, 0)):
            kwargs.append(("padding", ctx.pair(a["pad"])))
        kwargs += _kw(ctx, a, [("ceil_mode", "ceil", False), *extra])
        return Call(cls, (), tuple(kwargs))

    return render


def _linear(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> Call:
    kwargs = _kw(ctx, a, [("bias", "bias", True)])
    return Call("nn.Linear", (ctx.code(ins[0].size), ctx.code(a["out"])), tuple(kwargs))


def _batchnorm(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> Call:
    kwargs = _kw(ctx, a, [("eps", "eps", 1e-5), ("momentum", "momentum", 0.1)])
    cls = "nn.BatchNorm2d" if ins[0].rank == 3 else "nn.BatchNorm1d"
    return Call(cls, (ctx.code(ins[0].size),), tuple(kwargs))


def _lrn(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> Call:
    kwargs = _kw(ctx, a, [("alpha", "alpha", 1e-4), ("beta", "beta", 0.75), ("k", "k", 1.0)])
    return Call("nn.LocalResponseNorm", (ctx.code(a["size"]),), tuple(kwargs))


def _plain(cls: str, *args: str) -> Callable[..., Call]:
    return lambda a, ins, ctx: Call(cls, args)


def _activation(cls: str) -> Callable[..., Call]:
    def render(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> Call:
        return Call(cls, (), (("inplace", "True"),) if ctx.inplace else ())

    return render


def _flatten_size(a: Attrs, ins: list[Tensor], ctx: _OpContext) -> px.PyExpr:
    x = ins[0]
    if x.rank == 1:
        return x.size
    if x.spatial is not None:
        return px.product([x.size, *x.spatial])
    return ctx.ir_features()


@dataclass(frozen=True)
class TorchOp:
    """How one op becomes PyTorch.

    ``module`` builds the constructor call (None for ``input``: a ``forward`` argument).
    ``size`` gives the output channels/features (default: the first input's); ``rank`` the
    output rank (default: the input's).  ``spatial`` says what happens to height and width when
    they are not all known: ``"keep"``, ``"one"`` (global pooling), ``"size"`` (the ``size``
    attribute), or None (unknown).  ``fresh`` means the output is a new tensor that autograd
    does not keep, so a following ReLU may overwrite it in place; ``helper`` names the helper
    class the module needs.
    """

    module: Callable[[Attrs, list[Tensor], _OpContext], Call] | None
    size: Callable[[Attrs, list[Tensor], _OpContext], px.PyExpr] | None = None
    rank: int | None = None
    spatial: str | None = "keep"
    fresh: bool = False
    inplace: bool = False
    helper: str | None = None


TORCH_OPS: dict[str, TorchOp] = {
    "input": TorchOp(None),
    "conv": TorchOp(_conv, size=lambda a, ins, ctx: a["out"], rank=3, spatial=None, fresh=True),
    "maxpool": TorchOp(_pool("nn.MaxPool2d"), spatial=None, fresh=True),
    "avgpool": TorchOp(
        _pool("nn.AvgPool2d", (("count_include_pad", "count_include_pad", True),)),
        spatial=None,
        fresh=True,
    ),
    "global_avgpool": TorchOp(_plain("nn.AdaptiveAvgPool2d", "1"), spatial="one", fresh=True),
    "adaptive_avgpool": TorchOp(
        lambda a, ins, ctx: Call("nn.AdaptiveAvgPool2d", (ctx.pair(a["size"]),)),
        spatial="size",
        fresh=True,
    ),
    "linear": TorchOp(_linear, size=lambda a, ins, ctx: a["out"], rank=1, fresh=True),
    "flatten": TorchOp(_plain("nn.Flatten"), size=_flatten_size, rank=1),
    "relu": TorchOp(_activation("nn.ReLU"), inplace=True),
    "relu6": TorchOp(_activation("nn.ReLU6"), inplace=True),
    "sigmoid": TorchOp(_plain("nn.Sigmoid")),
    "tanh": TorchOp(_plain("nn.Tanh")),
    "softmax": TorchOp(_plain("nn.Softmax", "dim=1")),
    "batchnorm": TorchOp(_batchnorm, fresh=True),
    "lrn": TorchOp(_lrn, fresh=True),
    "dropout": TorchOp(lambda a, ins, ctx: Call("nn.Dropout", (ctx.code(a["p"]),))),
    "identity": TorchOp(_plain("nn.Identity")),
    "concat": TorchOp(
        _plain("Concat"),
        size=lambda a, ins, ctx: px.total([t.size for t in ins]),
        fresh=True,
        helper="Concat",
    ),
    "add": TorchOp(_plain("Add"), fresh=True, helper="Add"),
}


# =========================================================================== generated statements
@dataclass
class _Do:
    """``target = value`` (or just ``value``).  A local target nobody reads is dropped; so is
    the whole statement when it is ``pure`` (no side effect)."""

    value: str | Call
    target: str | None = None
    pure: bool = False


@dataclass
class _If:
    test: px.PyExpr
    then: list[Any]
    orelse: list[Any]


@dataclass
class _For:
    var: str
    count: str
    body: list[Any]


@dataclass
class _Store:
    """Keeps a value on ``self`` if ``forward`` turns out to need it."""

    local: str


# =========================================================================== containers
@dataclass
class _Ctx:
    """What a module container holds, by spec name: a class, a chain, or a repeat (``item``)."""

    children: dict[str, _Child] = field(default_factory=dict)
    item: _Child | None = None

    def add(self, raw: str, child: _Child) -> None:
        """Record a child; the branches of an ``if`` may give one name different modules."""
        old = self.children.get(raw)
        if old is None:
            self.children[raw] = child
            return
        old.leaf = old.leaf or child.leaf
        if child.ctx is not None and child.ctx is not old.ctx:
            if old.ctx is None:
                old.ctx = child.ctx
            else:
                for key, value in child.ctx.children.items():
                    old.ctx.add(key, value)


@dataclass
class _Child:
    attr: str
    ctx: _Ctx | None = None
    leaf: bool = False  # a layer (possibly also a container, on another branch)


@dataclass
class _Built:
    """One link made into a module: its constructor, output, and what it contains."""

    call: Call
    inputs: list[Tensor]
    out: Tensor
    ctx: _Ctx | None


@dataclass
class _Frame:
    values: ChainMap[str, px.PyExpr]
    tensors: ChainMap[str, Tensor]
    current: Tensor | None
    prefix: str  # naming prefix inside the class ("" or "b2.")
    closed: bool = False  # a repeat body: tensors from outside cannot be read


# =========================================================================== one class
class _ClassGen:
    """Generates one class: a block definition, a repeat body, or the network.

    Walking the body fills two statement lists (``__init__`` and ``forward``) and the container
    map :attr:`ctx`; :meth:`render` writes them.  ``__init__`` code reads Python variables for
    the parameters; ``forward`` reads ``self.<value>`` for the few values an ``if`` needs.
    """

    def __init__(self, em: _Emitter, name: str, doc: str) -> None:
        self.em = em
        self.name = name
        self.doc = doc
        self.attrs = Namespace(MODULE_ATTRIBUTES)
        self.locals = Namespace(_LOCAL_RESERVED | em.module_names)
        self.fwd = Namespace(_LOCAL_RESERVED)
        self.ctx = _Ctx()
        self.used: dict[str, dict[str, bool]] = {}  # prefix -> name -> claimed on every path
        self.params: list[tuple[str, str | None, str | None]] = []  # name, annotation, default
        self.param_vars: list[tuple[str, str, px.PyExpr | None]] = []  # spec, python, default
        self.positional = 0  # how many spec parameters a call may give by position
        self.fwd_params: list[str] = []
        self.init: list[Any] = []
        self.forward: list[Any] = []
        self._init_at = self.init
        self._fwd_at = self.forward
        self.init_reads: set[str] = set()
        self.fwd_reads: set[str] = set()
        self.returns: list[str] = []
        self.in_var = ""
        self.in_rank = 3
        self.out: Tensor | None = None
        self.expose_out = False
        self.out_attr = ""
        self.unnamed = "x"
        self.branch_depth = 0

    # ------------------------------------------------------------------ code and names
    def code(self, e: px.PyExpr) -> str:
        self.init_reads.update(px.free_vars(e))
        return px.render(e)

    def read(self, t: Tensor) -> str:
        self.fwd_reads.add(t.var)
        return t.var

    def tensor_var(self, name: str) -> str:
        return self.fwd.name(("tensor", name), name)

    def unnamed_var(self) -> str:
        return self.fwd.name(("unnamed",), self.unnamed)

    def attr(self, raw: str) -> str:
        return self.attrs.name(("module", raw), raw)

    def do_init(self, value: str | Call, target: str | None = None, pure: bool = False) -> None:
        self._init_at.append(_Do(value, target, pure))

    def do_fwd(self, value: str | Call, target: str | None = None, pure: bool = False) -> None:
        self._fwd_at.append(_Do(value, target, pure))

    def claim(self, prefix: str, local: str, span: Span, auto: bool = False) -> str:
        """Elaboration's naming rule (``conv``, ``conv_2``), within this class."""
        used = self.used.setdefault(prefix, {})
        name = local
        if auto:
            k = 2
            while name in used:
                if not used[name]:
                    raise EmitError(
                        f"the layer here is called '{prefix}{local}' with a number that depends "
                        "on which branch of an earlier 'if' ran, so one class cannot name it",
                        span,
                        ["name the layer with 'as', or the layers inside the if"],
                    )
                name = f"{local}_{k}"
                k += 1
        elif name in used:
            raise EmitError(f"the name '{prefix}{name}' is already used", span)
        used[name] = True
        return name

    def link_name(self, link: n.Link, local: str, prefix: str) -> str:
        op = lookup(link.name)
        if op is not None and not op.internal:
            base = op.name
        elif link.name in self.em.program_blocks:
            base = link.name
        else:
            raise EmitError(f"unknown op, block or tensor '{link.name}'", link.name_span)
        return self.claim(prefix, local or base, link.span, auto=not local)

    # ------------------------------------------------------------------ statements
    def body(self, stmts: Iterable[n.Stmt], frame: _Frame) -> None:
        for stmt in stmts:
            self.stmt(stmt, frame)

    def stmt(self, stmt: n.Stmt, frame: _Frame) -> None:
        match stmt:
            case n.InputDecl():
                self.input(stmt, frame)
            case n.ConstDef():
                self.const(stmt, frame)
            case n.Assign():
                self.define(frame, stmt.name, stmt.chain)
            case n.ChainStmt():
                frame.current = self.chain(stmt.chain, None, frame)
            case n.Output():
                tensor = (
                    self.define(frame, stmt.name, stmt.chain)
                    if stmt.chain is not None
                    else self.lookup(stmt.name, frame, stmt.span)
                )
                self.returns.append(self.read(tensor))
            case n.Repeat():
                self.repeat(stmt, frame)
            case n.If():
                self.branch(stmt, frame)
            case n.Assert():
                pass  # budgets are for archc check
            case _:  # pragma: no cover
                raise EmitError(f"unexpected statement {type(stmt).__name__}", stmt.span)

    def const(self, stmt: n.ConstDef, frame: _Frame) -> None:
        value = px.from_ast(stmt.value, frame.values)
        if not isinstance(value, px.Lit) or self.branch_depth:
            local = self.locals.name(("value", stmt.name), stmt.name)
            self.do_init(self.code(value), local, pure=True)
            self._init_at.append(_Store(local))
            value = px.Var(local, value)
        frame.values[stmt.name] = value

    def input(self, stmt: n.InputDecl, frame: _Frame) -> None:
        node = self.em.net.graph.graph[G_INPUTS][stmt.name]
        self.claim(frame.prefix, stmt.name, stmt.span)
        shape = self.em.net.shape(node)
        var = self.tensor_var(stmt.name)
        self.fwd_params.append(var)
        spatial = (px.lit(shape[1]), px.lit(shape[2])) if len(shape) == 3 else None
        tensor = Tensor(var, px.lit(shape[0]), len(shape), spatial)
        frame.tensors[stmt.name] = tensor
        frame.current = tensor

    def lookup(self, name: str, frame: _Frame, span: Span) -> Tensor:
        tensor = frame.tensors.get(name)
        if tensor is None:
            if frame.closed:
                raise EmitError(
                    f"this repeat body reads '{name}', a tensor from outside the repeat",
                    span,
                    [
                        "archc emits a repeat as nn.Sequential, whose iterations take one input; "
                        "a block that contains the repeat can take the tensor as its input"
                    ],
                )
            raise EmitError(f"unknown tensor '{name}'", span)
        return tensor

    def define(self, frame: _Frame, name: str, chain: n.Chain) -> Tensor:
        out = self.chain(chain, name, frame)
        var = self.tensor_var(name)
        if out.var != var:
            self.do_fwd(self.read(out), var, pure=True)
        tensor = replace(out, var=var)
        frame.tensors[name] = tensor
        frame.current = tensor
        return tensor

    # ------------------------------------------------------------------ chains
    def is_tensor_link(self, link: n.Link, frame: _Frame) -> bool:
        """Elaboration's rule: a bare name that is a tensor starts a chain from that tensor."""
        if link.args is not None:
            return False
        if link.name in frame.tensors:
            return True
        return (
            frame.closed and lookup(link.name) is None and link.name not in self.em.program_blocks
        )

    def chain(self, chain: n.Chain, assign: str | None, frame: _Frame) -> Tensor:
        links = list(chain.links)
        first = links[0]
        sources: list[Tensor] | None = None
        if self.is_tensor_link(first, frame):
            sources = [self.lookup(first.name, frame, first.span)]
            links = links[1:]
            if not links:
                return sources[0]
        elif not self.em.is_merge(first):
            if frame.current is None:
                raise EmitError(f"'{first.name}' has no input", first.span)
            sources = [frame.current]
        if assign is not None and (len(links) > 1 or links[0].alias is not None):
            return self.chain_scope(links, assign, frame, sources, chain.span)
        if assign is not None:
            self.claim(frame.prefix, assign, chain.span)
        out: Tensor | None = None
        for link in links:
            raw = (
                assign
                if assign is not None
                else self.link_name(link, link.alias or "", frame.prefix)
            )
            attr = self.attr(raw)
            b = self.build(link, frame, sources, f"self.{attr}")
            self.ctx.add(raw, _Child(attr, b.ctx, b.ctx is None))
            self.do_init(b.call, f"self.{attr}")
            var = self.tensor_var(assign) if assign is not None else self.unnamed_var()
            self.do_fwd(Call(f"self.{attr}", tuple(self.read(t) for t in b.inputs)), var)
            out = replace(b.out, var=var)
            sources = [out]
        assert out is not None
        return out

    def chain_scope(
        self,
        links: list[n.Link],
        assign: str,
        frame: _Frame,
        sources: list[Tensor] | None,
        span: Span,
    ) -> Tensor:
        """``t = a -> b -> c``: a :class:`Chain` at ``self.t`` with the layers inside it."""
        self.claim(frame.prefix, assign, span)
        attr = self.attr(assign)
        ctx, call, heads, out = self.chain_module(
            links, f"{frame.prefix}{assign}.", frame, sources, f"self.{attr}"
        )
        self.ctx.add(assign, _Child(attr, ctx))
        self.do_init(call, f"self.{attr}")
        var = self.tensor_var(assign)
        self.do_fwd(Call(f"self.{attr}", tuple(self.read(t) for t in heads)), var)
        return replace(out, var=var)

    def chain_module(
        self,
        links: Iterable[n.Link],
        prefix: str,
        frame: _Frame,
        sources: list[Tensor] | None,
        ref: str | None,
    ) -> tuple[_Ctx, Call, list[Tensor], Tensor]:
        ctx = _Ctx()
        names = Namespace(MODULE_ATTRIBUTES | _CODE_NAMES)
        kwargs: list[tuple[str, str | Call]] = []
        heads: list[Tensor] = []
        out: Tensor | None = None
        for link in links:
            raw = self.link_name(link, link.alias or "", prefix)
            child = names.name(raw)
            # a sibling is not reachable while the Chain(...) expression is evaluated
            b = self.build(link, frame, sources, None)
            ctx.add(raw, _Child(child, b.ctx, b.ctx is None))
            kwargs.append((child, b.call))
            heads = heads or b.inputs
            out = b.out
            sources = [out]
        assert out is not None
        self.em.helpers.add("Chain")
        return ctx, Call("Chain", (), tuple(kwargs)), heads, out

    def build(
        self,
        link: n.Link,
        frame: _Frame,
        sources: list[Tensor] | None,
        ref: str | None,
    ) -> _Built:
        """The module for one link.  ``ref`` is how ``__init__`` can reach it once built."""
        op = lookup(link.name)
        if op is not None and not op.internal:
            return self.layer(link, op, frame, sources)
        block = self.em.program_blocks[link.name]
        assert sources is not None
        return self.instance(link, block, frame, sources[0], ref)

    def layer(self, link: n.Link, op: Op, frame: _Frame, sources: list[Tensor] | None) -> _Built:
        args = list(link.args or ())
        if op.arity is None:
            inputs = []
            for a in args:
                if a.name is None:
                    if not isinstance(a.value, n.Name):
                        raise EmitError(f"{op.name} takes tensor names", a.span)
                    inputs.append(self.lookup(a.value.name, frame, a.span))
            args = [a for a in args if a.name is not None]
        else:
            assert sources is not None
            inputs = list(sources)
        attrs, concrete = self.em.bind(op, args, frame.values, link)
        rule = TORCH_OPS[op.name]
        ctx = _OpContext(self, link, rule.inplace and self.em.inplace_ok(link))
        assert rule.module is not None
        call = rule.module(attrs, inputs, ctx)
        if rule.helper:
            self.em.helpers.add(rule.helper)
        out = self.em.output(op, rule, attrs, concrete, inputs, ctx)
        return _Built(call, inputs, out, None)

    def instance(
        self,
        link: n.Link,
        block: n.BlockDef,
        frame: _Frame,
        source: Tensor,
        ref: str | None,
    ) -> _Built:
        positional: list[px.PyExpr] = []
        named: dict[str, px.PyExpr] = {}
        for arg in link.args or ():
            value = px.from_ast(arg.value, frame.values)
            if arg.name is None:
                positional.append(value)
            else:
                named[arg.name] = value
        cls = self.em.block_class(block, source.rank, link.span)
        if len(positional) > cls.positional or set(named) - {p for p, _, _ in cls.param_vars}:
            raise EmitError(f"bad arguments for block '{block.name}'", link.span)
        mapping: dict[str, px.PyExpr] = {cls.in_var: source.size}
        args = [self.code(source.size)] + [self.code(v) for v in positional]
        kwargs: list[tuple[str, str | Call]] = []
        for i, (spec, var, default) in enumerate(cls.param_vars):
            if i < len(positional):
                mapping[var] = positional[i]
            elif spec in named:
                mapping[var] = named[spec]
                kwargs.append((var, self.code(named[spec])))
            elif default is not None:
                mapping[var] = px.substitute(default, mapping)
            else:
                raise EmitError(f"block '{block.name}' needs '{spec}'", link.span)
        call = Call(cls.name, tuple(args), tuple(kwargs))
        return _Built(call, [source], cls.seen_from(mapping, ref, link.span), cls.ctx)

    def seen_from(self, mapping: Mapping[str, px.PyExpr], ref: str | None, span: Span) -> Tensor:
        """This class's output as a caller sees it, the caller passing ``mapping``."""
        assert self.out is not None
        try:
            size = px.substitute(self.out.size, mapping, strict=True)
        except px.Unresolved:
            if ref is None:
                raise EmitError(
                    f"the output size of '{self.name}' is known only once it is built, and "
                    "here it is needed inside one expression",
                    span,
                    ["give this call a statement of its own"],
                ) from None
            self.expose_out = True
            size = px.Raw(f"{ref}.{self.out_attr_name()}")
        spatial = None
        if self.out.spatial is not None:
            try:
                spatial = (
                    px.substitute(self.out.spatial[0], mapping, strict=True),
                    px.substitute(self.out.spatial[1], mapping, strict=True),
                )
            except px.Unresolved:
                spatial = None
        return Tensor("", size, self.out.rank, spatial)

    # ------------------------------------------------------------------ repeat
    def repeat(self, stmt: n.Repeat, frame: _Frame) -> None:
        count = px.from_ast(stmt.count, frame.values)
        self.claim(frame.prefix, stmt.name, stmt.span)
        source = frame.current
        if source is None:
            raise EmitError("the repeat has no input", stmt.span)
        attr = self.attr(stmt.name)
        if len(stmt.body) == 1 and isinstance(stmt.body[0], n.ChainStmt):
            first = stmt.body[0].chain.links[0]
            if (
                self.em.is_merge(first)
                or self.is_tensor_link(first, frame)
                or (
                    first.args is None
                    and lookup(first.name) is None
                    and first.name not in self.em.program_blocks
                )
            ):
                raise EmitError(
                    "a repeat whose body starts from a named tensor or a merge cannot be emitted",
                    first.span,
                    [
                        "start the body with a layer or a block call, which then takes the "
                        "previous iteration's output"
                    ],
                )
        iteration_ctx: _Ctx | None = None
        if isinstance(count, px.Lit):
            items: list[str | Call] = []
            x = source
            for i in range(count.value):
                values = frame.values.new_child({stmt.index: px.lit(i)} if stmt.index else {})
                call, x, iteration_ctx = self.iteration(stmt, values, x, None)
                items.append(call)
            self.do_init(Call("nn.Sequential", tuple(items)), f"self.{attr}")
            out = replace(x, var="")
        else:
            layers = self.locals.name(("layers", stmt.name), "layers")
            carried = self.locals.name(("channels", stmt.name), "channels")
            index = self.locals.name(("index", stmt.name), stmt.index or "_")
            self.do_init("[]", layers, pure=True)
            self.do_init(self.code(source.size), carried, pure=True)
            loop = _For(index, self.code(count), [])
            self._init_at.append(loop)
            outer, self._init_at = self._init_at, loop.body
            values = frame.values.new_child({stmt.index: px.Var(index)} if stmt.index else {})
            x_in = Tensor(source.var, px.Var(carried), source.rank, None)
            call, x, iteration_ctx = self.iteration(stmt, values, x_in, f"{layers}[-1]")
            self.do_init(Call(f"{layers}.append", (call,)))
            self.init_reads.add(layers)
            if x.rank != source.rank:
                raise EmitError("each iteration of a repeat must keep its input's rank", stmt.span)
            step = x.size
            if step != px.Var(carried):
                self.do_init(self.code(step), carried, pure=True)
                if isinstance(step, px.Raw):
                    self.init_reads.add(layers)
            self._init_at = outer
            self.do_init(Call("nn.Sequential", (f"*{layers}",)), f"self.{attr}")
            if step == px.Var(carried):
                size = source.size
            elif carried not in px.free_vars(step) and not isinstance(step, px.Raw):
                last = px.binop("-", count, px.lit(1))
                size = px.substitute(step, {index: last}) if stmt.index else step
                self.init_reads.update(px.free_vars(size))
            else:
                size = px.Var(carried, px.Recur(source.size, step, count, carried, index))
                self.init_reads.add(carried)
            out = Tensor("", size, x.rank, None)
        item = _Child("", iteration_ctx, iteration_ctx is None)
        self.ctx.add(stmt.name, _Child(attr, _Ctx(item=item)))
        var = self.tensor_var(stmt.name)
        self.do_fwd(Call(f"self.{attr}", (self.read(source),)), var)
        tensor = replace(out, var=var)
        frame.tensors[stmt.name] = tensor
        frame.current = tensor

    def iteration(
        self, stmt: n.Repeat, values: ChainMap[str, px.PyExpr], x: Tensor, ref: str | None
    ) -> tuple[Call, Tensor, _Ctx | None]:
        """One iteration's module: the body's one layer or block, a chain, or a body class."""
        frame = _Frame(values, ChainMap(), x, "", closed=True)
        if len(stmt.body) == 1 and isinstance(stmt.body[0], n.ChainStmt):
            links = stmt.body[0].chain.links
            if len(links) == 1 and links[0].alias is None:
                b = self.build(links[0], frame, [x], ref)
                return b.call, b.out, b.ctx
            prefix = f"{stmt.name}.#."
            self.used.pop(prefix, None)  # every iteration names its layers afresh
            ctx, call, _, out = self.chain_module(links, prefix, frame, [x], None)
            return call, out, ctx
        body = self.em.body_class(stmt, self, values, x.rank)
        args: list[str | Call] = [self.code(x.size)]
        mapping: dict[str, px.PyExpr] = {body.in_var: x.size}
        kwargs: list[tuple[str, str | Call]] = []
        for spec, var, _ in body.param_vars:
            value = values[spec]
            mapping[var] = value
            kwargs.append((var, self.code(value)))
        out = body.seen_from(mapping, ref, stmt.span)
        return Call(body.name, tuple(args), tuple(kwargs)), out, body.ctx

    # ------------------------------------------------------------------ if
    def branch(self, stmt: n.If, frame: _Frame) -> None:
        test = px.from_ast(stmt.test, frame.values)
        if isinstance(test, px.Lit):
            self.body(stmt.then if test.value else stmt.orelse, frame)
            return
        self.init_reads.update(px.free_vars(test))
        before = {k: dict(v) for k, v in self.used.items()}
        init_if, fwd_if = _If(test, [], []), _If(test, [], [])
        results = []
        self.branch_depth += 1
        for stmts, init_at, fwd_at in (
            (stmt.then, init_if.then, fwd_if.then),
            (stmt.orelse, init_if.orelse, fwd_if.orelse),
        ):
            self.used = {k: dict(v) for k, v in before.items()}
            sub = _Frame(
                frame.values.new_child(),
                frame.tensors.new_child(),
                frame.current,
                frame.prefix,
                frame.closed,
            )
            outer = self._init_at, self._fwd_at
            self._init_at, self._fwd_at = init_at, fwd_at
            self.body(stmts, sub)
            self._init_at, self._fwd_at = outer
            results.append((sub, self.used, fwd_at))
        self.branch_depth -= 1
        (a, used_a, fwd_a), (b, used_b, fwd_b) = results
        self.used = _merge_used(used_a, used_b)
        self._init_at.append(init_if)
        self._fwd_at.append(fwd_if)
        for name in dict.fromkeys([*a.values.maps[0], *b.values.maps[0]]):
            va, vb = a.values.maps[0].get(name), b.values.maps[0].get(name)
            if va is None or vb is None or va == vb:
                frame.values[name] = va if va is not None else vb  # type: ignore[assignment]
            else:
                local = self.locals.name(("value", name), name)
                frame.values[name] = px.Var(local, px.ifelse(test, _defn(va), _defn(vb)))
        for name in dict.fromkeys([*a.tensors.maps[0], *b.tensors.maps[0]]):
            ta, tb = a.tensors.maps[0].get(name), b.tensors.maps[0].get(name)
            frame.tensors[name] = _join(test, ta, tb, stmt.span)
        ca, cb = a.current, b.current
        if ca is None or cb is None or ca.var == cb.var:
            frame.current = _join(test, ca, cb, stmt.span) if ca and cb else (ca or cb)
        else:
            var = self.unnamed_var()
            for cur, at in ((ca, fwd_a), (cb, fwd_b)):
                if cur.var != var:
                    self.fwd_reads.add(cur.var)
                    at.append(_Do(cur.var, var, pure=True))
            frame.current = _join(test, replace(ca, var=var), replace(cb, var=var), stmt.span)

    # ------------------------------------------------------------------ output
    def out_attr_name(self) -> str:
        if not self.out_attr:
            assert self.out is not None
            hint = "out_channels" if self.out.rank == 3 else "out_features"
            self.out_attr = self.attrs.name(("out",), hint)
        return self.out_attr

    def render(self, w: Writer) -> None:
        needed: dict[str, str] = {}

        def forward_test(test: px.PyExpr) -> px.PyExpr:
            mapping: dict[str, px.PyExpr] = {}
            for var in sorted(px.free_vars(test)):
                if var not in needed:
                    needed[var] = self.attrs.name(("value", var), var)
                mapping[var] = px.Raw(f"self.{needed[var]}")
            return px.substitute(test, mapping)

        fwd = Writer(level=w.level + 2)
        _render(self.forward, fwd, self.fwd_reads, forward_test, {})
        if self.returns:
            fwd.line(f"return {', '.join(self.returns)}")
        self.init_reads.update(needed)
        init = Writer(level=w.level + 2)
        init.line("super().__init__()")
        out_line = ""
        if self.expose_out:
            assert self.out is not None
            out_line = f"self.{self.out_attr_name()} = {self.code(self.out.size)}"
        _render(self.init, init, self.init_reads, None, needed)
        if out_line:
            init.line(out_line)

        w.line(f"class {self.name}(nn.Module):")
        with w.indent():
            w.line(f'"""{self.doc}"""')
            w.line()
            params: list[str | Call] = ["self"]
            for name, annotation, default in self.params:
                text = f"{name}: {annotation}" if annotation else name
                if default is not None:
                    text += f" = {default}" if annotation else f"={default}"
                params.append(text)
            w.call("", Call("def __init__", tuple(params), closing=" -> None"), ":")
            w.lines += init.lines
            w.line()
            args: list[str | Call] = ["self", *(f"{p}: torch.Tensor" for p in self.fwd_params)]
            result = (
                "torch.Tensor"
                if len(self.returns) == 1
                else f"tuple[{', '.join(['torch.Tensor'] * len(self.returns))}]"
            )
            w.call("", Call("def forward", tuple(args), closing=f" -> {result}"), ":")
            w.lines += fwd.lines


def _defn(e: px.PyExpr) -> px.PyExpr:
    return e.definition if isinstance(e, px.Var) and e.definition is not None else e


def _join(test: px.PyExpr, a: Tensor | None, b: Tensor | None, span: Span) -> Tensor:
    if a is None or b is None:
        found = a or b
        assert found is not None
        return found
    if a.rank != b.rank:
        raise EmitError("the branches of this if give tensors of different ranks", span)
    spatial = a.spatial if a.spatial == b.spatial else None
    return Tensor(a.var, px.ifelse(test, a.size, b.size), a.rank, spatial)


def _merge_used(
    a: dict[str, dict[str, bool]], b: dict[str, dict[str, bool]]
) -> dict[str, dict[str, bool]]:
    """Names after an if: claimed on both paths, or (False) on only one of them."""
    merged: dict[str, dict[str, bool]] = {}
    for prefix in dict.fromkeys([*a, *b]):
        ua, ub = a.get(prefix, {}), b.get(prefix, {})
        merged[prefix] = {
            name: name in ua and name in ub and ua[name] and ub[name]
            for name in dict.fromkeys([*ua, *ub])
        }
    return merged


# =========================================================================== rendering statements
def _render(
    stmts: list[Any],
    w: Writer,
    reads: set[str],
    forward_test: Callable[[px.PyExpr], px.PyExpr] | None,
    stored: Mapping[str, str] | None = None,
) -> None:
    """Write statements: unread locals dropped, single-assignment if/else as a conditional
    expression, nested ifs without else joined with ``and`` (what ruff's SIM rules ask)."""
    for s in _clean(stmts, reads, stored or {}):
        _write(s, w, reads, forward_test, stored or {})


def _clean(stmts: list[Any], reads: set[str], stored: Mapping[str, str]) -> list[Any]:
    out: list[Any] = []
    for s in stmts:
        if isinstance(s, _Do):
            if s.target and "." not in s.target and s.target not in reads:
                if s.pure:
                    continue
                s = _Do(s.value)
            out.append(s)
        elif isinstance(s, _Store):
            if s.local in stored:
                out.append(_Do(s.local, f"self.{stored[s.local]}"))
        elif isinstance(s, _If):
            then, orelse = _clean(s.then, reads, stored), _clean(s.orelse, reads, stored)
            if then == orelse:  # the branches differ only in what forward cannot see
                out += then
                continue
            if not then:
                then, orelse, test = orelse, [], px.unary("not", s.test)
            else:
                test = s.test
            if not orelse and len(then) == 1 and isinstance(then[0], _If) and not then[0].orelse:
                out.append(_If(px.binop("and", test, then[0].test), then[0].then, []))
            else:
                out.append(_If(test, then, orelse))
        elif isinstance(s, _For):
            body = _clean(s.body, reads, stored)
            if body:
                out.append(_For(s.var if s.var in reads else "_", s.count, body))
        else:  # pragma: no cover
            raise AssertionError(s)
    return out


def _inline(value: str | Call) -> str:
    return value if isinstance(value, str) else value.inline()


def _write(
    s: Any,
    w: Writer,
    reads: set[str],
    forward_test: Callable[[px.PyExpr], px.PyExpr] | None,
    stored: Mapping[str, str],
) -> None:
    if isinstance(s, _Do):
        head = f"{s.target} = " if s.target else ""
        if isinstance(s.value, Call):
            w.call(head, s.value)
        else:
            w.line(head + s.value)
        return
    if isinstance(s, _For):
        w.line(f"for {s.var} in range({s.count}):")
        with w.indent():
            for inner in s.body:
                _write(inner, w, reads, forward_test, stored)
        return
    test = forward_test(s.test) if forward_test else s.test
    then, orelse = s.then, s.orelse
    if (
        len(then) == 1
        and len(orelse) == 1
        and isinstance(then[0], _Do)
        and isinstance(orelse[0], _Do)
        and then[0].target
        and then[0].target == orelse[0].target
    ):
        line = (
            f"{'    ' * w.level}{then[0].target} = {_inline(then[0].value)} "
            f"if {px.wrap(test, 2)} else {_inline(orelse[0].value)}"
        )
        if len(line) <= 100:
            w.lines.append(line)
            return
    w.line(f"if {px.render(test)}:")
    with w.indent():
        for inner in then:
            _write(inner, w, reads, forward_test, stored)
    if orelse:
        w.line("else:")
        with w.indent():
            for inner in orelse:
                _write(inner, w, reads, forward_test, stored)


# =========================================================================== the whole file
@dataclass
class Emission:
    """The result of emitting a network: the source, the network class's name, and the module
    path of every IR layer (None for an input, which is a ``forward`` argument)."""

    source: str
    class_name: str
    paths: dict[str, str | None]


class _Emitter:
    def __init__(self, network: Network) -> None:
        self.net = network
        self.program = _program(network)
        self.program_blocks = self.program.blocks
        self.globals: dict[str, px.PyExpr] = {k: px.lit(v) for k, v in self.program.consts.items()}
        self.by_span: dict[Span, list[str]] = {}
        for node in network.order:
            origin = network.layer(node).origin
            if isinstance(origin, n.Link):
                self.by_span.setdefault(origin.span, []).append(node)
        self.helpers: set[str] = set()
        self.modules = Namespace(_CODE_NAMES | PY_BUILTINS | {"build"})
        for helper in HELPERS:
            self.modules.name(("helper", helper), helper)
        self.modules.name(("network",), _camel(network.name) or "Network")
        for block in self.program_blocks.values():
            self.modules.name(("block", block.name), _camel(block.name) or "Block")
        for repeat in _repeats(self.program):
            self.modules.name(("body", repeat.span), f"{_camel(repeat.name)}Iteration")
        self.module_names = frozenset(self.modules.identifiers())
        self.blocks: dict[str, _ClassGen] = {}
        self.bodies: dict[Span, _ClassGen] = {}
        self.order: list[_ClassGen] = []

    # ------------------------------------------------------------------ facts from the IR
    def inplace_ok(self, link: n.Link) -> bool:
        nodes = self.by_span.get(link.span, [])
        if not nodes:
            return False
        for node in nodes:
            layer = self.net.layer(node)
            producer = self.net.layer(layer.inputs[0])
            if self.net.memory(node).buffer == node or not TORCH_OPS[producer.op].fresh:
                return False
        return True

    def ir_size(self, link: n.Link) -> px.PyExpr:
        sizes = {self.net.shape(node)[0] for node in self.by_span.get(link.span, [])}
        if len(sizes) != 1:
            raise EmitError(
                "the features of this flatten depend on the block's input size, which differs "
                "between its instances",
                link.span,
                ["pool to a fixed size first (global_avgpool or adaptive_avgpool)"],
            )
        return px.lit(sizes.pop())

    def is_merge(self, link: n.Link) -> bool:
        op = lookup(link.name)
        return op is not None and op.arity is None

    def bind(
        self, op: Op, args: list[n.Arg], values: Mapping[str, px.PyExpr], link: n.Link
    ) -> tuple[Attrs, dict[str, Any] | None]:
        """The op's attributes for ``args``: known ones normalised as elaboration does."""
        positional = [px.from_ast(a.value, values) for a in args if a.name is None]
        named = {a.name: px.from_ast(a.value, values) for a in args if a.name is not None}
        if all(isinstance(v, px.Lit) for v in [*positional, *named.values()]):
            try:
                concrete = bind(
                    op,
                    [v.value for v in positional],  # type: ignore[union-attr]
                    {k: v.value for k, v in named.items()},  # type: ignore[union-attr]
                )
            except ArgProblem as exc:
                raise EmitError(str(exc), link.span) from None
            return {k: px.lit(v) for k, v in concrete.items()}, concrete
        specs = {s.name: s for s in op.attrs}
        raw: dict[str, px.PyExpr] = dict(zip([s.name for s in op.attrs], positional, strict=False))
        raw.update(named)
        attrs: Attrs = {}
        for spec in op.attrs:
            if spec.name in raw:
                value = raw[spec.name]
                if isinstance(value, px.Lit):
                    try:
                        value = px.lit(normalise(spec, value.value))
                    except ArgProblem as exc:
                        raise EmitError(str(exc), link.span) from None
                attrs[spec.name] = value
            elif spec.required:
                raise EmitError(f"{op.name} needs '{spec.name}'", link.span)
            elif not (isinstance(spec.default, str) and spec.default.startswith("=")):
                attrs[spec.name] = px.lit(normalise(spec, spec.default))
        for spec in op.attrs:
            if spec.name not in attrs:
                attrs[spec.name] = attrs[specs[spec.name].default[1:]]
        return attrs, None

    def output(
        self,
        op: Op,
        rule: TorchOp,
        attrs: Attrs,
        concrete: dict[str, Any] | None,
        inputs: list[Tensor],
        ctx: _OpContext,
    ) -> Tensor:
        shapes = [t.shape for t in inputs]
        if concrete is not None and all(s is not None for s in shapes):
            try:
                shape = op.shape(concrete, shapes, [t.var for t in inputs])  # type: ignore[arg-type]
            except ShapeProblem as exc:
                raise EmitError(str(exc), ctx.link.span) from None
            known = (px.lit(shape[1]), px.lit(shape[2])) if len(shape) == 3 else None
            return Tensor("", px.lit(shape[0]), len(shape), known)
        size = rule.size(attrs, inputs, ctx) if rule.size else inputs[0].size
        rank = rule.rank or inputs[0].rank
        spatial: tuple[px.PyExpr, px.PyExpr] | None = None
        if rank == 3:
            if rule.spatial == "keep":
                spatial = inputs[0].spatial
            elif rule.spatial == "one":
                spatial = (px.lit(1), px.lit(1))
            elif rule.spatial == "size":
                size_attr = attrs["size"]
                if isinstance(size_attr, px.Lit):
                    spatial = (px.lit(size_attr.value[0]), px.lit(size_attr.value[1]))
        return Tensor("", size, rank, spatial)

    # ------------------------------------------------------------------ classes
    def block_class(self, block: n.BlockDef, rank: int, span: Span) -> _ClassGen:
        cls = self.blocks.get(block.name)
        if cls is not None:
            if cls.in_rank != rank:
                raise EmitError(
                    f"block '{block.name}' is called with inputs of different ranks", span
                )
            if cls.out is None:
                raise EmitError(f"block '{block.name}' calls itself", span)
            return cls
        doc = f"Block ``{block.name}``{_where(block.span)}."
        cls = self.new_class(("block", block.name), doc, rank)
        self.blocks[block.name] = cls
        values: ChainMap[str, px.PyExpr] = ChainMap({}, {}, self.globals)
        types = self.param_types(block.name)
        for p in block.params:
            var = cls.locals.name(("value", p.name), p.name)
            default = px.from_ast(p.default, values) if p.default is not None else None
            annotation = types.get(p.name)
            if default is None:
                cls.params.append((var, annotation, None))
                cls.positional += 1
            elif isinstance(default, px.Lit):
                cls.params.append((var, annotation, py_literal(default.value)))
                cls.positional += 1
            else:
                cls.params.append((var, f"{annotation} | None" if annotation else None, "None"))
                cls.init.append(_If(px.BinOp("is", px.Var(var), px.Raw("None")), [], []))
                cls.init[-1].then.append(_Do(cls.code(default), var))
                cls.init_reads.add(var)
                cls.positional += 1
            cls.param_vars.append((p.name, var, default))
            cls.init.append(_Store(var))
            values.maps[1][p.name] = px.Var(var)
        x = cls.fwd.name(("in",), "x")
        cls.fwd_params.append(x)
        frame = _Frame(
            values, ChainMap({BLOCK_INPUT: Tensor(x, px.Var(cls.in_var), rank)}), None, ""
        )
        frame.current = frame.tensors[BLOCK_INPUT]
        cls.body(block.body, frame)
        out = frame.tensors.get(BLOCK_OUTPUT) or frame.current
        assert out is not None
        cls.out = out
        cls.returns.append(cls.read(out))
        self.order.append(cls)
        return cls

    def new_class(self, key: tuple[Any, ...], doc: str, rank: int) -> _ClassGen:
        """A generated module class whose constructor starts with ``in_channels``: block classes
        and repeat-iteration classes both take their input's channel count first."""
        cls = _ClassGen(self, self.modules.name(key), doc)
        cls.in_rank = rank
        cls.unnamed = "y"
        cls.in_var = cls.locals.name(("in_channels",), "in_channels")
        cls.params.append((cls.in_var, "int", None))
        return cls

    def param_types(self, block: str) -> dict[str, str]:
        seen: dict[str, set[str]] = {}
        for scope in self.net.scopes.values():
            if scope.kind == "block" and scope.block == block:
                for name, value in scope.args:
                    seen.setdefault(name, set()).add(type(value).__name__)
        return {k: v.pop() for k, v in seen.items() if len(v) == 1}

    def body_class(
        self, stmt: n.Repeat, owner: _ClassGen, values: ChainMap[str, px.PyExpr], rank: int
    ) -> _ClassGen:
        cls = self.bodies.get(stmt.span)
        if cls is not None:
            if cls.in_rank != rank:
                raise EmitError("each iteration of a repeat must keep its input's rank", stmt.span)
            return cls
        doc = f"One iteration of the repeat ``{stmt.name}`` in ``{owner.name}``."
        cls = self.new_class(("body", stmt.span), doc, rank)
        self.bodies[stmt.span] = cls
        inner: dict[str, px.PyExpr] = {}
        for name in _names_in(stmt.body):
            if name not in values:
                continue
            value = values[name]
            if isinstance(value, px.Lit) and name != stmt.index:
                inner[name] = value
                continue
            var = cls.locals.name(("value", name), name)
            cls.params.append((var, "int" if name == stmt.index else None, None))
            cls.param_vars.append((name, var, None))
            cls.init.append(_Store(var))
            inner[name] = px.Var(var)
        x = cls.fwd.name(("in",), "x")
        cls.fwd_params.append(x)
        frame = _Frame(
            ChainMap({}, inner, self.globals),
            ChainMap(),
            Tensor(x, px.Var(cls.in_var), rank),
            "",
            closed=True,
        )
        cls.body(stmt.body, frame)
        assert frame.current is not None
        cls.out = frame.current
        cls.returns.append(cls.read(frame.current))
        self.order.append(cls)
        return cls

    def network_class(self) -> _ClassGen:
        net = self.program.network
        doc = f"Network ``{net.name}``{_where(net.span)}."
        cls = _ClassGen(self, self.modules.name(("network",)), doc)
        values: ChainMap[str, px.PyExpr] = ChainMap({}, self.globals)
        frame = _Frame(values, ChainMap(), None, "")
        cls.body(net.body, frame)
        if not cls.returns:
            raise EmitError("the network has no outputs", net.span)
        self.order.append(cls)
        return cls

    # ------------------------------------------------------------------ the file
    def emit(self) -> Emission:
        network_cls = self.network_class()
        paths = self.layer_paths(network_cls)
        w = Writer()
        version = archc.__version__
        w.line(f"# Generated by archc {version} from {safe_comment(self.net.file)}.")
        w.line("# Edit the spec and emit again rather than editing this file.")
        w.line("import torch")
        w.line("from torch import nn")
        for helper, text in HELPERS.items():
            if helper in self.helpers:
                w.line()
                w.lines += text.rstrip("\n").split("\n")
        for cls in self.order:
            w.line()
            w.line()
            cls.render(w)
        return Emission(w.text(), network_cls.name, paths)

    def layer_paths(self, network_cls: _ClassGen) -> dict[str, str | None]:
        """Every IR layer's module path, found by walking the containers the classes built."""
        paths: dict[str, str | None] = {}
        seen: set[str] = set()
        for node in self.net.order:
            if self.net.layer(node).op == "input":
                paths[node] = None
                continue
            ctx: _Ctx | None = network_cls.ctx
            parts = []
            for comp in node.split("."):
                if ctx is None:
                    raise IRError(f"PyTorch emission: {node!r} is inside a layer")
                if ctx.item is not None:
                    if not comp.isdigit():
                        raise IRError(f"PyTorch emission: {node!r} is not an iteration")
                    child = _Child(comp, ctx.item.ctx, ctx.item.leaf)
                else:
                    found = ctx.children.get(comp)
                    if found is None:
                        raise IRError(f"PyTorch emission has no module for layer {node!r}")
                    child = found
                parts.append(child.attr)
                ctx = child.ctx
            if not child.leaf:
                raise IRError(f"PyTorch emission: layer {node!r} is a container")
            path = ".".join(parts)
            if path in seen:
                raise IRError(f"PyTorch emission: two layers map to {path!r}")
            seen.add(path)
            paths[node] = path
        return paths


def _where(span: Span) -> str:
    file = span.file
    if all(c.isalnum() or c in "._-/" for c in file):
        return f" ({file}, line {span.line})"
    return f" (line {span.line})"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _repeats(program: _Program) -> list[n.Repeat]:
    """Every repeat with a multi-statement body (each becomes a class), in source order."""
    found: list[n.Repeat] = []

    def walk(stmts: Iterable[n.Stmt]) -> None:
        for s in stmts:
            if isinstance(s, n.Repeat):
                if not (len(s.body) == 1 and isinstance(s.body[0], n.ChainStmt)):
                    found.append(s)
                walk(s.body)
            elif isinstance(s, n.If):
                walk(s.then)
                walk(s.orelse)

    for block in program.blocks.values():
        walk(block.body)
    walk(program.network.body)
    return found


def _names_in(stmts: Iterable[n.Stmt]) -> list[str]:
    """Value names the statements' expressions read, in first-use order."""
    names: dict[str, None] = {}

    def expr(e: n.Expr | None) -> None:
        match e:
            case n.Name(name=name):
                names[name] = None
            case n.Tuple(items=items):
                for i in items:
                    expr(i)
            case n.BinOp() | n.Compare():
                expr(e.left)
                expr(e.right)
            case n.UnaryOp():
                expr(e.operand)
            case n.Cond():
                expr(e.test)
                expr(e.then)
                expr(e.orelse)

    def chain(c: n.Chain | None) -> None:
        if c is None:
            return
        for link in c.links:
            op = lookup(link.name)
            merge = op is not None and op.arity is None
            for arg in link.args or ():
                if not (merge and arg.name is None):
                    expr(arg.value)

    def walk(body: Iterable[n.Stmt]) -> None:
        for s in body:
            match s:
                case n.ConstDef():
                    expr(s.value)
                case n.Assign() | n.ChainStmt():
                    chain(s.chain)
                case n.Output():
                    chain(s.chain)
                case n.Repeat():
                    expr(s.count)
                    walk(s.body)
                case n.If():
                    expr(s.test)
                    walk(s.then)
                    walk(s.orelse)

    walk(stmts)
    return list(names)


@dataclass
class _Program:
    """What the source mirrors: the network body, the blocks, the file constants' values."""

    network: n.NetworkDef
    blocks: dict[str, n.BlockDef]
    consts: dict[str, Any]


def _program(network: Network) -> _Program:
    """The spec's AST as elaboration saw it: the network body, the blocks and the file
    constants' values, all kept in the IR (``G_NETWORK``, ``G_BLOCKS``, ``G_CONSTS``)."""
    g = network.graph.graph
    return _Program(g[G_NETWORK], dict(g[G_BLOCKS]), dict(g[G_CONSTS]))


# =========================================================================== public API
_CACHE: weakref.WeakKeyDictionary[Network, Emission] = weakref.WeakKeyDictionary()


def emission(network: Network) -> Emission:
    """Emit ``network`` (cached per network object)."""
    found = _CACHE.get(network)
    if found is None:
        found = _Emitter(network).emit()
        _CACHE[network] = found
    return found


def module_source(network: Network, seed: int | None = None) -> str:
    """The PyTorch source for ``network``: what ``archc emit --target pytorch`` writes.

    With ``seed``, the file ends with ``build(seed=...)``, which initialises the weights as
    :func:`to_torch` does with that seed (the same values)."""
    result = emission(network)
    if seed is None:
        return result.source
    return result.source + BUILD_FUNCTION.format(cls=result.class_name, seed=py_literal(int(seed)))


def layer_paths(network: Network) -> dict[str, str | None]:
    """IR layer name -> module path in the emitted network (None for an input)."""
    return dict(emission(network).paths)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(f"PyTorch is not installed: {INSTALL_HINT}") from None
    return torch


def network_class(network: Network) -> type:
    """The network's ``nn.Module`` subclass, from executing the emitted source."""
    _import_torch()
    result = emission(network)
    filename = f"<archc-pytorch {network.name}>"
    linecache.cache[filename] = (len(result.source), None, result.source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": f"archc_generated.{network.name}"}
    exec(compile(result.source, filename, "exec"), namespace)
    return namespace[result.class_name]


def to_torch(network: Network, seed: int | None = None, *, device: str = "cpu") -> Any:
    """Build the network as an ``nn.Module`` (the emitted source, executed in process).

    Weights get PyTorch's default initialisation, reproducibly when ``seed`` is given (the
    global RNG is left untouched then), drawn on the CPU and then moved to ``device``, so a seed
    gives the same weights everywhere.  ``device="meta"`` builds the module without memory or
    initialisation: parameter shapes and counts, nothing to run.
    """
    torch = _import_torch()
    cls = network_class(network)
    with torch.device("meta"):
        module = cls()
    if device == "meta":
        return module
    module = module.to_empty(device="cpu")
    reset_weights(module, seed)
    return module if device == "cpu" else module.to(device)


def reset_weights(module: Any, seed: int | None = None) -> None:
    """Initialise every layer as its constructor does (``reset_parameters``), in module order."""
    torch = _import_torch()
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if reset is not None:
                reset()
            elif any(True for _ in sub.parameters(recurse=False)) or any(
                True for _ in sub.buffers(recurse=False)
            ):
                raise EmitError(f"cannot initialise {type(sub).__name__}: no reset_parameters")


def state_dict_to_weights(network: Network, state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The module's tensors under archc's canonical names (``<layer path>.<role>``), as numpy
    arrays in :meth:`Network.weights` order.  Every tensor but ``num_batches_tracked`` must be
    accounted for."""
    paths = layer_paths(network)
    out: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for canonical, layer, spec in network.weights():
        key = f"{paths[layer]}.{spec.role}"
        if key not in state_dict:
            raise EmitError(f"the state dict has no {key!r} (for {canonical})")
        tensor = state_dict[key]
        if tuple(tensor.shape) != spec.shape:
            raise EmitError(
                f"{key} has shape {tuple(tensor.shape)}, {canonical} needs {spec.shape}"
            )
        out[canonical] = tensor.detach().cpu().numpy()
        used.add(key)
    extra = [k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")]
    if extra:
        raise EmitError(f"the state dict has tensors the network does not declare: {extra[:3]}")
    return out


def add_options(parser: argparse.ArgumentParser) -> None:
    """The PyTorch target has no options of its own (``-o`` and ``--seed`` are shared)."""


def emit(network: Network, args: argparse.Namespace) -> int:
    """``archc emit --target pytorch``: the source to ``-o`` (atomically) or standard output."""
    source = module_source(network, getattr(args, "seed", None))
    if getattr(args, "output", None):
        write_atomic(args.output, source)
    else:
        sys.stdout.write(source)
        sys.stdout.flush()
    return 0


__all__ = [
    "BUILD_FUNCTION",
    "HELPERS",
    "MODULE_ATTRIBUTES",
    "TORCH_OPS",
    "Emission",
    "TorchOp",
    "add_options",
    "emission",
    "emit",
    "layer_paths",
    "module_source",
    "network_class",
    "reset_weights",
    "state_dict_to_weights",
    "to_torch",
]
