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
from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from archc import nodes as n
from archc.builtins import BUILTINS, call_builtin
from archc.errors import SpecArgumentError, SpecNameError, SpecValueError, did_you_mean
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
    if isinstance(value, FunctionValue):
        return "function"
    if isinstance(value, Callee):
        return value.kind
    if isinstance(value, TensorValue):
        return "tensor"
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
    if isinstance(left, Callee) and isinstance(right, Callee):
        return True  # an op and a block: both things a chain can call
    return type_name(left) == type_name(right)


def index_value(value: Value, index: Value, expr: n.Index) -> Value:
    """``value[index]``: a tuple's item, counting from 0 (negative counts from the end)."""
    if not isinstance(value, tuple):
        raise SpecValueError(
            f"only a tuple can be indexed, not a {type_name(value)}", expr.value.span
        )
    if not isinstance(index, int) or isinstance(index, bool):
        raise SpecValueError(f"an index is a whole number, not {index!r}", expr.index.span)
    if not -len(value) <= index < len(value):
        raise SpecValueError(
            f"index {index} is out of range: the tuple has {len(value)} items",
            expr.index.span,
            [f"indices run from 0 to {len(value) - 1} (or -{len(value)} to -1)"],
        )
    return value[index]


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


class Callee:
    """An op or a block used as a value: ``activation=hardswish`` passes the op to a block,
    whose body calls it as ``-> activation``.  Two callees are equal when they name the same
    op or block, so ``if activation == relu`` works."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name  # the op's canonical name, or the block's
        self.kind = kind  # "op" or "block"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Callee) and (self.name, self.kind) == (other.name, other.kind)

    def __hash__(self) -> int:
        return hash((self.name, self.kind))

    def __repr__(self) -> str:
        return self.name


#: a tensor's named spatial sizes by rank (``in.height``, ``x.length``): index into its shape
#: after the channels.  Shared with the PyTorch emitter's symbolic tensors.
SPATIAL_FIELDS: dict[int, dict[str, int]] = {
    2: {"length": 0},
    3: {"height": 0, "width": 1},
    4: {"depth": 0, "height": 1, "width": 2},
}


class TensorValue:
    """A tensor seen from an expression: ``in.channels`` (the first axis), ``in.features`` (the
    last: a token's D), ``in.shape``, ``x.height``.

    Elaboration puts the tensors in scope next to the values; their shapes are worked out only
    when an expression asks (``shape`` is a function, so a spec that never asks pays nothing).
    """

    FIELDS = ("channels", "features", "shape", "rank", "length", "depth", "height", "width")

    def __init__(self, name: str, shape: Callable[[], tuple[int, ...]]) -> None:
        self.name = name
        self._shape = shape

    def attribute(self, field: str, span: Span) -> Value:
        if field not in self.FIELDS:
            raise SpecNameError(
                f"a tensor has no '.{field}'",
                span,
                [did_you_mean(field, self.FIELDS) or f"tensors have {', '.join(self.FIELDS)}"],
            )
        shape = self._shape()
        if field == "shape":
            return shape
        if field == "rank":
            return len(shape)
        if field == "channels":
            return shape[0]
        if field == "features":  # the last axis: a token's features, a flat tensor's size
            return shape[-1]
        axes = SPATIAL_FIELDS.get(len(shape), {})
        if field not in axes:
            raise SpecValueError(
                f"'{self.name}' is {'×'.join(map(str, shape))} (rank {len(shape)}): it has no "
                f"{field}",
                span,
            )
        return shape[1 + axes[field]]


class FunctionValue:
    """A spec function (``fn name(params) { ... }``) as a value: called like a builtin, its
    body sees its parameters, its own constants and the file's constants, nothing else."""

    def __init__(self, node: n.Function, env: Mapping[str, Value]) -> None:
        self.node = node
        self.env = env  # the file's constants, as they stand when the function is called
        self.active = 0  # calls in progress: a function that calls itself is an error

    def bind(self, args: list[Value], kwargs: dict[str, Value], span: Span) -> dict[str, Value]:
        """Arguments to parameters, defaults evaluated among the file's constants."""
        node = self.node
        params = {p.name: p for p in node.params}
        usage = f"usage: {node.name}({', '.join(p.name for p in node.params)})"
        if len(args) > len(node.params):
            raise SpecArgumentError(
                f"{node.name}() takes {len(node.params)} arguments, got {len(args)}", span, [usage]
            )
        bound = {p.name: v for p, v in zip(node.params, args, strict=False)}
        for key, value in kwargs.items():
            if key not in params:
                raise SpecArgumentError(
                    f"{node.name}() has no parameter '{key}'",
                    span,
                    [did_you_mean(key, params), usage],
                )
            if key in bound:
                raise SpecArgumentError(f"'{key}' is given twice", span)
            bound[key] = value
        for p in node.params:
            if p.name not in bound:
                if p.default is None:
                    raise SpecArgumentError(f"{node.name}() needs '{p.name}'", span, [usage])
                bound[p.name] = evaluate(p.default, ChainMap(bound, dict(self.env)))
        return bound

    def call(self, args: list[Value], kwargs: dict[str, Value], span: Span) -> Value:
        if self.active:
            raise SpecValueError(
                f"function '{self.node.name}' calls itself", span, ["functions cannot recurse"]
            )
        local: dict[str, Value] = self.bind(args, kwargs, span)
        env = ChainMap(local, dict(self.env))
        self.active += 1
        try:
            for const in self.node.consts:
                if const.name in local:
                    raise SpecNameError(f"'{const.name}' is already defined here", const.span)
                local[const.name] = evaluate(const.value, env)
            return evaluate(self.node.result, env)
        finally:
            self.active -= 1


def evaluate(expr: n.Expr, env: Mapping[str, Value], resolver: Resolver | None = None) -> Value:
    """The value of ``expr`` with names looked up in ``env``."""
    match expr:
        case n.Number(value=v) | n.Quantity(value=v) | n.String(value=v) | n.Bool(value=v):
            return v
        case n.Dims(values=values):
            return values
        case n.Name(name=name):
            try:  # one lookup: environments are chains of scopes, and this is the hot path
                return env[name]
            except KeyError:
                raise SpecNameError(
                    f"unknown name '{name}'", expr.span, [did_you_mean(name, list(env))]
                ) from None
        case n.Tuple(items=items):
            return tuple(evaluate(i, env, resolver) for i in items)
        case n.Index():
            return index_value(
                evaluate(expr.value, env, resolver), evaluate(expr.index, env, resolver), expr
            )
        case n.Function():
            return FunctionValue(expr, env)
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
        case n.Attr(value=n.Name(name=name)) if isinstance(env.get(name), TensorValue):
            return env[name].attribute(expr.name, expr.span)
        case n.Attr():
            if resolver is None:
                raise SpecValueError(f"'.{expr.name}' is only meaningful in an assert", expr.span)
            # The resolver gets the unevaluated left side: "inception_4a.params" names a scope.
            return resolver.attr(expr.value, expr.name, expr)
        case n.Call(func=func) if isinstance(env.get(func), FunctionValue) or (
            func in BUILTINS and func not in env
        ):
            args = [evaluate(a.value, env, resolver) for a in expr.args if a.name is None]
            kwargs = {a.name: evaluate(a.value, env, resolver) for a in expr.args if a.name}
            target = env.get(func)
            if isinstance(target, FunctionValue):
                return check_number(target.call(args, kwargs, expr.span), expr.span)
            if kwargs:
                raise SpecArgumentError(f"{func}() takes no named arguments", expr.span)
            return check_number(call_builtin(func, args, expr.span), expr.span)
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
