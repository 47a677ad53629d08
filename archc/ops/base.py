"""What an op is: its attribute schema and the rules that give it meaning.

Each op is one subclass of :class:`Op` registered with :func:`register`: its attributes (with
kinds, defaults and validation), its shape rule, and its parameter, buffer, MAC and FLOP counts.
Nothing else in archc knows what a convolution is; passes ask the op, emitters keep a table keyed
by op name.  Traits (``"elementwise"``, ``"merge"``, ``"inplace"``, ``"view"``, ``"weights"``) are
declared as sets and queried with :func:`ops_with`, never by comparing op names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

Shape = tuple[int, ...]
Attrs = dict[str, Any]

REQUIRED = object()


class ShapeProblem(Exception):
    """Raised by a shape rule; the shape pass adds the layer's location and kind of error."""


class ArgProblem(Exception):
    """Raised by attribute validation; ``attr`` names the offending argument (or None)."""

    def __init__(self, message: str, attr: str | None = None) -> None:
        super().__init__(message)
        self.attr = attr


@dataclass(frozen=True)
class AttrSpec:
    """One op argument: its name, kind (how a value is checked and normalised) and default.

    Kinds: ``count`` (integer >= 1), ``nonneg`` (integer >= 0), ``pair`` (count or (h, w) of
    counts), ``pad`` (nonneg, (h, w) or "same"), ``float``, ``prob`` (0 <= p < 1), ``bool``.
    A default written ``"=kernel"`` copies another attribute's value.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class TensorSpec:
    """A weight tensor a layer owns: its role (``weight``, ``running_mean`` ...) and shape.

    ``trainable`` separates parameters from buffers.  The canonical name of the tensor is
    ``<layer path>.<role>``; emitters name and order weights by this list.
    """

    role: str
    shape: tuple[int, ...]
    trainable: bool = True


@dataclass(frozen=True)
class Window:
    """A sliding window in (h, w): what the receptive-field pass needs from a spatial op."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)


class Op:
    """Base of every op.  Subclasses set the class attributes and override the rules they need."""

    name: ClassVar[str]
    doc: ClassVar[str]
    attrs: ClassVar[tuple[AttrSpec, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    traits: ClassVar[frozenset[str]] = frozenset()
    #: number of input tensors; ``None`` for merges, which take two or more as arguments.
    arity: ClassVar[int | None] = 1
    #: ops the language cannot call (the graph's ``input`` nodes).
    internal: ClassVar[bool] = False

    def check(self, a: Attrs) -> None:
        """Cross-attribute validation; raise :class:`ArgProblem`."""

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        """Output shape (per sample, no batch) from input shapes; raise :class:`ShapeProblem`."""
        return ins[0]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        """The weight tensors this layer owns, in a fixed order (PyTorch's order)."""
        return []

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Trainable parameters: the elements of the trainable :meth:`tensors`."""
        return sum(elements(t.shape) for t in self.tensors(a, ins, out) if t.trainable)

    def buffers(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Non-trainable state elements (BatchNorm running mean and variance)."""
        return sum(elements(t.shape) for t in self.tensors(a, ins, out) if not t.trainable)

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Multiply-accumulates per sample, fvcore/torchvision convention (docs/conventions.md)."""
        return 0

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Floating-point operations per sample, archc convention (docs/conventions.md)."""
        return 0

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        """The spatial window this op slides, for the receptive field; None keeps it unchanged."""
        return None

    def summary(self, a: Attrs) -> str:
        """A short human description of the configured op: ``conv 7×7/2, 64``."""
        return self.name


REGISTRY: dict[str, Op] = {}
ALIASES: dict[str, str] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add one op (and its aliases) to the registry."""
    op = cls()
    if op.name in REGISTRY or op.name in ALIASES:
        raise RuntimeError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    for alias in cls.aliases:
        ALIASES[alias] = op.name
    return cls


def ops_with(trait: str) -> frozenset[str]:
    """Names of the ops that declare ``trait``."""
    return frozenset(name for name, op in REGISTRY.items() if trait in op.traits)


def elements(shape: Shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def dims(shape: Shape) -> str:
    """``(64, 112, 112)`` -> ``"64×112×112"``."""
    return "×".join(str(d) for d in shape)
