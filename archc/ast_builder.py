"""The AST builder: lark rules -> :mod:`archc.nodes`, run inside the parser as each rule is reduced.

Split from :mod:`archc.syntax` (which owns the parser, its newline rules and its error messages):
this module says what each rule *means*: spans from the recorded tokens, numbers and quantities
checked as they are read, binary operators arranged by precedence climbing, and the statements
that stand for several (``a, b = x -> chunk(2)``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lark import Token, Transformer

from archc import nodes as n
from archc.errors import SpecNameError, SpecSyntaxError, SpecValueError
from archc.evaluate import check_number
from archc.limits import current as current_limits
from archc.source import Span
from archc.units import QuantityError, parse_quantity

if TYPE_CHECKING:  # pragma: no cover
    from archc.syntax import _Postlex

_NUMBER = re.compile(
    r"^(?P<num>\d+\.\d*|\.\d+|\d+)(?P<exp>[eE][+-]?\d+)?(?P<dims>(?:[x×]\d+)*)(?P<suffix>[A-Za-z]*)$",
    re.ASCII,
)


def _unique_params(kind: str, name: str, params: list[Any]) -> list[n.Param]:
    """A block's or function's parameters (the grammar's placeholders dropped); a name given
    twice is a located error pointing at both."""
    found = [p for p in params if p is not None]
    seen: dict[str, n.Param] = {}
    for p in found:
        if p.name in seen:
            raise SpecNameError(
                f"{kind} '{name}' has two parameters named '{p.name}'",
                p.span,
                ["each parameter needs its own name"],
                notes=[("first declared here", seen[p.name].span)],
            )
        seen[p.name] = p
    return found


def token_position(tok: Token) -> tuple[int, int]:
    """A token's (line, column); archc's scanner sets both on every token it makes."""
    return tok.line or 1, tok.column or 1


def _token_span(file: str, tok: Token) -> Span:
    line, column = token_position(tok)
    return Span(file, line, column, tok.end_line or line, tok.end_column or column)


class AstBuilder(Transformer[Token, Any]):
    """Lark rules -> :mod:`archc.nodes`, run inside the parser as each rule is reduced.

    A node's span runs from its first token to the last token the parser consumed for it; rules
    that begin with a keyword (``input``, ``const``, ...) start at that keyword.
    """

    def __init__(self, positions: _Postlex) -> None:
        super().__init__()
        self.positions = positions
        self.file = "<spec>"
        # nesting depth of expressions and statement bodies built so far, by id (leaves: absent)
        self.depth: dict[int, int] = {}
        self.limits = current_limits()

    def reset(self, file: str) -> None:
        self.file = file
        self.depth = {}
        self.limits = current_limits()

    def _deep(self, node: Any, children: Any, what: str = "expression") -> Any:
        """Record ``node``'s depth (one more than its deepest child); too deep is an error, so
        no later recursive walk (evaluation, code generation) can exhaust Python's stack."""
        depth = self.depth
        d = 1 + max((depth.get(id(c), 1) for c in children), default=1)
        limit = self.limits.expression_depth if what == "expression" else self.limits.nesting
        if d > limit:
            name = "expression_depth" if what == "expression" else "nesting"
            raise SpecValueError(
                f"{what} nested too deeply: more than {limit} levels",
                node.span,
                [self.limits.hint(name)],
            )
        depth[id(node)] = d
        return node

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _first(children: Any) -> tuple[int, int] | None:
        for child in children:
            if isinstance(child, Token):
                return token_position(child)
            span = getattr(child, "span", None)
            if span is not None:
                return span.line, span.column
            if isinstance(child, tuple):
                found = AstBuilder._first(child)
                if found:
                    return found
        return None

    def _span(self, children: Any, keyword: bool = False) -> Span:
        end = self.positions.last_token()
        first = self._first(children)
        if first is None:
            line, column = token_position(end)
        elif keyword:
            line, column = token_position(self.positions.token_before(*first))
        else:
            line, column = first
        return Span(self.file, line, column, end.end_line or line, end.end_column or column)

    def _tok_span(self, tok: Token) -> Span:
        return _token_span(self.file, tok)

    # ---------------------------------------------------------------- top level
    def _append(self, c: list[Any]) -> list[Any]:
        if len(c) == 1:
            return list(c[0]) if isinstance(c[0], tuple) else [c[0]]
        if isinstance(c[1], tuple):  # a statement that stands for several (split_assign)
            c[0].extend(c[1])
        else:
            c[0].append(c[1])
        return c[0]

    tops = _append
    stmts = _append

    def start(self, c: list[Any]) -> n.Module:
        module = n.Module(self.file)
        for item in c[0] or ():
            if isinstance(item, n.Include):
                module.includes.append(item)
            elif isinstance(item, n.ConstDef):
                module.consts.append(item)
            elif isinstance(item, n.BlockDef):
                module.blocks.append(item)
            elif isinstance(item, n.NetworkDef):
                module.networks.append(item)
        return module

    def include(self, c: list[Any]) -> n.Include:
        return n.Include(c[0][1:-1], self._span(c, keyword=True))

    def const_def(self, c: list[Any]) -> n.ConstDef:
        return n.ConstDef(self._span(c, keyword=True), str(c[0]), c[1])

    def block_def(self, c: list[Any]) -> n.BlockDef:
        name, *params, body = c
        params = _unique_params("block", str(name), params)
        return n.BlockDef(str(name), tuple(params), body, self._span(c, keyword=True), self.file)

    def param(self, c: list[Any]) -> n.Param:
        return n.Param(str(c[0]), c[1], self._span(c))

    def network_def(self, c: list[Any]) -> n.NetworkDef:
        return n.NetworkDef(str(c[0]), c[1], self._span(c, keyword=True))

    def body(self, c: list[Any]) -> tuple[n.Stmt, ...]:
        return tuple(c[0] or ())

    # ---------------------------------------------------------------- statements
    def input_decl(self, c: list[Any]) -> n.InputDecl:
        return n.InputDecl(self._span(c, keyword=True), str(c[0]), c[1])

    def output_stmt(self, c: list[Any]) -> n.Output:
        return n.Output(self._span(c, keyword=True), str(c[0]), c[1])

    def assign(self, c: list[Any]) -> n.Assign:
        return n.Assign(self._span(c), str(c[0]), c[1])

    def split_assign(self, c: list[Any]) -> tuple[n.Stmt, ...]:
        """``a, b = x -> chunk(2)`` / ``a, b = x -> split((58, 58))``: one ``slice`` of ``x``'s
        channels per name, so each name is one layer with one output.  ``chunk(n)`` cuts
        ``x.channels`` into equal parts (it must divide); ``split(sizes)`` into the given ones
        (they must add up: the slice after the last would not fit)."""
        *targets, source, func, args = c
        span = self._span(c)
        names = [str(t) for t in targets]
        how = str(func)
        args = tuple(args or ())
        src = n.Name(self._tok_span(source), str(source))
        if how not in ("chunk", "split") or len(args) != 1 or args[0].name is not None:
            raise SpecSyntaxError(
                f"'{', '.join(names)} = {source} -> ...' takes chunk(n) or split((sizes...)), "
                f"not {how}",
                self._tok_span(func),
                ["left, right = x -> chunk(2)", "a, b, c = x -> split((16, 32, 16))"],
            )
        arg = args[0].value
        at = arg.span
        k = len(names)

        def num(v: int) -> n.Number:
            return n.Number(at, v)

        def add(a: n.Expr, b: n.Expr) -> n.Expr:
            return n.BinOp(at, "+", a, b)

        channels = n.Attr(at, src, "channels")
        checks: list[n.Stmt] = []
        starts: list[n.Expr] = []
        ends: list[n.Expr] = []
        if how == "chunk":
            # torch.chunk: parts of ceil(C / n) channels, the last one what is left
            size = n.Call(at, "ceil", (n.Arg(n.BinOp(at, "/", channels, arg), None, at),))
            # the middle parts end where the next starts; the last ends at the channels (an empty
            # last part, when there are more parts than channels allow, is a slice error)
            ends += [n.BinOp(at, "*", size, num(i + 1)) for i in range(k - 1)] + [channels]
            starts += [num(0), *[n.BinOp(at, "*", size, num(i)) for i in range(1, k)]]
            checks.append(
                n.Require(
                    span,
                    n.Compare(at, "==", arg, num(k)),
                    f"chunk gives its count of parts: {k} names need chunk({k})",
                )
            )
        else:
            start: n.Expr = num(0)
            for i in range(k):
                end = add(start, n.Index(at, arg, num(i)))
                starts.append(start)
                ends.append(end)
                start = end
            checks.append(
                n.Require(
                    span,
                    n.Compare(at, "==", n.Call(at, "len", (n.Arg(arg, None, at),)), num(k)),
                    f"split needs one size per name: {k} sizes for {k} names",
                )
            )
            checks.append(
                n.Require(
                    span,
                    n.Compare(at, "==", start, channels),
                    f"the sizes of split must add up to the channels of '{src.name}'",
                )
            )
        statements: list[n.Stmt] = list(checks)
        for name, lo, hi in zip(names, starts, ends, strict=True):
            link = n.Link(
                "slice",
                (n.Arg(lo, None, at), n.Arg(hi, None, at)),
                None,
                span,
                self._tok_span(func),
            )
            first = n.Link(src.name, None, None, src.span, src.span)
            statements.append(n.Assign(span, name, n.Chain((first, link), span)))
        return tuple(statements)

    def chain_stmt(self, c: list[Any]) -> n.ChainStmt:
        return n.ChainStmt(self._span(c), c[0])

    def fn_def(self, c: list[Any]) -> n.ConstDef:
        name, *params, (consts, result) = c
        params = _unique_params("function", str(name), params)
        span = self._span(c, keyword=True)
        function = n.Function(span, str(name), tuple(params), consts, result)
        return n.ConstDef(span, str(name), self._deep(function, (result,)))

    def fn_body(self, c: list[Any]) -> tuple[tuple[n.ConstDef, ...], n.Expr]:
        consts, result = c
        return tuple(consts or ()), result

    def fn_consts(self, c: list[Any]) -> list[n.ConstDef]:
        if len(c) == 1:
            return [c[0]]
        c[0].append(c[1])
        return c[0]

    def for_target(self, c: list[Any]) -> tuple[tuple[str, ...], bool]:
        return (str(c[0]),), False

    def for_unpack(self, c: list[Any]) -> tuple[tuple[str, ...], bool]:
        return tuple(str(x) for x in c if x is not None), True

    def for_stmt(self, c: list[Any]) -> n.Repeat:
        name, (targets, unpack), word, over, index, body = c
        if str(word) != "in":
            raise SpecSyntaxError(
                f"expected 'in' after the loop's names, got '{word}'",
                self._tok_span(word),
                ["for (t, c, n, s) in rows { ... }"],
            )
        span = self._span(c)
        count = n.Call(over.span, "len", (n.Arg(over, None, over.span),))
        node = n.Repeat(
            span, str(name), count, str(index) if index else None, body, over, targets, unpack
        )
        return self._deep(node, body, "statement")

    def repeat_stmt(self, c: list[Any]) -> n.Repeat:
        name, count, index, body = c
        node = n.Repeat(self._span(c), str(name), count, str(index) if index else None, body)
        return self._deep(node, body, "statement")

    def if_stmt(self, c: list[Any]) -> n.If:
        test, then, orelse = c
        if isinstance(orelse, n.If):
            orelse = (orelse,)
        node = n.If(self._span(c, keyword=True), test, then, orelse or ())
        return self._deep(node, (*then, *(orelse or ())), "statement")

    def assert_stmt(self, c: list[Any]) -> n.Assert:
        return n.Assert(self._span(c, keyword=True), c[0], c[1][1:-1] if c[1] else None)

    def chain(self, c: list[Any]) -> n.Chain:
        return n.Chain(tuple(c), self._span(c))

    def link(self, c: list[Any]) -> n.Link:
        name, args, alias = c
        return n.Link(
            str(name),
            args,
            str(alias) if alias else None,
            self._span(c),
            self._tok_span(name),
        )

    def call_args(self, c: list[Any]) -> tuple[n.Arg, ...]:
        args = []
        for a in c:
            if a is None:
                continue
            if isinstance(a, n.Arg):
                args.append(a)
            else:
                args.append(n.Arg(a, None, a.span))
        return tuple(args)

    def named_arg(self, c: list[Any]) -> n.Arg:
        return n.Arg(c[1], str(c[0]), self._span(c))

    # ---------------------------------------------------------------- expressions
    def number(self, c: list[Any]) -> n.Expr:
        tok: Token = c[0]
        span = self._tok_span(tok)
        m = _NUMBER.match(str(tok))
        if not m:
            raise SpecSyntaxError(f"malformed number {str(tok)!r}", span)
        if m["dims"]:
            if m["exp"] or m["suffix"] or not m["num"].isdigit():
                raise SpecSyntaxError(
                    f"malformed shape {str(tok)!r}",
                    span,
                    ["a shape is whole numbers joined by 'x', e.g. 3x224x224"],
                )
            parts = re.split("[x×]", str(tok))
            return n.Dims(span, tuple(_whole(p, span) for p in parts))
        if m["suffix"]:
            if m["exp"]:
                raise SpecSyntaxError(f"malformed number {str(tok)!r}", span)
            try:
                value, is_bytes = parse_quantity(m["num"] + m["suffix"])
            except QuantityError as exc:
                raise SpecSyntaxError(str(exc), span) from None
            return n.Quantity(span, check_number(value, span), str(tok), is_bytes)
        text = m["num"] + (m["exp"] or "")
        if m["num"].isdigit() and not m["exp"]:
            return n.Number(span, _whole(text, span))
        return n.Number(span, check_number(float(text), span))

    def string(self, c: list[Any]) -> n.String:
        return n.String(self._span(c), str(c[0])[1:-1])

    def true(self, c: list[Any]) -> n.Bool:
        return n.Bool(self._tok_span(c[0]), True)

    def false(self, c: list[Any]) -> n.Bool:
        return n.Bool(self._tok_span(c[0]), False)

    def name(self, c: list[Any]) -> n.Name:
        return n.Name(self._span(c), str(c[0]))

    def tuple(self, c: list[Any]) -> n.Tuple:
        items = tuple(x for x in c if x is not None)
        return self._deep(n.Tuple(self._span(c, keyword=True), items), items)

    def flat(self, c: list[Any]) -> n.Expr:
        """Operands and operators in a row (``a + b * c``): arrange them by precedence."""
        return _Climber(self, c).parse()

    def neg(self, c: list[Any]) -> n.UnaryOp:
        return self._deep(n.UnaryOp(self._span(c), "-", c[1]), (c[1],))

    def cond(self, c: list[Any]) -> n.Cond:
        return self._deep(n.Cond(self._span(c), c[1], c[0], c[2]), c)

    def list_literal(self, c: list[Any]) -> n.Tuple:
        items = tuple(x for x in c if x is not None)
        return self._deep(n.Tuple(self._span(c, keyword=True), items), items)

    def index(self, c: list[Any]) -> n.Index:
        return self._deep(n.Index(self._span(c), c[0], c[1]), (c[0], c[1]))

    def attr(self, c: list[Any]) -> n.Attr:
        return self._deep(n.Attr(self._span(c), c[0], str(c[1])), (c[0],))

    def fcall(self, c: list[Any]) -> n.Call:
        args = c[1] or ()
        return self._deep(n.Call(self._span(c), str(c[0]), c[1]), [a.value for a in args])


def _whole(digits: str, span: Span) -> int:
    """A whole-number literal within the integer limit; long ones are refused before ``int()``
    (which would raise for more than 4,300 digits, and is slow well before that)."""
    if len(digits) > 1300:  # 4096 bits, the most int_bits allows, is 1,234 digits
        check_number(10 ** (current_limits().int_bits), span)
    return int(check_number(int(digits), span))


# Binary operator precedence, as in Python.  ``not`` (a prefix) sits between "and" and the
# comparisons: its operand takes everything that binds tighter than _NOT_PREC.
PRECEDENCE = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "//": 6,
    "%": 6,
}
_NOT_PREC = 3


class _Climber:
    """Precedence climbing over one flat run of operands, operators and ``not`` prefixes."""

    def __init__(self, builder: AstBuilder, items: list[Any]) -> None:
        self.file = builder.file
        self.deep = builder._deep
        self.items = items
        self.pos = 0
        self.nots = 0  # 'not's nested at this point: each is one level of recursion here
        self.max_nots = builder.limits.expression_depth

    def parse(self) -> n.Expr:
        expr = self._expr(0)
        assert self.pos == len(self.items)
        return expr

    def _join(self, left: n.Expr, right: n.Expr) -> Span:
        a, b = left.span, right.span
        return Span(self.file, a.line, a.column, b.end_line, b.end_column)

    def _expr(self, min_prec: int, after_not: bool = False) -> n.Expr:
        item = self.items[self.pos]
        self.pos += 1
        left: n.Expr
        if isinstance(item, Token) and item.type == "NOT":
            if min_prec > _NOT_PREC and not after_not:
                raise SpecSyntaxError(
                    "'not' needs parentheses here",
                    _token_span(self.file, item),
                )
            self.nots += 1
            if self.nots > self.max_nots:
                raise SpecValueError(
                    f"expression nested too deeply: more than {self.max_nots} levels",
                    _token_span(self.file, item),
                    [current_limits().hint("expression_depth")],
                )
            operand = self._expr(_NOT_PREC + 1, after_not=True)
            self.nots -= 1
            start = Span(self.file, *token_position(item))
            left = n.UnaryOp(
                Span(
                    self.file,
                    start.line,
                    start.column,
                    operand.span.end_line,
                    operand.span.end_column,
                ),
                "not",
                operand,
            )
            self.deep(left, (operand,))
        else:
            left = item
        compared = False
        while self.pos < len(self.items):
            op = str(self.items[self.pos])
            prec = PRECEDENCE[op]
            if prec < min_prec:
                break
            tok = self.items[self.pos]
            if prec == PRECEDENCE["=="]:
                if compared:
                    raise SpecSyntaxError(
                        "chained comparisons are not supported; join them with 'and'",
                        Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column),
                    )
                compared = True
            self.pos += 1
            right = self._expr(prec + 1)
            span = self._join(left, right)
            kids = (left, right)
            if prec == PRECEDENCE["=="]:
                left = self.deep(n.Compare(span, op, left, right), kids)
            else:
                left = self.deep(n.BinOp(span, op, left, right), kids)
        return left
