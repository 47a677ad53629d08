"""What every importer produces: a flat list of archc layers, and how to write one as a spec.

An importer (Caffe prototxt, ONNX, PyTorch) reads its source into a :class:`FlatModel`: the
network's inputs, its layers in evaluation order (an archc op with its arguments, its producers
and the name the source gave it, scopes separated by dots) and its outputs.  From there
:mod:`archc.importers.structure` recovers blocks and repeats; :func:`flat_spec` writes the model
as it is, one statement per chain of layers, and is the fallback when no structure is found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archc.errors import ArchError
from archc.ops import REGISTRY
from archc.ops.attrs import normalise

KEYWORDS = frozenset(
    [
        "network",
        "block",
        "input",
        "output",
        "include",
        "const",
        "fn",
        "repeat",
        "for",
        "as",
        "if",
        "else",
        "assert",
        "true",
        "false",
        "and",
        "or",
        "not",
        "in",
    ]
)


@dataclass
class Layer:
    """One archc layer read from a model: ``op`` with arguments in the op's schema names."""

    name: str  # the source's name, scopes separated by "." (layer1.0.conv1)
    op: str
    args: dict[str, Any]
    inputs: list[str]  # producer layer names or network input names, in argument order
    line: int | None = None  # where the source defined it, when it is a text file


@dataclass
class FlatModel:
    """A network as an importer read it, before structure recovery."""

    name: str
    inputs: dict[str, tuple[int, ...]]
    layers: list[Layer] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (output name, layer name)
    source: str = ""  # one line for the spec's header comment
    classes: dict[str, str] = field(default_factory=dict)  # scope -> source class (PyTorch)


# ------------------------------------------------------------------------------------ literals
def literal(value: Any) -> str:
    """``value`` as spec text: ``true``, ``3``, ``(1, 7)``, ``0.001``, ``"bilinear"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.10g}"  # 0.07500000000000001 (a sum's rounding) as 0.075
        if text in ("inf", "-inf", "nan"):
            return "0.0"
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        if (
            len(value) in (2, 3)
            and len(set(value)) == 1
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            return literal(value[0])  # (3, 3) and (3, 3, 3) as 3: a square or cubic size
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise TypeError(f"no literal for {value!r}")


def _default(op: str, spec_name: str, args: Mapping[str, Any]) -> Any:
    spec = next(s for s in REGISTRY[op].attrs if s.name == spec_name)
    default = spec.default
    if isinstance(default, str) and default.startswith("="):
        return args.get(default[1:])
    if default is None or spec.required:
        return default
    return normalise(spec, default)


def call_args(op: str, args: Mapping[str, Any], rendered: Mapping[str, str] | None = None) -> str:
    """An op's arguments as written in a call: the required ones by position, the others by
    name, those equal to their default left out.  ``rendered`` overrides an argument's text
    (a block parameter's name instead of its value)."""
    rendered = rendered or {}
    parts = []
    for spec in REGISTRY[op].attrs:
        if spec.name not in args and spec.name not in rendered:
            continue
        value = args.get(spec.name)
        if spec.name not in rendered and not spec.required:
            default = _default(op, spec.name, args)
            if value == default or (value is None and default is None):
                continue
            if (
                isinstance(default, float)
                and isinstance(value, int | float)
                and abs(float(value) - default) <= 1e-9 * max(1.0, abs(default))
            ):
                continue
        text = rendered.get(spec.name)
        if text is None:
            text = literal(value)
        parts.append(text if spec.required else f"{spec.name}={text}")
    return ", ".join(parts)


def link(op: str, args: Mapping[str, Any], rendered: Mapping[str, str] | None = None) -> str:
    text = call_args(op, args, rendered)
    if text or any(s.required for s in REGISTRY[op].attrs):
        return f"{op}({text})"
    return op


# ------------------------------------------------------------------------------------ names
class Names:
    """Identifiers for one body: sanitised, not keywords or op names, unique."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.taken: set[str] = set(reserved)

    @staticmethod
    def clean(text: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "x"
        name = re.sub(r"_+", "_", name)
        if name[0].isdigit():
            name = "l" + name
        if name in KEYWORDS or name in REGISTRY:
            name += "_"
        return name

    def claim(self, text: str) -> str:
        base = self.clean(text)
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name


# ------------------------------------------------------------------------------------ bodies
@dataclass
class Statement:
    """One chain: ``name = source -> link -> link``; ``members`` are the layer names it holds."""

    name: str
    source: str | None  # the tensor it starts from; None when it starts with a merge
    links: list[str]
    members: list[str]
    output: str | None = None  # ``output NAME =`` when it ends the network
    unit: str | None = None  # a block call or repeat written whole: its scope name
    repeat: bool = False  # the unit is ``repeat ... { }``: it reads the current tensor


UNIT = "__unit__"  # Layer.op of a block call or a repeat: args {"text": ..., "repeat": bool}


def chains(
    layers: Sequence[Layer],
    consumers: Mapping[str, int],
    pinned: set[str],
    names: Names,
    tensor: dict[str, str],
    render: Any = None,
    outputs: Mapping[str, str] | None = None,
    split_convs: bool = True,
) -> list[Statement]:
    """``layers`` (one body, evaluation order) cut into chains: a layer joins the chain before
    it when it is that chain's last layer's only reader and reads nothing else.  ``tensor``
    maps layer and input names to the body's tensor names (updated); ``pinned`` layers end a
    chain (outputs, a block's result).  ``render(layer) -> str`` writes a layer's link."""
    render = render or (lambda layer: link(layer.op, layer.args))
    out: list[Statement] = []
    merges: dict[int, Layer] = {}
    for layer in layers:
        last = out[-1] if out else None
        if layer.op == UNIT:
            exit_name = layer.args.get("exit", layer.name)
            stmt = Statement("", layer.inputs[0], [layer.args["text"]], [exit_name])
            stmt.unit, stmt.repeat = layer.name, bool(layer.args.get("repeat"))
            out.append(stmt)
            continue
        merge = "merge" in REGISTRY[layer.op].traits
        if (
            last is not None
            and last.unit is None
            and not merge
            and len(layer.inputs) == 1
            and layer.inputs[0] == last.members[-1]
            and _joins(layer, last, split_convs)
            and consumers.get(last.members[-1], 0) == 1
            and last.members[-1] not in pinned
        ):
            last.links.append(render(layer))
            last.members.append(layer.name)
            continue
        if merge:
            merges[len(out)] = layer
            stmt = Statement("", None, [""], [layer.name])
        else:
            stmt = Statement("", layer.inputs[0], [render(layer)], [layer.name])
        out.append(stmt)
    for k, stmt in enumerate(out):
        if stmt.source is not None:
            stmt.source = tensor[stmt.source]
        if k in merges:
            layer = merges[k]
            # the inputs, then the merge's own arguments (concat's axis, matmul's transpose)
            own = render(layer)
            parts = [tensor[i] for i in layer.inputs]
            if own.endswith(")"):
                parts.append(own[own.index("(") + 1 : -1])
            stmt.links[0] = f"{layer.op}({', '.join(parts)})"
        wanted = (outputs or {}).get(stmt.members[-1])
        if wanted is not None and wanted not in names.taken:
            stmt.name = names.claim(wanted)
            stmt.output = stmt.name if wanted != "out" else None
        else:
            stmt.name = names.claim(stmt.unit or _statement_name(stmt.members))
        tensor[stmt.members[-1]] = stmt.name
    return out


_STARTS = frozenset({"conv", "conv_transpose", "linear"})


def _joins(layer: Layer, last: Statement, split_convs: bool = True) -> bool:
    """Whether ``layer`` continues ``last``'s chain: it is scoped under one of its layers (a
    Caffe in-place layer), or it shares the scope of the chain's last layer, except that in
    the top scope a conv or linear starts a statement of its own."""
    if any(layer.name.startswith(m + ".") for m in last.members):
        return True
    parent = _parent(layer.name)
    if parent not in (_parent(last.members[-1]), _parent(last.members[0])):
        return False
    return not (split_convs and parent == "" and layer.op in _STARTS)


def _parent(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _statement_name(members: Sequence[str]) -> str:
    """A chain's name: the scope its layers share (``conv1`` for ``conv1.conv``, ``conv1.relu``),
    else its first layer's name."""
    parts = [m.split(".") for m in members]
    common: list[str] = []
    for column in zip(*parts, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    if len(members) > 1 and common and all(len(p) > len(common) for p in parts):
        return "_".join(common)
    return members[0].replace(".", "_")


def write_statements(stmts: Sequence[Statement], indent: str, start: str | None) -> list[str]:
    """Spec lines for ``stmts``; a chain whose source is the tensor just before it (``start``
    for the first) leaves the source out."""
    lines = []
    current = start
    for s in stmts:
        head = f"{indent}output {s.output} = " if s.output else f"{indent}{s.name} = "
        body = " -> ".join(s.links)
        if s.repeat and s.source is not None and s.source != current:
            lines.append(f"{indent}{s.source}")  # a repeat continues from the current tensor
        elif s.source is not None and s.source != current:
            body = f"{s.source} -> {body}"
        lines.append(head + body)
        current = s.output or s.name
    return lines


def consumers_of(layers: Iterable[Layer]) -> dict[str, int]:
    count: dict[str, int] = {}
    for layer in layers:
        for i in layer.inputs:
            count[i] = count.get(i, 0) + 1
    return count


def input_decls(model: FlatModel, names: Names, tensor: dict[str, str]) -> list[str]:
    lines = []
    for name, shape in model.inputs.items():
        tensor[name] = names.claim(name)
        lines.append(f"    input {tensor[name]}: {'x'.join(str(d) for d in shape)}")
    return lines


def header(model: FlatModel) -> list[str]:
    lines = [f"# Imported by archc import from {model.source}." if model.source else ""]
    return [line for line in lines if line]


def flat_spec(model: FlatModel) -> str:
    """The model as a spec without blocks: one chain per statement."""
    names = Names()
    tensor: dict[str, str] = {}
    lines = [*header(model), f"network {Names.clean(model.name)} {{"]
    lines += input_decls(model, names, tensor)
    consumers = consumers_of(model.layers)
    pinned = {layer for _, layer in model.outputs}
    named = {layer: Names.clean(name) for name, layer in model.outputs}
    stmts = chains(model.layers, consumers, pinned, names, tensor, None, named)
    lines += write_statements(stmts, "    ", list(model.inputs)[-1] if model.inputs else None)
    lines += output_lines(model, stmts, tensor)
    lines.append("}")
    return "\n".join(lines) + "\n"


def output_lines(model: FlatModel, stmts: list[Statement], tensor: dict[str, str]) -> list[str]:
    """``output NAME`` lines (or ``output NAME = tensor``) for the model's outputs."""
    lines = []
    done = {s.output for s in stmts if s.output}
    for name, layer in model.outputs:
        target, name = tensor[layer], Names.clean(name)
        if name in done:
            continue
        if target == name:
            lines.append(f"    output {name}")
        else:
            lines.append(f"    output {name} = {target}")
    return lines


class ImportModelError(ArchError):
    """A model cannot be imported: a layer archc has no op for, an attribute it cannot express,
    a file that is not the format it claims.  Located at the source's line where there is one
    (Caffe), and always naming the layer or node."""

    kind = "import error"


def fingerprint(model: FlatModel) -> tuple[Any, ...]:
    """Params, buffers, MACs and every layer's (op, shape), by the op registry's rules, without
    building the IR: what a spec written from ``model`` must give."""
    from archc.ops.attrs import bind

    shapes = shapes_of(model)
    params = buffers = macs = 0
    layers = []
    for layer in model.layers:
        op = REGISTRY[layer.op]
        attrs = bind(op, [], {k: v for k, v in layer.args.items() if v is not None})
        ins = [shapes[i] for i in layer.inputs]
        out = shapes[layer.name]
        params += op.params(attrs, ins, out)
        buffers += op.buffers(attrs, ins, out)
        macs += op.macs(attrs, ins, out)
        layers.append((layer.op, out))
    return (params, buffers, macs, tuple(sorted(layers)))


def shapes_of(
    model: FlatModel, known: dict[str, tuple[int, ...]] | None = None
) -> dict[str, tuple[int, ...]]:
    """Every layer's output shape (per sample), by the op registry's own shape rules; a layer
    whose arguments or input shapes the op rejects is an :class:`ImportModelError`.  ``known``
    (updated and returned) holds shapes already worked out, of layers not done again."""
    from archc.ops import ArgProblem, ShapeProblem
    from archc.ops.attrs import bind

    shapes: dict[str, tuple[int, ...]] = known if known is not None else {}
    shapes.update(model.inputs)
    for layer in model.layers:
        if layer.name in shapes:
            continue
        op = REGISTRY[layer.op]
        try:
            attrs = bind(op, [], {k: v for k, v in layer.args.items() if v is not None})
            ins = [shapes[i] for i in layer.inputs]
            shapes[layer.name] = tuple(op.shape(attrs, ins, list(layer.inputs)))
        except (ArgProblem, ShapeProblem) as exc:
            where = f" (line {layer.line})" if layer.line else ""
            raise ImportModelError(f"layer {layer.name}{where}: {exc}") from None
    return shapes
