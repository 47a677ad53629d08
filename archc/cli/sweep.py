"""``archc sweep``: evaluate a spec over a grid or a sample of its constants; print the front."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from archc.cli.common import (
    add_batch_dtype,
    add_input_override,
    add_trust_arguments,
    input_overrides,
    write_stdout,
)
from archc.errors import UsageError
from archc.sweep.api import DEFAULT_OBJECTIVES, Progress, SweepResult, sweep
from archc.sweep.candidate import ERROR, REJECTED
from archc.sweep.engines import ENGINES
from archc.sweep.values import split_assignment

DESCRIPTION = """Explore a spec's design space without building a model: every combination of
the --set axes (or --samples of them) is compiled and analysed, rows stream to --output as they
arrive (a killed sweep rerun with the same output continues), and the Pareto front of the
candidates that meet --where and the spec's asserts is printed."""

EPILOG = """axes (--set NAME=VALUES, NAME a file-level constant, or resolution: every image input
C×R×R when the spec has no constant of that name):
  lo:hi:step   0.35:1.4:0.05 (inclusive; exact decimal steps)
  a,b,c        128,160,192,224
  v            one value: 0.75, true, "same", (1, 7)

examples:
  archc sweep specs/sweep/mobilenet_v1_width.arch --set width=0.35:1.4:0.05 \\
      --set resolution=128:320:32 --where "macs <= 400M" --pareto params,macs -o sweep.jsonl
  archc sweep specs/resnet50.arch --set resolution=160:320:32 --pareto macs,resolution:max
  archc sweep SPEC --set width=0.25:2:0.01 --samples 50 --seed 1 --report front.html
  archc sweep SPEC --set width=0.25:2:0.01 --engine ray --address auto
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the .arch file")
    parser.add_argument(
        "--set",
        dest="axes",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="an axis: a constant (or resolution) and its values (repeatable)",
    )
    parser.add_argument(
        "--where",
        metavar="EXPR",
        help='a constraint in the assert language, e.g. "params <= 4M and macs <= 400M"',
    )
    parser.add_argument(
        "--pareto",
        metavar="COLS",
        default=",".join(DEFAULT_OBJECTIVES),
        help="objectives, minimised; NAME:max maximises (default params,macs)",
    )
    parser.add_argument(
        "--metrics",
        metavar="COLS",
        help="metric columns of a row (default: those of archc analyze, and the objectives; "
        "all: every metric, training memory included)",
    )
    parser.add_argument("--samples", type=int, metavar="N", help="a random sample of N points")
    parser.add_argument("--seed", type=int, default=0, help="seed of --samples (default 0)")
    parser.add_argument("--engine", choices=ENGINES, default="local", help="default local")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local processes (default: every core; 0: in this process); Ray: CPUs of a new "
        "local instance",
    )
    parser.add_argument("--address", help="the Ray cluster to join (--engine ray), e.g. auto")
    parser.add_argument(
        "--batch-size", type=int, metavar="N", help="candidates per task (default: automatic)"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="every candidate, as .jsonl, .csv or .parquet"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --output instead of resuming it"
    )
    parser.add_argument("--report", metavar="HTML", help="write the front as an HTML page")
    parser.add_argument(
        "--no-asserts", action="store_true", help="do not check the spec's own asserts"
    )
    parser.add_argument(
        "--top", type=int, default=50, metavar="N", help="front rows to print (default 50)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_input_override(parser, help="fix an input's shape (repeatable)")
    add_batch_dtype(parser)
    add_trust_arguments(parser)


def run(args: argparse.Namespace) -> int:
    axes: dict[str, str] = {}
    for text in args.axes:
        name, values = split_assignment(text)
        if name in axes:
            raise UsageError(f"--set names '{name}' twice")
        axes[name] = values
    reporter = None if args.quiet else _ProgressLine()
    result = sweep(
        args.spec,
        axes,
        where=args.where,
        pareto=args.pareto,
        metrics=args.metrics,
        samples=args.samples,
        seed=args.seed,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        batch_size=args.batch_size,
        output=args.output,
        overwrite=args.overwrite,
        batch=args.batch,
        dtype=args.dtype,
        inputs=input_overrides(args),
        check_asserts=not args.no_asserts,
        report=args.report,
        progress=reporter,
    )
    if reporter is not None:
        reporter.finish(result)
    write_stdout(render_front(result, args.top))
    return 0


def render_front(result: SweepResult, top: int = 50) -> str:
    """The front as a table, and one line of counts."""
    counts = result.counts()
    objectives = ", ".join(str(o) for o in result.objectives)
    lines = [
        f"{result.network}: {len(result.rows):,} candidates, {counts['ok']:,} ok, "
        f"{counts[REJECTED]:,} rejected, {counts[ERROR]:,} errors; "
        f"Pareto front over {objectives}: {len(result.front)}",
    ]
    if result.front:
        shown_metrics = [m for m in ("params", "macs") if m in result.metrics]
        columns = ["index", *result.axes, *(o.column for o in result.objectives), *shown_metrics]
        columns = list(dict.fromkeys(columns))
        shown = result.front[:top]
        cells = [[_cell(row.get(c)) for c in columns] for row in shown]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        lines.append("")
        lines.append("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
        if len(result.front) > top:
            lines.append(f"... {len(result.front) - top} more (--top)")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return "" if value is None else str(value)


class _ProgressLine:
    """Candidates done, candidates/s and the ETA on stderr: rewritten in place on a terminal,
    a line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 5.0) and p.done < p.total:
            return
        self.last = now
        eta = "" if p.eta is None else f", ETA {_duration(p.eta)}"
        text = (
            f"sweep: {p.done:,}/{p.total:,} candidates, {p.rate:,.0f}/s{eta} "
            f"(ok {p.counts.get('ok', 0):,}, rejected {p.counts.get(REJECTED, 0):,}, "
            f"errors {p.counts.get(ERROR, 0):,})"
        )
        if self.tty:
            sys.stderr.write("\r\x1b[K" + text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def finish(self, result: SweepResult) -> None:
        if self.tty and result.evaluated:
            sys.stderr.write("\n")
        resumed = len(result.rows) - result.evaluated
        if resumed:
            sys.stderr.write(f"sweep: {resumed:,} candidates resumed from the output\n")
        sys.stderr.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
