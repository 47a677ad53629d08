"""Building generated source safely: identifiers from a namespace, literals by value, layout.

Emitters that write code (PyTorch source; any emitter that needs identifiers, such as Graphviz
node ids) never paste a spec name or value into output text directly:

* :class:`Namespace` hands out identifiers.  A raw name is sanitised (characters outside the
  target's identifier alphabet replaced, a leading digit or a double underscore neutralised),
  kept away from reserved words (Python keywords, builtins, names the generated code itself
  uses) and de-duplicated (``conv``, ``conv_2``).  The same key always gets the same identifier,
  and the result depends only on the order of requests, so output is deterministic.
* :func:`py_literal` writes a constant with ``repr`` for an allow-list of types (bool, int,
  finite float, str, tuples of those) and refuses anything else.
* :func:`safe_comment` makes arbitrary text (a file path) safe to put in a ``#`` comment.
* :class:`Call` and :func:`format_call` lay out a call (or a ``def`` signature) the way ruff's
  formatter would: on one line if it fits, else its arguments on one indented line, else one
  argument per line with a trailing comma.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from archc.errors import EmitError

#: Python keywords: never usable as identifiers.
PY_KEYWORDS = frozenset(keyword.kwlist)
#: Python builtins: a local with such a name would shadow one.
PY_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))
#: pycodestyle's ambiguous single-letter names (ruff E741).
AMBIGUOUS = frozenset({"l", "O", "I"})
#: the widest line generated code aims for (ruff's line-length in this project).
LINE_LENGTH = 100

_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


def python_identifier(raw: str) -> str:
    """``raw`` made into a Python identifier that no name mangling or dunder protocol touches.

    Characters outside ``[A-Za-z0-9_]`` become ``_``; a leading digit gets a ``_`` in front; two
    or more leading underscores collapse to one (``__import__`` -> ``_import__``), so a name is
    never mangled inside a class and never a dunder.
    """
    name = _NOT_IDENT.sub("_", raw) or "_"
    if name[0].isdigit():
        name = "_" + name
    if name.startswith("__"):
        name = "_" + name.lstrip("_")
    return name


class Namespace:
    """Identifiers for one scope of generated code (a module, a class's attributes, a function).

    ``name(key, hint)`` returns the identifier for ``key``: the first call creates it from
    ``hint`` (default ``str(key)``) through ``sanitize``; a reserved result gets a trailing
    ``_`` (PEP 8's way to avoid a keyword); a result already taken gets ``_2``, ``_3`` ...
    (just ``2`` after a trailing ``_``, so no name ever starts with two underscores).
    Later calls with the same key return the same identifier.
    """

    def __init__(
        self,
        reserved: Iterable[str] = (),
        sanitize: Callable[[str], str] = python_identifier,
    ) -> None:
        self._reserved = set(reserved)
        self._sanitize = sanitize
        self._taken: set[str] = set()
        self._names: dict[Hashable, str] = {}

    def reserve(self, names: Iterable[str]) -> None:
        """Keep ``names`` from being handed out (names the generated code uses itself)."""
        self._reserved.update(names)

    def name(self, key: Hashable, hint: str | None = None) -> str:
        found = self._names.get(key)
        if found is not None:
            return found
        base = self._sanitize(str(key) if hint is None else hint)
        if base in self._reserved or base in PY_KEYWORDS:
            base += "_"
        candidate, k = base, 2
        sep = "" if base.endswith("_") else "_"  # never "__2": mangled inside a class
        while candidate in self._taken or candidate in self._reserved:
            candidate = f"{base}{sep}{k}"
            k += 1
        self._taken.add(candidate)
        self._names[key] = candidate
        return candidate

    def identifiers(self) -> list[str]:
        """The identifiers handed out, in order."""
        return list(self._names.values())

    def __contains__(self, identifier: str) -> bool:
        return identifier in self._taken or identifier in self._reserved


# --------------------------------------------------------------------------- literals
def py_literal(value: Any) -> str:
    """Python source for a constant: bool, int, finite float, str, or a tuple of those."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EmitError(f"cannot write the non-finite number {value!r} as Python source")
        return repr(value)
    if isinstance(value, str):
        plain = value.isprintable() and '"' not in value and "\\" not in value
        return f'"{value}"' if plain else repr(value)
    if isinstance(value, tuple):
        items = [py_literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise EmitError(f"cannot write a {type(value).__name__} as a Python literal")


def safe_comment(text: str) -> str:
    """``text`` as it can stand in a ``#`` comment: printable text as is, anything else escaped."""
    return text if text.isprintable() else ascii(text)


# --------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Call:
    """A call to lay out: ``func(arg, ..., key=value, ...)``; values are text or calls."""

    func: str
    args: tuple[str | Call, ...] = ()
    kwargs: tuple[tuple[str, str | Call], ...] = ()
    #: text after the closing parenthesis (``-> None:`` for a signature)
    closing: str = ""

    def items(self) -> list[tuple[str, str | Call]]:
        return [("", a) for a in self.args] + [(f"{k}=", v) for k, v in self.kwargs]

    def inline(self) -> str:
        inner = ", ".join(prefix + _inline(value) for prefix, value in self.items())
        return f"{self.func}({inner}){self.closing}"


def _inline(value: str | Call) -> str:
    return value if isinstance(value, str) else value.inline()


def format_call(
    head: str, call: Call, indent: int, tail: str = "", width: int = LINE_LENGTH
) -> list[str]:
    """Lines for ``head + call + tail`` at ``indent`` spaces, split as ruff's formatter would."""
    pad = " " * indent
    one = f"{pad}{head}{call.inline()}{tail}"
    items = call.items()
    if len(one) <= width or not items:
        return [one]
    opening = f"{pad}{head}{call.func}("
    closing = f"{pad}){call.closing}{tail}"
    body = " " * (indent + 4) + ", ".join(p + _inline(v) for p, v in items)
    if len(body) <= width:
        return [opening, body, closing]
    lines = [opening]
    for prefix, value in items:
        if isinstance(value, Call):
            lines += format_call(prefix, value, indent + 4, ",", width)
        else:
            lines += split_conditional(f"{prefix}{value}", indent + 4, ",", width)
    lines.append(closing)
    return lines


def split_conditional(
    text: str, indent: int, tail: str = "", width: int = LINE_LENGTH
) -> list[str]:
    """``text`` at ``indent``; a conditional expression too long for one line is split before
    ``if`` and ``else`` (ruff's layout for an argument or a parenthesised right-hand side)."""
    pad = " " * indent
    one = f"{pad}{text}{tail}"
    if len(one) <= width:
        return [one]
    prefix, _, source = text.rpartition("=") if _keyword_argument(text) else ("", "", text)
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return [one]
    if not isinstance(tree, ast.IfExp):
        return [one]
    head = f"{prefix}=" if prefix else ""
    return [
        f"{pad}{head}{ast.unparse(tree.body)}",
        f"{pad}if {ast.unparse(tree.test)}",
        f"{pad}else {ast.unparse(tree.orelse)}{tail}",
    ]


def _keyword_argument(text: str) -> bool:
    """``name=value`` (a keyword argument), not a comparison ``a == b``."""
    name, sep, _ = text.partition("=")
    return bool(sep) and name.isidentifier() and not text.startswith(f"{name}==")


@dataclass
class Writer:
    """Collects lines at an indentation level (four spaces a level)."""

    lines: list[str] = field(default_factory=list)
    level: int = 0

    def line(self, text: str = "") -> None:
        self.lines.append(("    " * self.level + text) if text else "")

    def call(self, head: str, call: Call, tail: str = "") -> None:
        self.lines += format_call(head, call, 4 * self.level, tail)

    def indent(self) -> _Indent:
        return _Indent(self)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _Indent:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def __enter__(self) -> Writer:
        self.writer.level += 1
        return self.writer

    def __exit__(self, *exc: object) -> None:
        self.writer.level -= 1
