"""The results of ``archc check`` and their renderings: text (a terminal or a CI log), JSON,
JUnit XML and GitHub workflow annotations.

Library code, beside :mod:`archc.formats` (which renders analyses): :func:`check_spec` checks one
file against command-line limits and its own asserts, and the renderers turn the results into
each format, escaping whatever a spec or a path contributes for that format's reader
(docs/security.md).  ``archc check`` (:mod:`archc.cli.check`) parses the flags and picks one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archc import __version__
from archc.analysis import load
from archc.budget import (
    BYTES,
    Check,
    Limit,
    check_network,
)
from archc.errors import ArchError
from archc.formats import paint
from archc.ir import G_SPAN
from archc.limits import check_network as check_limits
from archc.loader import read_text
from archc.ops import dims
from archc.source import Span, display_name, strict_json, visible
from archc.syntax import parse
from archc.units import grouped, human_bytes, human_count

FORMATS = ("text", "json", "junit")
SCHEMA_ID = "archc.check/1"
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass
class SpecResult:
    """The outcome for one spec file: its checks, or the error that stopped it."""

    file: str
    network: str | None = None
    checks: list[Check] = field(default_factory=list)
    error: ArchError | None = None
    network_span: Span | None = None
    skipped: str | None = None  # why nothing was checked

    @property
    def status(self) -> str:
        if self.error is not None:
            return ERROR
        if self.skipped is not None:
            return SKIPPED
        return PASSED if all(c.passed for c in self.checks) else FAILED


# --------------------------------------------------------------------------- checking


def check_spec(
    path: str,
    limits: list[Limit],
    batch: int,
    dtype: str,
    inputs: dict[str, tuple[int, ...]],
    consts: dict[str, Any] | None = None,
) -> SpecResult:
    result = SpecResult(display_name(Path(path)))
    try:
        module = parse(read_text(Path(path)), result.file)
        if not module.networks:
            result.skipped = "no network (a file of blocks and constants): parsed, nothing to check"
            return result
        net = load(path, inputs=inputs, consts=consts)
        result.network = net.name
        result.network_span = net.graph.graph[G_SPAN]
        check_limits(net)
        result.checks = check_network(net, limits, batch, dtype)
    except ArchError as exc:
        result.error = exc
    return result


def exit_code(results: list[SpecResult]) -> int:
    statuses = {r.status for r in results}
    if ERROR in statuses:
        return 2
    return 1 if FAILED in statuses else 0


# --------------------------------------------------------------------------- values


def show(value: Any, unit: str | None) -> str:
    """A check's value as people read it: ``6,998,552 (7.00M)``, ``4,816,896 B (4.59 MiB)``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return dims(value)
        return "(" + ", ".join(show(v, None) for v in value) + ")"
    if isinstance(value, int | float):
        exact = grouped(value) if isinstance(value, int) else f"{value:,.6g}"
        if unit == BYTES:
            return f"{exact} B ({human_bytes(value)})" if abs(value) >= 1024 else f"{exact} B"
        if abs(value) >= 1000:
            return f"{exact} ({human_count(value)})"
        return exact
    return repr(value) if isinstance(value, str) else str(value)


def show_margin(check: Check) -> str:
    margin = check.margin
    if margin is None:
        return ""
    text = f"{margin:+,.6g}" if isinstance(margin, float) else f"{margin:+,}"
    if check.unit == BYTES:
        text += " B"
    rel = check.relative_margin
    return f"{text} ({rel * 100:+.2f}%)" if rel is not None else text


def describe_failure(check: Check) -> str:
    """One line: what failed and by how much (for annotations and JUnit messages)."""
    head = f"budget failed: {check.name}"
    if check.op is not None:
        head += f": actual {show(check.actual, check.unit)}, limit {check.op} "
        head += show(check.limit, check.unit)
        margin = show_margin(check)
        if margin:
            head += f", margin {margin}"
    if check.message:
        head += f" ({check.message})"
    return head


# --------------------------------------------------------------------------- text


def render_text(results: list[SpecResult], batch: int, dtype: str, color: bool = False) -> str:
    """The text report; with ``color`` (a terminal without NO_COLOR), failures in red and
    passes in green, painted after the spec's text is escaped."""
    out: list[str] = []
    for r in results:
        if r.status == SKIPPED:
            out.append(f"{r.file}: skipped: {r.skipped}")
            continue
        if r.error is not None:
            out.append(f"{r.file}: ERROR")
            out.extend("  " + line for line in str(r.error).splitlines())
            continue
        out.append(f"{r.file}: {r.network} (batch {batch}, {dtype})")
        if not r.checks:
            out.append("  no budgets: give --max-... limits or write assert statements")
            continue
        cells = [
            [
                "ok" if c.passed else "FAIL",
                c.name,
                show(c.actual, c.unit),
                f"limit {c.op} {show(c.limit, c.unit)}" if c.op else "",
                f"margin {show_margin(c)}" if show_margin(c) else "",
            ]
            for c in r.checks
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(5)]
        for c, row in zip(r.checks, cells, strict=True):
            line = "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True))
            out.append(f"  {line}".rstrip())
            if not c.passed and c.span is not None:
                what = c.message or "the assertion does not hold"
                out.append(f"      {c.span.location()}: budget failed: {what}")
                out.extend("      " + line for line in c.span.excerpt())
    out.append(summary_line(results))
    lines = [text_line(line) for item in out for line in item.split("\n")]
    if color:
        lines = [_colored(line) for line in lines]
    return "".join(line + "\n" for line in lines)


def _colored(line: str) -> str:
    """One escaped report line with its verdict painted."""
    if (
        line.startswith("  FAIL")
        or line.startswith(("FAILED:", "ERROR:"))
        or line.endswith(": ERROR")
    ):
        return paint(line, "red")
    if line.startswith("  ok "):
        return "  " + paint("ok", "green") + line[4:]
    if line.startswith("ok:"):
        return paint("ok", "green") + line[2:]
    return line


def text_line(line: str) -> str:
    """One line of the text report, safe for a terminal and a CI log: control characters shown
    visibly, and a line that would start with ``::`` (a GitHub workflow command such as
    ``::warning::``, forged by a file name or an assert message) has its first colon replaced
    by a look-alike (U+FF1A), so the runner does not execute it."""
    line = visible(line)
    stripped = line.lstrip()
    if stripped.startswith("::"):
        line = line[: len(line) - len(stripped)] + "\uff1a" + stripped[1:]
    return line


def summary_line(results: list[SpecResult]) -> str:
    checks = [c for r in results for c in r.checks]
    failed = sum(1 for c in checks if not c.passed)
    errors = sum(1 for r in results if r.status == ERROR)
    skipped = sum(1 for r in results if r.status == SKIPPED)
    specs = len(results)
    parts = [
        f"{specs} spec{'s' if specs != 1 else ''}",
        f"{len(checks)} check{'s' if len(checks) != 1 else ''}",
        f"{len(checks) - failed} passed",
        f"{failed} failed",
    ]
    if errors:
        parts.append(f"{errors} spec{'s' if errors != 1 else ''} with errors")
    if skipped:
        parts.append(f"{skipped} skipped")
    verdict = {0: "ok", 1: "FAILED", 2: "ERROR"}[exit_code(results)]
    return f"{verdict}: " + ", ".join(parts)


# --------------------------------------------------------------------------- json


def _jsonable(value: Any) -> Any:
    return strict_json(value)


def _location(span: Span | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": span.file, "line": span.line, "column": span.column}


def check_document(
    results: list[SpecResult], limits: list[Limit], batch: int, dtype: str
) -> dict[str, Any]:
    """The JSON document for ``--format json`` (``"schema": "archc.check/1"``)."""
    checks = [c for r in results for c in r.checks]
    return {
        "schema": SCHEMA_ID,
        "archc_version": __version__,
        "batch": batch,
        "dtype": dtype,
        "limits": {lim.metric.name: _jsonable(lim.value) for lim in limits},
        "specs": [
            {
                "file": r.file,
                "network": r.network,
                "status": r.status,
                "skipped": r.skipped,
                "error": None
                if r.error is None
                else {
                    "kind": r.error.kind,
                    "message": r.error.message,
                    "location": _location(r.error.span),
                    "text": str(r.error),
                },
                "checks": [
                    {
                        "name": c.name,
                        "origin": c.origin,
                        "scope": c.scope,
                        "passed": c.passed,
                        "actual": _jsonable(c.actual),
                        "op": c.op,
                        "limit": _jsonable(c.limit),
                        "unit": c.unit,
                        "margin": _jsonable(c.margin),
                        "relative_margin": _jsonable(c.relative_margin),
                        "message": c.message,
                        "location": _location(c.span or r.network_span),
                    }
                    for c in r.checks
                ],
            }
            for r in results
        ],
        "summary": {
            "specs": len(results),
            "checks": len(checks),
            "passed": sum(1 for c in checks if c.passed),
            "failed": sum(1 for c in checks if not c.passed),
            "errors": sum(1 for r in results if r.status == ERROR),
            "skipped": sum(1 for r in results if r.status == SKIPPED),
        },
        "exit_code": exit_code(results),
    }


# --------------------------------------------------------------------------- junit


def render_junit(results: list[SpecResult], batch: int, dtype: str) -> str:
    """JUnit XML: one ``testsuite`` per spec, one ``testcase`` per check."""
    root = ET.Element("testsuites", name="archc check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in results:
        suite = ET.SubElement(root, "testsuite", name=r.file)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        classname = f"archc.{r.network or Path(r.file).stem}"
        if r.error is not None or r.skipped is not None:
            case = ET.SubElement(
                suite, "testcase", classname=classname, name="compile", file=r.file
            )
            counts["tests"] += 1
            if r.error is not None:
                counts["errors"] += 1
                err = ET.SubElement(
                    case, "error", message=r.error.message, type=r.error.kind.replace(" ", "_")
                )
                err.text = str(r.error)
            else:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=r.skipped or "")
        for c in r.checks:
            span = c.span or r.network_span
            attrs = {"classname": classname, "name": c.name, "file": r.file}
            if span is not None:
                attrs["file"], attrs["line"] = span.file, str(span.line)
            case = ET.SubElement(suite, "testcase", attrs)
            counts["tests"] += 1
            if not c.passed:
                counts["failures"] += 1
                fail = ET.SubElement(case, "failure", message=describe_failure(c), type="budget")
                fail.text = "\n".join(_failure_lines(c))
            ET.SubElement(case, "system-out").text = _case_text(c, batch, dtype)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        if key != "skipped":
            root.set(key, str(value))
    _xml_safe(root)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _xml_safe(root: ET.Element) -> None:
    """Make every text and attribute XML 1.0 characters only: control characters (ESC, BEL,
    NUL from a spec string or a file name) become visible symbols instead of a document no
    JUnit reader can parse."""
    for element in root.iter():
        if element.text:
            element.text = visible(element.text)
        for key, value in element.attrib.items():
            element.set(key, visible(value))


def _case_text(c: Check, batch: int, dtype: str) -> str:
    parts = [f"actual {show(c.actual, c.unit)}"]
    if c.op:
        parts.append(f"limit {c.op} {show(c.limit, c.unit)}")
    margin = show_margin(c)
    if margin:
        parts.append(f"margin {margin}")
    return ", ".join(parts) + f" (batch {batch}, {dtype})"


def _failure_lines(c: Check) -> list[str]:
    lines = [describe_failure(c)]
    if c.span is not None:
        lines.append(f"{c.span.location()}: {c.message or 'the assertion does not hold'}")
        lines.extend(c.span.excerpt())
    return lines


# --------------------------------------------------------------------------- GitHub


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(message: str, span: Span | None, file: str, title: str) -> str:
    """A ``::error`` workflow command; GitHub shows it on the pull request's diff."""
    props = {"file": span.file if span else file}
    if span is not None:
        props["line"] = str(span.line)
        props["col"] = str(span.column)
        if span.end_line == span.line and span.end_column:
            props["endColumn"] = str(span.end_column)
    props["title"] = title
    joined = ",".join(f"{k}={_escape_property(visible(v))}" for k, v in props.items())
    return f"::error {joined}::{_escape_data(visible(message))}"


def github_annotations(results: list[SpecResult]) -> list[str]:
    lines = []
    for r in results:
        if r.error is not None:
            lines.append(
                github_annotation(
                    f"{r.error.kind}: {r.error.message}", r.error.span, r.file, "archc check"
                )
            )
        for c in r.checks:
            if not c.passed:
                lines.append(
                    github_annotation(
                        describe_failure(c), c.span or r.network_span, r.file, "archc budget"
                    )
                )
    return lines


__all__ = [
    "FORMATS",
    "SpecResult",
    "check_document",
    "check_spec",
    "describe_failure",
    "exit_code",
    "github_annotation",
    "github_annotations",
    "render_junit",
    "render_text",
    "summary_line",
    "text_line",
]
