"""Evaluating expressions: constants, block arguments, repeat indices, budget assertions.

Values are Python ints, floats, bools, strings and tuples.  The rules are Python's, made stricter
where a silent conversion would hide a mistake: no arithmetic on booleans or strings, ``/`` always
gives a float, division by zero is a located error.  Budget assertions need names and calls that
only ``archc check`` can answer (``params``, ``inception_4a.macs``); it passes a
:class:`Resolver` for those.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from archc import nodes as n
from archc.errors import SpecNameError, SpecValueError, did_you_mean
from archc.limits import current as current_limits
from archc.source import Span

Value = Any  # int | float | bool | str | tuple[Value, ...]


class Resolver(Protocol):
    """Answers what plain constants cannot: attribute access and function calls in assertions."""

    def attr(self, target: n.Expr, name: str, expr: n.Attr) -> Value: ...

    def call(
        self, func: str, args: list[Value], kwargs: dict[str, Value], expr: n.Call
    ) -> Value: ...


#: the language's binary operators as Python functions (shared with archc.emit.pyexpr)
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def type_name(value: Value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, tuple):
        return "tuple"
    return type(value).__name__


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(left: Value, right: Value) -> bool:
    """``==`` and ``!=`` compare numbers with numbers, and otherwise values of one type only:
    ``params == "x"`` is a mistake to report, not a comparison that is simply false."""
    if _is_number(left) and _is_number(right):
        return True
    if isinstance(left, tuple) and isinstance(right, tuple):
        return True
    return type_name(left) == type_name(right)


def check_number(value: Value, span: Span) -> Value:
    """``value`` if it is within the limits for numbers; a located error otherwise.

    Integers must fit in ``int_bits`` bits (int64 by default: ONNX and PyTorch hold no more);
    floats must be finite.  Checked at every literal and after every operation, so thirty
    squarings of a constant stop at the first result that is too big instead of computing for
    minutes.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        limits = current_limits()
        if value > limits.max_int or value < -limits.max_int:
            raise SpecValueError(
                f"integer too large: more than {limits.int_bits} bits",
                span,
                [limits.hint("int_bits")],
            )
    elif isinstance(value, float) and not math.isfinite(value):
        raise SpecValueError("number too large: the result is not finite", span)
    return value


def evaluate(expr: n.Expr, env: Mapping[str, Value], resolver: Resolver | None = None) -> Value:
    """The value of ``expr`` with names looked up in ``env``."""
    match expr:
        case n.Number(value=v) | n.Quantity(value=v) | n.String(value=v) | n.Bool(value=v):
            return v
        case n.Dims(values=values):
            return values
        case n.Name(name=name):
            if name in env:
                return env[name]
            raise SpecNameError(
                f"unknown name '{name}'", expr.span, [did_you_mean(name, list(env))]
            )
        case n.Tuple(items=items):
            return tuple(evaluate(i, env, resolver) for i in items)
        case n.BinOp(op="and"):
            left = evaluate(expr.left, env, resolver)
            return evaluate(expr.right, env, resolver) if left else left
        case n.BinOp(op="or"):
            left = evaluate(expr.left, env, resolver)
            return left if left else evaluate(expr.right, env, resolver)
        case n.BinOp(op=op):
            left = evaluate(expr.left, env, resolver)
            right = evaluate(expr.right, env, resolver)
            if not (_is_number(left) and _is_number(right)):
                raise SpecValueError(
                    f"cannot apply '{op}' to {type_name(left)} and {type_name(right)}",
                    expr.span,
                    ["arithmetic works on numbers only"],
                )
            if op in ("/", "//", "%") and right == 0:
                raise SpecValueError("division by zero", expr.right.span)
            try:
                result = ARITHMETIC[op](left, right)
            except OverflowError:
                raise SpecValueError(
                    "number too large: the result is not finite", expr.span
                ) from None
            return check_number(result, expr.span)
        case n.Compare(op=op):
            left = evaluate(expr.left, env, resolver)
            right = evaluate(expr.right, env, resolver)
            if op not in ("==", "!=") and not (_is_number(left) and _is_number(right)):
                raise SpecValueError(
                    f"cannot compare {type_name(left)} and {type_name(right)} with '{op}'",
                    expr.span,
                )
            if not _comparable(left, right):
                raise SpecValueError(
                    f"cannot compare {type_name(left)} and {type_name(right)} with '{op}'",
                    expr.span,
                    ["the two sides are of different kinds, so this could never be true"],
                )
            return COMPARISONS[op](left, right)
        case n.UnaryOp(op="not"):
            return not evaluate(expr.operand, env, resolver)
        case n.UnaryOp(op="-"):
            value = evaluate(expr.operand, env, resolver)
            if not _is_number(value):
                raise SpecValueError(f"cannot negate a {type_name(value)}", expr.span)
            return check_number(-value, expr.span)
        case n.Cond():
            test = evaluate(expr.test, env, resolver)
            return evaluate(expr.then if test else expr.orelse, env, resolver)
        case n.Attr():
            if resolver is None:
                raise SpecValueError(f"'.{expr.name}' is only meaningful in an assert", expr.span)
            # The resolver gets the unevaluated left side: "inception_4a.params" names a scope.
            return resolver.attr(expr.value, expr.name, expr)
        case n.Call():
            if resolver is None:
                raise SpecValueError(
                    f"'{expr.func}(...)' is not a value here",
                    expr.span,
                    ["calls in expressions are only meaningful in an assert"],
                )
            args = [evaluate(a.value, env, resolver) for a in expr.args if a.name is None]
            kwargs = {a.name: evaluate(a.value, env, resolver) for a in expr.args if a.name}
            return resolver.call(expr.func, args, kwargs, expr)
    raise SpecValueError(f"cannot evaluate {type(expr).__name__}", expr.span)  # pragma: no cover
