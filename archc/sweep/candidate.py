"""One candidate -> one row: elaborate the parsed program with the candidate's values, run the
analysis passes, compute the metrics and check the constraints.

A :class:`Job` is everything a worker needs, parsed once by the driver and shipped (pickled) to
every worker: the :class:`~archc.loader.Program`, the source texts (so located messages keep
their excerpts on a remote machine), the ``--where`` expression and the metric settings.
Metrics and constraints go through :mod:`archc.budget`, exactly as ``archc check`` evaluates
them.  A candidate that cannot be built or fails a budget is a row that says why, never an
exception.
"""

from __future__ import annotations

import dataclasses
import gc
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from archc import nodes as n
from archc.analysis import Network
from archc.budget import LIMITABLE, AssertionChecker, BudgetResolver, Check, check_assertions
from archc.elaborate import elaborate
from archc.errors import ArchError
from archc.evaluate import Value
from archc.ir import G_CONSTS, G_INPUTS, LAYER, Assertion
from archc.loader import Program
from archc.passes import run_passes
from archc.source import register_source, source_line
from archc.sweep.space import RESOLUTION

#: every count and byte metric of the budget vocabulary: what a row can hold
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in LIMITABLE)
#: the metrics a row holds by default: the figures ``archc analyze`` shows.  Others (training
#: memory: a whole backward-pass analysis per candidate) are added by --metrics or by naming
#: them in --pareto; --where evaluates whatever it names either way.
DEFAULT_METRICS: tuple[str, ...] = tuple(
    name
    for name in (
        "params",
        "buffers",
        "macs",
        "flops",
        "weight_memory",
        "activation_memory",
        "peak_memory",
        "total_memory",
        "layers",
    )
    if name in METRIC_NAMES
)

OK = "ok"
REJECTED = "rejected"  # built, but a constraint (--where or an assert of the spec) fails
ERROR = "error"  # cannot be built: a shape error, a bad value, ...

#: candidates between two collections of the young garbage in a worker
COLLECT_EVERY = 200
#: elaborated graphs kept for reuse by candidates that differ only in resolution
KEEP_ELABORATED = 16


@dataclass(frozen=True)
class Job:
    """A sweep's fixed part: what every candidate shares."""

    program: Program
    axes: tuple[str, ...]
    metrics: tuple[str, ...] = DEFAULT_METRICS
    where: n.Expr | None = None
    batch: int = 1
    dtype: str = "float32"
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()  # fixed --input overrides
    sources: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    check_asserts: bool = True

    @property
    def resolution_axis(self) -> bool:
        return RESOLUTION in self.axes and RESOLUTION not in {c.name for c in self.program.consts}


def source_texts(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The registered text of each named source (for excerpts in workers)."""
    texts = []
    for name in names:
        lines: list[str] = []
        while (line := source_line(name, len(lines) + 1)) is not None:
            lines.append(line)
        if lines:
            texts.append((name, "\n".join(lines) + "\n"))
    return tuple(texts)


class Evaluator:
    """Evaluates candidates of one :class:`Job` (one per worker process, built once)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        for name, text in job.sources:
            register_source(name, text)
        self.const_names = {c.name for c in job.program.consts}
        self.fixed_inputs = dict(job.inputs)
        self.input_channels: dict[str, int] | None = None
        # recently elaborated graphs by the constants they were built with: a candidate that
        # differs from one of them only in its input sizes reuses its graph (elaboration does
        # not look at input sizes, and the passes rewrite every annotation)
        self._elaborated: OrderedDict[tuple[tuple[str, Value], ...], nx.DiGraph] = OrderedDict()
        self._since_collect = 0

    def evaluate(self, position: int, values: dict[str, Value]) -> dict[str, Any]:
        row: dict[str, Any] = {"index": position, **values}
        row.update(dict.fromkeys(self.job.metrics))
        try:
            net = self.build(values)
            resolver = BudgetResolver(net, self.job.batch, self.job.dtype)
            whole = resolver.select("", None)
            for name in self.job.metrics:
                row[name] = resolver.value(_METRICS[name], whole, None)
            failed = self.constraint_failure(net)
        except ArchError as exc:
            row["status"], row["message"] = ERROR, str(exc)
            return row
        row["status"] = REJECTED if failed else OK
        row["message"] = failed or ""
        return row

    def evaluate_batch(self, batch: Sequence[tuple[int, dict[str, Value]]]) -> list[dict[str, Any]]:
        # As archc.load does, the cyclic collector is paused while compiling: it finds little
        # and its passes over every live object cost more than the compiling.  The little it
        # would find (networkx graphs keep views of themselves) is collected here, every
        # COLLECT_EVERY candidates, from the young generations only.
        enabled = gc.isenabled()
        gc.disable()
        try:
            rows = []
            for position, values in batch:
                rows.append(self.evaluate(position, values))
                self._since_collect += 1
                if self._since_collect >= COLLECT_EVERY:
                    gc.collect(1)
                    self._since_collect = 0
            return rows
        finally:
            if enabled:
                gc.enable()

    def build(self, values: dict[str, Value]) -> Network:
        consts = {k: v for k, v in values.items() if k in self.const_names}
        inputs = dict(self.fixed_inputs)
        if self.job.resolution_axis and RESOLUTION in values:
            inputs.update(self.resolution_inputs(values[RESOLUTION]))
        key = tuple(sorted(consts.items()))
        graph = self._elaborated.get(key)
        if graph is not None:
            self._elaborated.move_to_end(key)
            for name, node in graph.graph[G_INPUTS].items():
                if name in inputs:
                    data = graph.nodes[node]
                    data[LAYER] = dataclasses.replace(
                        data[LAYER], attrs={"shape": tuple(inputs[name])}
                    )
        else:
            graph = elaborate(self.job.program, inputs, consts)
            if self.job.resolution_axis:
                self._elaborated[key] = graph
                if len(self._elaborated) > KEEP_ELABORATED:
                    self._elaborated.popitem(last=False)
        return Network(run_passes(graph), self.job.program.files)

    def resolution_inputs(self, resolution: Value) -> dict[str, tuple[int, ...]]:
        """``resolution=R``: every image input (C×H×W) becomes C×R×R."""
        if not (isinstance(resolution, int) and not isinstance(resolution, bool)) or resolution < 1:
            raise ArchError(f"resolution must be a whole number >= 1, got {resolution!r}")
        if self.input_channels is None:
            graph = elaborate(self.job.program, self.fixed_inputs)
            channels = {}
            for name, node in graph.graph[G_INPUTS].items():
                shape = graph.nodes[node][LAYER].attrs["shape"]
                if len(shape) == 3:
                    channels[name] = shape[0]
            self.input_channels = channels
        return {name: (c, resolution, resolution) for name, c in self.input_channels.items()}

    def constraint_failure(self, net: Network) -> str | None:
        """Why the candidate is rejected (``--where`` first, then the spec's asserts), or None."""
        if self.job.where is not None:
            constraint = Assertion(
                self.job.where, None, self.job.where.span, "", net.graph.graph[G_CONSTS]
            )
            check = AssertionChecker(net, self.job.batch, self.job.dtype).check(constraint)
            if not check.passed:
                return "--where: " + describe(check)
        if self.job.check_asserts:
            for check in check_assertions(net, self.job.batch, self.job.dtype):
                if not check.passed:
                    where = f"{check.span.location()}: " if check.span else ""
                    return f"{where}assert {describe(check)}"
        return None


def describe(check: Check) -> str:
    """``macs <= 400M (actual 568,740,352, limit 400,000,000)``: a failed check, on one line."""
    if check.op is not None and isinstance(check.actual, int | float):
        return f"{check.name} (actual {_num(check.actual)}, limit {_num(check.limit)})"
    return check.name


def _num(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _metrics() -> dict[str, Any]:
    from archc.budget import METRICS

    return {name: METRICS[name] for name in METRIC_NAMES}


_METRICS = _metrics()

# the one Evaluator of a worker process, keyed by the job's identity
_WORKER: dict[str, Evaluator] = {}


def worker_evaluator(key: str, job: Job) -> Evaluator:
    """The evaluator for ``job`` in this process, built on first use."""
    evaluator = _WORKER.get(key)
    if evaluator is None:
        _WORKER.clear()
        evaluator = _WORKER[key] = Evaluator(job)
    return evaluator


__all__ = [
    "DEFAULT_METRICS",
    "ERROR",
    "METRIC_NAMES",
    "OK",
    "REJECTED",
    "Evaluator",
    "Job",
    "source_texts",
]
