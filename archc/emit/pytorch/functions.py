"""Spec functions (``fn make_divisible(v, divisor = 8) { ... }``) as Python functions of the
emitted file, so a block's constructor reads ``make_divisible(c * width)`` as the spec does."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping

from archc.emit import pyexpr as px
from archc.emit.codegen import AMBIGUOUS, PY_BUILTINS, Call, Namespace, Writer
from archc.emit.pytorch.names import CODE_NAMES
from archc.evaluate import FunctionValue


def render_function(
    w: Writer, identifier: str, function: FunctionValue, globals_: Mapping[str, px.PyExpr]
) -> set[str]:
    """Write ``def identifier(...)`` for ``function``; returns the functions its body calls.

    Parameters and the function's constants are Python locals; file constants are folded in
    as literals.  A default that reads an earlier parameter (``min_value=divisor``) becomes
    ``None`` in the signature and is filled in first thing in the body, as Python requires.
    """
    node = function.node
    names = Namespace(PY_BUILTINS | AMBIGUOUS | CODE_NAMES | {"math"})
    env: ChainMap[str, px.PyExpr] = ChainMap({}, dict(globals_))
    params: list[str | Call] = []
    late: list[tuple[str, px.PyExpr]] = []
    for p in node.params:
        var = names.name(("param", p.name), p.name)
        env.maps[0][p.name] = px.Var(var)
        if p.default is None:
            params.append(var)
            continue
        default = px.from_ast(p.default, env)
        if isinstance(default, px.Lit):
            params.append(f"{var}={px.render(default)}")
        else:
            params.append(f"{var}=None")
            late.append((var, default))
    body: list[str] = [f"if {var} is None:\n    {var} = {px.render(d)}" for var, d in late]
    called: set[str] = set()
    for const in node.consts:
        var = names.name(("const", const.name), const.name)
        value = px.from_ast(const.value, env)
        called |= px.calls(value)
        body.append(f"{var} = {px.render(value)}")
        env.maps[0][const.name] = px.Var(var)
    result = px.from_ast(node.result, env)
    called |= px.calls(result)
    body.append(f"return {px.render(result)}")
    w.call("", Call(f"def {identifier}", tuple(params), closing=":"))
    with w.indent():
        where = f"{node.span.file}, line {node.span.line}"
        w.line(f'"""Function ``{node.name}`` of the spec ({where})."""')
        for statement in body:
            for line in statement.split("\n"):
                w.line(line)
    return called
