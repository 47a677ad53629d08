"""Source files and spans: where a piece of the IR came from.

Spans flow from the grammar through the AST into every IR node, so an error found three passes
later still points at the line that caused it.  Source text is kept in a small registry keyed by
path, so a span stays a cheap value object and can render its own excerpt with a caret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_SOURCES: dict[str, str] = {}


def register_source(name: str, text: str) -> None:
    """Remember ``text`` under ``name`` so spans into it can show excerpts."""
    _SOURCES[name] = text


def source_line(name: str, line: int) -> str | None:
    """Line ``line`` (1-based) of a registered source, without its newline."""
    text = _SOURCES.get(name)
    if text is None:
        return None
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None


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
        text = text.replace("\t", " ")
        width = 1
        if self.end_line == self.line and self.end_column and self.end_column > self.column:
            width = self.end_column - self.column
        width = max(1, min(width, len(text) - self.column + 1))
        gutter = f"{self.line:>5} | "
        pad = " " * (len(gutter) - 2) + "| "
        return [gutter + text, pad + " " * (self.column - 1) + "^" * width]


def display_name(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when that is shorter."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
        return str(rel)
    except ValueError:
        return str(path)
