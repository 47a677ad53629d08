"""What an op is: its attribute schema and the rules that give it meaning.

Each op is one subclass of :class:`Op` registered with :func:`register`: its attributes (with
kinds, defaults and validation), its shape rule (concrete, and symbolic for code generation),
its parameter, buffer, MAC and FLOP counts, its traits, a doc line and small examples.  Nothing
else in archc knows what a convolution is; passes ask the op, emitters keep a table keyed by op
name, and diagram styles, ``archc ops``, ``docs/ops.md`` and the op × emitter tests are derived
from these entries.  Traits (``"elementwise"``, ``"merge"``, ``"inplace"``, ``"view"``,
``"weights"`` ...) are declared as sets and queried with :func:`ops_with` or the properties of
:class:`Op`, never by comparing op names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

Shape = tuple[int, ...]
Attrs = dict[str, Any]
T = TypeVar("T")

#: every trait an op may declare (a test checks that ops use no other)
TRAITS = frozenset(
    {
        "weights",  # owns tensors (tensors() is not empty)
        "spatial",  # works on C×H×W maps
        "pool",  # a pooling window (no weights)
        "elementwise",  # output element i depends on input element i only
        "activation",  # a non-linearity
        "inplace",  # may overwrite its input's buffer (PyTorch inplace=True)
        "view",  # output aliases the input's memory (flatten)
        "merge",  # joins two or more tensors given as arguments
        "normalization",  # normalises activations
    }
)

REQUIRED = object()

#: bytes per element of the tensor types a weight tensor may fix (``TensorSpec.dtype``)
FIXED_BYTES: dict[str, int] = {"int64": 8}


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

    Kinds: ``count`` (integer >= 1), ``nonneg`` (integer >= 0), ``axis`` (any integer: an
    axis of the per-sample tensor, negative from the end), ``dims`` (a tuple of sizes >= 1, one
    of which may be -1: a shape), ``order`` (a tuple of axes >= 0), ``pair`` (count or (h, w) of
    counts; ``n`` sizes, one per spatial axis, for ops on other ranks: ``(l,)``, ``(d, h, w)``),
    ``pad`` (nonneg, ``n`` of them, or "same"), ``sides`` (nonneg, (h, w) or (left, right,
    top, bottom) as PyTorch's ``F.pad`` orders them; normalised to the four), ``float``,
    ``positive`` (a finite number > 0), ``prob`` (0 <= p < 1), ``bool``, ``choice`` (one of
    the strings in ``choices``).  A default written ``"=kernel"`` copies another attribute's
    value; a default of None makes the argument optional (None when not given: the language
    has no way to write None, so only a default is ever None).
    """

    name: str
    kind: str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()
    #: spatial axes a ``pair`` or ``pad`` value covers (1 for C×L ops, 3 for C×D×H×W ops)
    n: int = 2

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class TensorSpec:
    """A weight tensor a layer owns: its role (``weight``, ``running_mean`` ...) and shape.

    ``trainable`` separates parameters from buffers.  The canonical name of the tensor is
    ``<layer path>.<role>``; emitters name and order weights by this list.  ``init`` is the
    constant PyTorch's module starts the tensor at (norm weights 1, biases 0, PReLU's slope
    0.25), None when it is drawn at random: an emitter that makes initial weights reads it.
    ``dtype`` fixes the element type of an integer buffer (:data:`FIXED_BYTES`).
    """

    role: str
    shape: tuple[int, ...]
    trainable: bool = True
    init: float | None = None
    #: an integer tensor's own element type (``"int64"``: Swin's relative position index),
    #: stored at that width whatever dtype the network's weights have; None: the weights' dtype
    dtype: str | None = None


@dataclass(frozen=True)
class Window:
    """A sliding window in (h, w): what the receptive-field pass needs from a spatial op."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class Example:
    """A small use of an op: the call as a spec writes it, and the per-sample input shapes.

    Examples are the op's test cases and its documentation at once: the op × emitter test
    (``tests/test_op_examples.py``) builds a one-layer network around each and checks archc's
    shape and counts against PyTorch's module and PyTorch's output against ONNX Runtime's;
    ``docs/ops.md`` and ``archc ops`` show the first.  A unary op's call reads its input ``x``
    (``conv(6, 3, pad=1)``); a merge names its inputs ``a``, ``b``, ``c`` ... in ``inputs``
    order (``concat(a, b)``).  No expected numbers are written here: the test takes them from
    PyTorch, the docs from the analysis.
    """

    call: str
    inputs: tuple[Shape, ...] = ((4, 8, 8),)
    #: the call reads no tensor (``param``): the network's input only sets the batch
    standalone: bool = False

    @property
    def input_names(self) -> tuple[str, ...]:
        if len(self.inputs) == 1:
            return ("x",)
        return tuple("abcdefgh"[: len(self.inputs)])

    def spec(self, network: str = "example") -> str:
        """A whole ``.arch`` network applying the call to its inputs, with output ``y``."""
        lines = [f"network {network} {{"]
        for name, shape in zip(self.input_names, self.inputs, strict=True):
            written = "x".join(map(str, shape)) if len(shape) > 1 else f"({shape[0]},)"
            lines.append(f"    input {name}: {written}")
        start = "" if len(self.inputs) > 1 or self.standalone else "x -> "
        lines += [f"    output y = {start}{self.call}", "}", ""]
        return "\n".join(lines)


@dataclass(frozen=True)
class SymbolicShape(Generic[T]):
    """What is known of a tensor before its spatial sizes are: channels (features when the
    tensor is flat), rank (1: F, 2: C×L, 3: C×H×W, 4: C×D×H×W), and the sizes after the
    channels (``spatial``: L, (H, W), (D, H, W)) where they can be known.

    ``T`` is whatever the caller counts with: ``int`` for a concrete check, an expression type
    for generated code (``archc.emit.pyexpr``).  ``channels`` is None when it depends on
    spatial sizes nobody knows (a flatten of a map of unknown size).
    """

    channels: T | None
    rank: int
    spatial: tuple[T, ...] | None = None
    #: the feature axis is the last one, not the first: tokens T×D, Swin's H×W×C.  Then
    #: ``channels`` is the last axis's size and ``spatial`` the axes before it.
    last: bool = False


def resolve_axis(axis: int, rank: int) -> int | None:
    """``axis`` of a per-sample tensor of ``rank`` as 0 .. rank − 1 (−1 is the last), or None
    when the tensor has no such axis."""
    found = axis + rank if axis < 0 else axis
    return found if 0 <= found < rank else None


def last_axis(x: SymbolicShape[T]) -> T | None:
    """The size of ``x``'s last axis (what ``linear`` and ``layernorm`` act on for tokens),
    whatever its layout, or None when unknown."""
    if x.last or x.rank == 1:
        return x.channels
    return x.spatial[-1] if x.spatial else None


def leading_axes(x: SymbolicShape[T]) -> tuple[T, ...] | None:
    """The sizes of every axis of ``x`` but the last (a token tensor's T), or None when one
    is unknown."""
    if x.last:
        return x.spatial
    if x.rank == 1:
        return ()
    if x.spatial is None or x.channels is None:
        return None
    return (x.channels, *x.spatial[:-1])


def features_last(x: SymbolicShape[T], size: T, leading: tuple[T, ...] | None) -> SymbolicShape[T]:
    """A tensor whose last axis (the features) has ``size`` after ``leading`` axes: a token
    tensor T×D, or a flat one when there are none."""
    rank = 1 + (len(leading) if leading is not None else x.rank - 1)
    if rank == 1:
        return SymbolicShape(size, 1)
    return SymbolicShape(size, rank, leading, last=True)


class Arithmetic(Protocol[T]):
    """The few operations a symbolic shape rule needs on values of type ``T``."""

    def total(self, terms: list[T]) -> T:
        """``a + b + ...``."""
        ...

    def product(self, factors: list[T]) -> T:
        """``a * b * ...``."""
        ...

    def difference(self, a: T, b: T) -> T:
        """``a - b``."""
        ...

    def quotient(self, a: T, b: T) -> T:
        """``a // b`` (a size split into equal parts: attention heads)."""
        ...

    def items(self, value: T) -> tuple[T, ...] | None:
        """The items of a tuple-valued attribute (a pair, a shape), or None when unknown."""
        ...

    def known(self, value: T) -> int | None:
        """A whole-number attribute's value when it is known (an axis), else None."""
        ...


class IntArithmetic:
    """:class:`Arithmetic` over plain integers: the concrete case."""

    def total(self, terms: list[int]) -> int:
        return sum(terms)

    def product(self, factors: list[int]) -> int:
        return math.prod(factors)

    def difference(self, a: int, b: int) -> int:
        return a - b

    def quotient(self, a: int, b: int) -> int:
        return a // b

    def items(self, value: Any) -> tuple[int, ...] | None:
        return tuple(value) if isinstance(value, tuple) else None

    def known(self, value: Any) -> int | None:
        return value if isinstance(value, int) else None


INT_ARITHMETIC = IntArithmetic()


def symbolic_of(shape: Shape) -> SymbolicShape[int]:
    """A concrete shape as a :class:`SymbolicShape` (everything known)."""
    return SymbolicShape(shape[0], len(shape), shape[1:] if len(shape) > 1 else None)


class Op:
    """Base of every op.  Subclasses set the class attributes and override the rules they need.

    Class attributes: ``name``, ``doc`` (one line), ``attrs``, ``aliases``, ``traits`` (a subset
    of :data:`TRAITS`), ``examples`` (at least one for a callable op), ``shape_doc`` (the shape
    rule in words, for ``docs/ops.md``), ``n_inputs`` (tensors a non-merge op reads), and
    optionally ``diagram_style`` (a Graphviz style name that overrides the one its traits give).

    Rules: :meth:`check` (cross-attribute validation), :meth:`shape` (concrete output shape),
    :meth:`symbolic_shape` (channels, rank and what is known of height and width, computed
    from attributes and input channels with any :class:`Arithmetic`: the PyTorch emitter uses
    it with expressions to write ``__init__`` code for any block argument), :meth:`tensors`,
    :meth:`params`, :meth:`buffers`, :meth:`macs`, :meth:`flops`, :meth:`window` (receptive
    field) and :meth:`summary`.  Derived facts: :attr:`is_merge`, :attr:`arity`,
    :attr:`is_inplace`, :attr:`is_view`.
    """

    name: ClassVar[str]
    doc: ClassVar[str]
    attrs: ClassVar[tuple[AttrSpec, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    traits: ClassVar[frozenset[str]] = frozenset()
    #: tensors a non-merge op reads (0 for the graph's inputs); merges take two or more.
    n_inputs: ClassVar[int] = 1
    #: ops the language cannot call (the graph's ``input`` nodes).
    internal: ClassVar[bool] = False
    #: small uses of the op, for the op × emitter tests, ``archc ops`` and ``docs/ops.md``.
    examples: ClassVar[tuple[Example, ...]] = ()
    #: the shape rule in words (``docs/ops.md``).
    shape_doc: ClassVar[str] = "unchanged"
    #: a Graphviz style name overriding the one derived from ``traits`` (None: derived).
    diagram_style: ClassVar[str | None] = None
    #: every output position sees every input position (attention mixes all tokens): the
    #: receptive field becomes the whole input image
    global_field: ClassVar[bool] = False
    #: the op whose per-op table rows (peer conventions, training save rules) this op shares
    #: when a table has none of its own: ``conv1d`` and ``conv3d`` count as ``conv`` does.
    family: ClassVar[str | None] = None

    @property
    def is_merge(self) -> bool:
        """Whether the op joins two or more tensors given as arguments (the ``merge`` trait)."""
        return "merge" in self.traits

    @property
    def arity(self) -> int | None:
        """Number of input tensors; ``None`` for merges, which take two or more."""
        return None if self.is_merge else self.n_inputs

    @property
    def is_inplace(self) -> bool:
        """Whether the op may overwrite its input's buffer (the ``inplace`` trait)."""
        return "inplace" in self.traits

    @property
    def is_view(self) -> bool:
        """Whether the output aliases its input's memory (the ``view`` trait)."""
        return "view" in self.traits

    def check(self, a: Attrs) -> None:
        """Cross-attribute validation; raise :class:`ArgProblem`."""

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        """Output shape (per sample, no batch) from input shapes; raise :class:`ShapeProblem`."""
        return ins[0]

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        """Channels (or features), rank, and height and width where known, of the output.

        ``a`` holds the attributes as values of ``T`` (for expressions, a pair may be unknown:
        ask ``ar.items``); ``ins`` what is known of the inputs.  No concrete sizes are needed,
        and no shape errors are raised here: :meth:`shape` reports those.  The default keeps
        the first input's channels, rank and spatial sizes.
        """
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

    def workspace(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Elements per sample the op allocates while it runs, besides its output, and frees
        before the next layer (attention's score matrices): part of the peak live memory."""
        return 0

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
