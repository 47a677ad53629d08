"""Resource limits: how big, how deep and how slow a spec may be before archc refuses it.

A spec is untrusted input (docs/security.md).  Without bounds, ``repeat x 1000000000`` grows
until memory runs out, thirty squarings of a constant compute for minutes, and a deeply nested
expression ends in Python's ``RecursionError``.  Each bound here turns that into a located
error (exit code 2) that names the limit and says how to raise it: ``--limit NAME=VALUE`` on the
command line, ``ARCHC_LIMITS="NAME=VALUE,..."`` in the environment, or :func:`use_limits` from
Python.  The defaults are far above every real network (GoogLeNet has 176 layers, ResNet-152
has 517).
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_LIMIT_HINT = "raise it with --limit {name}=N or ARCHC_LIMITS={name}=N (docs/security.md)"


@dataclass(frozen=True)
class Limits:
    """The bounds one compilation runs under; every field is documented in docs/security.md."""

    layers: int = 1_000_000  # layers in one network, after repeats and blocks are unrolled
    repeat: int = 100_000  # iterations of one repeat statement
    tensor_elements: int = 2**40  # elements of one tensor, per sample
    int_bits: int = 63  # integers (literals, constants, results) must fit in int64
    expression_depth: int = 100  # nesting of one expression: a + (b * (c ...)), a+b+c+... terms
    nesting: int = 100  # nested bodies: if, repeat, block calls, together
    include_depth: int = 64  # a includes b includes c ...
    include_bytes: int = 16 * 2**20  # size of one spec or included file
    elaboration_seconds: float = 60.0  # wall time to unroll the network
    weight_bytes: int = 4 * 2**30  # random initial weights written into an ONNX file

    @property
    def max_int(self) -> int:
        return (1 << self.int_bits) - 1

    def hint(self, name: str) -> str:
        """How to raise limit ``name``, for an error's hint line."""
        return _LIMIT_HINT.format(name=name)


DEFAULT = Limits()
_FIELDS = {f.name: f for f in dataclasses.fields(Limits)}
_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("archc_limits", default=DEFAULT)


class LimitSyntaxError(ValueError):
    """A ``NAME=VALUE`` limit setting that names no limit or has a bad value."""


def parse_setting(text: str) -> tuple[str, int | float]:
    """``layers=2000000`` -> ("layers", 2000000); raises :class:`LimitSyntaxError`."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in _FIELDS:
        known = ", ".join(sorted(_FIELDS))
        raise LimitSyntaxError(
            f"malformed limit {text!r}: expected NAME=VALUE, NAME one of {known}"
        )
    value = value.strip().replace("_", "")
    try:
        number: int | float = float(value) if _FIELDS[name].type == "float" else int(value)
    except ValueError:
        raise LimitSyntaxError(f"limit {name}: {value!r} is not a number") from None
    if not number > 0 or number != number or number == float("inf"):
        raise LimitSyntaxError(f"limit {name}: must be a positive number, got {value!r}")
    if name == "int_bits" and number > 4096:
        raise LimitSyntaxError("limit int_bits: at most 4096")
    return name, number


def with_settings(base: Limits, settings: list[str] | tuple[str, ...]) -> Limits:
    """``base`` with each ``NAME=VALUE`` in ``settings`` applied (later ones win)."""
    changes = dict(parse_setting(s) for s in settings if s.strip())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def from_environment(base: Limits = DEFAULT) -> Limits:
    """``base`` with ``ARCHC_LIMITS`` (comma-separated ``NAME=VALUE``) applied."""
    env = os.environ.get("ARCHC_LIMITS", "")
    return with_settings(base, env.split(",")) if env.strip() else base


def current() -> Limits:
    """The limits in force for the compilation running now."""
    return _CURRENT.get()


@contextmanager
def use_limits(limits: Limits) -> Iterator[Limits]:
    """Compile under ``limits`` inside the ``with`` block."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def check_network(network: Any) -> None:
    """The limits only the analysed graph can tell: elements of each layer's output tensor (and
    so every dimension fits in ONNX's int64), and weight bytes of the whole network.

    ``network`` is an :class:`archc.analysis.Network`; the error points at the first layer over.
    """
    from archc.errors import SpecValueError
    from archc.ir import LAYER, SHAPE

    limits = current()
    nodes = network.graph.nodes
    for node in network.order:
        data = nodes[node]
        count = 1
        for d in data[SHAPE]:
            count *= d
        if count > limits.tensor_elements:
            raise SpecValueError(
                f"'{node}' outputs {count:,} elements per sample, more than the limit of "
                f"{limits.tensor_elements:,}",
                data[LAYER].span,
                [limits.hint("tensor_elements")],
            )


def check_weights(network: Any, what: str = "weights") -> None:
    """Refuse to generate more than ``weight_bytes`` of initial weights (float32)."""
    from archc.errors import UsageError

    limits = current()
    nbytes = network.totals(1, "float32").weight_bytes
    if nbytes > limits.weight_bytes:
        raise UsageError(
            f"the {what} would be {nbytes / 2**30:,.1f} GiB, more than the limit of "
            f"{limits.weight_bytes / 2**30:,.1f} GiB",
            hints=[limits.hint("weight_bytes"), "or emit without weights: --weights none"],
        )


__all__ = [
    "DEFAULT",
    "LimitSyntaxError",
    "Limits",
    "check_network",
    "check_weights",
    "current",
    "from_environment",
    "parse_setting",
    "use_limits",
    "with_settings",
]
