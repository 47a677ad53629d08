"""AST -> graph IR: evaluate constants, instantiate blocks, unroll repeats, name every layer.

Elaboration walks the network body once, statement by statement, keeping a *frame* per body
(values in scope, tensors in scope, the current tensor, the scope path).  Each op call becomes a
:class:`~archc.ir.Layer` whose attributes are already bound and validated against the op's schema;
each block call recurses into the block's body under a new scope.  Layers are added in the order
they are produced, which is a topological order, so the passes never need to sort.
"""

from __future__ import annotations

import time
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import networkx as nx

from archc import nodes as n
from archc.binding import (
    bind_block_args,
    bind_op_args,
    bind_targets,
    merge_inputs,
    no_input_error,
    plan_chain,
    repeat_is_one_call,
    resolve_callee,
    split_args,
)
from archc.errors import (
    SpecArgumentError,
    SpecNameError,
    SpecShapeError,
    SpecValueError,
    did_you_mean,
)
from archc.evaluate import Callee, TensorValue, evaluate, type_name
from archc.ir import (
    G_ASSERTS,
    G_BLOCKS,
    G_CONST_DEFS,
    G_CONSTS,
    G_INPUTS,
    G_NETWORK,
    G_OUTPUTS,
    G_SCOPES,
    G_TENSORS,
    Assertion,
    Layer,
    Scope,
    add_layers,
    new_graph,
)
from archc.limits import current as current_limits
from archc.loader import Program
from archc.naming import ScopeNames
from archc.ops import REGISTRY, callable_names, lookup
from archc.ops.attrs import show_value
from archc.passes.shapes import layer_shape
from archc.source import Span

BLOCK_INPUT = "in"
BLOCK_OUTPUT = "out"


@dataclass
class _Tensor:
    node: str
    label: str  # how the spec refers to it, for messages


@dataclass
class _Frame:
    """What one body (network, block instance, repeat iteration) can see while it is elaborated."""

    values: ChainMap[str, Any]
    tensors: ChainMap[str, _Tensor]
    prefix: str  # scope path prefix, "" or "inception_3a."
    current: _Tensor | None
    in_block: bool
    block_stack: tuple[str, ...] = ()

    def child(self, prefix: str, **changes: Any) -> _Frame:
        frame = _Frame(
            values=self.values.new_child(),
            tensors=self.tensors.new_child(),
            prefix=prefix,
            current=self.current,
            in_block=self.in_block,
            block_stack=self.block_stack,
        )
        for key, value in changes.items():
            setattr(frame, key, value)
        return frame


#: the largest per-sample rank an input may have: C×D×H×W (a batch axis comes on top)
MAX_INPUT_RANK = 4


class _Env(Mapping[str, Any]):
    """What an expression sees: the frame's values, then its tensors as
    :class:`~archc.evaluate.TensorValue` (``in.channels``), whose shapes are worked out only when
    asked."""

    def __init__(self, values: Mapping[str, Any], tensors: Mapping[str, _Tensor], el: Elaborator):
        self.scope_values = values
        self.tensors = tensors
        self.el = el

    def __getitem__(self, key: str) -> Any:
        try:
            return self.scope_values[key]
        except KeyError:
            pass
        if key in self.tensors:
            tensor = self.tensors[key]
            return TensorValue(tensor.label, lambda: self.el.shape_of(tensor.node))
        # an op or block named as a value: activation=hardswish
        op = lookup(key)
        if op is not None and not op.internal:
            return Callee(op.name, "op")
        if key in self.el.program.blocks:
            return Callee(key, "block")
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if key in self.scope_values or key in self.tensors:
            return True
        if not isinstance(key, str):
            return False
        op = lookup(key)
        return (op is not None and not op.internal) or key in self.el.program.blocks

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.scope_values, *self.tensors]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*self.scope_values, *self.tensors]))


class Elaborator:
    """Builds the graph for one :class:`~archc.loader.Program`."""

    def __init__(
        self,
        program: Program,
        inputs: Mapping[str, tuple[int, ...]] | None = None,
        consts: Mapping[str, Any] | None = None,
    ):
        self.program = program
        self.overrides = dict(inputs or {})
        self.const_overrides = dict(consts or {})
        net = program.network
        self.g: nx.DiGraph = new_graph(net.name, program.files[0], net.span)
        self.g.graph[G_BLOCKS] = dict(program.blocks)
        self.layers: list[Layer] = []  # added to the graph in one go at the end
        self.names = ScopeNames()  # every layer and scope name, per scope prefix
        self._shapes: dict[str, tuple[int, ...]] = {}  # worked out on demand (in.channels)
        self._shaped = 0  # layers whose shape is in _shapes
        self.limits = current_limits()
        self._depth = 0  # nested bodies being elaborated (if, repeat, block calls)
        self._deadline = time.monotonic() + self.limits.elaboration_seconds
        self._ticks = 0  # layers made and repeat iterations run, for the time check

    def shape_of(self, node: str) -> tuple[int, ...]:
        """The output shape of a layer built so far (for ``in.channels`` and the like)."""
        shapes = self._shapes
        if node not in shapes:
            for layer in self.layers[self._shaped :]:
                ins = [shapes[src] for src in layer.inputs]
                shapes[layer.name] = layer_shape(layer, ins, self._span_of)
            self._shaped = len(self.layers)
        return shapes[node]

    def _span_of(self, node: str) -> Span:
        """Where a layer built so far is written (only asked for an error's notes)."""
        return next(layer.span for layer in self.layers if layer.name == node)

    def _env(self, frame: _Frame) -> _Env:
        return _Env(frame.values, frame.tensors, self)

    # ------------------------------------------------------------------ entry point
    def run(self) -> nx.DiGraph:
        globals_: dict[str, Any] = {}
        if self.const_overrides:
            _check_const_names(self.program, self.const_overrides)
        for const in self.program.consts:
            # a constant may name ops and blocks (a stage table's activation column)
            value = evaluate(const.value, _Env(globals_, {}, self))
            if const.name in self.const_overrides:
                value = _override(const, value, self.const_overrides[const.name])
            globals_[const.name] = value
        self.g.graph[G_NETWORK] = self.program.network
        self.g.graph[G_CONSTS] = dict(globals_)
        self.g.graph[G_CONST_DEFS] = list(self.program.consts)
        frame = _Frame(
            values=ChainMap({}, globals_),
            tensors=ChainMap(),
            prefix="",
            current=None,
            in_block=False,
        )
        self._body(self.program.network.body, frame)
        self.g.graph[G_TENSORS] = {name: t.node for name, t in frame.tensors.items()}
        add_layers(self.g, self.layers)
        net = self.program.network
        if not self.g.graph[G_INPUTS]:
            raise SpecNameError(
                f"network '{net.name}' declares no input",
                net.span,
                ["declare one: input image: 3x224x224"],
            )
        unknown = sorted(set(self.overrides) - set(self.g.graph[G_INPUTS]))
        if unknown:
            raise SpecNameError(
                f"--input names '{unknown[0]}', which is not an input of '{net.name}'",
                net.span,
                [did_you_mean(unknown[0], self.g.graph[G_INPUTS])],
            )
        if not self.g.graph[G_OUTPUTS]:
            raise SpecNameError(
                f"network '{net.name}' declares no output",
                net.span,
                ["mark one: output logits = linear(1000), or output NAME for a tensor"],
            )
        return self.g

    # ------------------------------------------------------------------ statements
    def _body(self, stmts: tuple[n.Stmt, ...], frame: _Frame) -> None:
        if self._depth >= self.limits.nesting and stmts:
            raise SpecValueError(
                f"nested too deeply: more than {self.limits.nesting} levels of if, repeat and "
                "block calls",
                stmts[0].span,
                [self.limits.hint("nesting")],
            )
        self._depth += 1
        for stmt in stmts:
            self._stmt(stmt, frame)
        self._depth -= 1

    def _stmt(self, stmt: n.Stmt, frame: _Frame) -> None:
        match stmt:
            case n.InputDecl():
                self._input(stmt, frame)
            case n.ConstDef():
                if stmt.name in frame.values.maps[0]:
                    raise SpecNameError(f"'{stmt.name}' is already defined here", stmt.span)
                frame.values[stmt.name] = evaluate(stmt.value, self._env(frame))
            case n.Assign():
                self._define(frame, stmt.name, stmt.chain, stmt.span)
            case n.ChainStmt():
                frame.current = self._chain(stmt.chain, None, frame)
            case n.Output():
                self._output(stmt, frame)
            case n.Repeat():
                self._repeat(stmt, frame)
            case n.If():
                test = evaluate(stmt.test, self._env(frame))
                self._body(stmt.then if test else stmt.orelse, frame)
            case n.Require():
                if not evaluate(stmt.test, self._env(frame)):
                    raise SpecValueError(stmt.message, stmt.span)
            case n.Assert():
                if len(self.g.graph[G_ASSERTS]) >= self.limits.layers:
                    raise SpecValueError(
                        f"the network has more than {self.limits.layers:,} asserts",
                        stmt.span,
                        [self.limits.hint("layers")],
                    )
                self.g.graph[G_ASSERTS].append(
                    Assertion(
                        stmt.test, stmt.message, stmt.span, frame.prefix.rstrip("."), frame.values
                    )
                )
            case _:  # pragma: no cover - the parser makes no other statements
                raise SpecValueError(f"unexpected statement {type(stmt).__name__}", stmt.span)

    def _define(self, frame: _Frame, name: str, chain: n.Chain, span: Span) -> _Tensor:
        if name == BLOCK_INPUT and frame.in_block:
            raise SpecNameError(
                f"'{BLOCK_INPUT}' is the block's input and cannot be assigned", span
            )
        self._check_tensor_name(name, span)
        out = self._chain(chain, name, frame)
        tensor = _Tensor(out.node, name)
        frame.tensors[name] = tensor
        frame.current = tensor
        return tensor

    def _input(self, stmt: n.InputDecl, frame: _Frame) -> None:
        if frame.in_block or frame.prefix:
            raise SpecNameError("inputs are declared at network level, not in a block", stmt.span)
        if stmt.name in self.overrides:
            shape = tuple(self.overrides[stmt.name])
        else:
            value = evaluate(stmt.shape, frame.values)
            shape = value if isinstance(value, tuple) else (value,)
        if not (1 <= len(shape) <= MAX_INPUT_RANK and all(_is_count(d) for d in shape)):
            raise SpecArgumentError(
                "input shape must be C×H×W (F, C×L or C×D×H×W for other data) of whole numbers "
                f">= 1, got {shape!r}",
                stmt.shape.span,
                ["for example: input image: 3x224x224, input clip: 3x16x112x112"],
            )
        self._check_tensor_name(stmt.name, stmt.span)
        name = self._claim(frame, stmt.name, stmt.span)
        self.layers.append(Layer(name, "input", {"shape": tuple(shape)}, (), (), stmt.span, stmt))
        self.g.graph[G_INPUTS][stmt.name] = name
        tensor = _Tensor(name, stmt.name)
        frame.tensors[stmt.name] = tensor
        frame.current = tensor

    def _output(self, stmt: n.Output, frame: _Frame) -> None:
        if frame.in_block or frame.prefix:
            raise SpecNameError("outputs are declared at network level, not in a block", stmt.span)
        if stmt.name in self.g.graph[G_OUTPUTS]:
            raise SpecNameError(f"output '{stmt.name}' is declared twice", stmt.span)
        if stmt.chain is not None:
            tensor = self._define(frame, stmt.name, stmt.chain, stmt.span)
        else:
            tensor = self._tensor(stmt.name, frame, stmt.span)
        self.g.graph[G_OUTPUTS][stmt.name] = tensor.node

    def _repeat(self, stmt: n.Repeat, frame: _Frame) -> None:
        env = self._env(frame)
        count = evaluate(stmt.count, env)
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 0):
            raise SpecValueError(
                f"repeat count must be a whole number >= 0, got {count!r}", stmt.count.span
            )
        rows = evaluate(stmt.over, env) if stmt.over is not None else None
        if count > self.limits.repeat:
            raise SpecValueError(
                f"repeat count {count:,} is above the limit of {self.limits.repeat:,}",
                stmt.count.span,
                [self.limits.hint("repeat")],
            )
        self._check_tensor_name(stmt.name, stmt.span)
        path = self._claim(frame, stmt.name, stmt.span)
        if count:  # repeat 0 passes its input through: no layers, no scope
            self.g.graph[G_SCOPES][path] = Scope(path, "repeat", stmt.span)
        current = frame.current
        if current is None:
            raise SpecNameError(
                f"'{stmt.name}' has no input: nothing comes before the {stmt.keyword}",
                stmt.span,
                ["a repeat (or for) takes the tensor before it, and each iteration the last"],
            )
        for i in range(count):
            self._tick(stmt.span)
            inner = frame.child(path + ".", current=current)
            # the body sees the previous iteration's output (the repeat's input at first) as in
            assert current is not None  # checked above; each iteration leaves a tensor
            inner.tensors[BLOCK_INPUT] = _Tensor(current.node, current.label)
            if stmt.index:
                inner.values[stmt.index] = i
            if rows is not None:
                bind_targets(stmt, rows[i], inner.values)
            body = stmt.body
            if repeat_is_one_call(stmt):
                # a body that is a single call is the iteration scope itself: layer1.0.conv1
                current = self._chain(cast(n.ChainStmt, body[0]).chain, str(i), inner)
            else:
                iteration = self._claim(inner, str(i), stmt.span)
                self.g.graph[G_SCOPES][iteration] = Scope(iteration, "iteration", stmt.span)
                body_frame = inner.child(iteration + ".")
                self._body(body, body_frame)
                current = body_frame.current
        if current is None:
            raise SpecValueError("the repeat body produces no tensor", stmt.span)
        tensor = _Tensor(current.node, stmt.name)
        frame.tensors[stmt.name] = tensor
        frame.current = tensor

    # ------------------------------------------------------------------ chains
    def _chain(self, chain: n.Chain, assign: str | None, frame: _Frame) -> _Tensor:
        values = frame.values
        links = tuple(resolve_callee(link, values.get) for link in chain.links)
        chain = n.Chain(links, chain.span) if links != chain.links else chain
        plan = plan_chain(chain, assign, lambda link: link.name in frame.tensors)
        source: _Tensor | None = None
        if plan.start == "tensor":
            source = frame.tensors[chain.links[0].name]
            if not plan.links:
                return source
        elif plan.start == "current":
            source = frame.current
            if source is None:
                raise no_input_error(chain.links[0])
        if assign is not None and not plan.scope:
            names: list[tuple[str, _Frame]] = [(assign, frame)]
        else:
            scope_frame = frame
            if assign is not None:
                path = self._claim(frame, assign, chain.span)
                self.g.graph[G_SCOPES][path] = Scope(path, "chain", chain.span)
                scope_frame = frame.child(path + ".")
            names = [(link.alias or "", scope_frame) for link in plan.links]
        for link, (local, owner) in zip(plan.links, names, strict=True):
            source = self._link(link, local, owner, frame, source)
        assert source is not None
        return source

    def _link(
        self,
        link: n.Link,
        local: str,
        owner: _Frame,
        frame: _Frame,
        source: _Tensor | None,
    ) -> _Tensor:
        """Elaborate one link; ``owner`` is the frame whose scope names it, ``frame`` evaluates."""
        if (
            link.name in frame.tensors
            and link.name not in self.program.blocks
            and not lookup(link.name)
        ):
            raise SpecNameError(
                f"'{link.name}' is a tensor; a tensor can only start a chain",
                link.name_span,
                ["to merge tensors use concat(a, b) or add(a, b)"],
            )
        op = lookup(link.name)
        if op is not None and not op.internal:
            return self._layer(link, op.name, local, owner, frame, source)
        block = self.program.blocks.get(link.name)
        if block is not None:
            assert source is not None
            return self._instantiate(block, link, local, owner, frame, source)
        candidates = callable_names() + list(self.program.blocks) + list(frame.tensors)
        raise SpecNameError(
            f"unknown op, block or tensor '{link.name}'",
            link.name_span,
            [did_you_mean(link.name, candidates) or "archc ops lists the ops"],
        )

    def _args(
        self, link: n.Link, frame: _Frame
    ) -> tuple[list[tuple[Any, n.Arg]], dict[str, tuple[Any, n.Arg]]]:
        env = self._env(frame)
        return split_args(link.args or (), lambda e: evaluate(e, env))

    def _layer(
        self,
        link: n.Link,
        op_name: str,
        local: str,
        owner: _Frame,
        frame: _Frame,
        source: _Tensor | None,
    ) -> _Tensor:
        op = REGISTRY[op_name]
        inputs: list[_Tensor]
        if op.arity == 0:  # a learned tensor: it reads nothing, so it starts a chain
            if source is not None:
                raise SpecArgumentError(
                    f"{op.name} makes a tensor of its own and takes no input",
                    link.name_span,
                    [f"start a statement with it: t = {op.name}(...)"],
                )
            inputs = []
            positional, named = self._args(link, frame)
        elif op.is_merge:
            tensor_args, attr_link = merge_inputs(op, link)
            inputs = [self._tensor(name, frame, a.span) for name, a in tensor_args]
            positional, named = self._args(attr_link, frame)
        else:
            assert source is not None
            inputs = [source]
            positional, named = self._args(link, frame)
        attrs = bind_op_args(op, link, positional, named)
        self._check_size(link.span)
        name = self._claim(owner, local or op.name, link.span, auto=not local)
        self.layers.append(
            Layer(
                name,
                op.name,
                attrs,
                tuple(t.node for t in inputs),
                tuple(t.label for t in inputs),
                link.span,
                link,
            )
        )
        return _Tensor(name, link.alias or local or name)

    def _instantiate(
        self,
        block: n.BlockDef,
        link: n.Link,
        local: str,
        owner: _Frame,
        frame: _Frame,
        source: _Tensor,
    ) -> _Tensor:
        if block.name in frame.block_stack:
            chain = " -> ".join([*frame.block_stack, block.name])
            raise SpecNameError(f"block '{block.name}' calls itself ({chain})", link.name_span)
        positional, named = self._args(link, frame)
        globals_ = frame.values.maps[-1]
        block_in = {BLOCK_INPUT: _Tensor(source.node, source.label)}
        bound = bind_block_args(
            block,
            link,
            positional,
            named,
            # a default sees the parameters before it, the file's constants and the block's input
            lambda p, known: evaluate(
                p.default,  # type: ignore[arg-type]
                _Env(ChainMap(known, globals_), block_in, self),
            ),
        )
        path = self._claim(owner, local or block.name, link.span, auto=not local)
        ordered = tuple(bound.items())
        self.g.graph[G_SCOPES][path] = Scope(path, "block", link.span, block.name, ordered)
        inner = _Frame(
            values=ChainMap({}, dict(bound), globals_),
            tensors=ChainMap({BLOCK_INPUT: _Tensor(source.node, source.label)}),
            prefix=path + ".",
            current=_Tensor(source.node, source.label),
            in_block=True,
            block_stack=(*frame.block_stack, block.name),
        )
        self._body(block.body, inner)
        out = inner.tensors.get(BLOCK_OUTPUT) or inner.current
        assert out is not None
        return _Tensor(out.node, link.alias or local or path)

    def _check_size(self, span: Span) -> None:
        """The layer and elaboration-time limits (archc.limits), checked before each layer."""
        count = len(self.layers)
        if count >= self.limits.layers:
            raise SpecValueError(
                f"the network has more than {self.limits.layers:,} layers",
                span,
                [self.limits.hint("layers")],
            )
        self._tick(span)

    def _tick(self, span: Span) -> None:
        """The elaboration-time limit, checked every 1024 layers or repeat iterations (a repeat
        of repeats that makes no layers must stop too)."""
        self._ticks += 1
        if self._ticks % 1024 == 0 and time.monotonic() > self._deadline:
            raise SpecValueError(
                f"elaboration took longer than {self.limits.elaboration_seconds:g} seconds "
                f"({len(self.layers):,} layers so far)",
                span,
                [self.limits.hint("elaboration_seconds")],
            )

    # ------------------------------------------------------------------ names
    def _check_tensor_name(self, name: str, span: Span) -> None:
        """A tensor may not share a name with an op or block: ``relu`` would be ambiguous."""
        what = "an op" if lookup(name) else "a block" if name in self.program.blocks else None
        if what:
            raise SpecNameError(
                f"'{name}' is {what}, so it cannot also name a tensor",
                span,
                [f"pick another name, e.g. '{name}_out'"],
            )

    def _tensor(self, name: str, frame: _Frame, span: Span) -> _Tensor:
        if name in frame.tensors:
            return frame.tensors[name]
        raise SpecNameError(
            f"unknown tensor '{name}'",
            span,
            [did_you_mean(name, frame.tensors) or "tensors are named with NAME = ..."],
        )

    def _claim(self, frame: _Frame, local: str, span: Span, auto: bool = False) -> str:
        """Reserve a layer or scope name in ``frame``'s scope and return its full path
        (:class:`~archc.naming.ScopeNames`: ``conv``, ``conv_2``; a taken explicit name is an
        error)."""
        return frame.prefix + self.names.claim(frame.prefix, local, span, auto)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_const_names(program: Program, consts: Mapping[str, Any]) -> None:
    declared = [c.name for c in program.consts]
    for name in consts:
        if name not in declared:
            net = program.network
            raise SpecNameError(
                f"--set names '{name}', which is not a file-level constant of '{net.name}'",
                net.span,
                [did_you_mean(name, declared) or f"constants: {', '.join(declared) or 'none'}"],
            )


def _override(const: n.ConstDef, declared: Any, value: Any) -> Any:
    """``--set NAME=VALUE`` for a file-level constant: the value must have the declared type
    (an integer is accepted where a number is declared, and becomes one)."""
    if isinstance(declared, float) and type(value) is int:
        return float(value)
    if type(value) is not type(declared):
        raise SpecValueError(
            f"--set {const.name}={show_value(value)}: '{const.name}' is {type_name(declared)} "
            f"{show_value(declared)} here, not {type_name(value)}",
            const.span,
        )
    return value


def elaborate(
    program: Program,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    consts: Mapping[str, Any] | None = None,
) -> nx.DiGraph:
    """Build the IR graph for ``program``; ``inputs`` overrides declared input shapes and
    ``consts`` the values of file-level constants (``--set``)."""
    return Elaborator(program, inputs, consts).run()


__all__ = ["SpecShapeError", "elaborate", "type_name"]
