"""Source files and spans: where a piece of the IR came from.

Spans flow from the grammar through the AST into every IR node, so an error found three passes
later still points at the line that caused it.  Source text is kept in a small registry keyed by
path, so a span stays a cheap value object and can render its own excerpt with a caret.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SOURCES: dict[str, str] = {}

# C0 controls (but tab and newline), DEL, C1 controls, lone surrogates (undecodable bytes in a
# file name), the Unicode line and paragraph separators and the two XML 1.0 non-characters
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def _picture(match: re.Match[str]) -> str:
    c = ord(match.group())
    if c < 0x20:
        return chr(0x2400 + c)  # U+241B SYMBOL FOR ESCAPE, U+2407 SYMBOL FOR BELL, ...
    if c == 0x7F:
        return "\u2421"
    return "\ufffd"


def visible(text: str) -> str:
    """``text`` with every control character shown as a visible symbol of the same width (ESC as
    ␛, BEL as ␇), so a spec or a file name cannot move the cursor, recolour or retitle a terminal,
    and carets still line up.  Tab and newline are kept; callers that need one line replace them.
    """
    return _INVISIBLE.sub(_picture, text) if _INVISIBLE.search(text) else text


def one_line(text: str) -> str:
    """``text`` for a one-line slot (a file name in a message): newline, carriage return and tab
    written as ``\\n``, ``\\r``, ``\\t``, other control characters as :func:`visible` shows them."""
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return visible(text)


def register_source(name: str, text: str) -> None:
    """Remember ``text`` under ``name`` so spans into it can show excerpts.  Only files the
    loader was allowed to read are registered (an include outside the allowed roots is refused
    unread), so no excerpt can quote anything else."""
    _SOURCES[name] = text


def split_lines(text: str) -> list[str]:
    """``text`` cut into lines exactly where the lexer counts them: at ``\\n`` only (a ``\\r``
    before it is dropped).  ``str.splitlines`` also cuts at ``\\f``, ``\\x85`` and U+2028,
    which the lexer does not, and the caret would point into the wrong line."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if not lines[-1]:
        lines.pop()  # the text ends with a newline (or is empty): no line after it
    return lines


def source_line(name: str, line: int) -> str | None:
    """Line ``line`` (1-based) of a registered source, without its newline."""
    text = _SOURCES.get(name)
    if text is None:
        return None
    lines = split_lines(text)
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None


def strict_json(value: Any) -> Any:
    """``value`` ready for ``json.dumps(allow_nan=False)``: tuples as lists, a float that is not
    finite as ``null`` (JSON has no NaN or Infinity; a strict parser rejects them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def markdown_text(text: str) -> str:
    """``text`` for a Markdown table cell or paragraph: raw HTML (``<script>``), entities and
    ``|`` escaped, control characters and newlines visible (a spec string cannot add markup)."""
    text = one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|")


def markdown_code(text: str) -> str:
    """``text`` as a Markdown code span, fenced with more backticks than it holds."""
    text = one_line(text)
    longest = max((len(m) for m in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass(frozen=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def excerpt(self) -> list[str]:
        """The source line, then a caret line marking the span (``^^^`` when it is on one line)."""
        text = source_line(self.file, self.line)
        if text is None:
            return []
        text = visible(text.replace("\t", " "))
        width = 1
        if self.end_line == self.line and self.end_column and self.end_column > self.column:
            width = self.end_column - self.column
        width = max(1, min(width, len(text) - self.column + 1))
        gutter = f"{self.line:>5} | "
        pad = " " * (len(gutter) - 2) + "| "
        return [gutter + text, pad + " " * (self.column - 1) + "^" * width]


def display_name(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when that is shorter.

    Control characters and newlines in the name are shown as visible symbols (:func:`one_line`):
    a file name must not be able to write to the terminal or start a line of a report."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
        return one_line(str(rel))
    except (ValueError, OSError, RuntimeError):
        return one_line(str(path))
