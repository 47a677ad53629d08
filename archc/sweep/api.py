"""The sweep driver: parse once, check the space, run an engine, stream and resume, find the front.

:func:`sweep` is ``archc.sweep(...)`` in the Python API and the whole of ``archc sweep`` but
for argument parsing and printing.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archc.errors import ArchError, SpecNameError, UsageError, did_you_mean
from archc.evaluate import Value
from archc.loader import load_program
from archc.sweep.candidate import (
    DEFAULT_METRICS,
    ERROR,
    METRIC_NAMES,
    OK,
    REJECTED,
    Evaluator,
    Job,
    source_texts,
)
from archc.sweep.engines import Batch, make_engine
from archc.sweep.pareto import Objective, pareto_front, parse_objectives
from archc.sweep.results import ResultFile
from archc.sweep.space import RESOLUTION, Space, make_space
from archc.sweep.values import parse_expression
from archc.units import DTYPE_BYTES

DEFAULT_OBJECTIVES = ("params", "macs")


@dataclass(frozen=True)
class Progress:
    """How far a sweep is: reported after every batch."""

    done: int  # candidates with a row, including rows of a resumed run
    total: int
    evaluated: int  # candidates evaluated by this run
    elapsed: float  # seconds this run has spent
    counts: Mapping[str, int]

    @property
    def rate(self) -> float:
        """Candidates evaluated per second by this run."""
        return self.evaluated / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None before the first batch)."""
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


@dataclass
class SweepResult:
    """Every candidate's row (in sweep order) and the Pareto front of the ``ok`` rows."""

    spec: str
    network: str
    axes: list[str]
    metrics: list[str]
    columns: list[str]
    objectives: list[Objective]
    rows: list[dict[str, Any]]
    front: list[dict[str, Any]]
    where: str | None = None
    evaluated: int = 0  # rows computed by this run (the rest were resumed from the output)
    elapsed: float = 0.0
    sources: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, REJECTED: 0, ERROR: 0}
        for row in self.rows:
            out[row["status"]] = out.get(row["status"], 0) + 1
        return out


def sweep(
    spec: str | Path,
    axes: Mapping[str, str | Sequence[Value] | Value] | None = None,
    *,
    where: str | None = None,
    pareto: str | Sequence[str] = DEFAULT_OBJECTIVES,
    metrics: str | Sequence[str] | None = None,
    samples: int | None = None,
    seed: int = 0,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    batch_size: int | None = None,
    output: str | Path | None = None,
    overwrite: bool = False,
    batch: int = 1,
    dtype: str = "float32",
    inputs: Mapping[str, tuple[int, ...]] | None = None,
    check_asserts: bool = True,
    report: str | Path | None = None,
    progress: Callable[[Progress], None] | None = None,
    text: str | None = None,
) -> SweepResult:
    """Evaluate ``spec`` at every point of ``axes`` (or a random sample of them).

    ``axes`` maps a file-level constant (or ``resolution``: every image input C×R×R) to its
    values: a list, one value, or text (``"0.35:1.4:0.05"``, ``"128,160,224"``).  ``where`` is
    a constraint in the assert language (``"params <= 4M and macs <= 400M"``); ``pareto`` the
    objectives (columns; ``"width:max"`` maximises); ``metrics`` the metric columns of a row
    (default: the ``archc analyze`` figures, plus the objectives; ``"all"``: every metric).
    ``engine`` is ``local`` (``workers`` processes, every core by default; ``0`` runs in this
    process) or ``ray`` (``address`` of a cluster, or a local instance).  With ``output`` (``.jsonl``, ``.csv``, ``.parquet``) every
    row is streamed to the file and a rerun resumes.  Errors in the spec, the axes or the
    constraint raise :class:`~archc.errors.ArchError`; a candidate that fails is a row.
    """
    started = time.perf_counter()
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype {dtype!r}", None, [f"dtypes: {', '.join(DTYPE_BYTES)}"])
    if batch < 1:
        raise UsageError("batch must be >= 1")
    program = load_program(spec, text)
    space = make_space(axes or {}, samples, seed)
    _check_axes(space, program)
    where_expr = parse_expression(where, "--where") if where else None
    objectives = parse_objectives(pareto, [*space.names, *METRIC_NAMES])
    chosen = _metric_columns(metrics, objectives)
    sources = source_texts([*program.files, *(["--where"] if where else [])])
    job = Job(
        program=program,
        axes=tuple(space.names),
        metrics=chosen,
        where=where_expr,
        batch=batch,
        dtype=dtype,
        inputs=tuple(sorted((inputs or {}).items())),
        sources=sources,
        check_asserts=check_asserts,
    )
    columns = ["index", *space.names, "status", *chosen, "message"]
    if len(space):
        _probe(job, space)

    description = {
        "spec": program.files[0],
        "sources": hashlib.sha256(repr(sources[: len(program.files)]).encode()).hexdigest(),
        "space": space.describe(),
        "where": where,
        "batch": batch,
        "dtype": dtype,
        "inputs": {k: list(v) for k, v in sorted((inputs or {}).items())},
        "check_asserts": check_asserts,
    }
    results = (
        ResultFile(Path(output), columns, description, overwrite) if output is not None else None
    )
    rows: list[dict[str, Any]] = list(results.rows) if results else []
    for i, row in enumerate(rows):
        if row.get("index") != i:
            raise UsageError(
                f"{output}: row {i + 1} is candidate {row.get('index')!r}, expected {i}; "
                "the file was changed by hand",
                None,
                ["pass --overwrite to start again"],
            )
    collecting = gc.isenabled()
    gc.disable()  # rows pile up here and hold no cycles: a collector pass finds nothing
    try:
        evaluated = _evaluate_rest(
            job, space, rows, results, engine, workers, address, batch_size, progress
        )
        if results is not None:
            results.finish()
    finally:
        if collecting:
            gc.enable()
        if results is not None:
            results.close()
    result = SweepResult(
        spec=program.files[0],
        network=program.network.name,
        axes=list(space.names),
        metrics=list(chosen),
        columns=columns,
        objectives=objectives,
        rows=rows,
        front=pareto_front(rows, objectives),
        where=where,
        evaluated=evaluated,
        elapsed=time.perf_counter() - started,
        sources=list(sources[: len(program.files)]),
    )
    if report is not None:
        from archc.sweep.report import write_report

        write_report(result, Path(report))
    return result


def _evaluate_rest(
    job: Job,
    space: Space,
    rows: list[dict[str, Any]],
    results: ResultFile | None,
    engine: str,
    workers: int | None,
    address: str | None,
    batch_size: int | None,
    progress: Callable[[Progress], None] | None,
) -> int:
    """Evaluate the candidates after the ``rows`` already there (a resumed run's), appending
    to ``rows`` and ``results`` batch by batch; returns how many were evaluated."""
    total = len(space)
    done = len(rows)
    if done >= total:
        return 0
    counts = {OK: 0, REJECTED: 0, ERROR: 0}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    started = time.perf_counter()
    evaluated = 0
    runner = make_engine(engine, workers, address)
    size = batch_size or _batch_size(total - done, runner.workers, engine)
    try:
        for batch_rows in runner.run(job, _batches(space, done, size)):
            if results is not None:
                results.write(batch_rows)
            rows.extend(batch_rows)
            evaluated += len(batch_rows)
            for row in batch_rows:
                counts[row["status"]] = counts.get(row["status"], 0) + 1
            if progress is not None:
                elapsed = time.perf_counter() - started
                progress(Progress(len(rows), total, evaluated, elapsed, dict(counts)))
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    return evaluated


def _metric_columns(
    metrics: str | Sequence[str] | None, objectives: Sequence[Objective]
) -> tuple[str, ...]:
    """The metric columns: the chosen (or default) ones and every metric objective, in the
    budget vocabulary's order."""
    if metrics is None:
        wanted = set(DEFAULT_METRICS)
    elif metrics == "all" or list(metrics) == ["all"]:
        wanted = set(METRIC_NAMES)
    else:
        wanted = set()
        for name in metrics.split(",") if isinstance(metrics, str) else metrics:
            name = name.strip()
            if name not in METRIC_NAMES:
                raise UsageError(
                    f"--metrics names '{name}', which is not a metric",
                    None,
                    [did_you_mean(name, METRIC_NAMES) or f"metrics: {', '.join(METRIC_NAMES)}"],
                )
            wanted.add(name)
    wanted.update(o.column for o in objectives if o.column in METRIC_NAMES)
    return tuple(name for name in METRIC_NAMES if name in wanted)


def _check_axes(space: Space, program: Any) -> None:
    declared = [c.name for c in program.consts]
    for name in space.names:
        if name not in declared and name != RESOLUTION:
            net = program.network
            raise SpecNameError(
                f"--set names '{name}', which is not a file-level constant of '{net.name}'",
                net.span,
                [
                    did_you_mean(name, [*declared, RESOLUTION])
                    or f"constants: {', '.join(declared) or 'none'}; or resolution (the input size)"
                ],
            )


def _probe(job: Job, space: Space) -> None:
    """Build the first candidate here: a mistake in an axis's values (a string for a number) or
    in ``--where`` (an unknown metric) is the command's error, not every row's."""
    evaluator = Evaluator(job)
    values = space.candidate(0)
    try:
        net = evaluator.build(values)
    except ArchError as exc:
        if exc.message.startswith(("--set", "--input", "resolution must")):
            raise
        return
    try:
        evaluator.constraint_failure(net)
    except ArchError as exc:
        if exc.span is not None and exc.span.file == "--where":
            raise
        return


def _batch_size(remaining: int, workers: int, engine: str) -> int:
    """Enough batches to keep every worker busy and balanced, few enough to keep overhead low."""
    cap = 256 if engine == "ray" else 64
    return max(1, min(cap, remaining // max(1, workers * 4)))


def _batches(space: Space, start: int, size: int) -> Iterator[Batch]:
    batch: Batch = []
    for position, values in space.candidates(start):
        batch.append((position, values))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
