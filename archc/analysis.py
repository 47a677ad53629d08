"""The compiled, analysed network: the object the CLI, the API and every emitter work from.

:func:`load` runs the whole front end (read, parse, include, elaborate, passes, verify) and
returns a :class:`Network`.  Per-layer numbers are per sample; :meth:`Network.totals` and
:meth:`Network.rows` scale activations and compute by the batch and memory by the dtype.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from archc import ir
from archc.elaborate import elaborate
from archc.ir import COST, LAYER, MEMORY, RF, SHAPE, Cost, Layer, Memory, ReceptiveField, Scope
from archc.loader import Reader, load_program
from archc.ops import REGISTRY, Shape, TensorSpec, elements
from archc.ops.attrs import show_value
from archc.passes import G_PEAK, run_passes
from archc.units import DTYPE_BYTES


@dataclass(frozen=True)
class Row:
    """One line of an analysis table: a layer, or a collapsed scope at ``--depth``."""

    name: str
    op: str
    detail: str  # "conv 7×7/2, 64", or a block instance's arguments
    shape: Shape
    params: int
    buffers: int
    macs: int
    flops: int
    out_elements: int  # elements of the row's output tensor, per sample
    activation_elements: int  # newly allocated activation elements, per sample
    rf: ReceptiveField
    layers: int  # how many layers the row stands for
    line: int
    args: tuple[tuple[str, Any], ...] = ()
    #: activation elements the row reads and writes per sample (its inputs and output; 0 for a
    #: view), for arithmetic intensity: MACs per byte moved (weights are moved once per batch)
    moved_elements: int = 0


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    flops: int
    weight_bytes: int
    activation_bytes: int
    peak_activation_bytes: int
    batch: int
    dtype: str
    layers: int


class Network:
    """A compiled network: the IR graph with every analysis annotation in place."""

    def __init__(self, graph: nx.DiGraph, files: list[str] | None = None) -> None:
        self.graph = graph
        self.files = files or [graph.graph[ir.G_FILE]]

    # ------------------------------------------------------------------ basic facts
    @property
    def name(self) -> str:
        return self.graph.graph[ir.G_NAME]

    @property
    def file(self) -> str:
        return self.graph.graph[ir.G_FILE]

    @property
    def order(self) -> list[str]:
        return self.graph.graph[ir.G_ORDER]

    @property
    def inputs(self) -> dict[str, Shape]:
        return {name: self.shape(node) for name, node in self.graph.graph[ir.G_INPUTS].items()}

    @property
    def outputs(self) -> dict[str, Shape]:
        return {name: self.shape(node) for name, node in self.graph.graph[ir.G_OUTPUTS].items()}

    @property
    def scopes(self) -> dict[str, Scope]:
        return self.graph.graph[ir.G_SCOPES]

    def layer(self, node: str) -> Layer:
        return self.graph.nodes[node][LAYER]

    def layers(self) -> list[Layer]:
        return ir.layers(self.graph)

    def shape(self, node: str) -> Shape:
        return self.graph.nodes[node][SHAPE]

    def cost(self, node: str) -> Cost:
        return self.graph.nodes[node][COST]

    def cost_totals(self) -> dict[str, int]:
        """Every :class:`Cost` field summed over the network, per sample (computed once)."""
        cached: dict[str, int] | None = self.graph.graph.get(ir.G_COST_TOTALS)
        if cached is None:
            costs = [data[COST] for _, data in self.graph.nodes(data=True)]
            cached = {
                name: sum(getattr(c, name) for c in costs)
                for name in ("params", "buffers", "macs", "flops")
            }
            self.graph.graph[ir.G_COST_TOTALS] = cached
        return cached

    def memory(self, node: str) -> Memory:
        return self.graph.nodes[node][MEMORY]

    def rf(self, node: str) -> ReceptiveField:
        return self.graph.nodes[node][RF]

    def weights(self) -> list[tuple[str, str, TensorSpec]]:
        """Every weight tensor as (canonical name ``<layer>.<role>``, layer, spec), in order.

        The single source of weight names and shapes for all emitters and weight mappings.
        """
        out = []
        for node in self.order:
            layer = self.layer(node)
            ins = [self.shape(src) for src in layer.inputs]
            for spec in REGISTRY[layer.op].tensors(layer.attrs, ins, self.shape(node)):
                out.append((f"{node}.{spec.role}", node, spec))
        return out

    def moved_elements(self, node: str) -> int:
        """Activation elements a layer reads and writes per sample: its inputs and its output
        (nothing for a view or a network input, which move no data)."""
        layer = self.layer(node)
        if not layer.inputs or "view" in REGISTRY[layer.op].traits:
            return 0
        return elements(self.shape(node)) + sum(elements(self.shape(s)) for s in layer.inputs)

    # ------------------------------------------------------------------ aggregates
    def totals(self, batch: int = 1, dtype: str = "float32") -> Totals:
        nbytes = DTYPE_BYTES[dtype]
        params = buffers = macs = flops = act = weight_bytes = 0
        for node in self.order:
            c = self.cost(node)
            params += c.params
            buffers += c.buffers
            macs += c.macs
            flops += c.flops
            weight_bytes += c.weight_bytes(nbytes)
            act += self.memory(node).new_elements
        return Totals(
            params=params,
            buffers=buffers,
            macs=macs * batch,
            flops=flops * batch,
            weight_bytes=weight_bytes,
            activation_bytes=act * batch * nbytes,
            peak_activation_bytes=self.graph.graph[G_PEAK] * batch * nbytes,
            batch=batch,
            dtype=dtype,
            layers=sum(1 for node in self.order if self.layer(node).op != "input"),
        )

    def rows(
        self, depth: int | None = None, batch: int = 1, collapse: frozenset[str] = frozenset()
    ) -> list[Row]:
        """Table rows in evaluation order; ``depth`` collapses scopes deeper than that, and
        each scope in ``collapse`` is one row whatever the depth."""
        if depth is None and not collapse:
            return [self._layer_row(node, batch) for node in self.order]
        groups: dict[str, list[str]] = {}
        for node in self.order:
            parts = node.split(".")
            key = ".".join(parts[:depth]) if depth is not None else node
            for end in range(1, len(parts)):
                prefix = ".".join(parts[:end])
                if prefix in collapse:
                    key = prefix if len(prefix) < len(key) else key
                    break
            groups.setdefault(key, []).append(node)
        return [
            self._layer_row(members[0], batch)
            if len(members) == 1 and members[0] == key
            else self._scope_row(key, members, batch)
            for key, members in groups.items()
        ]

    def _layer_row(self, node: str, batch: int) -> Row:
        layer = self.layer(node)
        c = self.cost(node)
        m = self.memory(node)
        op = REGISTRY[layer.op]
        detail = "" if op.internal else op.summary(layer.attrs)
        return Row(
            name=node,
            op=layer.op,
            detail=detail if detail != layer.op else "",
            shape=self.shape(node),
            params=c.params,
            buffers=c.buffers,
            macs=c.macs * batch,
            flops=c.flops * batch,
            out_elements=m.elements,
            activation_elements=m.new_elements,
            rf=self.rf(node),
            layers=1,
            line=layer.span.line,
            moved_elements=self.moved_elements(node),
        )

    def _scope_row(self, key: str, members: list[str], batch: int) -> Row:
        last = members[-1]
        scope = self.scopes.get(key)
        costs = [self.cost(m) for m in members]
        if scope is not None and scope.kind == "block":
            op = scope.block or "block"
            detail = ", ".join(f"{k}={show_value(v)}" for k, v in scope.args)
        elif scope is not None and scope.kind == "repeat":
            depth = len(key.split("."))
            iterations = sorted({m.split(".")[depth] for m in members}, key=int)
            blocks = {getattr(self.scopes.get(f"{key}.{i}"), "block", None) for i in iterations}
            op = "repeat"
            detail = f"{len(iterations)} iterations"
            if len(blocks) == 1 and None not in blocks:
                detail = f"{len(iterations)}× {blocks.pop()}"
        else:
            ops = [self.layer(m).op for m in members]
            op = next((o for o in ops if "weights" in REGISTRY[o].traits), ops[0])
            detail = " → ".join(
                REGISTRY[o].summary(self.layer(m).attrs) for m, o in zip(members, ops, strict=True)
            )
        first = self.layer(members[0])
        return Row(
            name=key,
            op=op,
            detail=detail,
            shape=self.shape(last),
            params=sum(c.params for c in costs),
            buffers=sum(c.buffers for c in costs),
            macs=sum(c.macs for c in costs) * batch,
            flops=sum(c.flops for c in costs) * batch,
            out_elements=elements(self.shape(last)),
            activation_elements=sum(self.memory(m).new_elements for m in members),
            rf=self.rf(last),
            layers=len(members),
            line=(scope.span.line if scope else first.span.line),
            args=scope.args if scope is not None else (),
            moved_elements=sum(self.moved_elements(m) for m in members),
        )

    # ------------------------------------------------------------------ back ends
    def to_torch(self, seed: int | None = None) -> Any:
        """Build the PyTorch ``nn.Module`` in process (needs the ``torch`` extra)."""
        from archc.backends import backend

        return backend("torch")(self, seed=seed)

    def to_onnx(self, **options: Any) -> Any:
        """Build the ONNX ``ModelProto`` (needs the ``onnx`` extra); see ``archc.emit.onnx``."""
        from archc.backends import backend

        return backend("onnx")(self, **options)

    # ------------------------------------------------------------------ notebooks
    def _repr_html_(self) -> str:
        """Jupyter: totals and the collapsed diagram as inline SVG (``archc.report.notebook``)."""
        from archc.backends import backend

        return str(backend("notebook_html")(self))

    def _repr_markdown_(self) -> str:
        """Jupyter: the Markdown report's totals and per-block table."""
        from archc.backends import backend

        return str(backend("notebook_markdown")(self))


def load(
    path: str | Path,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    text: str | None = None,
    consts: Mapping[str, Any] | None = None,
    reader: Reader | None = None,
) -> Network:
    """Compile and analyse the spec at ``path`` (or ``text`` standing for it).

    ``inputs`` overrides declared input shapes by name, ``consts`` the values of file-level
    constants (``--set``).  ``reader`` supplies the text of the spec and its includes (default:
    the file system; :class:`archc.diff.GitReader` reads them at a git revision).  Raises :class:`archc.errors.ArchError` subclasses for anything wrong
    with the spec.
    """
    with _gc_paused():
        program = load_program(path, text, reader)
        graph = run_passes(elaborate(program, inputs, consts))
        ir.verify(graph, ir.ANNOTATIONS)
    return Network(graph, program.files)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while compiling.

    Compilation allocates many small objects and frees almost none, so every collection is wasted
    work, and their cost grows with the number of live objects: on a 20,000-line spec they took
    more time than parsing itself.  Nothing archc builds here relies on cycle collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
