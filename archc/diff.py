"""Comparing two architectures: totals, then layers matched by scope path.

:func:`diff_networks` compares two analysed networks (per-sample shapes; compute and memory at a
batch size and dtype): the totals with absolute and relative change, then each layer (or, with
``depth``, each collapsed scope) as added, removed, changed or unchanged.  Layers are matched by
their scope path, which is stable under edits elsewhere in the spec.  :func:`load_at_revision`
compiles a spec as it was in a git revision, its includes read from that revision too.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archc import __version__, conventions
from archc.analysis import Network, Row, load
from archc.errors import SourceError, UsageError
from archc.formats import op_label, row_counts
from archc.ops import dims
from archc.source import Span, display_name
from archc.units import grouped, human_bytes

SCHEMA_ID = "archc.diff/1"
FORMATS = ("text", "json", "markdown")

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"
#: per-layer fields compared, in the order they are reported
FIELDS = ("op", "shape", "params", "buffers", "macs")


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class TotalChange:
    """One network total before and after."""

    metric: str
    unit: str  # "count" or "bytes"
    old: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.old

    @property
    def relative(self) -> float | None:
        """``delta / old``; None when ``old`` is 0."""
        return self.delta / self.old if self.old else None


@dataclass(frozen=True)
class LayerChange:
    """One layer (or collapsed scope) matched by path; ``old``/``new`` is None when absent."""

    name: str
    status: str  # ADDED, REMOVED, CHANGED, UNCHANGED
    old: Row | None
    new: Row | None
    fields: tuple[str, ...] = ()  # the FIELDS that differ, for CHANGED


@dataclass(frozen=True)
class Side:
    """One side of a comparison: how it is named in the output, and its network."""

    label: str  # "specs/vgg16.arch", or "HEAD~1:specs/vgg16.arch"
    net: Network


@dataclass(frozen=True)
class NetworkDiff:
    old: Side
    new: Side
    batch: int
    dtype: str
    depth: int | None
    totals: tuple[TotalChange, ...]
    layers: tuple[LayerChange, ...]  # every layer, unchanged ones included, in merged order
    #: whose MACs the layer rows compare (docs/conventions.md); a peer's adds a totals line
    convention: str = "archc"

    def count(self, status: str) -> int:
        return sum(1 for c in self.layers if c.status == status)

    @property
    def identical(self) -> bool:
        return all(t.delta == 0 for t in self.totals) and all(
            c.status == UNCHANGED for c in self.layers
        )


def _field(row: Row, name: str) -> Any:
    if name == "op":
        return op_label(row)
    return getattr(row, name)


def _totals(old: Network, new: Network, batch: int, dtype: str) -> tuple[TotalChange, ...]:
    a, b = old.totals(batch, dtype), new.totals(batch, dtype)
    spec = (
        ("params", "count", "params"),
        ("buffers", "count", "buffers"),
        ("macs", "count", "macs"),
        ("flops", "count", "flops"),
        ("weight_memory", "bytes", "weight_bytes"),
        ("activation_memory", "bytes", "activation_bytes"),
        ("peak_memory", "bytes", "peak_activation_bytes"),
        ("layers", "count", "layers"),
    )
    return tuple(TotalChange(name, unit, getattr(a, f), getattr(b, f)) for name, unit, f in spec)


def _merged_order(old: list[str], new: list[str]) -> list[str]:
    """``new``'s order, with names only in ``old`` placed after their predecessor in ``old``."""
    in_new = set(new)
    in_old = set(old)
    position = {name: i for i, name in enumerate(old)}
    out: list[str] = []
    done = 0  # old[:done] has been placed
    for name in new:
        if name in in_old:
            stop = position[name]
            out.extend(o for o in old[done:stop] if o not in in_new)
            done = max(done, stop + 1)
        out.append(name)
    out.extend(o for o in old[done:] if o not in in_new)
    return out


def diff_networks(
    old: Side,
    new: Side,
    batch: int = 1,
    dtype: str = "float32",
    depth: int | None = None,
    convention: str = "archc",
) -> NetworkDiff:
    """Compare ``old`` with ``new``; ``depth`` compares scopes collapsed to that many segments,
    ``convention`` counts the layers' MACs as that peer tool does."""
    old_rows = _rows(old.net, depth, batch, convention)
    new_rows = _rows(new.net, depth, batch, convention)
    changes = []
    for name in _merged_order(list(old_rows), list(new_rows)):
        a, b = old_rows.get(name), new_rows.get(name)
        if a is None:
            changes.append(LayerChange(name, ADDED, None, b))
        elif b is None:
            changes.append(LayerChange(name, REMOVED, a, None))
        else:
            fields = tuple(f for f in FIELDS if _field(a, f) != _field(b, f))
            changes.append(LayerChange(name, CHANGED if fields else UNCHANGED, a, b, fields))
    totals = _totals(old.net, new.net, batch, dtype)
    if convention != "archc":
        c = conventions.get(convention)
        peer = TotalChange(
            f"{c.unit.lower()} ({c.name})",
            "count",
            conventions.total(old.net, c, batch),
            conventions.total(new.net, c, batch),
        )
        at = next(i for i, t in enumerate(totals) if t.metric == "macs") + 1
        totals = (*totals[:at], peer, *totals[at:])
    return NetworkDiff(old, new, batch, dtype, depth, totals, tuple(changes), convention)


def _rows(net: Network, depth: int | None, batch: int, convention: str) -> dict[str, Row]:
    rows = net.rows(depth, batch)
    if convention != "archc":
        counts = row_counts(net, rows, depth, convention, batch)
        rows = [replace(r, macs=counts[r.name]) for r in rows]
    return {r.name: r for r in rows}


# --------------------------------------------------------------------------- git revisions


class GitReader:
    """A :class:`archc.loader.Reader` over ``git show REV:path``: spec files as of a revision.

    Files are named ``REV:path`` (path relative to the repository root), so messages and spans
    say which version they come from and never collide with the working tree's.
    """

    def __init__(self, rev: str, anchor: Path) -> None:
        self.rev = rev
        directory = anchor.parent if anchor.parent != Path("") else Path(".")
        top = _git(["rev-parse", "--show-toplevel"], directory)
        if top is None:
            raise UsageError(f"--rev needs a git repository, and {display_name(anchor)} is in none")
        self.root = Path(top.strip()).resolve()
        if _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], self.root) is None:
            raise UsageError(f"unknown git revision {rev!r}")

    def relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            raise SourceError(
                f"{display_name(path)} is outside the git repository {self.root}"
            ) from None

    def name(self, path: Path) -> str:
        rev = self.rev[:12] if re.fullmatch(r"[0-9a-f]{40}", self.rev) else self.rev
        return f"{rev}:{self.relative(path)}"

    def read(self, path: Path, span: Span | None) -> str:
        rel = self.relative(path)
        data = _git_bytes(["show", f"{self.rev}:{rel}"], self.root)
        if data is None:
            raise SourceError(f"no file {rel} in revision {self.rev}", span)
        if b"\0" in data:
            raise SourceError(f"{self.rev}:{rel} is a binary file, not a .arch spec", span)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{self.rev}:{rel} is not UTF-8 text", span) from None


def _git_bytes(args: list[str], cwd: Path) -> bytes | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("--rev needs git, and git is not installed") from None
    except NotADirectoryError:  # pragma: no cover - cwd comes from a file's parent
        return None
    return proc.stdout if proc.returncode == 0 else None


def _git(args: list[str], cwd: Path) -> str | None:
    data = _git_bytes(args, cwd)
    return data.decode("utf-8", "replace") if data is not None else None


def load_at_revision(
    path: str | Path,
    rev: str,
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    consts: Mapping[str, Any] | None = None,
) -> tuple[str, Network]:
    """Compile ``path`` as it was in git revision ``rev``; returns (label, network)."""
    reader = GitReader(rev, Path(path))
    return reader.name(Path(path)), load(path, inputs, consts=consts, reader=reader)


# --------------------------------------------------------------------------- rendering


def _signed(value: int, unit: str) -> str:
    text = human_bytes(abs(value)) if unit == "bytes" else grouped(abs(value))
    return ("+" if value > 0 else "-" if value < 0 else "±") + text


def _percent(rel: float | None, delta: int) -> str:
    if rel is None:
        return "new" if delta else "±0%"
    return f"{rel * 100:+.2f}%"


def _amount(value: int, unit: str) -> str:
    return human_bytes(value) if unit == "bytes" else grouped(value)


def _change(t: TotalChange) -> str:
    if t.delta == 0:
        return "no change"
    return f"{_signed(t.delta, t.unit)} ({_percent(t.relative, t.delta)})"


def _summary(d: NetworkDiff) -> str:
    what = "scopes" if d.depth else "layers"
    return (
        f"{what}: {d.count(ADDED)} added, {d.count(REMOVED)} removed, "
        f"{d.count(CHANGED)} changed, {d.count(UNCHANGED)} unchanged (matched by scope path)"
    )


def _visible(d: NetworkDiff, show_all: bool) -> list[LayerChange]:
    return [c for c in d.layers if show_all or c.status != UNCHANGED]


_MARK = {ADDED: "+", REMOVED: "-", CHANGED: "~", UNCHANGED: " "}


def _convention_note(d: NetworkDiff) -> str:
    return "" if d.convention == "archc" else f", layer MACs as {d.convention} counts them"


def render_text(d: NetworkDiff, show_all: bool = False) -> str:
    a, b = d.old.net, d.new.net
    out = [
        f"archc diff: {d.old.label} ({a.name}) → {d.new.label} ({b.name}), "
        f"batch {d.batch}, {d.dtype}{_convention_note(d)}",
        "",
    ]
    names = (a.name, b.name) if a.name != b.name else ("old", "new")
    cells = [["", *names, "change"]]
    for t in d.totals:
        cells.append([t.metric, _amount(t.old, t.unit), _amount(t.new, t.unit), _change(t)])
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    for c in cells:
        first = c[0].ljust(widths[0])
        out.append(f"{first}  {c[1].rjust(widths[1])}  {c[2].rjust(widths[2])}  {c[3]}".rstrip())
    out.extend(["", _summary(d)])
    rows = _visible(d, show_all)
    if rows:
        cells = [["", "layer" if not d.depth else "scope", "op", "shape", "params", "MACs"]]
        cells.extend([_MARK[c.status], c.name, *_layer_cells(c)] for c in rows)
        widths = [max(len(c[i]) for c in cells) for i in range(6)]
        for c in cells:
            line = "  ".join(
                c[i].rjust(widths[i]) if i >= 4 else c[i].ljust(widths[i]) for i in range(6)
            )
            out.append(f"  {line}".rstrip())
    elif d.identical:
        out.append("  the two networks are identical")
    return "\n".join(out) + "\n"


def render_markdown(d: NetworkDiff, show_all: bool = False) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    a, b = d.old.net, d.new.net
    out = [
        f"### archc diff: `{esc(d.old.label)}` → `{esc(d.new.label)}`",
        "",
        f"{a.name} → {b.name}, batch {d.batch}, {d.dtype}{_convention_note(d)}",
        "",
        f"| metric | {esc(d.old.label)} | {esc(d.new.label)} | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    for t in d.totals:
        out.append(
            f"| {t.metric} | {_amount(t.old, t.unit)} | {_amount(t.new, t.unit)} | {_change(t)} |"
        )
    out.extend(["", f"**{_summary(d)}**", ""])
    rows = _visible(d, show_all)
    if rows:
        table = [
            f"| | {'scope' if d.depth else 'layer'} | op | shape | params | MACs |",
            "| --- | --- | --- | --- | ---: | ---: |",
        ]
        for c in rows:
            mark = "" if c.status == UNCHANGED else c.status
            cols = " | ".join(esc(x) for x in _layer_cells(c))
            table.append(f"| {mark} | `{esc(c.name)}` | {cols} |")
        if len(rows) > 10:
            out.extend(
                [f"<details><summary>{len(rows)} {'scopes' if d.depth else 'layers'}</summary>", ""]
            )
            out.extend(table)
            out.extend(["", "</details>"])
        else:
            out.extend(table)
    return "\n".join(out) + "\n"


def _arrow(old: str, new: str) -> str:
    return old if old == new else f"{old} → {new}"


def _layer_cells(c: LayerChange) -> list[str]:
    """op, shape, params, MACs of a layer; ``old → new`` where a changed layer differs."""
    sides = [r for r in (c.old, c.new) if r is not None]
    texts = [(op_label(r), dims(r.shape), grouped(r.params), grouped(r.macs)) for r in sides]
    return [_arrow(texts[0][i], texts[-1][i]) for i in range(4)]


def _row_json(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "op": row.op,
        "detail": op_label(row),
        "shape": list(row.shape),
        "params": row.params,
        "buffers": row.buffers,
        "macs": row.macs,
        "line": row.line,
    }


def diff_document(d: NetworkDiff, show_all: bool = False) -> dict[str, Any]:
    """The JSON document for ``--format json`` (``"schema": "archc.diff/1"``)."""

    def side(s: Side) -> dict[str, Any]:
        return {"label": s.label, "file": s.net.file, "network": s.net.name}

    return {
        "schema": SCHEMA_ID,
        "archc_version": __version__,
        "old": side(d.old),
        "new": side(d.new),
        "batch": d.batch,
        "dtype": d.dtype,
        "depth": d.depth,
        "convention": d.convention,
        "totals": [
            {
                "metric": t.metric,
                "unit": t.unit,
                "old": t.old,
                "new": t.new,
                "delta": t.delta,
                "relative": t.relative,
            }
            for t in d.totals
        ],
        "summary": {s: d.count(s) for s in (ADDED, REMOVED, CHANGED, UNCHANGED)},
        "layers": [
            {
                "name": c.name,
                "status": c.status,
                "changed": list(c.fields),
                "old": _row_json(c.old),
                "new": _row_json(c.new),
            }
            for c in _visible(d, show_all)
        ],
    }


def render(d: NetworkDiff, fmt: str = "text", show_all: bool = False) -> str:
    if fmt == "json":
        return json.dumps(diff_document(d, show_all), indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(d, show_all)
    return render_text(d, show_all)


__all__ = [
    "ADDED",
    "CHANGED",
    "FIELDS",
    "FORMATS",
    "REMOVED",
    "UNCHANGED",
    "GitReader",
    "LayerChange",
    "NetworkDiff",
    "Side",
    "TotalChange",
    "diff_document",
    "diff_networks",
    "load_at_revision",
    "render",
]
