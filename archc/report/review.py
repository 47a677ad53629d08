"""The design-review facts a report adds to the analysis rows: stages, live memory over time,
budgets, receptive field against the input, and where each row is written in which file.

Everything here is plain data computed from a :class:`~archc.analysis.Network`; the HTML page
(:mod:`archc.report.sections`) and the notebook view draw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from archc.analysis import Network, Row
from archc.budget import BYTES, Check, check_network
from archc.ir import MEMORY, Memory
from archc.source import Span, source_line
from archc.units import DTYPE_BYTES, grouped, human_bytes, human_count

#: at most this many lines of spec source are inlined into a page (a generated spec can be huge)
MAX_SOURCE_LINES = 5000


# --------------------------------------------------------------------------- where rows are written
def row_span(net: Network, row: Row) -> Span:
    """Where ``row`` is written: the layer's span, the scope's, or its first layer's."""
    if row.name in net.graph:
        return net.layer(row.name).span
    scope = net.scopes.get(row.name)
    if scope is not None:
        return scope.span
    prefix = row.name + "."
    first = next(node for node in net.order if node.startswith(prefix))
    return net.layer(first).span


def file_label(net: Network, file: str) -> str:
    """A file as a reader of the report knows it: relative to the spec's directory
    (``resnet50.arch``, ``lib/resnet.arch``), else as named."""
    base = PurePosixPath(Path(net.file).parent.as_posix())
    path = PurePosixPath(Path(file).as_posix())
    try:
        return str(path.relative_to(base)) if str(base) != "." else str(path)
    except ValueError:
        return str(path)


def source_anchor(net: Network, span: Span) -> str:
    """The HTML id of a spec line in the report's source section: ``src-2-17``."""
    files = list(net.files)
    index = files.index(span.file) + 1 if span.file in files else 0
    return f"src-{index}-{span.line}"


@dataclass(frozen=True)
class SourceFile:
    label: str  # "lib/resnet.arch"
    index: int  # 1-based, as in the anchors
    lines: list[str]
    truncated: bool


def source_files(net: Network, limit: int = MAX_SOURCE_LINES) -> list[SourceFile]:
    """The text of the spec and of every file it includes, as the loader read them."""
    out = []
    budget = limit
    for index, name in enumerate(net.files, 1):
        lines: list[str] = []
        while len(lines) < budget:
            text = source_line(name, len(lines) + 1)
            if text is None:
                break
            lines.append(text)
        truncated = len(lines) >= budget and source_line(name, len(lines) + 1) is not None
        budget -= len(lines)
        out.append(SourceFile(file_label(net, name), index, lines, truncated))
    return out


# --------------------------------------------------------------------------- live memory
@dataclass(frozen=True)
class LiveMemory:
    """Activation memory live while each layer runs (its inputs and its output allocated), in
    evaluation order, in bytes for the batch: the model of ``archc.passes.memory``."""

    nodes: list[str]
    live: list[int]

    @property
    def peak(self) -> int:
        return max(self.live, default=0)

    @property
    def peak_node(self) -> str:
        """The first layer during which the peak is reached."""
        return self.nodes[self.live.index(self.peak)]


def live_memory(net: Network, batch: int = 1, dtype: str = "float32") -> LiveMemory:
    order = net.order
    position = {node: i for i, node in enumerate(order)}
    outputs = set(net.graph.graph["outputs"].values())
    memory: dict[str, Memory] = {node: net.graph.nodes[node][MEMORY] for node in order}
    last_use: dict[str, int] = {}
    for node in order:
        buf = memory[node].buffer
        use = max((position[c] for c in net.graph.successors(node)), default=position[node])
        if node in outputs:
            use = len(order)
        last_use[buf] = max(last_use.get(buf, 0), use)
    frees: dict[int, list[str]] = {}
    for buf, at in last_use.items():
        frees.setdefault(at, []).append(buf)
    scale = batch * DTYPE_BYTES[dtype]
    live = 0
    profile = []
    for i, node in enumerate(order):
        live += memory[node].new_elements
        profile.append((live + memory[node].workspace) * scale)
        for buf in frees.get(i, ()):
            live -= memory[buf].new_elements
    return LiveMemory(list(order), profile)


# --------------------------------------------------------------------------- budgets
def budgets(net: Network, batch: int = 1, dtype: str = "float32") -> list[Check]:
    """The spec's ``assert`` budgets, checked as ``archc check`` does."""
    return check_network(net, (), batch, dtype)


def show_value(value: object, unit: str | None) -> str:
    """A budget's value as people read it: ``25.56M``, ``9.19 MiB``, ``3×224×224``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if unit == BYTES:
            return human_bytes(int(value))
        if isinstance(value, int):
            return human_count(value) if abs(value) >= 10_000 else grouped(value)
        return f"{value:,.4g}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def margin_text(check: Check) -> str:
    """Headroom to the limit: ``+1.23M (+12.3%)``; negative when the budget is exceeded."""
    margin = check.margin
    if margin is None:
        return ""
    sign = "+" if margin >= 0 else "−"
    text = sign + show_value(abs(margin), check.unit)
    rel = check.relative_margin
    return f"{text} ({rel * 100:+.1f}%)" if rel is not None else text


# --------------------------------------------------------------------------- receptive field
@dataclass(frozen=True)
class Coverage:
    """The receptive field against the input: how much of the image each row sees."""

    input_name: str
    input_hw: tuple[int, int]
    first_full: str | None  # the first layer whose receptive field covers the whole input

    def fraction(self, row: Row) -> float:
        (h, w), (ih, iw) = row.rf.size, self.input_hw
        return min(h / ih, w / iw)


def coverage(net: Network) -> Coverage | None:
    """None when the network has no image (C×H×W) input."""
    images = [(name, shape) for name, shape in net.inputs.items() if len(shape) == 3]
    if not images:
        return None
    name, (_, ih, iw) = images[0]
    first = next(
        (n for n in net.order if net.rf(n).size[0] >= ih and net.rf(n).size[1] >= iw), None
    )
    return Coverage(name, (ih, iw), first)


__all__ = [
    "Coverage",
    "LiveMemory",
    "SourceFile",
    "budgets",
    "coverage",
    "file_label",
    "live_memory",
    "margin_text",
    "row_span",
    "show_value",
    "source_anchor",
    "source_files",
]
