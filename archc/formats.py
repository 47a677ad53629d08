"""Rendering an analysis: aligned table, JSON (versioned schema), CSV and Markdown.

All four come from the same :class:`~archc.analysis.Row` list and :class:`Totals`, so they can
never disagree.  The JSON document follows ``archc/schema/analysis-v1.json``
(``"schema": "archc.analysis/1"``); CI jobs parse it, so fields are only ever added.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

from archc import __version__
from archc.analysis import Network, Row, Totals
from archc.ops import dims
from archc.ops.attrs import show_value
from archc.source import markdown_code, markdown_text, strict_json
from archc.units import DTYPE_BYTES, grouped, human_bytes, human_count

SCHEMA_ID = "archc.analysis/1"
FORMATS = ("table", "json", "csv", "markdown")


def rf_label(row: Row) -> str:
    """``"211/32"``: receptive field size / jump, ``h×w`` where the axes differ."""
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


def _totals_lines(net: Network, t: Totals) -> list[str]:
    shapes = ", ".join(f"{k} {dims(v)}" for k, v in net.outputs.items())
    return [
        f"network {net.name}: {t.layers} layers, batch {t.batch}, {t.dtype}",
        f"params      {grouped(t.params)} ({human_count(t.params)})"
        + (f", buffers {grouped(t.buffers)}" if t.buffers else ", no buffers"),
        f"MACs        {grouped(t.macs)} ({human_count(t.macs)}), FLOPs {human_count(t.flops)}",
        f"weights     {human_bytes(t.weight_bytes)}",
        f"activations {human_bytes(t.activation_bytes)} summed, "
        f"{human_bytes(t.peak_activation_bytes)} peak live",
        f"outputs     {shapes}",
    ]


def render_table(net: Network, rows: list[Row], t: Totals) -> str:
    nbytes = DTYPE_BYTES[t.dtype]
    cells = [HEADERS] + [_table_cells(r, nbytes, t.batch) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]

    def line(c: list[str]) -> str:
        parts = [
            c[i].rjust(widths[i]) if i in _RIGHT else c[i].ljust(widths[i]) for i in range(len(c))
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(c) for c in cells[1:])
    out.append("")
    out.extend(_totals_lines(net, t))
    return "\n".join(out) + "\n"


def render_markdown(net: Network, rows: list[Row], t: Totals) -> str:
    nbytes = DTYPE_BYTES[t.dtype]

    def esc(text: str) -> str:
        return markdown_text(text)  # no raw HTML or '|' from a spec's strings

    out = [f"### {net.name}", ""]
    out.append("| " + " | ".join(HEADERS) + " |")
    out.append(
        "| " + " | ".join("---:" if i in _RIGHT else "---" for i in range(len(HEADERS))) + " |"
    )
    for r in rows:
        out.append("| " + " | ".join(esc(c) for c in _table_cells(r, nbytes, t.batch)) + " |")
    out.append("")
    signatures = block_signatures(rows)
    if signatures:
        out.append("Block arguments: " + ", ".join(markdown_code(s) for s in signatures) + ".")
        out.append("")
    out.extend(f"- {esc(line)}" for line in _totals_lines(net, t))
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


def render_csv(net: Network, rows: list[Row], t: Totals) -> str:
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
                *r.rf.size,
                *r.rf.jump,
                r.line,
            ]
        )
    return buf.getvalue()


def analysis_document(
    net: Network, rows: list[Row], t: Totals, depth: int | None
) -> dict[str, Any]:
    """The JSON document (a dict) for ``--format json``; see ``archc/schema/analysis-v1.json``."""
    nbytes = DTYPE_BYTES[t.dtype]
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
                "receptive_field": {"size": list(r.rf.size), "jump": list(r.rf.jump)},
                "layers": r.layers,
                "line": r.line,
            }
            for r in rows
        ],
    }


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def render(
    net: Network,
    fmt: str = "table",
    depth: int | None = None,
    batch: int = 1,
    dtype: str = "float32",
) -> str:
    rows = net.rows(depth, batch)
    t = net.totals(batch, dtype)
    if fmt == "json":
        document = strict_json(analysis_document(net, rows, t, depth))
        return json.dumps(document, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return render_csv(net, rows, t)
    if fmt == "markdown":
        return render_markdown(net, rows, t)
    return render_table(net, rows, t)
