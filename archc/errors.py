"""One exception hierarchy for everything a user can get wrong.

Every error that comes from a spec carries a :class:`~archc.source.Span`, so ``str(err)`` reads
``file:line:col: kind: message``, then the source line with a caret under the culprit, then hints
("expected ...", "did you mean ...").  The CLI prints exactly that and exits with code 2; nothing
else (no library exception, no traceback) reaches the user for bad input.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from archc.source import Span


class ArchError(Exception):
    """Base of all archc errors.  ``kind`` names the class of problem in the rendered message."""

    kind = "error"
    exit_code = 2

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        hints: Iterable[str] = (),
        notes: Iterable[tuple[str, Span]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hints = [h for h in hints if h]
        # Secondary locations ("b4 defined here"), rendered after the main excerpt.
        self.notes = list(notes)

    def __str__(self) -> str:
        head = f"{self.kind}: {self.message}"
        lines = [f"{self.span.location()}: {head}" if self.span else head]
        if self.span is not None:
            lines.extend(self.span.excerpt())
        for text, span in self.notes:
            lines.append(f"{span.location()}: note: {text}")
            lines.extend(span.excerpt())
        lines.extend(f"  hint: {h}" for h in self.hints)
        return "\n".join(lines)


class SpecSyntaxError(ArchError):
    """The text is not a well-formed ``.arch`` file."""

    kind = "syntax error"


class SpecNameError(ArchError):
    """A name (tensor, op, block, constant, argument) is unknown or defined twice."""

    kind = "name error"


class SpecArgumentError(ArchError):
    """An op or block got an argument it does not take, or a value of the wrong kind."""

    kind = "argument error"


class SpecValueError(ArchError):
    """An expression could not be evaluated (division by zero, wrong operand types, ...)."""

    kind = "value error"


class SpecShapeError(ArchError):
    """Tensor shapes do not fit together (a merge of different sizes, a window larger than input)."""

    kind = "shape error"


class IncludeError(ArchError):
    """An ``include`` cannot be resolved: missing file, or a cycle."""

    kind = "include error"


class SourceError(ArchError):
    """A spec file cannot be read at all: missing, a directory, not text."""

    kind = "file error"


class UsageError(ArchError):
    """The command line itself is wrong (bad option value, malformed limit)."""

    kind = "usage error"


class BudgetError(ArchError):
    """A budget declaration is malformed (a failing budget is a result, not an error)."""

    kind = "budget error"


class EmitError(ArchError):
    """An emitter cannot express something, or cannot write its output."""

    kind = "emit error"


class MissingDependencyError(ArchError):
    """An optional extra (torch, onnx, graphviz) is needed but not installed."""

    kind = "missing dependency"


class IRError(ArchError):
    """An IR invariant does not hold: a bug in archc, never the user's fault."""

    kind = "internal error"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean ...?" hint for ``name`` among ``candidates``, or ``""`` if nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not matches:
        return ""
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"
