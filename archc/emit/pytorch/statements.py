"""The statements a generated class is made of, and how they are written out."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archc.emit import pyexpr as px
from archc.emit.codegen import LINE_LENGTH, Call, Writer


@dataclass
class Do:
    """``target = value`` (or just ``value``).  A local target nobody reads is dropped; so is
    the whole statement when it is ``pure`` (no side effect)."""

    value: str | Call
    target: str | None = None
    pure: bool = False


@dataclass
class If:
    test: px.PyExpr
    then: list[Any]
    orelse: list[Any]


@dataclass
class For:
    var: str
    count: str
    body: list[Any]


@dataclass
class Store:
    """Keeps a value on ``self`` if ``forward`` turns out to need it."""

    local: str


def render_statements(
    stmts: list[Any],
    w: Writer,
    reads: set[str],
    forward_test: Callable[[px.PyExpr], px.PyExpr] | None,
    stored: Mapping[str, str] | None = None,
) -> None:
    """Write statements: unread locals dropped, single-assignment if/else as a conditional
    expression, nested ifs without else joined with ``and`` (what ruff's SIM rules ask)."""
    for s in clean(stmts, reads, stored or {}):
        write_statement(s, w, reads, forward_test, stored or {})


def clean(stmts: list[Any], reads: set[str], stored: Mapping[str, str]) -> list[Any]:
    out: list[Any] = []
    for s in stmts:
        if isinstance(s, Do):
            if s.target and "." not in s.target and s.target not in reads:
                if s.pure:
                    continue
                s = Do(s.value)
            out.append(s)
        elif isinstance(s, Store):
            if s.local in stored:
                out.append(Do(s.local, f"self.{stored[s.local]}"))
        elif isinstance(s, If):
            then, orelse = clean(s.then, reads, stored), clean(s.orelse, reads, stored)
            if then == orelse:  # the branches differ only in what forward cannot see
                out += then
                continue
            if not then:
                then, orelse, test = orelse, [], px.unary("not", s.test)
            else:
                test = s.test
            if not orelse and len(then) == 1 and isinstance(then[0], If) and not then[0].orelse:
                out.append(If(px.binop("and", test, then[0].test), then[0].then, []))
            else:
                out.append(If(test, then, orelse))
        elif isinstance(s, For):
            body = clean(s.body, reads, stored)
            if body:
                out.append(For(s.var if s.var in reads else "_", s.count, body))
        else:  # pragma: no cover
            raise AssertionError(s)
    return out


def inline(value: str | Call) -> str:
    return value if isinstance(value, str) else value.inline()


def write_statement(
    s: Any,
    w: Writer,
    reads: set[str],
    forward_test: Callable[[px.PyExpr], px.PyExpr] | None,
    stored: Mapping[str, str],
) -> None:
    if isinstance(s, Do):
        head = f"{s.target} = " if s.target else ""
        if isinstance(s.value, Call):
            w.call(head, s.value)
        else:
            w.lines += _long_line(head, s.value, 4 * w.level)
        return
    if isinstance(s, For):
        w.line(f"for {s.var} in range({s.count}):")
        with w.indent():
            for inner in s.body:
                write_statement(inner, w, reads, forward_test, stored)
        return
    test = forward_test(s.test) if forward_test else s.test
    then, orelse = s.then, s.orelse
    if (
        len(then) == 1
        and len(orelse) == 1
        and isinstance(then[0], Do)
        and isinstance(orelse[0], Do)
        and then[0].target
        and then[0].target == orelse[0].target
    ):
        line = (
            f"{'    ' * w.level}{then[0].target} = {inline(then[0].value)} "
            f"if {px.wrap(test, 2)} else {inline(orelse[0].value)}"
        )
        if len(line) <= 100:
            w.lines.append(line)
            return
    w.line(f"if {px.render(test)}:")
    with w.indent():
        for inner in then:
            write_statement(inner, w, reads, forward_test, stored)
    if orelse:
        w.line("else:")
        with w.indent():
            for inner in orelse:
                write_statement(inner, w, reads, forward_test, stored)


def _long_line(head: str, value: str, indent: int, width: int = LINE_LENGTH) -> list[str]:
    """``head + value`` as ruff's formatter lays it out: one line when it fits; a conditional
    expression that does not fit goes in parentheses, one part a line."""
    pad = " " * indent
    one = f"{pad}{head}{value}"
    if len(one) <= width:
        return [one]
    tree = ast.parse(value, mode="eval").body
    tail = ""
    if isinstance(tree, ast.BinOp) and isinstance(tree.left, ast.IfExp):
        # (a if t else b) + c: the parenthesised conditional is split, the rest follows ")"
        operator = ast.unparse(tree)[len(ast.unparse(tree.left)) + 2 :]
        tree, tail = tree.left, operator
    if not isinstance(tree, ast.IfExp):
        return [one]
    inner = " " * (indent + 4)
    whole = f"{inner}{ast.unparse(tree)}"
    if len(whole) <= width:  # the parenthesised expression fits on a line of its own
        return [f"{pad}{head}(", whole, f"{pad}){tail}"]
    return [
        f"{pad}{head}(",
        f"{inner}{ast.unparse(tree.body)}",
        f"{inner}if {ast.unparse(tree.test)}",
        f"{inner}else {ast.unparse(tree.orelse)}",
        f"{pad}){tail}",
    ]
