"""Budgets: limits from the command line and ``assert`` statements in a spec, checked.

A budget names a *metric* of the network, of a scope or of one layer (``params``,
``inception_4a.macs``, ``peak_memory("layer3")``) and compares it with a limit.  A budget that
does not hold is a *result* (a failing :class:`Check`, exit code 1), not an error; a budget
that cannot be evaluated (an unknown metric or scope, a count compared with bytes, a result
that is not true or false) is a located :class:`~archc.errors.ArchError` (exit code 2).

:data:`METRICS` is the whole vocabulary, one entry per metric; ``docs/language.md`` ("Budget
assertions") documents it for users and ``archc check --max-<metric>`` is generated from it.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from archc import conventions
from archc import nodes as n
from archc.analysis import Network
from archc.errors import BudgetError, SpecNameError, UsageError, did_you_mean
from archc.evaluate import Value, evaluate, type_name
from archc.ir import G_ASSERTS, G_SPAN, Assertion
from archc.passes import G_PEAK
from archc.source import Span, source_line
from archc.training import OPTIMIZERS, TrainOptions, training_memory
from archc.units import DTYPE_BYTES, QuantityError, parse_quantity

COUNT = "count"
BYTES = "bytes"
SHAPE = "shape"


# --------------------------------------------------------------------------- the vocabulary


@dataclass(frozen=True)
class Selection:
    """The layers a metric is asked about: the whole network (``path == ""``), a scope, a layer."""

    path: str
    nodes: tuple[str, ...]  # in evaluation order
    output: str | None  # the node whose output is the selection's output (None: ambiguous)


@dataclass(frozen=True)
class Metric:
    """One name of the budget vocabulary: what it measures, in what unit, and how."""

    name: str
    unit: str  # COUNT, BYTES or SHAPE
    doc: str
    compute: Callable[[Network, Selection, int, str], Value]  # (net, selection, batch, dtype)
    batch: bool = False  # scales with the batch size
    dtype: bool = False  # depends on the element type
    network_only: bool = False  # a whole-network figure, with no per-scope meaning
    #: further keyword arguments, each with the values it accepts (None: any string)
    keywords: Mapping[str, tuple[Value, ...] | None] | None = None
    #: computes the metric when a keyword argument is given: (net, sel, batch, dtype, keywords)
    compute_with: Callable[[Network, Selection, int, str, Mapping[str, Value]], Value] | None = None


def _cost_total(net: Network, sel: Selection, field: str) -> int:
    """A Cost field summed over the selection; the whole network's sums are worked out once
    per network (a sweep asks several metrics of every candidate)."""
    if sel.path == "":
        return net.cost_totals()[field]
    return sum(getattr(net.cost(node), field) for node in sel.nodes)


def _cost_sum(field: str, scaled: bool) -> Callable[[Network, Selection, int, str], int]:
    def compute(net: Network, sel: Selection, batch: int, dtype: str) -> int:
        total = _cost_total(net, sel, field)
        return total * batch if scaled else total

    return compute


def _weight_memory(net: Network, sel: Selection, batch: int, dtype: str) -> int:
    elements = _cost_total(net, sel, "params") + _cost_total(net, sel, "buffers")
    return elements * DTYPE_BYTES[dtype]


def _activation_memory(net: Network, sel: Selection, batch: int, dtype: str) -> int:
    elements = sum(net.memory(node).new_elements for node in sel.nodes)
    return elements * batch * DTYPE_BYTES[dtype]


def _peak_memory(net: Network, sel: Selection, batch: int, dtype: str) -> int:
    return int(net.graph.graph[G_PEAK]) * batch * DTYPE_BYTES[dtype]


def _total_memory(net: Network, sel: Selection, batch: int, dtype: str) -> int:
    return _weight_memory(net, sel, batch, dtype) + _peak_memory(net, sel, batch, dtype)


def _macs_with(
    net: Network, sel: Selection, batch: int, dtype: str, keywords: Mapping[str, Value]
) -> int:
    """``macs(convention="thop")``: the total a peer tool would report (archc/conventions/)."""
    counts = conventions.layer_counts(net, str(keywords.get("convention", "archc")))
    return sum(counts[node] for node in sel.nodes) * batch


def _train_memory(
    net: Network, sel: Selection, batch: int, dtype: str, keywords: Mapping[str, Value]
) -> int:
    """Peak memory of one training step (archc/training.py): weights, gradients, optimizer
    state, and the saved activations and gradients alive during backward."""
    checkpoint = str(keywords.get("checkpoint", ""))
    options = TrainOptions(
        optimizer=str(keywords.get("optimizer", "adam")),
        batch=batch,
        dtype=dtype,
        master_weights=bool(keywords.get("master_weights", False)),
        checkpoint=tuple(s for s in checkpoint.split(",") if s),
    )
    return training_memory(net, options).peak_backward_bytes


def _layers(net: Network, sel: Selection, batch: int, dtype: str) -> int:
    return sum(1 for node in sel.nodes if net.layer(node).op != "input")


def _shape(net: Network, sel: Selection, batch: int, dtype: str) -> Value:
    assert sel.output is not None  # the resolver reports an ambiguous output first
    return tuple(net.shape(sel.output))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("params", COUNT, "trainable parameters", _cost_sum("params", False)),
        Metric(
            "buffers",
            COUNT,
            "non-trainable state (batch norm running mean and variance), in elements",
            _cost_sum("buffers", False),
        ),
        Metric(
            "macs",
            COUNT,
            'multiply-accumulates of one forward pass; convention="thop" (fvcore, ptflops, '
            "ptflops-aten, torchinfo, deepspeed) gives that tool's number",
            _cost_sum("macs", True),
            batch=True,
            keywords={"convention": tuple(conventions.NAMES)},
            compute_with=_macs_with,
        ),
        Metric("flops", COUNT, "floating-point operations", _cost_sum("flops", True), batch=True),
        Metric(
            "weight_memory",
            BYTES,
            "bytes of parameters and buffers",
            _weight_memory,
            dtype=True,
        ),
        Metric(
            "activation_memory",
            BYTES,
            "bytes of all activations allocated, summed (in-place ops and views add nothing)",
            _activation_memory,
            batch=True,
            dtype=True,
        ),
        Metric(
            "peak_memory",
            BYTES,
            "bytes of activations live at the worst moment of one forward pass",
            _peak_memory,
            batch=True,
            dtype=True,
            network_only=True,
        ),
        Metric(
            "total_memory",
            BYTES,
            "weight_memory + peak_memory: what inference needs resident",
            _total_memory,
            batch=True,
            dtype=True,
            network_only=True,
        ),
        Metric(
            "train_memory",
            BYTES,
            "peak bytes of one training step: weights, gradients, optimizer state (optimizer="
            '"adam", "adamw", "sgd", "sgd-momentum"; master_weights=true) and the '
            'activations saved for backward (checkpoint="layer3,layer4")',
            lambda net, sel, batch, dtype: _train_memory(net, sel, batch, dtype, {}),
            batch=True,
            dtype=True,
            network_only=True,
            keywords={
                "optimizer": tuple(OPTIMIZERS),
                "master_weights": (True, False),
                "checkpoint": None,
            },
            compute_with=_train_memory,
        ),
        Metric("layers", COUNT, "layers (inputs not counted)", _layers),
        Metric("shape", SHAPE, "output shape per sample, a tuple such as (1000,)", _shape),
    )
}
#: the metrics that ``archc check --max-<name>`` can limit
LIMITABLE = [m for m in METRICS.values() if m.unit in (COUNT, BYTES)]


def parse_limit(metric: Metric, text: str) -> int | float:
    """A command-line limit for ``metric``: ``"7M"``, ``"1.6G"``, ``"200MB"``, ``"4GiB"``.

    Strict: anything :func:`~archc.units.parse_quantity` rejects, a byte size for a count or a
    count suffix for bytes raises :class:`~archc.units.QuantityError`.
    """
    value, is_bytes = parse_quantity(text)
    suffixed = not text[-1:].isdigit()
    if metric.unit == BYTES and suffixed and not is_bytes:
        raise QuantityError(
            f"{metric.name.replace('_', '-')} is in bytes, but {text!r} is a count: "
            f"write {_as_bytes(text)}"
        )
    if metric.unit == COUNT and is_bytes:
        raise QuantityError(
            f"{metric.name.replace('_', '-')} is a count, but {text!r} is a size in bytes: "
            f"write it without 'B': {text.removesuffix('B')}"
        )
    return value


def _as_bytes(text: str) -> str:
    """How to write a count-suffixed quantity as bytes: ``200M`` -> ``200MB (SI) or 200MiB``."""
    if text.endswith("i"):
        return f"{text}B"
    return f"{text}B (SI) or {text}iB (binary)"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Check:
    """One budget and its outcome: a command-line limit or an ``assert`` of the spec.

    ``actual`` and ``limit`` come from the comparison that decided the outcome (for ``a and b``
    the first part that failed); ``op`` reads ``actual op limit``.
    """

    name: str  # "params <= 7M", or "inception_4a: params < 2M" for an assert in a block
    origin: str  # "cli" or "assert"
    passed: bool
    actual: Value
    op: str | None = None
    limit: Value = None
    unit: str | None = None
    message: str | None = None  # the assert's message
    span: Span | None = None  # where the assert is written (None for a command-line limit)
    scope: str = ""

    @property
    def margin(self) -> int | float | None:
        """Headroom before the limit is reached; negative when the budget is exceeded."""
        if not (_is_number(self.actual) and _is_number(self.limit)):
            return None
        if self.op in ("<", "<="):
            return self.limit - self.actual
        if self.op in (">", ">="):
            return self.actual - self.limit
        return None

    @property
    def relative_margin(self) -> float | None:
        """:attr:`margin` as a fraction of the limit (None when the limit is 0)."""
        margin = self.margin
        if margin is None or not self.limit:
            return None
        return margin / abs(self.limit)


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------- resolution


class BudgetResolver:
    """Answers the budget vocabulary for one network, relative to a scope.

    An ``assert`` written inside a block is checked once per block instance, and its names are
    relative to that instance: ``params`` is the instance's parameters, ``b2.params`` its branch's.
    Implements :class:`archc.evaluate.Resolver`.
    """

    def __init__(self, net: Network, batch: int = 1, dtype: str = "float32", base: str = ""):
        self.net = net
        self.batch = batch
        self.dtype = dtype
        self.base = base
        self._paths: set[str] | None = None

    # ---------------------------------------------------------------- paths
    def paths(self) -> set[str]:
        """Every layer and scope path of the network (each prefix of a layer path is a scope)."""
        if self._paths is None:
            paths: set[str] = set()
            for node in self.net.order:
                parts = node.split(".")
                paths.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            self._paths = paths
        return self._paths

    def relative_paths(self) -> list[str]:
        """Paths as they can be written from this resolver's scope (for "did you mean")."""
        if not self.base:
            return sorted(
                self.paths() | set(self.net.graph.graph["outputs"]) | set(self.net.inputs)
            )
        prefix = self.base + "."
        return sorted(p[len(prefix) :] for p in self.paths() if p.startswith(prefix))

    def exists(self, path: str) -> bool:
        return self._full(path) in self.paths() or (
            not self.base and (path in self.net.graph.graph["outputs"] or path in self.net.inputs)
        )

    def _full(self, path: str) -> str:
        if not path:
            return self.base
        return f"{self.base}.{path}" if self.base else path

    def select(self, path: str, span: Span | None) -> Selection:
        """The layers ``path`` (relative to this resolver's scope) stands for."""
        net = self.net
        full = self._full(path)
        if not full:
            outputs = list(net.graph.graph["outputs"].values())
            return Selection("", tuple(net.order), outputs[0] if len(outputs) == 1 else None)
        if full in net.graph:
            return Selection(full, (full,), full)
        prefix = full + "."
        members = tuple(node for node in net.order if node.startswith(prefix))
        if members:
            return Selection(full, members, _scope_output(net, members))
        if not self.base:
            named = net.graph.graph["outputs"].get(path) or net.graph.graph["inputs"].get(path)
            if named is not None:
                return Selection(path, (named,), named)
        where = f"in '{self.base}'" if self.base else f"in network '{net.name}'"
        raise SpecNameError(
            f"no layer or scope '{path}' {where}",
            span,
            [did_you_mean(path, self.relative_paths())],
        )

    # ---------------------------------------------------------------- values
    def value(
        self,
        metric: Metric,
        sel: Selection,
        span: Span | None,
        batch: int | None = None,
        dtype: str | None = None,
        keywords: Mapping[str, Value] | None = None,
    ) -> Value:
        """``metric`` of ``sel``; ``batch``/``dtype`` override the command line's."""
        if metric.network_only and sel.path:
            raise BudgetError(
                f"'{metric.name}' is a whole-network figure; it has no value for '{sel.path}'",
                span,
                [
                    "use activation_memory for the activations a scope allocates"
                    if metric.name == "peak_memory"
                    else "use weight_memory and activation_memory for a scope"
                ],
            )
        if metric.unit == SHAPE and sel.output is None:
            names = ", ".join(self.net.graph.graph["outputs"])
            raise BudgetError(
                f"'shape' is ambiguous: network '{self.net.name}' has several outputs ({names})",
                span,
                [f"name one: {next(iter(self.net.graph.graph['outputs']))}.shape"],
            )
        if keywords and metric.compute_with is not None:
            try:
                return metric.compute_with(
                    self.net, sel, batch or self.batch, dtype or self.dtype, keywords
                )
            except UsageError as exc:  # a checkpoint scope the network does not have
                raise BudgetError(exc.message, span) from None
        return metric.compute(self.net, sel, batch or self.batch, dtype or self.dtype)

    def attr(self, target: n.Expr, name: str, expr: n.Attr) -> Value:
        path = _path_of(target)
        metric = METRICS.get(name)
        if metric is None:
            joined = f"{path}.{name}"
            if self.exists(joined):
                raise BudgetError(
                    f"'{joined}' is a layer or scope, not a value",
                    expr.span,
                    [f"ask for one of its metrics, e.g. {joined}.params"],
                )
            raise SpecNameError(
                f"unknown metric '{name}'",
                expr.span,
                [did_you_mean(name, METRICS) or f"metrics: {', '.join(METRICS)}"],
            )
        return self.value(metric, self.select(path, target.span), expr.span)

    def call(self, func: str, args: list[Value], kwargs: dict[str, Value], expr: n.Call) -> Value:
        metric = METRICS.get(func)
        if metric is None:
            raise SpecNameError(
                f"unknown function '{func}'",
                expr.span,
                [
                    did_you_mean(func, METRICS)
                    or f"the functions in an assert are the metrics: {', '.join(METRICS)}"
                ],
            )
        positional = [a for a in expr.args if a.name is None]
        if len(args) > 1:
            raise BudgetError(
                f"{func}() takes at most one layer or scope path, got {len(args)}",
                positional[1].span,
            )
        path = ""
        if args:
            if not isinstance(args[0], str):
                raise BudgetError(
                    f"{func}() takes a layer or scope path as a string, got {type_name(args[0])}",
                    positional[0].span,
                    [f'e.g. {func}("inception_4a") or {func}("layer1.0.conv1")'],
                )
            path = args[0]
        spans = {a.name: a.span for a in expr.args if a.name}
        batch = dtype = None
        keywords: dict[str, Value] = {}
        for key, value in kwargs.items():
            allowed = (metric.keywords or {}).get(key, ())
            if metric.keywords and key in metric.keywords:
                if allowed is None and not isinstance(value, str):
                    raise BudgetError(f"{key} must be a string, got {value!r}", spans[key])
                if allowed is not None and value not in allowed:
                    raise BudgetError(
                        f"unknown {key} {value!r}",
                        spans[key],
                        [f"{key}: {', '.join(repr(v) for v in allowed)}"],
                    )
                keywords[key] = value
                continue
            if key == "batch" and metric.batch:
                if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                    raise BudgetError(
                        f"batch must be a whole number >= 1, got {value!r}", spans[key]
                    )
                batch = value
            elif key == "dtype" and metric.dtype:
                if value not in DTYPE_BYTES:
                    raise BudgetError(
                        f"unknown dtype {value!r}",
                        spans[key],
                        [f"dtypes: {', '.join(repr(d) for d in DTYPE_BYTES)}"],
                    )
                dtype = value
            elif key in ("batch", "dtype"):
                raise BudgetError(f"{func} does not depend on the {key}", spans[key])
            else:
                takes = [k for k, on in (("batch", metric.batch), ("dtype", metric.dtype)) if on]
                takes += list(metric.keywords or {})
                raise BudgetError(
                    f"{func}() has no argument '{key}'",
                    spans[key],
                    [f"it takes a path{''.join(', ' + t + '=' for t in takes)}"],
                )
        sel = self.select(path, positional[0].span if positional else expr.span)
        return self.value(metric, sel, expr.span, batch, dtype, keywords)


def _scope_output(net: Network, members: tuple[str, ...]) -> str:
    """The member whose output leaves the scope (the last member when that is not unique)."""
    inside = set(members)
    outputs = set(net.graph.graph["outputs"].values())
    leaving = [
        m for m in members if m in outputs or any(s not in inside for s in net.graph.successors(m))
    ]
    return leaving[0] if len(leaving) == 1 else members[-1]


def _path_of(expr: n.Expr) -> str:
    """``inception_4a.b2.conv`` written as attribute access -> the path string."""
    if isinstance(expr, n.Name):
        return expr.name
    if isinstance(expr, n.Attr):
        return f"{_path_of(expr.value)}.{expr.name}"
    raise BudgetError(
        "a metric is asked of a layer or scope name, not of a value",
        expr.span,
        ['e.g. inception_4a.params, or params("layer1.0") for a path with numbers'],
    )


# --------------------------------------------------------------------------- assertions


def _walk_values(expr: n.Expr) -> Iterator[n.Expr]:
    """Sub-expressions in value position (not the scope path left of a ``.metric``)."""
    yield expr
    match expr:
        case n.BinOp() | n.Compare():
            yield from _walk_values(expr.left)
            yield from _walk_values(expr.right)
        case n.UnaryOp():
            yield from _walk_values(expr.operand)
        case n.Cond():
            yield from _walk_values(expr.test)
            yield from _walk_values(expr.then)
            yield from _walk_values(expr.orelse)
        case n.Tuple():
            for item in expr.items:
                yield from _walk_values(item)
        case n.Call():
            for arg in expr.args:
                yield from _walk_values(arg.value)


def _unit(expr: n.Expr, consts: Mapping[str, Value]) -> str | None:
    """The unit of an expression (COUNT, BYTES, SHAPE), or None for plain numbers and the like."""
    match expr:
        case n.Quantity(is_bytes=is_bytes):
            return BYTES if is_bytes else COUNT
        case n.Name(name=name) if name not in consts and name in METRICS:
            return METRICS[name].unit
        case n.Attr(name=name) if name in METRICS:
            return METRICS[name].unit
        case n.Call(func=func) if func in METRICS:
            return METRICS[func].unit
        case n.BinOp(op="+" | "-"):
            return _unit(expr.left, consts) or _unit(expr.right, consts)
        case n.BinOp(op="*" | "/" | "//"):
            left, right = _unit(expr.left, consts), _unit(expr.right, consts)
            if left and right:
                return None
            return left or right
        case n.UnaryOp(op="-"):
            return _unit(expr.operand, consts)
        case n.Cond():
            return _unit(expr.then, consts) or _unit(expr.orelse, consts)
    return None


def _uses_metrics(expr: n.Expr, consts: Mapping[str, Value]) -> bool:
    for sub in _walk_values(expr):
        if isinstance(sub, n.Attr | n.Call):
            return True
        if isinstance(sub, n.Name) and sub.name not in consts and sub.name in METRICS:
            return True
    return False


_UNIT_WORDS = {COUNT: "a count", BYTES: "a size in bytes", SHAPE: "a shape"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class AssertionChecker:
    """Evaluates the ``assert`` statements of one network into :class:`Check` results."""

    def __init__(self, net: Network, batch: int = 1, dtype: str = "float32") -> None:
        self.net = net
        self.batch = batch
        self.dtype = dtype
        self._resolvers: dict[str, BudgetResolver] = {}

    def resolver(self, scope: str) -> BudgetResolver:
        if scope not in self._resolvers:
            self._resolvers[scope] = BudgetResolver(self.net, self.batch, self.dtype, scope)
        return self._resolvers[scope]

    def check(self, assertion: Assertion) -> Check:
        resolver = self.resolver(assertion.scope)
        consts: Mapping[str, Value] = assertion.env if assertion.env is not None else {}
        env = ChainMap(dict(consts), self._bare_metrics(assertion.test, consts, resolver))
        self._check_units(assertion.test, consts)
        test = assertion.test
        result = evaluate(test, env, resolver)
        if not isinstance(result, bool):
            raise BudgetError(
                f"an assertion must be true or false; this one is {type_name(result)} "
                f"{_show_plain(result)}",
                test.span,
                ["compare a metric with a limit, e.g. assert params <= 7M"],
            )
        deciding = _deciding(test, env, resolver)
        actual: Value = result
        op = limit = unit = None
        if isinstance(deciding, n.Compare):
            left = evaluate(deciding.left, env, resolver)
            right = evaluate(deciding.right, env, resolver)
            op = deciding.op
            actual, limit = left, right
            unit = _unit(deciding.left, consts) or _unit(deciding.right, consts)
            if not _uses_metrics(deciding.left, consts) and _uses_metrics(deciding.right, consts):
                actual, limit, op = right, left, _FLIP[op]
        text = _source_text(test.span) or "assert"
        return Check(
            name=f"{assertion.scope}: {text}" if assertion.scope else text,
            origin="assert",
            passed=result,
            actual=actual,
            op=op,
            limit=limit,
            unit=unit,
            message=assertion.message,
            span=assertion.span,
            scope=assertion.scope,
        )

    def _bare_metrics(
        self, test: n.Expr, consts: Mapping[str, Value], resolver: BudgetResolver
    ) -> dict[str, Value]:
        """Values of the metrics named bare (``params``); unknown names are reported here."""
        values: dict[str, Value] = {}
        whole = None
        for sub in _walk_values(test):
            if isinstance(sub, n.Attr):
                _path_of(sub.value)  # a located error for "(x + 1).params"
            if not isinstance(sub, n.Name) or sub.name in consts:
                continue
            metric = METRICS.get(sub.name)
            if metric is not None:
                if whole is None:
                    whole = resolver.select("", sub.span)
                values[sub.name] = resolver.value(metric, whole, sub.span)
                continue
            if resolver.exists(sub.name):
                raise BudgetError(
                    f"'{sub.name}' is a layer or scope, not a value",
                    sub.span,
                    [f'ask for one of its metrics: {sub.name}.params, or params("{sub.name}")'],
                )
            raise SpecNameError(
                f"unknown name '{sub.name}'",
                sub.span,
                [
                    did_you_mean(sub.name, [*METRICS, *consts, *resolver.relative_paths()])
                    or f"metrics: {', '.join(METRICS)}"
                ],
            )
        return values

    def _check_units(self, test: n.Expr, consts: Mapping[str, Value]) -> None:
        for sub in _walk_values(test):
            if not isinstance(sub, n.Compare):
                continue
            left, right = _unit(sub.left, consts), _unit(sub.right, consts)
            numbers = [e for e in (sub.left, sub.right) if isinstance(e, n.Number)]
            if SHAPE in (left, right) and numbers:
                raise BudgetError(
                    "comparing a shape with a number",
                    sub.span,
                    [f"a shape is a tuple: write ({_show_plain(numbers[0].value)},) or CxHxW"],
                )
            if left and right and left != right:
                hint = ""
                literal = sub.right if isinstance(sub.right, n.Quantity) else sub.left
                if isinstance(literal, n.Quantity):
                    if literal.is_bytes:
                        hint = f"write the count without 'B': {literal.text.removesuffix('B')}"
                    else:
                        hint = f"write a size in bytes: {_as_bytes(literal.text)}"
                raise BudgetError(
                    f"comparing {_UNIT_WORDS[left]} with {_UNIT_WORDS[right]}",
                    sub.span,
                    [hint],
                )


def _deciding(expr: n.Expr, env: Mapping[str, Value], resolver: BudgetResolver) -> n.Expr:
    """The part of ``expr`` worth reporting: for ``a and b`` the first part that fails or, when
    all hold, the one closest to its limit; for ``a or b`` the first part that holds."""
    if not (isinstance(expr, n.BinOp) and expr.op in ("and", "or")):
        return expr
    parts = [_deciding(p, env, resolver) for p in (expr.left, expr.right)]
    values = [bool(evaluate(p, env, resolver)) for p in parts]
    wanted = expr.op == "or"  # "or" is decided by a true part, "and" by a false one
    if wanted in values:
        return parts[values.index(wanted)]
    if expr.op == "or":
        return parts[-1]
    return min(parts, key=lambda p: _headroom(p, env, resolver))


def _headroom(expr: n.Expr, env: Mapping[str, Value], resolver: BudgetResolver) -> float:
    """How far a holding comparison is from its limit, relative to it (inf when unknown)."""
    if not (isinstance(expr, n.Compare) and expr.op in ("<", "<=", ">", ">=")):
        return float("inf")
    left, right = evaluate(expr.left, env, resolver), evaluate(expr.right, env, resolver)
    if not (_is_number(left) and _is_number(right)) or left == right == 0:
        return float("inf")
    gap = abs(right - left)
    return gap / max(abs(left), abs(right))


def _source_text(span: Span) -> str | None:
    """The text a span covers, as written (a span over several lines joined into one)."""
    if span.end_line is None or span.end_column is None:
        return None
    lines = [source_line(span.file, i) for i in range(span.line, span.end_line + 1)]
    if any(line is None for line in lines):
        return None
    text = "\n".join(line for line in lines if line is not None)
    end = len(text) - len(lines[-1] or "") + span.end_column - 1
    return " ".join(text[span.column - 1 : end].split()) or None


def _show_plain(value: Value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- entry points


@dataclass(frozen=True)
class Limit:
    """A command-line budget: ``--max-params 7M`` is ``Limit(METRICS["params"], 7000000, "7M")``."""

    metric: Metric
    value: int | float
    text: str


def check_limits(
    net: Network, limits: Sequence[Limit], batch: int = 1, dtype: str = "float32"
) -> list[Check]:
    """The command-line limits, checked against the whole network."""
    resolver = BudgetResolver(net, batch, dtype)
    whole = resolver.select("", None)
    checks = []
    for limit in limits:
        actual = resolver.value(limit.metric, whole, net.graph.graph[G_SPAN])
        checks.append(
            Check(
                name=f"{limit.metric.name} <= {limit.text}",
                origin="cli",
                passed=actual <= limit.value,
                actual=actual,
                op="<=",
                limit=limit.value,
                unit=limit.metric.unit,
            )
        )
    return checks


def check_assertions(net: Network, batch: int = 1, dtype: str = "float32") -> list[Check]:
    """Every ``assert`` of the spec, in the order elaboration met them (per block instance)."""
    checker = AssertionChecker(net, batch, dtype)
    return [checker.check(a) for a in net.graph.graph[G_ASSERTS]]


def check_network(
    net: Network, limits: Sequence[Limit] = (), batch: int = 1, dtype: str = "float32"
) -> list[Check]:
    """Command-line limits first, then the spec's assertions."""
    return check_limits(net, limits, batch, dtype) + check_assertions(net, batch, dtype)


__all__ = [
    "BYTES",
    "COUNT",
    "LIMITABLE",
    "METRICS",
    "SHAPE",
    "AssertionChecker",
    "BudgetResolver",
    "Check",
    "Limit",
    "Metric",
    "Selection",
    "check_assertions",
    "check_limits",
    "check_network",
    "parse_limit",
]
