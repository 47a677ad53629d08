"""Command-line text in the spec language: ``--set`` values, sweep axes, ``--where`` expressions.

Values are written as the language writes literals (``0.75``, ``224``, ``true``, ``"same"``,
``(1, 7)``, ``3x224x224``, ``4M``); a bare word that is not a literal is a string, so
``--set mode=fast`` works without shell quoting.  An expression is parsed by the spec parser
itself (as the value of a constant), so ``--where`` accepts exactly the assert language, and its
spans point into the option's own text (``--where:1:11``).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

from archc import nodes as n
from archc.errors import ArchError, SpecNameError, UsageError
from archc.evaluate import Value, evaluate
from archc.source import Span, register_source
from archc.syntax import parse

_PREFIX = "const _value = "


def parse_expression(text: str, origin: str) -> n.Expr:
    """``text`` as one expression of the language; spans name ``origin`` (e.g. ``--where``)."""
    if not text.strip():
        raise UsageError(f"{origin} is empty")
    if "\n" in text:
        raise UsageError(f"{origin} is one line")
    try:
        module = parse(_PREFIX + text + "\n", origin)
    except ArchError as exc:
        exc.span = _shift(exc.span, len(_PREFIX))
        exc.notes = [(note, _shift(span, len(_PREFIX))) for note, span in exc.notes]
        raise
    finally:
        register_source(origin, text)
    if len(module.consts) != 1 or module.blocks or module.networks or module.includes:
        raise UsageError(f"{origin} {text!r} is not one expression")
    expr: n.Expr = _shift(module.consts[0].value, len(_PREFIX))
    return expr


def parse_value(text: str, origin: str = "--set") -> Value:
    """A literal value; a bare word (``fast``) is the string ``"fast"``."""
    stripped = text.strip()
    if stripped.isidentifier() and stripped not in ("true", "false"):
        return stripped
    try:
        expr = parse_expression(stripped, origin)
        return evaluate(expr, {})
    except SpecNameError:
        return stripped
    except ArchError as exc:
        raise UsageError(f"{origin}: {text!r} is not a value: {exc.message}") from None


def split_assignment(text: str, origin: str = "--set") -> tuple[str, str]:
    """``NAME=VALUE`` -> (NAME, VALUE text)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not value.strip():
        raise UsageError(f"malformed {origin} {text!r}: expected NAME=VALUE, e.g. width=0.75")
    return name, value.strip()


def parse_axis(text: str, origin: str = "--set") -> list[Value]:
    """A sweep axis: ``lo:hi:step`` (inclusive, exact decimal steps), ``a,b,c``, or one value."""
    parts = _split_top(text, ":")
    if len(parts) > 1:
        return _range(parts, text, origin)
    return [parse_value(item, origin) for item in _split_top(text, ",")]


def _range(parts: list[str], text: str, origin: str) -> list[Value]:
    if len(parts) != 3:
        raise UsageError(f"{origin}: range {text!r} must be lo:hi:step, e.g. 0.25:1.0:0.25")
    try:
        lo, hi, step = (Decimal(p.strip()) for p in parts)
    except InvalidOperation:
        raise UsageError(f"{origin}: range {text!r} takes plain numbers: lo:hi:step") from None
    if step <= 0 or hi < lo:
        raise UsageError(f"{origin}: range {text!r} needs lo <= hi and a step > 0")
    count = int((hi - lo) / step) + 1
    if count > 1_000_000:
        raise UsageError(f"{origin}: range {text!r} has {count} values; at most 1,000,000")
    integral = all(_is_integer_text(p) for p in parts)
    values = [lo + i * step for i in range(count)]
    return [int(v) if integral else float(v) for v in values]


def _is_integer_text(text: str) -> bool:
    text = text.strip().lstrip("+-")
    return text.isdigit()


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quote = False
    start = 0
    for i, ch in enumerate(text):
        if ch == '"':
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _shift(node: Any, columns: int) -> Any:
    """``node`` with every span on line 1 moved ``columns`` to the left."""
    if isinstance(node, Span):
        if node.line != 1:
            return node
        end = (
            node.end_column - columns if node.end_line == 1 and node.end_column else node.end_column
        )
        return dataclasses.replace(node, column=node.column - columns, end_column=end)
    if isinstance(node, tuple):
        return tuple(_shift(item, columns) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _shift(getattr(node, f.name), columns) for f in dataclasses.fields(node)}
        return dataclasses.replace(node, **changes)
    return node
