"""Rendering an analysis: aligned table, JSON (versioned schema), CSV and Markdown.

All four come from the same :class:`~archc.analysis.Row` list and :class:`Totals`, so they can
never disagree.  The JSON document follows ``archc/schema/analysis-v2.json``
(``"schema": "archc.analysis/2"``: version 1 plus the counting convention, each layer's count
under it, bytes moved and arithmetic intensity, and the training memory); CI jobs parse it, so
fields are only ever added.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from archc import __version__
from archc.analysis import Network, Row, Totals
from archc.evaluate import Callee
from archc.ops import dims
from archc.ops.attrs import show_value
from archc.source import markdown_code, markdown_text, strict_json
from archc.units import DTYPE_BYTES, grouped, human_bytes, human_count


def _conventions() -> Any:
    """archc.conventions, imported when a peer's convention is asked for: the diagram and
    emit paths use this module's labels and should not pay for the peers' tables."""
    from archc import conventions

    return conventions


SCHEMA_ID = "archc.analysis/2"
FORMATS = ("table", "json", "csv", "markdown")


def rf_label(row: Row) -> str:
    """``"211/32"``: receptive field size / jump, ``h×w`` where the axes differ; ``—`` where
    archc does not track it (a layer of a C×L or C×D×H×W network)."""
    if not row.rf.known:
        return "—"
    (sh, sw), (jh, jw) = row.rf.size, row.rf.jump
    size = str(sh) if sh == sw else f"{sh}×{sw}"
    jump = str(jh) if jh == jw else f"{jh}×{jw}"
    return f"{size}/{jump}"


def op_label(row: Row) -> str:
    """What the op column shows: the op's summary, or ``block(args)`` for a block instance."""
    if row.args:
        return f"{row.op}({', '.join(show_value(v) for _, v in row.args)})"
    return row.detail or row.op


def _memory(row: Row, nbytes: int, batch: int) -> str:
    if row.activation_elements == 0 and row.layers == 1:
        return "in-place" if row.out_elements else "0"
    return human_bytes(row.activation_elements * nbytes * batch)


def _table_cells(row: Row, nbytes: int, batch: int) -> list[str]:
    return [
        row.name,
        op_label(row),
        dims(row.shape),
        grouped(row.params),
        grouped(row.macs),
        human_count(row.out_elements * batch),
        _memory(row, nbytes, batch),
        rf_label(row),
    ]


HEADERS = ["layer", "op", "output", "params", "MACs", "activations", "memory", "RF/jump"]
_RIGHT = {3, 4, 5, 6}


@dataclass(frozen=True)
class Column:
    """One column of the aligned table: its ``--columns`` key, header index and how it yields
    when the table must fit a terminal (``drop``: 1 is dropped first, 0 never)."""

    key: str
    index: int
    drop: int


#: ``--columns`` keys in table order; activations (memory says it in bytes) go first, then the
#: receptive field, the output shape and memory; layer, op, params and MACs stay
COLUMNS: tuple[Column, ...] = (
    Column("layer", 0, 0),
    Column("op", 1, 0),
    Column("output", 2, 3),
    Column("params", 3, 0),
    Column("macs", 4, 0),
    Column("activations", 5, 1),
    Column("memory", 6, 4),
    Column("rf", 7, 2),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
#: the op column is elided (``…``) down to this many characters before a column is dropped
OP_MIN = 28
#: and, when nothing is left to drop, down to this
OP_FLOOR = 10
GAP = "  "


def parse_columns(text: str) -> tuple[str, ...]:
    """``"layer,op,macs"`` -> the keys in table order; raises :class:`ValueError` naming them."""
    keys = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [k for k in keys if k not in COLUMN_KEYS]
    if unknown or not keys:
        raise ValueError(
            f"--columns takes a comma-separated list of {', '.join(COLUMN_KEYS)}; "
            f"got {unknown[0] if unknown else text!r}"
        )
    return tuple(k for k in COLUMN_KEYS if k in keys)


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with ``…``."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_columns(
    natural: dict[str, int], keys: tuple[str, ...], width: int | None, may_drop: bool
) -> tuple[list[str], dict[str, int]]:
    """Which columns to show and how wide, so a line fits in ``width`` characters.

    The op column is elided to :data:`OP_MIN` first; then (``may_drop``) the columns with the
    lowest priority go; then op shrinks to :data:`OP_FLOOR` and the layer name after it.
    Returns the shown keys and the widths of the columns that were narrowed.
    """
    shown = list(keys)

    def need(cols: list[str]) -> int:
        return sum(natural[k] for k in cols) + len(GAP) * (len(cols) - 1)

    if width is None:
        return shown, {}
    while need(shown) > width:
        excess = need(shown) - width
        if "op" in shown and natural["op"] - excess >= OP_MIN:
            return shown, {"op": natural["op"] - excess}
        droppable = sorted((c for c in COLUMNS if c.key in shown and c.drop), key=lambda c: c.drop)
        if not may_drop or not droppable:
            break
        shown.remove(droppable[0].key)
    excess = need(shown) - width
    narrowed: dict[str, int] = {}
    for key, floor in (("op", OP_FLOOR), ("layer", OP_FLOOR)):
        if excess > 0 and key in shown and natural[key] > floor:
            cut = min(excess, natural[key] - floor)
            narrowed[key] = natural[key] - cut
            excess -= cut
    return shown, narrowed


def _headers(convention: str) -> list[str]:
    """The table's columns; under a peer's convention the MACs column is that tool's count."""
    if convention == "archc":
        return HEADERS
    c = _conventions().get(convention)
    return [*HEADERS[:4], f"{c.unit} ({c.name})", *HEADERS[5:]]


def _convention_line(convention: str, total: int) -> str:
    c = _conventions().get(convention)
    return (
        f"{c.name:<11} {grouped(total)} {c.unit} ({human_count(total)}), as {c.tool} "
        f"{c.version} reports it (docs/conventions.md)"
    )


def arithmetic_intensity(row: Row, batch: int, nbytes: int) -> float:
    """MACs per byte moved: the row's activations read and written (per sample, times the
    batch) and its weights (read once per batch)."""
    moved = bytes_moved(row, batch, nbytes)
    return row.macs / moved if moved else 0.0


def bytes_moved(row: Row, batch: int, nbytes: int) -> int:
    return (row.moved_elements * batch + row.params + row.buffers) * nbytes


def _totals_lines(net: Network, t: Totals, convention: str = "archc", total: int = 0) -> list[str]:
    shapes = ", ".join(f"{k} {dims(v)}" for k, v in net.outputs.items())
    peer = [] if convention == "archc" else [_convention_line(convention, total)]
    return [
        f"network {net.name}: {t.layers} layers, batch {t.batch}, {t.dtype}",
        f"params      {grouped(t.params)} ({human_count(t.params)})"
        + (f", buffers {grouped(t.buffers)}" if t.buffers else ", no buffers"),
        f"MACs        {grouped(t.macs)} ({human_count(t.macs)}), FLOPs {human_count(t.flops)}",
        *peer,
        f"weights     {human_bytes(t.weight_bytes)}",
        f"activations {human_bytes(t.activation_bytes)} summed, "
        f"{human_bytes(t.peak_activation_bytes)} peak live",
        f"outputs     {shapes}",
    ]


def render_table(
    net: Network,
    rows: list[Row],
    t: Totals,
    convention: str = "archc",
    total: int = 0,
    width: int | None = None,
    columns: tuple[str, ...] | None = None,
) -> str:
    """The aligned table and the totals.  ``width`` (a terminal's columns) makes the table fit:
    long op details are elided with ``…`` and, unless ``columns`` chooses them, the
    lower-priority columns are dropped (a last line names them); numbers are right-aligned."""
    nbytes = DTYPE_BYTES[t.dtype]
    cells = [_headers(convention)] + [_table_cells(r, nbytes, t.batch) for r in rows]
    natural = {c.key: max(len(cell[c.index]) for cell in cells) for c in COLUMNS}
    keys = columns if columns is not None else COLUMN_KEYS
    shown, narrowed = fit_columns(natural, keys, width, may_drop=columns is None)
    picked = [c for c in COLUMNS if c.key in shown]
    widths = {c.key: narrowed.get(c.key, natural[c.key]) for c in picked}

    def line(cell: list[str]) -> str:
        parts = []
        for c in picked:
            text = elide(cell[c.index], widths[c.key])
            parts.append(
                text.rjust(widths[c.key]) if c.index in _RIGHT else text.ljust(widths[c.key])
            )
        return GAP.join(parts).rstrip()

    out = [line(cells[0]), GAP.join("-" * widths[c.key] for c in picked)]
    out.extend(line(c) for c in cells[1:])
    out.append("")
    out.extend(_totals_lines(net, t, convention, total))
    hidden = [c for c in COLUMNS if c.key in keys and c.key not in shown]
    if hidden:
        names = ", ".join(cells[0][c.index] for c in hidden)
        note = f"({names} hidden to fit {width} columns; --wide shows all)"
        short = f"({len(hidden)} columns hidden; --wide shows all)"
        out.append(note if width is None or len(note) <= width else short)
    return "\n".join(out) + "\n"


def render_markdown(
    net: Network, rows: list[Row], t: Totals, convention: str = "archc", total: int = 0
) -> str:
    nbytes = DTYPE_BYTES[t.dtype]
    headers = _headers(convention)

    def esc(text: str) -> str:
        return markdown_text(text)  # no raw HTML or '|' from a spec's strings

    out = [f"### {net.name}", ""]
    out.append("| " + " | ".join(headers) + " |")
    out.append(
        "| " + " | ".join("---:" if i in _RIGHT else "---" for i in range(len(headers))) + " |"
    )
    for r in rows:
        out.append("| " + " | ".join(esc(c) for c in _table_cells(r, nbytes, t.batch)) + " |")
    out.append("")
    signatures = block_signatures(rows)
    if signatures:
        out.append("Block arguments: " + ", ".join(markdown_code(s) for s in signatures) + ".")
        out.append("")
    out.extend(f"- {esc(line)}" for line in _totals_lines(net, t, convention, total))
    return "\n".join(out) + "\n"


def block_signatures(rows: list[Row]) -> list[str]:
    """``inception(n1x1, n3x3red, ...)`` once per block collapsed into a row, in row order.

    At ``--depth`` a block instance's op column lists only its argument values; this names them,
    so a row like ``inception(64, 96, 128, 16, 32, 32)`` reads against a paper's table columns.
    """
    seen: dict[str, str] = {}
    for r in rows:
        if r.args and r.op not in seen:
            seen[r.op] = f"{r.op}({', '.join(name for name, _ in r.args)})"
    return list(seen.values())


def render_csv(
    net: Network, rows: list[Row], t: Totals, counts: dict[str, int] | None = None
) -> str:
    """One line per row; the last three columns are the row's count under the chosen
    convention (``counts``; archc's MACs without it), bytes moved and arithmetic intensity."""
    nbytes = DTYPE_BYTES[t.dtype]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "layer",
            "op",
            "detail",
            "output",
            "params",
            "buffers",
            "macs",
            "flops",
            "activation_elements",
            "activation_bytes",
            "rf_h",
            "rf_w",
            "jump_h",
            "jump_w",
            "line",
            "convention_count",
            "bytes_moved",
            "arithmetic_intensity",
        ]
    )
    for r in rows:
        w.writerow(
            [
                r.name,
                r.op,
                op_label(r) if r.args else r.detail,
                dims(r.shape),
                r.params,
                r.buffers,
                r.macs,
                r.flops,
                r.out_elements * t.batch,
                r.activation_elements * nbytes * t.batch,
                *(r.rf.size if r.rf.known else ("", "")),
                *(r.rf.jump if r.rf.known else ("", "")),
                r.line,
                counts[r.name] if counts is not None else r.macs,
                bytes_moved(r, t.batch, nbytes),
                f"{arithmetic_intensity(r, t.batch, nbytes):.6g}",
            ]
        )
    return buf.getvalue()


def analysis_document(
    net: Network,
    rows: list[Row],
    t: Totals,
    depth: int | None,
    convention: str = "archc",
    counts: dict[str, int] | None = None,
    training: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document (a dict) for ``--format json``; see ``archc/schema/analysis-v2.json``.

    ``counts`` are the rows' counts under ``convention`` (per batch), ``training`` the
    ``archc.training.training_document`` of ``--train`` (null without it).
    """
    nbytes = DTYPE_BYTES[t.dtype]
    c = _conventions().get(convention)
    counts = counts if counts is not None else row_counts(net, rows, depth, convention, t.batch)
    return {
        "schema": SCHEMA_ID,
        "archc_version": __version__,
        "network": net.name,
        "file": net.file,
        "batch": t.batch,
        "dtype": t.dtype,
        "depth": depth,
        "inputs": [{"name": k, "shape": list(v)} for k, v in net.inputs.items()],
        "outputs": [
            {"name": k, "shape": list(net.shape(node)), "layer": node}
            for k, node in net.graph.graph["outputs"].items()
        ],
        "totals": asdict(t),
        "convention": {
            "name": c.name,
            "tool": c.tool,
            "version": c.version,
            "unit": c.unit,
            "total": sum(counts.values()),
        },
        "training": training,
        "layers": [
            {
                "name": r.name,
                "op": r.op,
                "detail": r.detail,
                "args": {k: _jsonable(v) for k, v in r.args},
                "shape": list(r.shape),
                "params": r.params,
                "buffers": r.buffers,
                "macs": r.macs,
                "flops": r.flops,
                "activation_elements": r.out_elements * t.batch,
                "activation_bytes": r.activation_elements * nbytes * t.batch,
                "receptive_field": (
                    {"size": list(r.rf.size), "jump": list(r.rf.jump)} if r.rf.known else None
                ),
                "layers": r.layers,
                "line": r.line,
                "convention_count": counts[r.name],
                "bytes_moved": bytes_moved(r, t.batch, nbytes),
                "arithmetic_intensity": arithmetic_intensity(r, t.batch, nbytes),
            }
            for r in rows
        ],
    }


def row_counts(
    net: Network, rows: list[Row], depth: int | None, convention: str, batch: int
) -> dict[str, int]:
    """Each row's count under ``convention`` for ``batch`` samples (rows as ``net.rows(depth)``
    groups layers: by their first ``depth`` path segments)."""
    per_layer = _conventions().layer_counts(net, convention)
    out = {r.name: 0 for r in rows}
    for node, count in per_layer.items():
        key = node if depth is None else ".".join(node.split(".")[:depth])
        out[key] += count * batch
    return out


def _jsonable(value: Any) -> Any:
    """An argument value as JSON: tuples as lists, an op or block passed as a value
    (``activation=hardswish``) by its name."""
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Callee):
        return value.name
    return value


def render(
    net: Network,
    fmt: str = "table",
    depth: int | None = None,
    batch: int = 1,
    dtype: str = "float32",
    convention: str = "archc",
    training: dict[str, Any] | None = None,
    width: int | None = None,
    columns: tuple[str, ...] | None = None,
) -> str:
    """One analysis in ``fmt``; ``width`` and ``columns`` shape the aligned table
    (:func:`render_table`).  Under a peer's ``convention`` the table's MACs column and a
    totals line give that tool's count (the JSON keeps archc's ``macs`` and adds the
    convention's); ``training`` is the ``--train`` document, embedded in the JSON."""
    rows = net.rows(depth, batch)
    t = net.totals(batch, dtype)
    counts = row_counts(net, rows, depth, convention, batch)
    if fmt == "json":
        document = strict_json(analysis_document(net, rows, t, depth, convention, counts, training))
        return json.dumps(document, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return render_csv(net, rows, t, counts)
    shown = rows if convention == "archc" else [replace(r, macs=counts[r.name]) for r in rows]
    total = sum(counts.values())
    if fmt == "markdown":
        return render_markdown(net, shown, t, convention, total)
    return render_table(net, shown, t, convention, total, width, columns)


# --------------------------------------------------------------------------- terminals
#: SGR codes for the few styles a command colours with
ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}


def color_enabled(stream: Any, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, style: str) -> str:
    """``text`` in an ANSI style (:data:`ANSI`); apply after escaping a spec's control chars."""
    return f"\x1b[{ANSI[style]}m{text}\x1b[0m" if text else text


def terminal_width(stream: Any, environ: Mapping[str, str]) -> int | None:
    """The width a table must fit: ``COLUMNS`` when set, else the terminal's; None (no limit)
    when the output is not a terminal, so files and pipes get every column."""
    text = environ.get("COLUMNS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    isatty = getattr(stream, "isatty", None)
    if isatty and isatty():
        try:
            return os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):
            return None
    return None
