"""What a report says, before it is rendered: rows with their shares, totals as facts, highlights.

The HTML page and the Markdown summary both read a :class:`ReportData`, so they always agree
with each other and with ``archc analyze`` (the rows are :meth:`Network.rows`, the totals
:meth:`Network.totals`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from archc import conventions
from archc.analysis import Network, Row, Totals
from archc.emit.graphviz import DiagramOptions
from archc.formats import arithmetic_intensity, row_counts
from archc.ops import dims
from archc.units import DTYPE_BYTES, grouped, human_bytes, human_count


@dataclass(frozen=True)
class ReportOptions:
    """How to build a report: collapse depth, batch, dtype, and how to draw the diagram."""

    depth: int | None = None
    batch: int = 1
    dtype: str = "float32"
    diagram: DiagramOptions = field(default_factory=DiagramOptions)
    #: whose MACs the report shows (docs/conventions.md): archc's, or a peer tool's
    convention: str = "archc"


@dataclass(frozen=True)
class Share:
    """One quantity a report breaks down by row: its title, per-row value and total."""

    key: str  # "params", "macs", "memory"
    title: str  # "params", "MACs", "activation memory"
    value: Callable[[Row], int]
    text: Callable[[int], str]


@dataclass(frozen=True)
class Fact:
    """One headline number: ``params 7.00M`` with ``6,998,552, no buffers`` under it."""

    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class ReportData:
    net: Network
    rows: list[Row]
    totals: Totals
    options: ReportOptions
    shares: list[Share]
    share_totals: dict[str, int]

    def share(self, key: str, row: Row) -> float:
        """``row``'s fraction (0..1) of the network's total ``key``."""
        total = self.share_totals[key]
        value = next(s for s in self.shares if s.key == key).value(row)
        return value / total if total else 0.0

    def memory_bytes(self, row: Row) -> int:
        return row.activation_elements * DTYPE_BYTES[self.totals.dtype] * self.totals.batch

    def intensity(self, row: Row) -> float:
        """MACs per byte moved (formats.arithmetic_intensity) at the report's batch and dtype."""
        return arithmetic_intensity(row, self.totals.batch, DTYPE_BYTES[self.totals.dtype])

    @property
    def unit(self) -> str:
        """What a row is: a layer, or (at ``--depth``) a layer or a collapsed scope."""
        return "layer" if self.options.depth is None else "block"


def build(net: Network, options: ReportOptions | None = None) -> ReportData:
    options = options or ReportOptions()
    rows = net.rows(options.depth, options.batch)
    totals = net.totals(options.batch, options.dtype)
    nbytes = DTYPE_BYTES[options.dtype]
    macs_title = "MACs"
    if options.convention != "archc":  # the MACs column, share and chart count as the tool does
        counts = row_counts(net, rows, options.depth, options.convention, options.batch)
        rows = [replace(r, macs=counts[r.name]) for r in rows]
        c = conventions.get(options.convention)
        macs_title = f"{c.unit} ({c.name})"
    shares = [
        Share("params", "params", lambda r: r.params, human_count),
        Share("macs", macs_title, lambda r: r.macs, human_count),
        Share(
            "memory",
            "activation memory",
            lambda r: r.activation_elements * nbytes * options.batch,
            human_bytes,
        ),
    ]
    share_totals = {s.key: sum(s.value(r) for r in rows) for s in shares}
    return ReportData(net, rows, totals, options, shares, share_totals)


def facts(data: ReportData) -> list[Fact]:
    """The totals, as headline numbers."""
    t, net = data.totals, data.net
    return [
        Fact(
            "params",
            human_count(t.params),
            grouped(t.params) + (f" + {grouped(t.buffers)} buffers" if t.buffers else ""),
        ),
        Fact("MACs", human_count(t.macs), f"{grouped(t.macs)}; FLOPs {human_count(t.flops)}"),
        _convention_fact(data),
        Fact("weights", human_bytes(t.weight_bytes), f"{t.dtype}, params + buffers"),
        Fact(
            "activations",
            human_bytes(t.activation_bytes),
            f"summed; {human_bytes(t.peak_activation_bytes)} peak live",
        ),
        Fact("layers", str(t.layers), f"batch {t.batch}"),
        Fact("input", ", ".join(dims(v) for v in net.inputs.values()), ", ".join(net.inputs)),
        Fact("output", ", ".join(dims(v) for v in net.outputs.values()), ", ".join(net.outputs)),
    ]


def _convention_fact(data: ReportData) -> Fact:
    """Which counting convention the MACs column and chart use (docs/conventions.md)."""
    c = conventions.get(data.options.convention)
    if c.name == "archc":
        return Fact("convention", "archc", "MACs of conv and linear (docs/conventions.md)")
    total = data.share_totals["macs"]
    return Fact(
        "convention",
        c.name,
        f"{grouped(total)} {c.unit} ({human_count(total)}), as {c.tool} {c.version} reports it",
    )


def intensity_text(data: ReportData, row: Row) -> str:
    """A row's arithmetic intensity, ``12.3`` MACs per byte, or ``–`` without MACs."""
    value = data.intensity(row)
    return f"{value:.1f}" if value else "–"


def percent(fraction: float) -> str:
    """A share as text: ``74.3%``, ``<0.1%`` for a sliver, ``–`` for nothing."""
    if fraction <= 0:
        return "–"
    if fraction < 0.0005:
        return "<0.1%"
    return f"{100 * fraction:.1f}%"


def memory_text(data: ReportData, row: Row) -> str:
    """A row's new activation memory, or ``in-place`` for a layer that allocates none."""
    if row.activation_elements == 0 and row.layers == 1:
        return "in-place" if row.out_elements else "0"
    return human_bytes(data.memory_bytes(row))


def highlights(data: ReportData) -> list[str]:
    """One sentence per quantity: which top-level scope (stage) holds the most of it, and the
    single row that holds the most when that is another name."""
    out = []
    stages = data.net.rows(1, data.totals.batch)
    if data.options.convention != "archc":  # the stage MACs as the chosen tool counts them
        counts = row_counts(data.net, stages, 1, data.options.convention, data.totals.batch)
        stages = [replace(r, macs=counts[r.name]) for r in stages]
    for share in data.shares:
        total = data.share_totals[share.key]
        if not total:
            continue
        stage = max(stages, key=share.value)  # first of equals: evaluation order
        top = max(data.rows, key=share.value)
        line = (
            f"{stage.name} holds {100 * share.value(stage) / total:.1f}% of the {share.title} "
            f"({share.text(share.value(stage))} of {share.text(total)})"
        )
        inside = top.name.startswith(stage.name + ".") and share.value(top) >= 0.9 * (
            share.value(stage)
        )
        if top.name != stage.name and not inside:  # fc6.linear is all of fc6: said once
            line += (
                f"; the most in one {data.unit}: {top.name}, {percent(data.share(share.key, top))}"
            )
        out.append(line)
    return out
