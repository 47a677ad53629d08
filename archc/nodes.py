"""The abstract syntax tree of a ``.arch`` file.

Plain frozen dataclasses, one per construct, each with the :class:`~archc.source.Span` it came
from.  The parser (``archc/syntax.py``) builds them; the elaborator (``archc/elaborate.py``) turns
them into the graph IR; emitters that reproduce a block's structure as code (the PyTorch emitter
writes one class per block definition) read block bodies from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archc.source import Span

# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    span: Span


@dataclass(frozen=True)
class Number(Expr):
    """An int or float literal (``64``, ``0.75``, ``1e-4``)."""

    value: int | float


@dataclass(frozen=True)
class Quantity(Expr):
    """A literal with a unit suffix: ``7M`` (count), ``200MiB`` (bytes). ``value`` is scaled."""

    value: int | float
    text: str
    is_bytes: bool


@dataclass(frozen=True)
class Dims(Expr):
    """A shape literal such as ``3x224x224`` or ``1x7``."""

    values: tuple[int, ...]


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Tuple(Expr):
    """``(a, b)`` or ``[a, b]``: the language has one sequence type, a tuple."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Index(Expr):
    """``t[i]``: an item of a tuple (a stage table's row, a row's column)."""

    value: Expr
    index: Expr


@dataclass(frozen=True)
class BinOp(Expr):
    """Arithmetic: ``+ - * / // %``; ``and``/``or`` short-circuit like Python's."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str  # "-" or "not"
    operand: Expr


@dataclass(frozen=True)
class Cond(Expr):
    """``a if test else b``."""

    test: Expr
    then: Expr
    orelse: Expr


@dataclass(frozen=True)
class Attr(Expr):
    """``x.name``: used by budget assertions (``assert inception_4a.params < 1M``)."""

    value: Expr
    name: str


@dataclass(frozen=True)
class Call(Expr):
    """``f(a, b=c)`` inside an expression (budget functions such as ``params(scope)``)."""

    func: str
    args: tuple[Arg, ...]


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Arg:
    """A call argument; ``name`` is None for a positional one."""

    value: Expr
    name: str | None
    span: Span


@dataclass(frozen=True)
class Link:
    """One element of a chain: ``conv(64, 3, pad=1)``, ``relu``, a tensor name, or a block call.

    ``args`` is None when the name is written without parentheses.  ``alias`` is the ``as NAME``
    that names this layer explicitly.
    """

    name: str
    args: tuple[Arg, ...] | None
    alias: str | None
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Chain:
    """``a -> b -> c``: data flows left to right."""

    links: tuple[Link, ...]
    span: Span


@dataclass(frozen=True)
class Stmt:
    span: Span


@dataclass(frozen=True)
class InputDecl(Stmt):
    name: str
    shape: Expr


@dataclass(frozen=True)
class Output(Stmt):
    """``output name`` marks a tensor as a network output; ``output name = chain`` also defines it."""

    name: str
    chain: Chain | None


@dataclass(frozen=True)
class Assign(Stmt):
    name: str
    chain: Chain


@dataclass(frozen=True)
class ChainStmt(Stmt):
    chain: Chain


@dataclass(frozen=True)
class ConstDef(Stmt):
    name: str
    value: Expr


@dataclass(frozen=True)
class Repeat(Stmt):
    """``name = repeat count as index { body }``: each iteration is the scope ``name.<index>``.

    ``name = for (a, b) in rows { body }`` is a repeat too: ``over`` is the tuple it walks (its
    ``count`` is ``len(rows)``), and each iteration binds ``targets`` to the row's items (one
    target binds the row itself).
    """

    name: str
    count: Expr
    index: str | None
    body: tuple[Stmt, ...]
    over: Expr | None = None
    targets: tuple[str, ...] = ()
    unpack: bool = False

    @property
    def keyword(self) -> str:
        """How the statement is written: ``repeat`` or ``for``."""
        return "repeat" if self.over is None else "for"


@dataclass(frozen=True)
class If(Stmt):
    test: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]


@dataclass(frozen=True)
class Assert(Stmt):
    """A budget assertion.  Collected by elaboration, evaluated by ``archc check``."""

    test: Expr
    message: str | None


@dataclass(frozen=True)
class Require(Stmt):
    """A condition the parser adds for a construct that needs one (``a, b = x -> chunk(2)``
    needs two chunks): checked while the network is built, a value error with ``message`` at
    the statement when it does not hold."""

    test: Expr
    message: str


# --------------------------------------------------------------------------- top level


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Function(Expr):
    """``fn name(params) { const ...  result }``: a function of values, defined at file level.

    It is kept as a constant whose value is the function, so includes, ``--set`` listings and
    name lookup treat it like any other constant."""

    name: str
    params: tuple[Param, ...]
    consts: tuple[ConstDef, ...]
    result: Expr


@dataclass(frozen=True)
class BlockDef:
    """A parameterised sub-network.  Its single input tensor is called ``in`` inside the body."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    file: str


@dataclass(frozen=True)
class NetworkDef:
    name: str
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True)
class Include:
    path: str
    span: Span


@dataclass
class Module:
    """One parsed file, before includes are resolved."""

    file: str
    includes: list[Include] = field(default_factory=list)
    consts: list[ConstDef] = field(default_factory=list)
    blocks: list[BlockDef] = field(default_factory=list)
    networks: list[NetworkDef] = field(default_factory=list)
