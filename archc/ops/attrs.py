"""Binding call arguments to an op's attribute schema.

Generic over :class:`~archc.ops.base.AttrSpec` kinds, so every op validates the same way and
errors read the same: the argument's name, what it got, what it takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from archc.ops.base import REQUIRED, ArgProblem, Attrs, AttrSpec, Op

_KIND_WORDS = {
    "count": "a whole number >= 1",
    "nonneg": "a whole number >= 0",
    "axis": "a whole number (an axis of the per-sample tensor; -1 is the last)",
    "dims": "a tuple of whole numbers >= 1 (one of them may be -1: whatever is left)",
    "order": "a tuple of axes (whole numbers >= 0)",
    "pair": "a whole number >= 1 or a pair (h, w)",
    "pad": 'a whole number >= 0, a pair (h, w), or "same"',
    "sides": "a whole number >= 0, a pair (h, w) or four (left, right, top, bottom)",
    "float": "a number",
    "positive": "a number > 0",
    "prob": "a number in [0, 1)",
    "bool": "true or false",
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_at_least(v: Any, low: int) -> bool:
    return _is_int(v) and v >= low


def _pair(v: Any, low: int, n: int = 2) -> tuple[int, ...] | None:
    """``v`` as ``n`` sizes >= ``low`` (one number stands for all of them), or None."""
    if _int_at_least(v, low):
        return (v,) * n
    if isinstance(v, tuple) and len(v) == n and all(_int_at_least(x, low) for x in v):
        return tuple(v)
    return None


#: how an ``n``-size value is written, for messages
_AXES_WORDS = {1: "a one-item tuple (l,)", 2: "a pair (h, w)", 3: "a triple (d, h, w)"}


def normalise(spec: AttrSpec, value: Any) -> Any:
    """Check ``value`` against ``spec.kind`` and return its canonical form, or raise."""
    kind = spec.kind
    result: Any = None
    if value is None and spec.default is None:
        return None  # an optional argument left out
    if kind == "count":
        result = value if _int_at_least(value, 1) else None
    elif kind == "axis":
        result = value if _is_int(value) else None
    elif kind == "order":
        items = value if isinstance(value, tuple) else (value,)
        result = tuple(items) if items and all(_int_at_least(v, 0) for v in items) else None
    elif kind == "dims":
        items = value if isinstance(value, tuple) else (value,)
        ok = all(_is_int(v) and (v >= 1 or v == -1) for v in items)
        result = tuple(items) if items and ok and items.count(-1) <= 1 else None
    elif kind == "nonneg":
        result = value if _int_at_least(value, 0) else None
    elif kind == "pair":
        result = _pair(value, 1, spec.n)
    elif kind == "pad":
        result = "same" if value == "same" else _pair(value, 0, spec.n)
    elif kind == "sides":
        if isinstance(value, tuple) and len(value) == 4 and all(_int_at_least(x, 0) for x in value):
            result = tuple(value)
        else:
            pair = _pair(value, 0)
            result = None if pair is None else (pair[1], pair[1], pair[0], pair[0])
    elif kind == "positive":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        result = float(value) if ok and math.isfinite(value) and value > 0 else None
    elif kind == "choice":
        result = value if isinstance(value, str) and value in spec.choices else None
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            result = float(value)
    elif kind == "prob":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1
        result = float(value) if ok else None
    elif kind == "bool":
        result = value if isinstance(value, bool) else None
    else:  # pragma: no cover - a registry bug
        raise ValueError(f"unknown attribute kind {kind!r}")
    if result is None:
        words = _KIND_WORDS.get(kind) or " or ".join(show_value(c) for c in spec.choices)
        if kind in ("pair", "pad") and spec.n != 2:
            words = words.replace("a pair (h, w)", _AXES_WORDS.get(spec.n, f"{spec.n} sizes"))
        raise ArgProblem(f"'{spec.name}' must be {words}, not {show_value(value)}", spec.name)
    return result


def show_value(value: Any) -> str:
    """A value as the language writes it: ``true``, ``"same"``, ``(1, 7)``."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(show_value(v) for v in value) + ")"
    return repr(value)


def signature(op: Op) -> str:
    """``conv(out, kernel, stride=1, pad=0, ...)``: for messages and ``archc ops``."""
    parts = ["a, b, ..."] if op.is_merge else []
    for spec in op.attrs:
        if spec.required:
            parts.append(spec.name)
        elif isinstance(spec.default, str) and spec.default.startswith("="):
            parts.append(f"{spec.name}={spec.default[1:]}")
        else:
            parts.append(f"{spec.name}={show_value(spec.default)}")
    return f"{op.name}({', '.join(parts)})" if parts else op.name


def bind(
    op: Op,
    positional: Sequence[Any],
    named: dict[str, Any],
    symbolic: Callable[[AttrSpec, Any], Any] | None = None,
) -> Attrs:
    """Match positional and named values to ``op.attrs``; fill defaults; normalise; validate.

    ``symbolic(spec, given)`` replaces :func:`normalise` for values that are not plain numbers (the
    PyTorch class generator binds symbolic expressions: it normalises the literal ones and
    keeps the rest); the cross-attribute :meth:`Op.check` then runs only when ``symbolic`` is
    not given.  Defaults are always normalised.
    """
    convert = symbolic or normalise
    specs = op.attrs
    if len(positional) > len(specs):
        raise ArgProblem(
            f"{op.name} takes at most {len(specs)} positional argument"
            f"{'s' if len(specs) != 1 else ''}, got {len(positional)}"
        )
    raw: dict[str, Any] = {}
    for spec, value in zip(specs, positional, strict=False):
        raw[spec.name] = value
    known = {s.name for s in specs}
    for name, value in named.items():
        if name not in known:
            raise ArgProblem(f"{op.name} has no argument '{name}'", name)
        if name in raw:
            raise ArgProblem(f"'{name}' given twice", name)
        raw[name] = value
    attrs: Attrs = {}
    deferred: list[AttrSpec] = []
    for spec in specs:
        if spec.name in raw:
            attrs[spec.name] = convert(spec, raw[spec.name])
        elif spec.required:
            raise ArgProblem(f"{op.name} needs '{spec.name}'", None)
        elif isinstance(spec.default, str) and spec.default.startswith("="):
            deferred.append(spec)
        else:
            default = normalise(spec, spec.default)
            attrs[spec.name] = default if symbolic is None else convert(spec, default)
    for spec in deferred:
        attrs[spec.name] = attrs[spec.default[1:]]
    if symbolic is None:
        op.check(attrs)
    return attrs


__all__ = ["REQUIRED", "bind", "normalise", "show_value", "signature"]
