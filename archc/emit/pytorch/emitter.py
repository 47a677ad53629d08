"""The whole emitted file: its classes in dependency order and every layer's module path."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import archc
from archc import nodes as n
from archc.analysis import Network
from archc.binding import bind_op_args, is_merge, op_argument_error, split_args
from archc.emit import pyexpr as px
from archc.emit.codegen import (
    PY_BUILTINS,
    Namespace,
    Writer,
    py_literal,
    safe_comment,
)
from archc.emit.pyexpr import EXPR_ARITHMETIC
from archc.emit.pytorch.classgen import ClassGen
from archc.emit.pytorch.frames import Child, Container, Frame
from archc.emit.pytorch.functions import render_function
from archc.emit.pytorch.helpers import HELPER_NAMES, HELPERS
from archc.emit.pytorch.names import BLOCK_INPUT, BLOCK_OUTPUT, CODE_NAMES
from archc.emit.pytorch.statements import Do, If, Store
from archc.emit.pytorch.table import TORCH_OPS, Attrs, Form, OpContext, Tensor
from archc.errors import ArchError, EmitError, IRError
from archc.evaluate import Callee, FunctionValue
from archc.ir import G_BLOCKS, G_CONST_DEFS, G_CONSTS, G_NETWORK, G_TENSORS
from archc.ops import ArgProblem, AttrSpec, Op, ShapeProblem, SymbolicShape, callable_names, lookup
from archc.ops.attrs import bind, normalise
from archc.source import Span

if TYPE_CHECKING:  # pragma: no cover
    pass


@dataclass
class Emission:
    """The result of emitting a network: the source, the network class's name, and the module
    path of every IR layer (None for an input, which is a ``forward`` argument)."""

    source: str
    class_name: str
    paths: dict[str, str | None]


class Emitter:
    def __init__(self, network: Network, exposed: tuple[str, ...] = ()) -> None:
        self.net = network
        self.exposed = exposed  # constants the network class takes as arguments
        self.program = source_program(network)
        self.program_blocks = self.program.blocks
        self.modules = Namespace(CODE_NAMES | PY_BUILTINS | {"build", "math"})
        # spec functions become functions of the file, named before anything else is
        self.functions: dict[str, FunctionValue] = {}
        self.globals: dict[str, px.PyExpr] = {}
        for name, value in self.program.consts.items():
            if isinstance(value, FunctionValue):
                identifier = self.modules.name(("function", name), name)
                self.functions[identifier] = value
                value = px.EmittedFunction(value, identifier)
            self.globals[name] = px.lit(value)
        self.by_span: dict[Span, list[str]] = {}
        for node in network.order:
            origin = network.layer(node).origin
            if isinstance(origin, n.Link):
                self.by_span.setdefault(origin.span, []).append(node)
        self.helpers: set[str] = set()
        self.imports: set[str] = set()  # standard modules the code needs (math for ceil)
        #: every op and block as a value (activation=hardswish)
        self.callees: dict[str, px.PyExpr] = {
            name: px.lit(Callee(op.name, "op")) for name, op in _callable_ops().items()
        }
        self.callees.update({b: px.lit(Callee(b, "block")) for b in self.program.blocks})
        self.used_functions: set[str] = set()  # spec functions the code calls
        for helper in HELPERS:
            self.modules.name(("helper", helper), helper)
        for name in HELPER_NAMES - set(HELPERS):  # the helpers' own functions (swin_...)
            self.modules.name(("helper", name), name)
        self.modules.name(("network",), camel(network.name) or "Network")
        for block in self.program_blocks.values():
            self.modules.name(("block", block.name), camel(block.name) or "Block")
        for repeat in body_repeats(self.program):
            self.modules.name(("body", repeat.span), f"{camel(repeat.name)}Iteration")
        self.module_names = frozenset(self.modules.identifiers())
        self.blocks: dict[str, ClassGen] = {}
        self.bodies: dict[tuple[Span, tuple[tuple[str, str], ...]], ClassGen] = {}
        self.order: list[ClassGen] = []

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

    def ir_size(self, link: n.Link, last: bool = False) -> px.PyExpr:
        """The channels (the last axis when ``last``) of ``link``'s output, when every
        instance of the layer agrees on them."""
        axis = -1 if last else 0
        sizes = {self.net.shape(node)[axis] for node in self.by_span.get(link.span, [])}
        if len(sizes) != 1:
            raise EmitError(
                f"the features of this {link.name} depend on the block's input size, which "
                "differs between its instances",
                link.span,
                ["pool to a fixed size first (global_avgpool or adaptive_avgpool)"],
            )
        return px.lit(sizes.pop())

    def is_inline(self, link: n.Link) -> bool:
        """Whether ``link`` is an op written as an expression in ``forward`` (no module)."""
        op = lookup(link.name)
        return op is not None and TORCH_OPS[op.name].inline is not None

    def bind(
        self, op: Op, link: n.Link, values: Mapping[str, px.PyExpr]
    ) -> tuple[Attrs, dict[str, Any] | None]:
        """The op's attributes for ``link``'s arguments, bound by elaboration's rules
        (:mod:`archc.binding`); with every value known, also the concrete attributes."""
        positional, named = split_args(link.args or (), lambda e: px.from_ast(e, values))
        known_pos = [(v.value, a) for v, a in positional if isinstance(v, px.Lit)]
        known_named = {k: (v.value, a) for k, (v, a) in named.items() if isinstance(v, px.Lit)}
        if len(known_pos) == len(positional) and len(known_named) == len(named):
            concrete = bind_op_args(op, link, known_pos, known_named)
            return {k: px.lit(v) for k, v in concrete.items()}, concrete
        try:
            attrs = bind(
                op,
                [v for v, _ in positional],
                {k: v for k, (v, _) in named.items()},
                symbolic=_symbolic_value,
            )
        except ArgProblem as exc:
            raise op_argument_error(op, exc, link, positional, named) from None
        return attrs, None

    def output(
        self,
        op: Op,
        attrs: Attrs,
        concrete: dict[str, Any] | None,
        inputs: list[Tensor],
        ctx: OpContext,
    ) -> Tensor:
        shapes = [t.shape for t in inputs]
        ins = [SymbolicShape(t.size, t.rank, t.spatial, t.last) for t in inputs]
        out = op.symbolic_shape(attrs, ins, EXPR_ARITHMETIC)
        if concrete is not None and all(s is not None for s in shapes):
            try:
                shape = op.shape(concrete, shapes, [t.var for t in inputs])  # type: ignore[arg-type]
            except ShapeProblem as exc:
                raise EmitError(str(exc), ctx.link.span) from None
            last = out.last and len(shape) > 1
            features, rest = (shape[-1], shape[:-1]) if last else (shape[0], shape[1:])
            known = tuple(px.lit(v) for v in rest) if rest else None
            return Tensor("", px.lit(features), len(shape), known, last)
        # a flatten of a map whose size only elaboration knows: the IR's number, when every
        # instance of this layer agrees on it
        size = out.channels if out.channels is not None else ctx.ir_features(out.last)
        return Tensor("", size, out.rank, out.spatial, out.last)

    # ------------------------------------------------------------------ classes
    def block_class(
        self,
        block: n.BlockDef,
        form: Form,
        span: Span,
        fixed: Mapping[str, px.PyExpr] | None = None,
    ) -> ClassGen:
        """The class for ``block``; ``fixed`` parameters (an op or block passed as a value:
        ``activation=hardswish``) are built into the class, one class per choice."""
        fixed = dict(fixed or {})
        variant = tuple(sorted((k, repr(getattr(v, "value", v))) for k, v in fixed.items()))
        key = block.name if not variant else f"{block.name}:{variant}"
        cls = self.blocks.get(key)
        if cls is not None:
            if cls.in_form != form:
                raise EmitError(
                    f"block '{block.name}' is called with inputs of different ranks or layouts",
                    span,
                )
            if cls.out is None:
                raise EmitError(f"block '{block.name}' calls itself", span)
            return cls
        doc = f"Block ``{block.name}``{where(block.span)}."
        if variant:
            chosen = ", ".join(f"{k}={v}" for k, v in variant)
            doc = f"Block ``{block.name}`` with {chosen}{where(block.span)}."
            suffix = "".join(camel(v) for _, v in variant)
            self.modules.name(("block", key), camel(block.name) + suffix)
        cls = self.new_class(("block", key), doc, form)
        self.blocks[key] = cls
        values: ChainMap[str, px.PyExpr] = ChainMap({}, dict(fixed), self.globals)
        types = self.param_types(block.name)
        # a default may read the block's input: hidden=in.channels * 6
        in_ref = {BLOCK_INPUT: px.TensorRef(BLOCK_INPUT, px.Var(cls.in_var), form[0], None)}
        for p in block.params:
            if p.name in fixed:
                continue
            var = cls.locals.name(("value", p.name), p.name)
            default = (
                px.from_ast(p.default, ChainMap(values, in_ref)) if p.default is not None else None
            )
            annotation = types.get(p.name)
            if default is None:
                cls.params.append((var, annotation, None))
                cls.positional += 1
            elif isinstance(default, px.Lit):
                cls.params.append((var, annotation, py_literal(default.value)))
                cls.positional += 1
            else:
                cls.params.append((var, f"{annotation} | None" if annotation else None, "None"))
                cls.init.append(If(px.BinOp("is", px.Var(var), px.Raw("None")), [], []))
                cls.init[-1].then.append(Do(cls.code(default), var))
                cls.init_reads.add(var)
                cls.positional += 1
            cls.param_vars.append((p.name, var, default))
            cls.init.append(Store(var))
            values.maps[1][p.name] = px.Var(var)
        x = cls.fwd.name(("in",), "x")
        cls.fwd_params.append(x)
        frame = Frame(values, ChainMap({BLOCK_INPUT: _block_input(x, cls, form)}), None, "")
        frame.current = frame.tensors[BLOCK_INPUT]
        cls.body(block.body, frame)
        out = frame.tensors.get(BLOCK_OUTPUT) or frame.current
        assert out is not None
        cls.out = out
        cls.returns.append(cls.read(out))
        self.order.append(cls)
        return cls

    def new_class(self, key: tuple[Any, ...], doc: str, form: Form) -> ClassGen:
        """A generated module class whose constructor starts with ``in_channels``: block classes
        and repeat-iteration classes both take their input's channel count first."""
        cls = ClassGen(self, self.modules.name(key), doc)
        cls.in_form = form
        cls.unnamed = "y"
        # a token block's input size is a token's D, its features
        first = "in_features" if form[1] else "in_channels"
        cls.in_var = cls.locals.name(("in_channels",), first)
        cls.params.append((cls.in_var, "int", None))
        cls.init.append(Store(cls.in_var))  # kept on self only if forward reads it
        return cls

    def param_types(self, block: str) -> dict[str, str]:
        seen: dict[str, set[str]] = {}
        for scope in self.net.scopes.values():
            if scope.kind == "block" and scope.block == block:
                for name, value in scope.args:
                    seen.setdefault(name, set()).add(type(value).__name__)
        return {k: v.pop() for k, v in seen.items() if len(v) == 1}

    def body_class(
        self, stmt: n.Repeat, owner: ClassGen, values: ChainMap[str, px.PyExpr], form: Form
    ) -> ClassGen:
        used = [name for name in names_in(stmt.body) if name in values]
        # an op or block a row passes (a table's activation column) is built into the class:
        # one class per choice, like a block called with one
        # and so are the row values an argument picks an op or block with
        # (activation=hardswish if nl == "HS" else relu)
        picks: set[str] = set()
        env = ChainMap(values, self.callees)
        for expr in _call_arguments(stmt.body):
            try:
                value = px.from_ast(expr, env)
            except ArchError:
                continue
            if isinstance(value, px.Lit) and isinstance(value.value, Callee):
                picks.update(names_in_exprs([expr]))
        fixed = {
            name: values[name]
            for name in used
            if isinstance(values[name], px.Lit)
            and (isinstance(values[name].value, Callee) or name in picks)  # type: ignore[union-attr]
        }
        variant = tuple(sorted((k, repr(v.value)) for k, v in fixed.items()))  # type: ignore[union-attr]
        key = (stmt.span, variant)
        cls = self.bodies.get(key)
        if cls is not None:
            if cls.in_form != form:
                raise EmitError(
                    "each iteration of a repeat must keep its input's rank and layout", stmt.span
                )
            return cls
        doc = f"One iteration of the {stmt.keyword} ``{stmt.name}`` in ``{owner.name}``."
        if variant:
            chosen = ", ".join(f"{k}={v}" for k, v in variant)
            doc = f"One iteration of the {stmt.keyword} ``{stmt.name}`` in ``{owner.name}``, {chosen}."
            base = f"{camel(stmt.name)}Iteration" + "".join(camel(v) for _, v in variant)
            self.modules.name(("body", key), base)
        cls = self.new_class(("body", key if variant else stmt.span), doc, form)
        self.bodies[key] = cls
        inner: dict[str, px.PyExpr] = dict(fixed)
        for name in used:
            value = values[name]
            if name in fixed:
                continue
            # the loop's index and a for loop's row vary between iterations: parameters
            if isinstance(value, px.Lit) and name != stmt.index and name not in stmt.targets:
                inner[name] = value
                continue
            var = cls.locals.name(("value", name), name)
            cls.params.append((var, "int" if name == stmt.index else None, None))
            cls.param_vars.append((name, var, None))
            cls.init.append(Store(var))
            inner[name] = px.Var(var)
        x = cls.fwd.name(("in",), "x")
        cls.fwd_params.append(x)
        frame = Frame(
            ChainMap({}, inner, self.globals),
            # the body sees the previous iteration's output as in (in.channels in a test)
            ChainMap({BLOCK_INPUT: _block_input(x, cls, form)}),
            _block_input(x, cls, form),
            "",
            closed=True,
        )
        cls.body(stmt.body, frame)
        assert frame.current is not None
        cls.out = frame.current
        cls.returns.append(cls.read(frame.current))
        self.order.append(cls)
        return cls

    def network_class(self, exposed: tuple[str, ...] = ()) -> ClassGen:
        """The network's class; the file constants in ``exposed`` become its constructor's
        keyword arguments, their spec values the defaults (``Resnet(num_classes=1000)``)."""
        net = self.program.network
        doc = f"Network ``{net.name}``{where(net.span)}."
        cls = ClassGen(self, self.modules.name(("network",)), doc)
        values: ChainMap[str, px.PyExpr] = ChainMap({}, self.globals)
        for name in exposed:
            value = self.program.consts[name]
            var = cls.locals.name(("value", name), name)
            cls.params.append((var, type(value).__name__, py_literal(value)))
            values.maps[0][name] = px.Var(var)
            cls.init.append(Store(var))  # kept on self only if forward reads it
        frame = Frame(values, ChainMap(), None, "")
        # with every constant fixed, the network's tensors have the analysed sizes: a tensor
        # after a block call (whose class does not know its input's size) may be read as
        # c2.height at network level
        cls.known_sizes = {} if exposed else dict(self.net.graph.graph.get(G_TENSORS, {}))
        cls.body(net.body, frame)
        if not cls.returns:
            raise EmitError("the network has no outputs", net.span)
        self.order.append(cls)
        return cls

    # ------------------------------------------------------------------ the file
    def exposable(self) -> tuple[str, ...]:
        """The file constants the network class can take as constructor arguments: numbers and
        booleans that only the network body reads (a block, a function or another constant
        reading one would keep the spec's value, so the argument would not mean what
        ``--set`` means)."""
        read: set[str] = set()
        for block in self.program.blocks.values():
            read.update(names_in(block.body))
            read.update(names_in_exprs([p.default for p in block.params if p.default]))
        for value in self.program.consts.values():
            if isinstance(value, FunctionValue):
                node = value.node
                exprs = [p.default for p in node.params if p.default]
                exprs += [c.value for c in node.consts] + [node.result]
                read.update(names_in_exprs(exprs))
        for const in self.program.const_defs:
            read.update(names_in_exprs([const.value]))
        return tuple(
            name
            for name, value in self.program.consts.items()
            if isinstance(value, int | float | bool) and name not in read
        )

    def emit(self) -> Emission:
        exposed = self.exposable()
        if exposed:
            try:  # written with its constants as variables, the network must still emit
                return Emitter(self.net, exposed=exposed).emit_file()
            except (EmitError, px.Unresolved):
                pass
        return self.emit_file()

    def emit_file(self) -> Emission:
        network_cls = self.network_class(self.exposed)
        paths = self.layer_paths(network_cls)
        w = Writer()
        version = archc.__version__
        w.line(f"# Generated by archc {version} from {safe_comment(self.net.file)}.")
        w.line("# Edit the spec and emit again rather than editing this file.")
        for module in sorted(self.imports):
            w.line(f"import {module}")
        if self.imports:
            w.line()
        w.line("import torch")
        w.line("from torch import nn")
        for helper, text in HELPERS.items():
            if helper in self.helpers:
                w.line()
                w.lines += text.rstrip("\n").split("\n")
        done: set[str] = set()
        pending = sorted(self.used_functions)
        while pending:  # the functions the code calls, and those their bodies call
            name = pending.pop()
            done.add(name)
            called = render_function(Writer(), name, self.functions[name], self.globals)
            pending += sorted((called & set(self.functions)) - done - set(pending))
        for identifier in self.functions:
            if identifier in done:
                w.line()
                w.line()
                render_function(w, identifier, self.functions[identifier], self.globals)
        for cls in self.order:
            w.line()
            w.line()
            cls.render(w)
        return Emission(w.text(), network_cls.name, paths)

    @staticmethod
    def _has_module(network_cls: ClassGen, node: str) -> bool:
        """Whether the containers hold a module for ``node`` (an op that can be written either
        way is a module inside a chain, an expression where it starts a statement)."""
        ctx: Container | None = network_cls.ctx
        for comp in node.split("."):
            if ctx is None:
                return False
            if ctx.item is not None:
                ctx = (ctx.items.get(comp) or ctx.item).ctx
                continue
            child = ctx.children.get(comp)
            if child is None:
                return False
            ctx = child.ctx
        return True

    def layer_paths(self, network_cls: ClassGen) -> dict[str, str | None]:
        """Every IR layer's module path, found by walking the containers the classes built."""
        paths: dict[str, str | None] = {}
        seen: set[str] = set()
        for node in self.net.order:
            op = self.net.layer(node).op
            rule = TORCH_OPS[op]
            if op == "input" or (rule.inline is not None and rule.module is None):
                paths[node] = None  # a forward argument, or an expression in forward
                continue
            if rule.inline is not None and not self._has_module(network_cls, node):
                paths[node] = None  # written inline here (it starts its statement)
                continue
            ctx: Container | None = network_cls.ctx
            parts = []
            for comp in node.split("."):
                if ctx is None:
                    raise IRError(f"PyTorch emission: {node!r} is inside a layer")
                if ctx.item is not None:
                    if not comp.isdigit():
                        raise IRError(f"PyTorch emission: {node!r} is not an iteration")
                    this = ctx.items.get(comp) or ctx.item
                    child = Child(comp, this.ctx, this.leaf)
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


def where(span: Span) -> str:
    file = span.file
    if all(c.isalnum() or c in "._-/" for c in file):
        return f" ({file}, line {span.line})"
    return f" (line {span.line})"


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def body_repeats(program: SourceProgram) -> list[n.Repeat]:
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


def _expr_names(e: n.Expr | None, names: dict[str, None]) -> None:
    """Add the value names ``e`` reads to ``names`` (in first-use order)."""
    match e:
        case n.Name(name=name):
            names[name] = None
        case n.Attr(value=n.Name()):
            pass  # a tensor's attribute (in.channels): the iteration's input, not a value
        case n.Attr(value=value):
            _expr_names(value, names)
        case n.Index(value=value, index=index):
            _expr_names(value, names)
            _expr_names(index, names)
        case n.Call(func=func, args=args):
            names[func] = None
            for a in args:
                _expr_names(a.value, names)
        case n.Tuple(items=items):
            for i in items:
                _expr_names(i, names)
        case n.BinOp() | n.Compare():
            _expr_names(e.left, names)
            _expr_names(e.right, names)
        case n.UnaryOp():
            _expr_names(e.operand, names)
        case n.Cond():
            _expr_names(e.test, names)
            _expr_names(e.then, names)
            _expr_names(e.orelse, names)


def names_in_exprs(exprs: Iterable[n.Expr]) -> list[str]:
    """Value names the expressions read, in first-use order."""
    names: dict[str, None] = {}
    for e in exprs:
        _expr_names(e, names)
    return list(names)


def names_in(stmts: Iterable[n.Stmt]) -> list[str]:
    """Value names the statements read (expressions, and links that may name an op or block
    passed as a value), in first-use order."""
    names: dict[str, None] = {}

    def chain(c: n.Chain | None) -> None:
        if c is None:
            return
        for link in c.links:
            names[link.name] = None  # -> activation: a parameter holding an op
            merge = is_merge(link)
            for arg in link.args or ():
                if not (merge and arg.name is None):
                    _expr_names(arg.value, names)

    def walk(body: Iterable[n.Stmt]) -> None:
        for s in body:
            match s:
                case n.ConstDef():
                    _expr_names(s.value, names)
                case n.Assign() | n.ChainStmt():
                    chain(s.chain)
                case n.Output():
                    chain(s.chain)
                case n.Repeat():
                    _expr_names(s.count, names)
                    _expr_names(s.over, names)
                    walk(s.body)
                case n.If():
                    _expr_names(s.test, names)
                    walk(s.then)
                    walk(s.orelse)

    walk(stmts)
    return list(names)


@dataclass
class SourceProgram:
    """What the source mirrors: the network body, the blocks, the file constants' values."""

    network: n.NetworkDef
    blocks: dict[str, n.BlockDef]
    consts: dict[str, Any]
    const_defs: list[n.ConstDef]


def source_program(network: Network) -> SourceProgram:
    """The spec's AST as elaboration saw it: the network body, the blocks and the file
    constants' values, all kept in the IR (``G_NETWORK``, ``G_BLOCKS``, ``G_CONSTS``)."""
    g = network.graph.graph
    return SourceProgram(g[G_NETWORK], dict(g[G_BLOCKS]), dict(g[G_CONSTS]), list(g[G_CONST_DEFS]))


def _symbolic_value(spec: AttrSpec, value: Any) -> px.PyExpr:
    """An attribute value while binding symbolically: literals normalised as elaboration does,
    expressions over block parameters kept, defaults (plain values) made literals."""
    if isinstance(value, px.Lit):
        return px.lit(normalise(spec, value.value))
    if isinstance(value, px.PyExpr):
        return value
    return px.lit(value)


def _callable_ops() -> dict[str, Op]:
    """Every name the language accepts as an op (aliases too) -> the op."""
    found: dict[str, Op] = {}
    for name in callable_names():
        op = lookup(name)
        if op is not None:
            found[name] = op
    return found


def _call_arguments(stmts: Iterable[n.Stmt]) -> list[n.Expr]:
    """Every argument expression of every call in the statements, nested bodies included."""
    found: list[n.Expr] = []

    def chain(c: n.Chain | None) -> None:
        for link in c.links if c is not None else ():
            found.extend(arg.value for arg in link.args or ())

    def walk(body: Iterable[n.Stmt]) -> None:
        for s in body:
            match s:
                case n.Assign() | n.ChainStmt() | n.Output():
                    chain(s.chain)
                case n.Repeat():
                    walk(s.body)
                case n.If():
                    walk(s.then)
                    walk(s.orelse)

    walk(stmts)
    return found


def _block_input(var: str, cls: ClassGen, form: Form) -> Tensor:
    """A generated class's ``forward`` input: its channels are the constructor's first
    argument, its spatial sizes unknown (one class serves every size)."""
    rank, last = form
    return Tensor(var, px.Var(cls.in_var), rank, None, last)
