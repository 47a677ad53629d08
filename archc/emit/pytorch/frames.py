"""What the class generator keeps while it walks a body: the module containers it fills (the
map from spec names to generated attributes), the modules it builds, and the frame of names a
statement sees."""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field

from archc.emit import pyexpr as px
from archc.emit.codegen import Call
from archc.emit.pytorch.table import Tensor


@dataclass
class Container:
    """What a module container holds, by spec name: a class, a chain, or a repeat (``item``)."""

    children: dict[str, Child] = field(default_factory=dict)
    item: Child | None = None
    #: an unrolled repeat's iterations by index, when they are not all alike (one class per
    #: op a row picks); otherwise every iteration is ``item``
    items: dict[str, Child] = field(default_factory=dict)

    def add(self, raw: str, child: Child) -> None:
        """Record a child; the branches of an ``if`` may give one name different modules."""
        old = self.children.get(raw)
        if old is None:
            self.children[raw] = child
            return
        old.leaf = old.leaf or child.leaf
        if child.ctx is not None and child.ctx is not old.ctx:
            if old.ctx is None:
                old.ctx = child.ctx
            else:
                for key, value in child.ctx.children.items():
                    old.ctx.add(key, value)


@dataclass
class Child:
    attr: str
    ctx: Container | None = None
    leaf: bool = False  # a layer (possibly also a container, on another branch)


@dataclass
class Built:
    """One link made into a module: its constructor, output, and what it contains; or, for an
    inline op, the ``forward`` expression that stands for it (``call`` is then None)."""

    call: Call | None
    inputs: list[Tensor]
    out: Tensor
    ctx: Container | None
    expr: str | Call | None = None


@dataclass
class Frame:
    values: ChainMap[str, px.PyExpr]
    tensors: ChainMap[str, Tensor]
    current: Tensor | None
    prefix: str  # naming prefix inside the class ("" or "b2.")
    closed: bool = False  # a repeat body: tensors from outside cannot be read
