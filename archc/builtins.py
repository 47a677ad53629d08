"""The language's built-in functions: ``min``, ``max``, ``abs``, ``int``, ``round``, ``floor``,
``ceil``, ``len``, ``sqrt``, ``log`` and ``pow``.

They exist so that a spec can write a real configuration in itself: torchvision's
``_make_divisible`` (``max(8, int(c * width + 4) // 8 * 8)``), RegNet's quantised widths,
EfficientNet's ``ceil(depth * repeats)``.  Each is one :class:`Builtin` entry: how many
arguments it takes, what they must be, and the function.  The rules are Python's, stricter
where Python would silently accept a mistake (``int("3")``, ``len(5)``, a boolean as a number);
``round`` rounds half to even, as Python does.

The PyTorch emitter writes the same calls into generated code (``archc.emit.pyexpr``), where the
names mean the same thing: ``min``, ``max``, ``abs``, ``int``, ``round`` and ``len`` are Python's
builtins, ``floor``, ``ceil``, ``sqrt``, ``log`` and ``pow`` are ``math``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archc.errors import SpecArgumentError
from archc.source import Span


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Builtin:
    """One built-in function: its arity (``most`` None: any number), the kind of argument it
    takes (``"number"`` or ``"tuple"``), the function, and its Python spelling in emitted
    code."""

    name: str
    least: int
    most: int | None
    takes: str
    apply: Callable[..., Any]
    python: str
    doc: str

    def call(self, args: list[Any], span: Span) -> Any:
        """Check the arguments and apply the function."""
        count = len(args)
        if count < self.least or (self.most is not None and count > self.most):
            wanted = (
                f"{self.least}"
                if self.least == self.most
                else f"at least {self.least}"
                if self.most is None
                else f"{self.least} to {self.most}"
            )
            raise SpecArgumentError(
                f"{self.name}() takes {wanted} argument{'s' if wanted != '1' else ''}, got {count}",
                span,
                [f"usage: {self.doc}"],
            )
        for arg in args:
            ok = isinstance(arg, tuple) if self.takes == "tuple" else _is_number(arg)
            if not ok:
                raise SpecArgumentError(
                    f"{self.name}() takes {'a tuple' if self.takes == 'tuple' else 'numbers'}, "
                    f"got {arg!r}",
                    span,
                    [f"usage: {self.doc}"],
                )
        if self.name in ("min", "max") and count == 1:
            raise SpecArgumentError(
                f"{self.name}() of one number is that number; give two or more",
                span,
                [f"usage: {self.doc}"],
            )
        return self.apply(*args)


def _round(x: float | int, digits: int | None = None) -> float | int:
    if digits is None:
        return round(x)
    if not isinstance(digits, int):
        raise TypeError("digits")
    return round(x, digits)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("min", 1, None, "number", min, "min", "min(a, b, ...)"),
        Builtin("max", 1, None, "number", max, "max", "max(a, b, ...)"),
        Builtin("abs", 1, 1, "number", abs, "abs", "abs(x)"),
        Builtin("int", 1, 1, "number", int, "int", "int(x): toward zero, as Python"),
        Builtin("round", 1, 2, "number", _round, "round", "round(x) or round(x, digits)"),
        Builtin("floor", 1, 1, "number", math.floor, "math.floor", "floor(x)"),
        Builtin("ceil", 1, 1, "number", math.ceil, "math.ceil", "ceil(x)"),
        Builtin("len", 1, 1, "tuple", len, "len", "len(tuple)"),
        Builtin("sqrt", 1, 1, "number", math.sqrt, "math.sqrt", "sqrt(x): attention's √d"),
        Builtin("log", 1, 2, "number", math.log, "math.log", "log(x) or log(x, base)"),
        Builtin("pow", 2, 2, "number", math.pow, "math.pow", "pow(x, y): x to the power y"),
    )
}


def call_builtin(name: str, args: list[Any], span: Span) -> Any:
    """``name(*args)`` for a built-in ``name``; errors are located at ``span``."""
    try:
        return BUILTINS[name].call(args, span)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SpecArgumentError(f"{name}() cannot take {args!r}: {exc}", span) from None
