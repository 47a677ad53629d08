"""Elaboration's rules for calls and chains, written once for every walk of a spec.

A call's arguments are split into positional and named ones (:func:`split_args`), then bound to
an op's attribute schema (:func:`bind_op_args`) or to a block's parameters
(:func:`bind_block_args`); a chain is classified by :func:`plan_chain` (does it start from a
tensor, with a merge, or from the current tensor; does an assigned name name the one layer or a
scope of layers); a repeat's body layout by :func:`repeat_is_one_call`.  The values may be
concrete numbers (the IR, :mod:`archc.elaborate`) or symbolic expressions (the PyTorch class
generator, :mod:`archc.emit.pytorch.classgen`): the rules and their error messages are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from archc import nodes as n
from archc.errors import SpecArgumentError, SpecNameError, SpecValueError, did_you_mean
from archc.ops import ArgProblem, Op, lookup
from archc.ops.attrs import bind, show_value, signature

V = TypeVar("V")
Positional = list[tuple[V, n.Arg]]
Named = dict[str, tuple[V, n.Arg]]


def split_args(
    args: Sequence[n.Arg], value: Callable[[n.Expr], V]
) -> tuple[list[tuple[V, n.Arg]], dict[str, tuple[V, n.Arg]]]:
    """Positional and named arguments, each with its value and the AST argument (for spans)."""
    positional: list[tuple[V, n.Arg]] = []
    named: dict[str, tuple[V, n.Arg]] = {}
    for arg in args:
        if arg.name is None:
            if named:
                raise SpecArgumentError("a positional argument cannot follow a named one", arg.span)
            positional.append((value(arg.value), arg))
        else:
            if arg.name in named:
                raise SpecArgumentError(f"'{arg.name}' is given twice", arg.span)
            named[arg.name] = (value(arg.value), arg)
    return positional, named


def op_argument_error(
    op: Op,
    exc: ArgProblem,
    link: n.Link,
    positional: Sequence[tuple[Any, n.Arg]],
    named: Mapping[str, tuple[Any, n.Arg]],
) -> SpecArgumentError:
    """An :class:`ArgProblem` from ``op``'s validation, located at the argument it names."""
    names = [s.name for s in op.attrs]
    span = link.span
    if exc.attr and exc.attr in named:
        span = named[exc.attr][1].span
    elif exc.attr in names:
        index = names.index(exc.attr)
        if index < len(positional):
            span = positional[index][1].span
    hints = [f"usage: {signature(op)}"]
    if exc.attr and exc.attr not in names:
        hints.insert(0, did_you_mean(exc.attr, names))
    return SpecArgumentError(str(exc), span, hints)


def bind_op_args(
    op: Op,
    link: n.Link,
    positional: Sequence[tuple[Any, n.Arg]],
    named: Mapping[str, tuple[Any, n.Arg]],
) -> dict[str, Any]:
    """``op``'s attributes from concrete argument values: bound, defaulted, validated."""
    try:
        return bind(op, [v for v, _ in positional], {k: v for k, (v, _) in named.items()})
    except ArgProblem as exc:
        raise op_argument_error(op, exc, link, positional, named) from None


def merge_inputs(op: Op, link: n.Link) -> tuple[list[tuple[str, n.Arg]], n.Link]:
    """A merge's tensor arguments (each a tensor name with its argument) and the link with only
    its attribute arguments."""
    args = list(link.args or ())
    tensor_args = [a for a in args if a.name is None]
    if len(tensor_args) < 2:
        raise SpecArgumentError(
            f"{op.name} joins two or more tensors, got {len(tensor_args)}",
            link.span,
            [f"usage: {op.name}(a, b, ...)"],
        )
    names: list[tuple[str, n.Arg]] = []
    for a in tensor_args:
        if not isinstance(a.value, n.Name):
            raise SpecArgumentError(f"{op.name} takes tensor names, not expressions", a.span)
        names.append((a.value.name, a))
    attr_link = n.Link(
        link.name, tuple(a for a in args if a.name), link.alias, link.span, link.name_span
    )
    return names, attr_link


def block_signature(block: n.BlockDef) -> str:
    """``unit(width, stride=1)``: literal defaults shown, computed ones as ``...``."""
    parts = []
    for p in block.params:
        if p.default is None:
            parts.append(p.name)
        elif isinstance(p.default, n.Number | n.Bool | n.String):
            parts.append(f"{p.name}={show_value(p.default.value)}")
        else:
            parts.append(f"{p.name}=...")
    return f"{block.name}({', '.join(parts)})"


def bind_block_args(
    block: n.BlockDef,
    link: n.Link,
    positional: Sequence[tuple[V, n.Arg]],
    named: Mapping[str, tuple[V, n.Arg]],
    default: Callable[[n.Param, dict[str, V]], V],
) -> dict[str, V]:
    """The block's parameters in declaration order; ``default(param, bound_so_far)`` gives the
    value of a parameter the call leaves out (its default expression, evaluated)."""
    params = {p.name: p for p in block.params}
    usage = f"usage: {block_signature(block)}"
    if len(positional) > len(block.params):
        raise SpecArgumentError(
            f"block '{block.name}' takes {len(block.params)} arguments, got {len(positional)}",
            positional[len(block.params)][1].span,
            [usage],
        )
    bound: dict[str, V] = {}
    for p, (value, _) in zip(block.params, positional, strict=False):
        bound[p.name] = value
    for key, (value, arg) in named.items():
        if key not in params:
            raise SpecArgumentError(
                f"block '{block.name}' has no parameter '{key}'",
                arg.span,
                [did_you_mean(key, params), usage],
            )
        if key in bound:
            raise SpecArgumentError(f"'{key}' is given twice", arg.span)
        bound[key] = value
    for p in block.params:
        if p.name not in bound:
            if p.default is None:
                raise SpecArgumentError(
                    f"block '{block.name}' needs '{p.name}'", link.span, [usage]
                )
            bound[p.name] = default(p, bound)
    return {p.name: bound[p.name] for p in block.params}


# --------------------------------------------------------------------------- chains
@dataclass(frozen=True)
class ChainPlan:
    """How a chain is elaborated.

    ``start``: ``"tensor"`` (the first link names a tensor, which is the chain's input),
    ``"merge"`` (the first link joins tensors given as its arguments), ``"source"`` (the first
    link reads no tensor: a ``param``) or ``"current"`` (the first link takes the current
    tensor).  ``links`` are the links that make layers or block
    instances.  ``scope``: whether an assigned name (``t = a -> b``) names a scope holding the
    links (more than one link, or an ``as``) rather than the one layer itself.
    """

    start: str
    links: tuple[n.Link, ...]
    scope: bool


def is_merge(link: n.Link) -> bool:
    """Whether ``link`` calls a merge op (its inputs are its arguments)."""
    op = lookup(link.name)
    return op is not None and op.is_merge


def plan_chain(
    chain: n.Chain, assign: str | None, is_tensor: Callable[[n.Link], bool]
) -> ChainPlan:
    """Classify ``chain`` (assigned to ``assign``, if any); ``is_tensor`` says whether a bare
    link names a tensor in scope."""
    links = chain.links
    first = links[0]
    if first.args is None and is_tensor(first):
        if first.alias:
            raise SpecNameError(f"'{first.name}' is a tensor; 'as' names layers", first.span)
        start, links = "tensor", links[1:]
    elif _reads_nothing(first):
        start = "source"  # a learned tensor (param): no input
    else:
        start = "merge" if is_merge(first) else "current"
    scope = assign is not None and (len(links) > 1 or any(link.alias for link in links[:1]))
    return ChainPlan(start, tuple(links), scope)


def _reads_nothing(link: n.Link) -> bool:
    op = lookup(link.name)
    return op is not None and not op.internal and not op.is_merge and op.arity == 0


def no_input_error(link: n.Link) -> SpecNameError:
    """A chain whose first link has nothing to take as its input."""
    return SpecNameError(
        f"'{link.name}' has no input: nothing comes before it",
        link.name_span,
        ["start the chain with a tensor (in, an input, or a name assigned earlier)"],
    )


def bind_targets(
    stmt: n.Repeat,
    row: V,
    values: dict[str, V] | Any,
    items: Callable[[V], tuple[V, ...] | None] = lambda row: (
        row if isinstance(row, tuple) else None
    ),
) -> None:
    """Bind a ``for`` loop's names to one row: the row itself for one name, its items for
    ``(a, b, ...)`` (``items`` splits a row into its items, or says it cannot)."""
    if not stmt.unpack:
        values[stmt.targets[0]] = row
        return
    parts = items(row)
    if parts is None or len(parts) != len(stmt.targets):
        got = "not a tuple" if parts is None else f"{len(parts)} items"
        assert stmt.over is not None
        raise SpecValueError(
            f"each row of the for loop must have {len(stmt.targets)} items "
            f"({', '.join(stmt.targets)}), got {got}",
            stmt.over.span,
        )
    for name, value in zip(stmt.targets, parts, strict=True):
        values[name] = value


def resolve_callee(link: n.Link, value_of: Callable[[str], Any]) -> n.Link:
    """``link`` with its name replaced by the op or block a value stands for: in a block called
    with ``activation=hardswish``, ``-> activation`` calls ``hardswish`` (its layer is named
    ``hardswish``, as if written so).  ``value_of(name)`` is the value the name has, or None."""
    target = value_of(link.name)
    name = getattr(target, "name", None)
    if name is None or getattr(target, "kind", None) not in ("op", "block"):
        return link
    return n.Link(name, link.args, link.alias, link.span, link.name_span)


def repeat_is_one_call(stmt: n.Repeat) -> bool:
    """A repeat body that is a single chain statement: each iteration *is* that call (its scope
    is the iteration number, ``layer1.0.conv1``); any other body is an iteration scope."""
    return len(stmt.body) == 1 and isinstance(stmt.body[0], n.ChainStmt)
