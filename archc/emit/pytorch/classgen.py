"""One generated class (a block definition, a repeat body, or the network)."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from archc import nodes as n
from archc.binding import (
    bind_block_args,
    bind_targets,
    is_merge,
    merge_inputs,
    no_input_error,
    plan_chain,
    repeat_is_one_call,
    resolve_callee,
    split_args,
)
from archc.emit import pyexpr as px
from archc.emit.codegen import (
    Call,
    Namespace,
    Writer,
)
from archc.emit.pytorch.frames import Built, Child, Container, Frame
from archc.emit.pytorch.names import (
    BLOCK_INPUT,
    BLOCK_OUTPUT,
    CODE_NAMES,
    LOCAL_RESERVED,
    MODULE_ATTRIBUTES,
)
from archc.emit.pytorch.statements import Do, For, If, Store, render_statements
from archc.emit.pytorch.table import TORCH_OPS, Form, OpContext, Tensor
from archc.errors import EmitError
from archc.evaluate import Callee
from archc.ir import G_INPUTS
from archc.naming import ScopeNames
from archc.ops import Op, lookup
from archc.source import Span

if TYPE_CHECKING:  # pragma: no cover
    from archc.emit.pytorch.emitter import Emitter


class ClassGen:
    """Generates one class: a block definition, a repeat body, or the network.

    Walking the body fills two statement lists (``__init__`` and ``forward``) and the container
    map :attr:`ctx`; :meth:`render` writes them.  ``__init__`` code reads Python variables for
    the parameters; ``forward`` reads ``self.<value>`` for the few values an ``if`` needs.
    """

    def __init__(self, em: Emitter, name: str, doc: str) -> None:
        self.em = em
        self.name = name
        self.doc = doc
        self.attrs = Namespace(MODULE_ATTRIBUTES)
        self.locals = Namespace(LOCAL_RESERVED | em.module_names)
        self.fwd = Namespace(LOCAL_RESERVED)
        self.ctx = Container()
        self.names = ScopeNames()  # elaboration's naming rule, within this class
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
        self.in_form: Form = (3, False)
        self.out: Tensor | None = None
        self.expose_out = False
        self.out_attr = ""
        self.unnamed = "x"
        self.branch_depth = 0
        #: network-level tensor name -> IR node, for sizes a block's output does not carry
        #: (the network class only, with its constants fixed)
        self.known_sizes: dict[str, str] = {}

    # ------------------------------------------------------------------ code and names
    def code(self, e: px.PyExpr) -> str:
        self.init_reads.update(px.free_vars(e))
        if px.uses_math(e):
            self.em.imports.add("math")
        self.em.used_functions |= px.calls(e) & set(self.em.functions)
        return px.render(e)

    def env(self, frame: Frame) -> ChainMap[str, Any]:
        """What an expression sees: the frame's values, then its tensors (``in.channels``),
        then the ops and blocks, which are values too (``activation=hardswish``)."""
        refs = {
            name: px.TensorRef(name, t.size, t.rank, t.spatial, t.last)
            for name, t in frame.tensors.items()
        }
        return ChainMap(frame.values, refs, self.em.callees)

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
        self._init_at.append(Do(value, target, pure))

    def do_fwd(self, value: str | Call, target: str | None = None, pure: bool = False) -> None:
        self._fwd_at.append(Do(value, target, pure))

    def claim(self, prefix: str, local: str, span: Span, auto: bool = False) -> str:
        """Elaboration's naming rule (``conv``, ``conv_2``), within this class."""
        return self.names.claim(prefix, local, span, auto)

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
    def body(self, stmts: Iterable[n.Stmt], frame: Frame) -> None:
        for stmt in stmts:
            self.stmt(stmt, frame)

    def stmt(self, stmt: n.Stmt, frame: Frame) -> None:
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
            case n.Assert() | n.Require():
                pass  # budgets are for archc check; requirements held when the IR was built
            case _:  # pragma: no cover
                raise EmitError(f"unexpected statement {type(stmt).__name__}", stmt.span)

    def with_known_sizes(self, tensor: Tensor, name: str, frame: Frame) -> Tensor:
        """``tensor`` with the analysed spatial sizes, where the network class knows them and
        the chain that made it did not say them (a block's output)."""
        node = self.known_sizes.get(name)
        if tensor.spatial is not None or node is None or frame.prefix or self.branch_depth:
            return tensor
        shape = self.em.net.shape(node)
        if len(shape) != tensor.rank or len(shape) < 2:
            return tensor
        rest = shape[:-1] if tensor.last else shape[1:]
        return replace(tensor, spatial=tuple(px.lit(v) for v in rest))

    def const(self, stmt: n.ConstDef, frame: Frame) -> None:
        value = px.from_ast(stmt.value, self.env(frame))
        if not isinstance(value, px.Lit) or self.branch_depth:
            local = self.locals.name(("value", stmt.name), stmt.name)
            self.do_init(self.code(value), local, pure=True)
            self._init_at.append(Store(local))
            value = px.Var(local, value)
        frame.values[stmt.name] = value

    def input(self, stmt: n.InputDecl, frame: Frame) -> None:
        node = self.em.net.graph.graph[G_INPUTS][stmt.name]
        self.claim(frame.prefix, stmt.name, stmt.span)
        shape = self.em.net.shape(node)
        var = self.tensor_var(stmt.name)
        self.fwd_params.append(var)
        spatial = tuple(px.lit(v) for v in shape[1:]) if len(shape) > 1 else None
        tensor = Tensor(var, px.lit(shape[0]), len(shape), spatial)
        frame.tensors[stmt.name] = tensor
        frame.current = tensor

    def lookup(self, name: str, frame: Frame, span: Span) -> Tensor:
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

    def define(self, frame: Frame, name: str, chain: n.Chain) -> Tensor:
        out = self.chain(chain, name, frame)
        var = self.tensor_var(name)
        if out.var != var:
            self.do_fwd(self.read(out), var, pure=True)
        tensor = self.with_known_sizes(replace(out, var=var), name, frame)
        frame.tensors[name] = tensor
        frame.current = tensor
        return tensor

    # ------------------------------------------------------------------ chains
    def is_tensor_link(self, link: n.Link, frame: Frame) -> bool:
        """Elaboration's rule: a bare name that is a tensor starts a chain from that tensor."""
        if link.args is not None:
            return False
        if link.name in frame.tensors:
            return True
        return (
            frame.closed and lookup(link.name) is None and link.name not in self.em.program_blocks
        )

    def resolved(self, chain: n.Chain, frame: Frame) -> n.Chain:
        """``chain`` with links that name an op or block passed as a value (``-> activation``)
        calling it directly."""

        def value_of(name: str) -> Any:
            found = frame.values.get(name)
            return found.value if isinstance(found, px.Lit) else None

        links = tuple(resolve_callee(link, value_of) for link in chain.links)
        return n.Chain(links, chain.span) if links != chain.links else chain

    def chain(self, chain: n.Chain, assign: str | None, frame: Frame) -> Tensor:
        chain = self.resolved(chain, frame)
        plan = plan_chain(chain, assign, lambda link: self.is_tensor_link(link, frame))
        links = list(plan.links)
        first = chain.links[0]
        sources: list[Tensor] | None = None
        if plan.start == "tensor":
            sources = [self.lookup(first.name, frame, first.span)]
            if not links:
                return sources[0]
        elif plan.start == "current":
            if frame.current is None:
                raise no_input_error(first)
            sources = [frame.current]
        elif plan.start == "source":
            sources = []
        if assign is not None and plan.scope:
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
            var = self.tensor_var(assign) if assign is not None else self.unnamed_var()
            attr = "" if self.em.is_inline(link) else self.attr(raw)
            b = self.build(link, frame, sources, f"self.{attr}" if attr else None)
            if b.expr is not None:  # written inline in forward: a merge, a literal slice
                for tensor in b.inputs:
                    self.read(tensor)
                self.do_fwd(b.expr, var, pure=True)
            else:
                attr = attr or self.attr(raw)
                assert b.call is not None
                self.ctx.add(raw, Child(attr, b.ctx, b.ctx is None))
                self.do_init(b.call, f"self.{attr}")
                args = tuple(self.read(t) for t in b.inputs) or (self.batch_ref(link.span),)
                self.do_fwd(Call(f"self.{attr}", args), var)
            out = replace(b.out, var=var)
            sources = [out]
        assert out is not None
        return out

    def chain_scope(
        self,
        links: list[n.Link],
        assign: str,
        frame: Frame,
        sources: list[Tensor] | None,
        span: Span,
    ) -> Tensor:
        """``t = a -> b -> c``: a :class:`Chain` at ``self.t`` with the layers inside it."""
        self.claim(frame.prefix, assign, span)
        attr = self.attr(assign)
        ctx, call, heads, out, head = self.chain_module(
            links, f"{frame.prefix}{assign}.", frame, sources, f"self.{attr}"
        )
        var = self.tensor_var(assign)
        if call is None:  # the chain is one inline op, named with 'as'
            assert head is not None
            self.do_fwd(head, var, pure=True)
            return replace(out, var=var)
        self.ctx.add(assign, Child(attr, ctx))
        self.do_init(call, f"self.{attr}")
        args = (head,) if head is not None else tuple(self.read(t) for t in heads)
        self.do_fwd(Call(f"self.{attr}", args or (self.batch_ref(span),)), var)
        return replace(out, var=var)

    def batch_ref(self, span: Span) -> str:
        """What a module that reads no tensor (a ``param``) is called with, for the batch
        size: the class's first ``forward`` argument (the block's input, the network's first)."""
        if not self.fwd_params:
            raise EmitError("a learned tensor needs an input declared before it", span)
        return self.fwd_params[0]

    def chain_module(
        self,
        links: Iterable[n.Link],
        prefix: str,
        frame: Frame,
        sources: list[Tensor] | None,
        ref: str | None,
    ) -> tuple[Container, Call | None, list[Tensor], Tensor, str | Call | None]:
        """The :class:`Chain` holding ``links``, the tensors it is called with, its output, and
        (when the chain starts with an inline op such as a residual add) the expression it is
        called with instead; the Call is None when no link needs a module."""
        ctx = Container()
        names = Namespace(MODULE_ATTRIBUTES | CODE_NAMES)
        kwargs: list[tuple[str, str | Call]] = []
        heads: list[Tensor] = []
        head: str | Call | None = None
        out: Tensor | None = None
        for link in links:
            raw = self.link_name(link, link.alias or "", prefix)
            # a sibling is not reachable while the Chain(...) expression is evaluated
            b = self.build(link, frame, sources, None)
            if b.expr is not None and not kwargs and head is None:
                head = b.expr  # an inline op starting the chain: the Chain is called on it
                for tensor in b.inputs:
                    self.read(tensor)
            else:
                assert b.call is not None, "an op written only inline cannot follow a layer"
                child = names.name(raw)
                ctx.add(raw, Child(child, b.ctx, b.ctx is None))
                kwargs.append((child, b.call))
            heads = heads or b.inputs
            out = b.out
            sources = [out]
        assert out is not None
        if not kwargs:
            return ctx, None, heads, out, head
        self.em.helpers.add("Chain")
        return ctx, Call("Chain", (), tuple(kwargs)), heads, out, head

    def build(
        self,
        link: n.Link,
        frame: Frame,
        sources: list[Tensor] | None,
        ref: str | None,
    ) -> Built:
        """The module for one link.  ``ref`` is how ``__init__`` can reach it once built."""
        op = lookup(link.name)
        if op is not None and not op.internal:
            return self.layer(link, op, frame, sources)
        block = self.em.program_blocks[link.name]
        assert sources is not None
        return self.instance(link, block, frame, sources[0], ref)

    def layer(self, link: n.Link, op: Op, frame: Frame, sources: list[Tensor] | None) -> Built:
        if op.is_merge:
            tensor_args, attr_link = merge_inputs(op, link)
            inputs = [self.lookup(name, frame, a.span) for name, a in tensor_args]
            link_for_attrs = attr_link
        else:
            assert sources is not None
            inputs = list(sources)
            link_for_attrs = link
        attrs, concrete = self.em.bind(op, link_for_attrs, self.env(frame))
        rule = TORCH_OPS[op.name]
        ctx = OpContext(self, link, op.is_inplace and self.em.inplace_ok(link))
        out = self.em.output(op, attrs, concrete, inputs, ctx)
        if rule.helper and rule.inline is None:
            self.em.helpers.add(rule.helper)
        expr = None
        if rule.inline is not None:
            expr = rule.inline(attrs, [t.var for t in inputs], ctx)
        call = rule.module(attrs, inputs, ctx) if rule.module is not None else None
        if call is not None and rule.helper:
            self.em.helpers.add(rule.helper)
        return Built(call, inputs, out, None, expr)

    def instance(
        self,
        link: n.Link,
        block: n.BlockDef,
        frame: Frame,
        source: Tensor,
        ref: str | None,
    ) -> Built:
        env = self.env(frame)
        positional, named = split_args(link.args or (), lambda e: px.from_ast(e, env))
        # an op or block passed as a value is built into the class: one class per choice
        given = {p.name: v for p, (v, _) in zip(block.params, positional, strict=False)}
        given.update({k: v for k, (v, _) in named.items()})
        fixed = {k: v for k, v in given.items() if _is_callee(v)}
        for p in block.params:  # a default that names an op or block (activation = relu)
            if p.name not in given and isinstance(p.default, n.Name):
                found = ChainMap(self.em.globals, self.em.callees).get(p.default.name)
                if found is not None and _is_callee(found):
                    fixed[p.name] = found
        cls = self.em.block_class(block, source.form, link.span, fixed)
        var_of = {spec: var for spec, var, _ in cls.param_vars}
        default_of = {spec: default for spec, _, default in cls.param_vars}
        mapping: dict[str, px.PyExpr] = {cls.in_var: source.size}

        def default(p: n.Param, known: dict[str, px.PyExpr]) -> px.PyExpr:
            if p.name in fixed:
                return fixed[p.name]
            mapping.update({var_of[s]: v for s, v in known.items() if s in var_of})
            found = default_of[p.name]
            assert found is not None  # a parameter without a default is required
            return px.substitute(found, mapping)

        bound = bind_block_args(block, link, positional, named, default)
        mapping.update({var_of[s]: v for s, v in bound.items() if s in var_of})
        # positionally up to the first built-in choice, then by name
        args: list[str | Call] = [self.code(source.size)]
        kwargs: list[tuple[str, str | Call]] = []
        by_name = False
        for p, (v, _) in zip(block.params, positional, strict=False):
            if p.name in fixed:
                by_name = True
            elif by_name:
                kwargs.append((var_of[p.name], self.code(v)))
            else:
                args.append(self.code(v))
        kwargs += [
            (var, self.code(named[spec][0])) for spec, var, _ in cls.param_vars if spec in named
        ]
        call = Call(cls.name, tuple(args), tuple(kwargs))
        return Built(call, [source], cls.seen_from(mapping, ref, link.span), cls.ctx)

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
                spatial = tuple(px.substitute(v, mapping, strict=True) for v in self.out.spatial)
            except px.Unresolved:
                spatial = None
        return Tensor("", size, self.out.rank, spatial, self.out.last)

    # ------------------------------------------------------------------ repeat
    def repeat(self, stmt: n.Repeat, frame: Frame) -> None:
        env = self.env(frame)
        count = px.from_ast(stmt.count, env)
        rows = px.from_ast(stmt.over, env) if stmt.over is not None else None
        self.claim(frame.prefix, stmt.name, stmt.span)
        source = frame.current
        if source is None:
            raise EmitError("the repeat has no input", stmt.span)
        if count == px.Lit(0):  # repeat 0: the input passes through, no module
            var = self.tensor_var(stmt.name)
            self.do_fwd(self.read(source), var, pure=True)
            frame.tensors[stmt.name] = frame.current = replace(source, var=var)
            return
        attr = self.attr(stmt.name)
        if repeat_is_one_call(stmt):
            first = _iteration_links(stmt)[0]
            if (
                is_merge(first)
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
        iteration_ctx: Container | None = None
        per_iteration: dict[str, Child] = {}
        if isinstance(count, px.Lit):
            items: list[str | Call] = []
            x = source
            for i in range(count.value):
                values = frame.values.new_child({stmt.index: px.lit(i)} if stmt.index else {})
                if rows is not None:
                    row = px.EXPR_ARITHMETIC.items(rows)
                    assert row is not None  # its length is the count, which is known
                    bind_targets(stmt, row[i], values.maps[0], px.EXPR_ARITHMETIC.items)
                call, x, iteration_ctx = self.iteration(stmt, values, x, None)
                per_iteration[str(i)] = Child("", iteration_ctx, iteration_ctx is None)
                items.append(call)
            self.do_init(Call("nn.Sequential", tuple(items)), f"self.{attr}")
            out = replace(x, var="")
        else:
            if rows is not None:
                raise EmitError(
                    "this for loop walks a tuple known only when the block is built, which "
                    "generated code cannot unroll",
                    stmt.span,
                    ["pass the rows as the network's constants rather than a block parameter"],
                )
            layers = self.locals.name(("layers", stmt.name), "layers")
            carried = self.locals.name(("channels", stmt.name), "channels")
            index = self.locals.name(("index", stmt.name), stmt.index or "_")
            self.do_init("[]", layers, pure=True)
            self.do_init(self.code(source.size), carried, pure=True)
            loop = For(index, self.code(count), [])
            self._init_at.append(loop)
            outer, self._init_at = self._init_at, loop.body
            values = frame.values.new_child({stmt.index: px.Var(index)} if stmt.index else {})
            x_in = Tensor(source.var, px.Var(carried), source.rank, None, source.last)
            call, x, iteration_ctx = self.iteration(stmt, values, x_in, f"{layers}[-1]")
            self.do_init(Call(f"{layers}.append", (call,)))
            self.init_reads.add(layers)
            if x.form != source.form:
                raise EmitError(
                    "each iteration of a repeat must keep its input's rank and layout", stmt.span
                )
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
            out = Tensor("", size, x.rank, None, x.last)
        item = Child("", iteration_ctx, iteration_ctx is None)
        self.ctx.add(stmt.name, Child(attr, Container(item=item, items=per_iteration)))
        var = self.tensor_var(stmt.name)
        self.do_fwd(Call(f"self.{attr}", (self.read(source),)), var)
        tensor = self.with_known_sizes(replace(out, var=var), stmt.name, frame)
        frame.tensors[stmt.name] = tensor
        frame.current = tensor

    def iteration(
        self, stmt: n.Repeat, values: ChainMap[str, px.PyExpr], x: Tensor, ref: str | None
    ) -> tuple[Call, Tensor, Container | None]:
        """One iteration's module: the body's one layer or block, a chain, or a body class."""
        # the body sees the previous iteration's output as in
        frame = Frame(values, ChainMap({BLOCK_INPUT: x}), x, "", closed=True)
        if repeat_is_one_call(stmt):
            # the body starts with a layer or block (checked by repeat()), never an inline merge
            # a link naming a row's op (for (c, act) in ROWS { conv(c, 3) -> act }) calls it
            links = self.resolved(n.Chain(_iteration_links(stmt), stmt.span), frame).links
            if len(links) == 1 and links[0].alias is None:
                b = self.build(links[0], frame, [x], ref)
                assert b.call is not None
                return b.call, b.out, b.ctx
            prefix = f"{stmt.name}.#."
            self.names.forget(prefix)  # every iteration names its layers afresh
            ctx, call, _, out, _ = self.chain_module(links, prefix, frame, [x], None)
            assert call is not None
            return call, out, ctx
        body = self.em.body_class(stmt, self, values, x.form)
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
    def branch(self, stmt: n.If, frame: Frame) -> None:
        test = px.from_ast(stmt.test, self.env(frame))
        if isinstance(test, px.Lit):
            self.body(stmt.then if test.value else stmt.orelse, frame)
            return
        self.init_reads.update(px.free_vars(test))
        before = self.names
        init_if, fwd_if = If(test, [], []), If(test, [], [])
        results = []
        self.branch_depth += 1
        for stmts, init_at, fwd_at in (
            (stmt.then, init_if.then, fwd_if.then),
            (stmt.orelse, init_if.orelse, fwd_if.orelse),
        ):
            self.names = before.fork()
            sub = Frame(
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
            results.append((sub, self.names, fwd_at))
        self.branch_depth -= 1
        (a, used_a, fwd_a), (b, used_b, fwd_b) = results
        self.names = ScopeNames.join(used_a, used_b)
        self._init_at.append(init_if)
        self._fwd_at.append(fwd_if)
        for name in dict.fromkeys([*a.values.maps[0], *b.values.maps[0]]):
            va, vb = a.values.maps[0].get(name), b.values.maps[0].get(name)
            if va is None or vb is None or va == vb:
                frame.values[name] = va if va is not None else vb  # type: ignore[assignment]
            else:
                local = self.locals.name(("value", name), name)
                frame.values[name] = px.Var(
                    local, px.ifelse(test, definition_of(va), definition_of(vb))
                )
        for name in dict.fromkeys([*a.tensors.maps[0], *b.tensors.maps[0]]):
            ta, tb = a.tensors.maps[0].get(name), b.tensors.maps[0].get(name)
            if name == BLOCK_OUTPUT and (ta is None) != (tb is None):
                # a block's output set on one path only: on the other it is that path's last
                # tensor, as elaboration has it, so both paths assign the same variable
                var = self.tensor_var(name)
                for side, (tensor, cur, at) in enumerate(
                    ((ta, a.current, fwd_a), (tb, b.current, fwd_b))
                ):
                    if tensor is None and cur is not None:
                        self.fwd_reads.add(cur.var)
                        at.append(Do(cur.var, var, pure=True))
                        if side == 0:
                            ta = replace(cur, var=var)
                        else:
                            tb = replace(cur, var=var)
            frame.tensors[name] = join_tensors(test, ta, tb, stmt.span)
        ca, cb = a.current, b.current
        if ca is None or cb is None or ca.var == cb.var:
            frame.current = join_tensors(test, ca, cb, stmt.span) if ca and cb else (ca or cb)
        else:
            var = self.unnamed_var()
            for cur, at in ((ca, fwd_a), (cb, fwd_b)):
                if cur.var != var:
                    self.fwd_reads.add(cur.var)
                    at.append(Do(cur.var, var, pure=True))
            frame.current = join_tensors(
                test, replace(ca, var=var), replace(cb, var=var), stmt.span
            )

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
        render_statements(self.forward, fwd, self.fwd_reads, forward_test, {})
        if self.returns:
            fwd.line(f"return {', '.join(self.returns)}")
        self.init_reads.update(needed)
        init = Writer(level=w.level + 2)
        init.line("super().__init__()")
        out_line = ""
        if self.expose_out:
            assert self.out is not None
            out_line = f"self.{self.out_attr_name()} = {self.code(self.out.size)}"
        render_statements(self.init, init, self.init_reads, None, needed)
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


def definition_of(e: px.PyExpr) -> px.PyExpr:
    return e.definition if isinstance(e, px.Var) and e.definition is not None else e


def join_tensors(test: px.PyExpr, a: Tensor | None, b: Tensor | None, span: Span) -> Tensor:
    if a is None or b is None:
        found = a or b
        assert found is not None
        return found
    if a.form != b.form:
        raise EmitError("the branches of this if give tensors of different ranks or layouts", span)
    spatial = a.spatial if a.spatial == b.spatial else None
    return Tensor(a.var, px.ifelse(test, a.size, b.size), a.rank, spatial, a.last)


def _iteration_links(stmt: n.Repeat) -> tuple[n.Link, ...]:
    """The links of a one-call repeat body, without a leading ``in``: the iteration's input is
    what the body starts from anyway."""
    links = cast(n.ChainStmt, stmt.body[0]).chain.links
    first = links[0]
    if first.name == BLOCK_INPUT and first.args is None and first.alias is None and links[1:]:
        return links[1:]
    return links


def _is_callee(value: px.PyExpr) -> bool:
    return isinstance(value, px.Lit) and isinstance(value.value, Callee)
