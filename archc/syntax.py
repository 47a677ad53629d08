"""Text -> AST: the lark parser, its newline rules, and friendly syntax errors.

The grammar lives in ``grammar.lark`` (package data).  A small post-lexer decides where a newline
ends a statement, so a long chain can be broken after ``->`` or before a line that starts with
``->`` and argument lists can span lines.  Lark's exceptions never escape: they become
:class:`~archc.errors.SpecSyntaxError` with the position, the source line, a caret, and what was
expected, in the language's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from archc import nodes as n
from archc.errors import ArchError, SpecSyntaxError
from archc.source import Span, register_source
from archc.units import QuantityError, parse_quantity

# How terminals are called in "expected ..." messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "_NL": "end of line",
    "$END": "end of file",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "_ARROW": "'->'",
    "COMP_OP": "a comparison",
    "DOT": "'.'",
}

_BRACKETS_OPEN = {"LPAR", "LBRACE"}
_BRACKETS_CLOSE = {"RPAR", "RBRACE"}


class _Postlex:
    """Drops the newlines that do not end a statement.

    A newline is insignificant inside parentheses, after ``->``, ``,``, ``=`` or ``(``, and before a
    line that starts with ``->`` or ``else``.  Runs of newlines collapse into one.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        parens = 0
        last: str | None = None
        pending: Token | None = None
        tok: Token | None = None
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if parens > 0 or last in (None, "_NL", "LBRACE", "_ARROW", "COMMA", "EQUAL"):
                    continue
                if pending is None:
                    pending = tok
                continue
            if pending is not None:
                if kind not in ("_ARROW", "ELSE"):
                    yield pending
                    last = "_NL"
                pending = None
            if kind == "RBRACE" and last not in ("_NL", "LBRACE"):
                # "{ x = 1 }": the statement before a closing brace ends there.
                yield Token.new_borrow_pos("_NL", "", tok)
            if kind == "LPAR":
                parens += 1
            elif kind == "RPAR":
                parens = max(0, parens - 1)
            yield tok
            last = kind
        if pending is not None:
            yield pending
        elif tok is not None and last not in (None, "_NL"):
            yield Token.new_borrow_pos("_NL", "", tok)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("archc").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",  # the post-lexer looks one token ahead, so no contextual lexer
        postlex=_Postlex(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


_NUMBER = re.compile(
    r"^(?P<num>\d+\.\d*|\.\d+|\d+)(?P<exp>[eE][+-]?\d+)?(?P<dims>(?:[x×]\d+)*)(?P<suffix>[A-Za-z]*)$"
)


class _ToAST(Transformer):
    """Lark tree -> :mod:`archc.nodes`.  Every node gets its span from lark's ``meta``."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    # ---------------------------------------------------------------- helpers
    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    # ---------------------------------------------------------------- top level
    @v_args(meta=True)
    def start(self, meta: Any, items: list[Any]) -> n.Module:
        module = n.Module(self.file)
        for item in items:
            if isinstance(item, n.Include):
                module.includes.append(item)
            elif isinstance(item, n.ConstDef):
                module.consts.append(item)
            elif isinstance(item, n.BlockDef):
                module.blocks.append(item)
            elif isinstance(item, n.NetworkDef):
                module.networks.append(item)
        return module

    @v_args(meta=True)
    def include(self, meta: Any, c: list[Any]) -> n.Include:
        return n.Include(c[0][1:-1], self._span(meta))

    @v_args(meta=True)
    def const_def(self, meta: Any, c: list[Any]) -> n.ConstDef:
        return n.ConstDef(self._span(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def block_def(self, meta: Any, c: list[Any]) -> n.BlockDef:
        name, *params, body = c
        params = [p for p in params if p is not None]
        return n.BlockDef(str(name), tuple(params), body, self._span(meta), self.file)

    @v_args(meta=True)
    def param(self, meta: Any, c: list[Any]) -> n.Param:
        return n.Param(str(c[0]), c[1], self._span(meta))

    @v_args(meta=True)
    def network_def(self, meta: Any, c: list[Any]) -> n.NetworkDef:
        return n.NetworkDef(str(c[0]), c[1], self._span(meta))

    def body(self, c: list[Any]) -> tuple[n.Stmt, ...]:
        return tuple(c)

    # ---------------------------------------------------------------- statements
    @v_args(meta=True)
    def input_decl(self, meta: Any, c: list[Any]) -> n.InputDecl:
        return n.InputDecl(self._span(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def output_stmt(self, meta: Any, c: list[Any]) -> n.Output:
        return n.Output(self._span(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def assign(self, meta: Any, c: list[Any]) -> n.Assign:
        return n.Assign(self._span(meta), str(c[0]), c[1])

    @v_args(meta=True)
    def chain_stmt(self, meta: Any, c: list[Any]) -> n.ChainStmt:
        return n.ChainStmt(self._span(meta), c[0])

    @v_args(meta=True)
    def repeat_stmt(self, meta: Any, c: list[Any]) -> n.Repeat:
        name, count, index, body = c
        return n.Repeat(self._span(meta), str(name), count, str(index) if index else None, body)

    @v_args(meta=True)
    def if_stmt(self, meta: Any, c: list[Any]) -> n.If:
        test, then, orelse = c
        if isinstance(orelse, n.If):
            orelse = (orelse,)
        return n.If(self._span(meta), test, then, orelse or ())

    @v_args(meta=True)
    def assert_stmt(self, meta: Any, c: list[Any]) -> n.Assert:
        return n.Assert(self._span(meta), c[0], c[1][1:-1] if c[1] else None)

    @v_args(meta=True)
    def chain(self, meta: Any, c: list[Any]) -> n.Chain:
        return n.Chain(tuple(c), self._span(meta))

    @v_args(meta=True)
    def link(self, meta: Any, c: list[Any]) -> n.Link:
        name, args, alias = c
        return n.Link(
            str(name),
            args,
            str(alias) if alias else None,
            self._span(meta),
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

    @v_args(meta=True)
    def named_arg(self, meta: Any, c: list[Any]) -> n.Arg:
        return n.Arg(c[1], str(c[0]), self._span(meta))

    # ---------------------------------------------------------------- expressions
    @v_args(meta=True)
    def number(self, meta: Any, c: list[Any]) -> n.Expr:
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
            return n.Dims(span, tuple(int(p) for p in parts))
        if m["suffix"]:
            if m["exp"]:
                raise SpecSyntaxError(f"malformed number {str(tok)!r}", span)
            try:
                value, is_bytes = parse_quantity(m["num"] + m["suffix"])
            except QuantityError as exc:
                raise SpecSyntaxError(str(exc), span) from None
            return n.Quantity(span, value, str(tok), is_bytes)
        text = m["num"] + (m["exp"] or "")
        if m["num"].isdigit() and not m["exp"]:
            return n.Number(span, int(text))
        return n.Number(span, float(text))

    @v_args(meta=True)
    def string(self, meta: Any, c: list[Any]) -> n.String:
        return n.String(self._span(meta), str(c[0])[1:-1])

    @v_args(meta=True)
    def true(self, meta: Any, c: list[Any]) -> n.Bool:
        return n.Bool(self._span(meta), True)

    @v_args(meta=True)
    def false(self, meta: Any, c: list[Any]) -> n.Bool:
        return n.Bool(self._span(meta), False)

    @v_args(meta=True)
    def name(self, meta: Any, c: list[Any]) -> n.Name:
        return n.Name(self._span(meta), str(c[0]))

    @v_args(meta=True)
    def tuple(self, meta: Any, c: list[Any]) -> n.Tuple:
        return n.Tuple(self._span(meta), tuple(x for x in c if x is not None))

    def _binop(op: str):  # type: ignore[misc]
        @v_args(meta=True)
        def build(self: _ToAST, meta: Any, c: list[Any]) -> n.BinOp:
            return n.BinOp(self._span(meta), op, c[0], c[1])

        return build

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    floordiv = _binop("//")
    truediv = _binop("/")
    mod = _binop("%")
    and_op = _binop("and")
    or_op = _binop("or")

    @v_args(meta=True)
    def compare(self, meta: Any, c: list[Any]) -> n.Compare:
        return n.Compare(self._span(meta), str(c[1]), c[0], c[2])

    @v_args(meta=True)
    def neg(self, meta: Any, c: list[Any]) -> n.UnaryOp:
        return n.UnaryOp(self._span(meta), "-", c[0])

    @v_args(meta=True)
    def not_op(self, meta: Any, c: list[Any]) -> n.UnaryOp:
        return n.UnaryOp(self._span(meta), "not", c[0])

    @v_args(meta=True)
    def cond(self, meta: Any, c: list[Any]) -> n.Cond:
        return n.Cond(self._span(meta), c[1], c[0], c[2])

    @v_args(meta=True)
    def attr(self, meta: Any, c: list[Any]) -> n.Attr:
        return n.Attr(self._span(meta), c[0], str(c[1]))

    @v_args(meta=True)
    def fcall(self, meta: Any, c: list[Any]) -> n.Call:
        return n.Call(self._span(meta), str(c[0]), c[1])


# Terminals that only continue an expression; listed together as "an operator".
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "COMP_OP", "AND", "OR", "IF", "DOT",
              "__ANON_0", "__ANON_1", "DOUBLESLASH"}


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    operators = bool(names & _OPERATORS) or any(t.startswith("__") for t in names)
    names -= _OPERATORS
    words = sorted({_TERMINAL_WORDS.get(t, _keyword(t)) for t in names if not t.startswith("__")})
    if operators and words:
        words.append("an operator")
    if not words:
        return ""
    if len(words) > 8:
        words = [*words[:8], "..."]
    return "expected " + (", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0])


def _keyword(terminal: str) -> str:
    return f"'{terminal.lower()}'" if terminal.isalpha() else terminal


def _describe_token(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of file"
    return f"{str(tok)!r}"


def parse(text: str, file: str) -> n.Module:
    """Parse one file's text into an AST :class:`~archc.nodes.Module`."""
    register_source(file, text)
    if not text.strip():
        raise SpecSyntaxError(
            "empty spec", Span(file, 1, 1), ["a spec defines a network: network NAME { ... }"]
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file) from None
    try:
        return _ToAST(file).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ArchError):
            raise exc.orig_exc from None
        raise


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> SpecSyntaxError:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    if not isinstance(line, int) or line < 1:
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    span = Span(file, line, column or 1)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        return SpecSyntaxError(
            f"unexpected character {ch!r}",
            span,
            ["names are letters, digits and '_'; layers are joined with '->'; '#' starts a comment"],
        )
    if isinstance(exc, UnexpectedEOF):
        return SpecSyntaxError(
            "unexpected end of file", span, [_describe_expected(set(exc.expected)), _unclosed(text)]
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    if tok.type == "$END":
        return SpecSyntaxError(
            "unexpected end of file", span, [_describe_expected(exc.expected), _unclosed(text)]
        )
    if tok.line and tok.end_column:
        span = Span(file, tok.line, tok.column, tok.end_line, tok.end_column)
    hints = [_describe_expected(exc.expected)]
    if tok.type == "NAME" and "_ARROW" in exc.expected:
        hints.append("layers in a chain are joined with '->'")
    if "RPAR" in exc.expected:
        hints.append(_unclosed_paren(text, tok.line or 1, tok.column or 1))
    return SpecSyntaxError(f"unexpected {_describe_token(tok)}", span, hints)


def _unclosed_paren(text: str, line: int, column: int) -> str:
    """Where the innermost '(' still open at (line, column) was opened."""
    lines = text.splitlines()
    stack: list[tuple[int, int]] = []
    for i, row in enumerate(lines[:line], start=1):
        row = row.split("#", 1)[0]
        limit = column - 1 if i == line else len(row)
        for j, ch in enumerate(row[:limit], start=1):
            if ch == "(":
                stack.append((i, j))
            elif ch == ")" and stack:
                stack.pop()
    if not stack:
        return ""
    at_line, at_col = stack[-1]
    return f"the '(' at line {at_line}, column {at_col} is not closed"


def _unclosed(text: str) -> str:
    depth = text.count("{") - text.count("}")
    if depth > 0:
        return f"{depth} '{{' not closed"
    return ""
