"""Python expressions that emitted code computes: spec expressions, partially evaluated.

A block class must work for every argument it can be given, so an expression over the block's
parameters (``width * 4``, ``2 if i == 0 else 1``) is written into the class as Python.  Where
every name in an expression is known (network level, file constants), it is folded to a literal
instead.  :func:`from_ast` turns a spec expression into a :data:`PyExpr` under an environment
mapping spec names to expressions; :func:`substitute` replaces variables (a block's parameters
by a call's arguments); :func:`render` writes Python with the fewest parentheses that keep the
meaning.  The spec language's operators are Python's, so folding uses Python's own operators.
"""

from __future__ import annotations

import operator
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archc import nodes as n
from archc.builtins import BUILTINS, call_builtin
from archc.emit.codegen import py_literal
from archc.errors import EmitError
from archc.evaluate import ARITHMETIC, COMPARISONS, SPATIAL_FIELDS, FunctionValue, index_value
from archc.source import Span


@dataclass(frozen=True)
class Lit:
    """A known value: bool, int, float, str or a tuple of those."""

    value: Any


@dataclass(frozen=True)
class Var:
    """A Python variable of the generated code (a parameter, a loop index, a local).

    ``definition`` is what a local stands for, so the variable can be expanded when an
    expression leaves the function that defines it (a block's output size, seen by its caller).
    """

    name: str
    definition: PyExpr | None = None


@dataclass(frozen=True)
class Raw:
    """Python code for a value only the generated code knows (``self.stage.out_channels``)."""

    code: str


@dataclass(frozen=True)
class BinOp:
    """``left op right``: arithmetic, comparison, ``and``, ``or``."""

    op: str
    left: PyExpr
    right: PyExpr


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: PyExpr


@dataclass(frozen=True)
class IfElse:
    test: PyExpr
    then: PyExpr
    orelse: PyExpr


@dataclass(frozen=True)
class TupleOf:
    items: tuple[PyExpr, ...]


@dataclass(frozen=True)
class Recur:
    """What a loop-carried variable holds after its loop: ``start``, then ``step`` ``count``
    times, where ``step`` reads the running value as ``carried`` and the loop index as
    ``index``.  Only ever the definition of a :class:`Var`; known when its parts are."""

    start: PyExpr
    step: PyExpr
    count: PyExpr
    carried: str
    index: str


@dataclass(frozen=True)
class Fn:
    """A call of one of the language's built-in functions, in its Python spelling
    (``max(a, b)``, ``math.ceil(x)``: :mod:`archc.builtins`)."""

    func: str
    args: tuple[PyExpr, ...]
    #: the value of a spec function's call, once its arguments are known
    fold: Callable[..., Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Item:
    """``value[index]``: an item of a tuple only the generated code knows."""

    value: PyExpr
    index: PyExpr


PyExpr = Lit | Var | Raw | BinOp | Unary | IfElse | TupleOf | Recur | Fn | Item


class TensorRef:
    """A tensor as an expression sees it (``in.channels``): what the class generator knows of
    it.  Only its attributes are values; the tensor itself is not."""

    def __init__(
        self,
        name: str,
        channels: PyExpr,
        rank: int,
        spatial: tuple[PyExpr, ...] | None,
        last: bool = False,
    ) -> None:
        self.name = name
        self.channels = channels
        self.rank = rank
        self.spatial = spatial
        self.last = last

    def attribute(self, field: str, span: Span) -> PyExpr:
        if field == "rank":
            return Lit(self.rank)
        if field == "features" and (self.last or self.rank == 1):
            return self.channels
        if field == "channels" and not self.last:
            return self.channels
        if self.rank == 1 and field == "shape":
            return tuple_of((self.channels,))
        if self.spatial is None:
            raise EmitError(
                f"the {field} of '{self.name}' is known only when the module is built "
                "(it depends on the input's size), so a class cannot be written with it",
                span,
                [
                    f"use in.{'features' if self.last else 'channels'}, or compute the size "
                    "outside the block"
                ],
            )
        shape = (*self.spatial, self.channels) if self.last else (self.channels, *self.spatial)
        if field == "shape":
            return tuple_of(shape)
        if field == "channels":
            return shape[0]
        if field == "features":
            return shape[-1]
        axes = SPATIAL_FIELDS.get(self.rank, {})
        if field in axes:
            return shape[1 + axes[field]]
        raise EmitError(f"a tensor has no '.{field}'", span)


class Unresolved(Exception):
    """Raised by a strict :func:`substitute`: the expression needs a value the caller lacks."""


_OPS: dict[str, Callable[[Any, Any], Any]] = {**ARITHMETIC, **COMPARISONS, "is": operator.is_}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "is"})
# Python's precedence, lowest first (https://docs.python.org/3/reference/expressions.html)
_PREC = {"if": 1, "or": 2, "and": 3, "not": 4, "cmp": 5, "+": 10, "*": 11, "neg": 12, "atom": 20}
_BINARY_PREC = {"+": 10, "-": 10, "*": 11, "/": 11, "//": 11, "%": 11, "and": 3, "or": 2}


def lit(value: Any) -> Lit:
    return Lit(value)


# --------------------------------------------------------------------------- building, folding
def binop(op: str, left: PyExpr, right: PyExpr) -> PyExpr:
    """``left op right``, folded when both sides are known (``and``/``or`` when the left is)."""
    if op in ("and", "or") and isinstance(left, Lit):
        return right if bool(left.value) == (op == "and") else left
    if isinstance(left, Lit) and isinstance(right, Lit):
        try:
            return Lit(_OPS[op](left.value, right.value))
        except (ArithmeticError, TypeError):
            pass  # left for the generated code (only reachable in a branch no instance takes)
    if (op in ("*", "//") and right == Lit(1)) or (op in ("+", "-") and right == Lit(0)):
        return left  # x * 1, x + 0: what a desugared chunk or split writes
    if (op == "*" and left == Lit(1)) or (op == "+" and left == Lit(0)):
        return right
    return BinOp(op, left, right)


def unary(op: str, operand: PyExpr) -> PyExpr:
    if isinstance(operand, Lit):
        if op == "not":
            return Lit(not operand.value)
        if isinstance(operand.value, int | float) and not isinstance(operand.value, bool):
            return Lit(-operand.value)
    return Unary(op, operand)


def ifelse(test: PyExpr, then: PyExpr, orelse: PyExpr) -> PyExpr:
    if isinstance(test, Lit):
        return then if test.value else orelse
    if then == orelse:
        return then
    return IfElse(test, then, orelse)


def tuple_of(items: tuple[PyExpr, ...]) -> PyExpr:
    if all(isinstance(i, Lit) for i in items):
        return Lit(tuple(i.value for i in items))  # type: ignore[union-attr]
    return TupleOf(items)


def product(factors: list[PyExpr]) -> PyExpr:
    """``a * b * ...`` without the factors that are the literal 1."""
    kept = [f for f in factors if f != Lit(1)]
    if not kept:
        return Lit(1)
    result = kept[0]
    for f in kept[1:]:
        result = binop("*", result, f)
    return result


def total(terms: list[PyExpr]) -> PyExpr:
    """``a + b + ...``, folding the known terms together."""
    known = sum(t.value for t in terms if isinstance(t, Lit))
    unknown = [t for t in terms if not isinstance(t, Lit)]
    result: PyExpr | None = None
    for t in unknown:
        result = t if result is None else binop("+", result, t)
    if result is None:
        return Lit(known)
    return binop("+", result, Lit(known)) if known else result


def item(value: PyExpr, index: PyExpr, expr: n.Index) -> PyExpr:
    """``value[index]``, folded (and checked, as elaboration checks it) where known."""
    if isinstance(value, Lit) and isinstance(index, Lit):
        return Lit(index_value(value.value, index.value, expr))
    if isinstance(value, TupleOf) and isinstance(index, Lit) and isinstance(index.value, int):
        return value.items[index.value]
    return Item(value, index)


def call(func: str, args: list[PyExpr], span: Span) -> PyExpr:
    """A built-in function of ``args``, folded when they are known."""
    if all(isinstance(a, Lit) for a in args):
        return Lit(call_builtin(func, [a.value for a in args], span))  # type: ignore[union-attr]
    if func == "int" and len(args) == 1 and _is_int_call(args[0]):
        return args[0]  # int(round(x)): round(x) is already an int (ruff's RUF046)
    return Fn(BUILTINS[func].python, tuple(args))


def _is_int_call(e: PyExpr) -> bool:
    """A call whose Python value is always an int: round(x), math.floor/ceil, int, len."""
    if not isinstance(e, Fn):
        return False
    return e.func in ("math.floor", "math.ceil", "int", "len") or (
        e.func == "round" and len(e.args) == 1
    )


class EmittedFunction:
    """A spec function that the generated file defines (``def make_divisible(...)``): the
    value behind its name while code is generated, and the identifier it has there."""

    def __init__(self, function: FunctionValue, identifier: str) -> None:
        self.function = function
        self.identifier = identifier


def apply_function(
    f: FunctionValue | EmittedFunction,
    args: list[PyExpr],
    kwargs: dict[str, PyExpr],
    span: Span,
) -> PyExpr:
    """A spec function applied to expressions: its value when every argument is known, else a
    call of the function the generated file defines (or, for one that has none, its body with
    the parameters replaced)."""
    function = f.function if isinstance(f, EmittedFunction) else f
    known_args = [a.value for a in args if isinstance(a, Lit)]
    known_kwargs = {k: v.value for k, v in kwargs.items() if isinstance(v, Lit)}
    if len(known_args) == len(args) and len(known_kwargs) == len(kwargs):
        return Lit(function.call(known_args, known_kwargs, span))
    if isinstance(f, EmittedFunction):
        names = [p.name for p in function.node.params]
        if len(args) > len(names) or set(kwargs) - set(names):
            raise EmitError(f"bad arguments for function '{function.node.name}'", span)
        # by position up to the last given one, so the call reads like the spec's
        given = list(args) + [kwargs[name] for name in names[len(args) :] if name in kwargs]
        if len(given) == len(args) + len(kwargs):
            return Fn(f.identifier, tuple(given), lambda *a: function.call(list(a), {}, span))
    return inline_function(function, args, kwargs, span)


def inline_function(
    f: FunctionValue, args: list[PyExpr], kwargs: dict[str, PyExpr], span: Span
) -> PyExpr:
    """A spec function applied to expressions: its body, with its parameters replaced."""
    node = f.node
    known: dict[str, PyExpr] = {k: Lit(v) for k, v in f.env.items()}
    if len(args) > len(node.params) or set(kwargs) - {p.name for p in node.params}:
        raise EmitError(f"bad arguments for function '{node.name}'", span)
    local: dict[str, PyExpr] = {p.name: v for p, v in zip(node.params, args, strict=False)}
    local.update(kwargs)
    env: ChainMap[str, PyExpr] = ChainMap(local, known)
    for p in node.params:
        if p.name not in local:
            if p.default is None:
                raise EmitError(f"function '{node.name}' needs '{p.name}'", span)
            local[p.name] = from_ast(p.default, env)
    for const in node.consts:
        local[const.name] = from_ast(const.value, env)
    return from_ast(node.result, env)


def from_ast(expr: n.Expr, env: Mapping[str, Any]) -> PyExpr:
    """The spec expression ``expr`` with its names taken from ``env``, folded where known.

    ``env`` maps names to expressions, and tensors to :class:`TensorRef` (``in.channels``)."""
    match expr:
        case n.Attr(value=n.Name(name=name)) if isinstance(env.get(name), TensorRef):
            return env[name].attribute(expr.name, expr.span)  # type: ignore[no-any-return,unused-ignore]
        case n.Index():
            return item(from_ast(expr.value, env), from_ast(expr.index, env), expr)
        case n.Call(func=func):
            args = [from_ast(a.value, env) for a in expr.args if a.name is None]
            kwargs = {a.name: from_ast(a.value, env) for a in expr.args if a.name}
            target = env.get(func)
            if isinstance(target, Lit) and isinstance(
                target.value, FunctionValue | EmittedFunction
            ):
                return apply_function(target.value, args, kwargs, expr.span)
            if func in BUILTINS and func not in env and not kwargs:
                return call(func, args, expr.span)
            raise EmitError(f"'{func}(...)' cannot be emitted", expr.span)
        case n.Number(value=v) | n.Quantity(value=v) | n.String(value=v) | n.Bool(value=v):
            return Lit(v)
        case n.Dims(values=values):
            return Lit(tuple(values))
        case n.Name(name=name):
            if name not in env:
                raise EmitError(f"unknown name '{name}'", expr.span)
            found = env[name]
            if isinstance(found, TensorRef):
                raise EmitError(f"'{name}' is a tensor, not a value", expr.span)
            return found  # type: ignore[no-any-return,unused-ignore]
        case n.Tuple(items=items):
            return tuple_of(tuple(from_ast(i, env) for i in items))
        case n.BinOp(op=op) | n.Compare(op=op):
            return binop(op, from_ast(expr.left, env), from_ast(expr.right, env))
        case n.UnaryOp(op=op):
            return unary(op, from_ast(expr.operand, env))
        case n.Cond():
            return ifelse(
                from_ast(expr.test, env), from_ast(expr.then, env), from_ast(expr.orelse, env)
            )
    raise EmitError(f"a {type(expr).__name__} expression cannot be emitted", expr.span)


def substitute(e: PyExpr, mapping: Mapping[str, PyExpr], strict: bool = False) -> PyExpr:
    """``e`` with variables replaced from ``mapping``; locals not in it expand to their definition.

    ``strict``: ``e`` is leaving the function it was written for (a block's output size, seen
    by the caller), so anything the caller cannot write raises :class:`Unresolved`: a variable
    with neither a mapping nor a definition, a :class:`Raw` value, a loop result whose start or
    count is unknown.
    """
    match e:
        case Var(name=name, definition=definition):
            if name in mapping:
                return mapping[name]
            if definition is None:
                if strict:
                    raise Unresolved(name)
                return e
            return substitute(definition, mapping, strict)
        case Raw():
            if strict:
                raise Unresolved(e.code)
            return e
        case BinOp(op=op, left=left, right=right):
            return binop(op, substitute(left, mapping, strict), substitute(right, mapping, strict))
        case Unary(op=op, operand=operand):
            return unary(op, substitute(operand, mapping, strict))
        case IfElse(test=test, then=then, orelse=orelse):
            return ifelse(
                substitute(test, mapping, strict),
                substitute(then, mapping, strict),
                substitute(orelse, mapping, strict),
            )
        case TupleOf(items=items):
            return tuple_of(tuple(substitute(i, mapping, strict) for i in items))
        case Fn(func=func, args=args):
            subs = [substitute(a, mapping, strict) for a in args]
            builtin = next((b for b in BUILTINS.values() if b.python == func), None)
            fold = builtin.apply if builtin is not None else e.fold
            if fold is not None and all(isinstance(a, Lit) for a in subs):
                return Lit(fold(*[a.value for a in subs]))  # type: ignore[union-attr]
            return Fn(func, tuple(subs), e.fold)
        case Item(value=held, index=index):
            v, i = substitute(held, mapping, strict), substitute(index, mapping, strict)
            if isinstance(v, Lit) and isinstance(i, Lit):
                return Lit(v.value[i.value])
            return Item(v, i)
        case Recur():
            start = substitute(e.start, mapping, strict)
            count = substitute(e.count, mapping, strict)
            if isinstance(start, Lit) and isinstance(count, Lit):
                value: PyExpr = start
                for k in range(count.value):
                    inner = {**mapping, e.carried: value, e.index: Lit(k)}
                    value = substitute(e.step, inner, strict)
                    if not isinstance(value, Lit):
                        break
                else:
                    return value
            if strict:
                raise Unresolved(e.carried)
            return e
    return e


def calls(e: PyExpr) -> set[str]:
    """The functions ``e`` calls (their Python names)."""
    match e:
        case Fn(func=func, args=args):
            return {func}.union(*(calls(a) for a in args))
        case BinOp(left=left, right=right):
            return calls(left) | calls(right)
        case Unary(operand=operand):
            return calls(operand)
        case IfElse(test=test, then=then, orelse=orelse):
            return calls(test) | calls(then) | calls(orelse)
        case TupleOf(items=items):
            return set().union(*(calls(i) for i in items))
        case Item(value=value, index=index):
            return calls(value) | calls(index)
        case Var(definition=definition) if definition is not None:
            return calls(definition)
        case Recur():
            return calls(e.start) | calls(e.step) | calls(e.count)
    return set()


def uses_math(e: PyExpr) -> bool:
    """Whether ``e`` calls ``math.floor`` or ``math.ceil`` (the file then imports math)."""
    match e:
        case Fn(func=func, args=args):
            return func.startswith("math.") or any(uses_math(a) for a in args)
        case BinOp(left=left, right=right):
            return uses_math(left) or uses_math(right)
        case Unary(operand=operand):
            return uses_math(operand)
        case IfElse(test=test, then=then, orelse=orelse):
            return uses_math(test) or uses_math(then) or uses_math(orelse)
        case TupleOf(items=items):
            return any(uses_math(i) for i in items)
        case Item(value=value, index=index):
            return uses_math(value) or uses_math(index)
        case Var(definition=definition) if definition is not None:
            return uses_math(definition)
        case Recur():
            return uses_math(e.start) or uses_math(e.step) or uses_math(e.count)
    return False


def free_vars(e: PyExpr, expand: bool = False) -> set[str]:
    """Names of the variables ``e`` reads (through local definitions when ``expand``)."""
    match e:
        case Var(name=name, definition=definition):
            if expand and definition is not None:
                return free_vars(definition, expand)
            return {name}
        case BinOp(left=left, right=right):
            return free_vars(left, expand) | free_vars(right, expand)
        case Unary(operand=operand):
            return free_vars(operand, expand)
        case IfElse(test=test, then=then, orelse=orelse):
            return free_vars(test, expand) | free_vars(then, expand) | free_vars(orelse, expand)
        case TupleOf(items=items) | Fn(args=items):
            return set().union(*(free_vars(i, expand) for i in items))
        case Item(value=value, index=index):
            return free_vars(value, expand) | free_vars(index, expand)
        case Recur():
            inner = free_vars(e.step, expand) - {e.carried, e.index}
            return free_vars(e.start, expand) | free_vars(e.count, expand) | inner
    return set()


# --------------------------------------------------------------------------- rendering
def _prec(e: PyExpr) -> int:
    match e:
        case Lit(value=v):
            negative = isinstance(v, int | float) and not isinstance(v, bool) and v < 0
            return _PREC["neg"] if negative else _PREC["atom"]
        case BinOp(op=op):
            return _PREC["cmp"] if op in _COMPARISONS else _BINARY_PREC[op]
        case Unary(op=op):
            return _PREC["not"] if op == "not" else _PREC["neg"]
        case IfElse():
            return _PREC["if"]
    return _PREC["atom"]


def wrap(e: PyExpr, at_least: int) -> str:
    """``e`` rendered, in parentheses if it binds less tightly than ``at_least``."""
    text = render(e)
    return f"({text})" if _prec(e) < at_least else text


def render(e: PyExpr) -> str:
    """Python source for ``e``, parenthesised only where precedence needs it."""
    match e:
        case Lit(value=value):
            return py_literal(value)
        case Var(name=name):
            return name
        case Raw(code=code):
            return code
        case BinOp(op=op, left=left, right=right):
            p = _prec(e)
            if op in _COMPARISONS:  # never chain: a < b < c means something else in Python
                return f"{wrap(left, p + 1)} {op} {wrap(right, p + 1)}"
            return f"{wrap(left, p)} {op} {wrap(right, p + 1)}"
        case Unary(op="not", operand=operand):
            return f"not {wrap(operand, _PREC['not'])}"
        case Unary(operand=operand):
            return f"-{wrap(operand, _PREC['neg'])}"
        case IfElse(test=test, then=then, orelse=orelse):
            return f"{wrap(then, 2)} if {wrap(test, 2)} else {wrap(orelse, 1)}"
        case TupleOf(items=items):
            inner = ", ".join(wrap(i, 2) for i in items)
            return f"({inner},)" if len(items) == 1 else f"({inner})"
        case Fn(func=func, args=args):
            return f"{func}({', '.join(wrap(a, 2) for a in args)})"
        case Item(value=value, index=index):
            return f"{wrap(value, _PREC['atom'])}[{render(index)}]"
    raise EmitError(f"internal: cannot write {e!r} as Python")  # pragma: no cover


class ExprArithmetic:
    """The arithmetic an op's symbolic shape rule needs (:class:`archc.ops.base.Arithmetic`),
    over expressions: what lets the PyTorch emitter track channel counts through a block
    whose parameters are Python variables with the registry's own rule."""

    def total(self, terms: list[PyExpr]) -> PyExpr:
        return total(terms)

    def product(self, factors: list[PyExpr]) -> PyExpr:
        return product(factors)

    def difference(self, a: PyExpr, b: PyExpr) -> PyExpr:
        return a if b == Lit(0) else binop("-", a, b)

    def quotient(self, a: PyExpr, b: PyExpr) -> PyExpr:
        return a if b == Lit(1) else binop("//", a, b)

    def items(self, value: PyExpr) -> tuple[PyExpr, ...] | None:
        if isinstance(value, Lit) and isinstance(value.value, tuple):
            return tuple(lit(v) for v in value.value)
        if isinstance(value, TupleOf):
            return value.items
        return None

    def known(self, value: PyExpr) -> int | None:
        if isinstance(value, Lit) and isinstance(value.value, int):
            return value.value
        return None


EXPR_ARITHMETIC = ExprArithmetic()
