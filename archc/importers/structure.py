"""Structure recovery: a flat list of layers becomes a spec with blocks and repeats.

1. **Units.**  The layer order is cut where one tensor alone is live (every later layer reads
   only what comes after it): between two cuts lies a single-entry, single-exit piece (a
   residual unit, an inception module).  A scope of the source's names (``layer1.0``,
   ``inception_3a``) whose layers lie between cuts is such a piece too.
2. **Blocks.**  Pieces with the same op sequence, wiring and non-numeric arguments are
   instances of one block; the numbers that differ between instances become its parameters
   (deduplicated, and written as ``in.channels``, ``in.channels * k`` or ``p * k`` where every
   instance agrees, so the input channel count is never a parameter).  A residual unit whose
   shortcut is a projection in some instances and ``in`` in others is one block with a
   ``project`` parameter and an ``if``.  The largest repeated pieces are taken first.
3. **Repeats.**  Consecutive instances of a block whose arguments agree, but for the first
   instance's, become ``NAME = repeat N as i { block(..., a if i == 0 else b) }``; when the
   instances are named ``NAME.0``, ``NAME.1``, ... the spec's scope paths equal the source's.

Before these steps, DenseNet's concatenations of everything so far are written incrementally
(:func:`dense_concats`), so that each dense layer has one entry and one exit.

The result is checked: the structured spec must give the flat one's counts and per-layer
shapes, else the flat spec is returned (with a note), so recovery can never change numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from archc.importers.model import (
    KEYWORDS,
    UNIT,
    FlatModel,
    Layer,
    Names,
    chains,
    consumers_of,
    flat_spec,
    header,
    input_decls,
    link,
    literal,
    output_lines,
    write_statements,
)
from archc.ops import REGISTRY

MIN_LAYERS = 4  # a block without a merge needs at least this many layers


@dataclass
class Piece:
    """Layers ``start``..``end`` (inclusive, evaluation order) entered by one tensor."""

    start: int
    end: int
    name: str
    entry: str  # the tensor it reads: a layer or input name
    key: tuple[Any, ...] = ()
    branch: tuple[int, ...] = ()  # layer indices of an optional projection shortcut
    branch_key: tuple[Any, ...] = ()


@dataclass
class Block:
    name: str
    pieces: list[Piece]
    params: list[str] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)  # per piece, per param
    body: list[str] = field(default_factory=list)


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


class Recovery:
    def __init__(self, model: FlatModel, channels: dict[str, int]) -> None:
        self.model = model
        self.layers = model.layers
        self.index = {layer.name: i for i, layer in enumerate(self.layers)}
        self.channels = channels  # tensor name -> channel count (flat spec's analysis)
        self.readers: dict[str, list[int]] = {}
        for i, layer in enumerate(self.layers):
            for src in layer.inputs:
                self.readers.setdefault(src, []).append(i)
        self.outputs = {layer for _, layer in model.outputs}

    # ------------------------------------------------------------------ pieces
    def cuts(self) -> list[int]:
        """Indices k such that after layer k only layer k's output is live."""
        n = len(self.layers)
        last_use = []
        for i, layer in enumerate(self.layers):
            uses = self.readers.get(layer.name, [])
            last_use.append(n if layer.name in self.outputs else max(uses, default=i))
        inputs_last = max(
            (max(self.readers.get(name, [-1])) for name in self.model.inputs), default=-1
        )
        found = []
        running = inputs_last
        for k in range(n):
            if running <= k:
                found.append(k)
            running = max(running, last_use[k])
        return found

    def entry_of(self, start: int) -> str | None:
        """The one tensor layers ``start``.. read from before ``start``, if there is one."""
        if start > 0:
            return self.layers[start - 1].name
        names = list(self.model.inputs)
        return names[0] if len(names) == 1 else None

    def candidates(self) -> list[Piece]:
        cuts = self.cuts()
        starts = {0} | {k + 1 for k in cuts}
        ends = set(cuts)
        found: dict[tuple[int, int], Piece] = {}
        # scopes of the source's names whose layers lie between cuts; a layer named by a scope
        # is in it (torch's /encoder/layers/encoder_layer_0/Add, a function called in that
        # module's forward, is the layer encoder.layers.encoder_layer_0)
        spans: dict[str, list[int]] = {}
        for i, layer in enumerate(self.layers):
            parts = layer.name.split(".")
            for depth in range(1, len(parts) + 1):
                spans.setdefault(".".join(parts[:depth]), []).append(i)
        for scope, members in spans.items():
            s, e = members[0], members[-1]
            if e - s + 1 == len(members) and s in starts and e in ends and e > s:
                found[(s, e)] = Piece(s, e, scope, "")
        previous = -1
        cut_set = set(cuts)
        for k in cuts:
            s, e = previous + 1, k
            previous = k
            if e > s and (s, e) not in found:
                found[(s, e)] = Piece(s, e, self._piece_name(s, e), "")
                # the activation after a residual add belongs to the unit (Caffe's res2a_relu)
                while e + 1 in cut_set and "activation" in REGISTRY[self.layers[e + 1].op].traits:
                    e += 1
                    found.setdefault((s, e), Piece(s, e, self._piece_name(s, e), ""))
        pieces = []
        for piece in found.values():
            entry = self.entry_of(piece.start)
            if entry is None:
                continue
            piece.entry = entry
            if self._signature(piece):
                pieces.append(piece)
        return pieces

    def _piece_name(self, s: int, e: int) -> str:
        names = [layer.name for layer in self.layers[s : e + 1]]
        prefix = _common_prefix(names)
        if len(prefix) >= 3:
            return prefix
        for layer in reversed(self.layers[s : e + 1]):
            if "merge" in REGISTRY[layer.op].traits:
                return layer.name
        return names[0]

    def _signature(self, piece: Piece) -> bool:
        """Fill ``piece.key`` (ops, wiring, non-numeric arguments); False when it is no unit."""
        s, e = piece.start, piece.end
        layers = self.layers[s : e + 1]
        if len(layers) < MIN_LAYERS and not any("merge" in REGISTRY[x.op].traits for x in layers):
            return False
        piece.branch = self._shortcut(piece)
        key = []
        kept = [i for i in range(s, e + 1) if i not in piece.branch]
        position = {i: k for k, i in enumerate(kept)}
        branch_end = piece.branch[-1] if piece.branch else None
        for i in kept:
            layer = self.layers[i]
            refs: list[int | str] = []
            for src in layer.inputs:
                j = self.index.get(src)
                if src == piece.entry or (branch_end is not None and j == branch_end):
                    refs.append("in")
                elif j is not None and s <= j <= e:
                    refs.append(position[j])
                else:
                    return False
            fixed = tuple(sorted((k, v) for k, v in layer.args.items() if not _numeric(v)))
            numbers = tuple(sorted(k for k, v in layer.args.items() if _numeric(v)))
            key.append((layer.op, tuple(refs), fixed, numbers))
        piece.key = tuple(key)
        if piece.branch:
            bkey = []
            for i in piece.branch:
                layer = self.layers[i]
                fixed = tuple(sorted((k, v) for k, v in layer.args.items() if not _numeric(v)))
                numbers = tuple(sorted(k for k, v in layer.args.items() if _numeric(v)))
                bkey.append((layer.op, fixed, numbers))
            piece.branch_key = tuple(bkey)
        return True

    def _shortcut(self, piece: Piece) -> tuple[int, ...]:
        """The layers of a projection shortcut: the shorter of an add's operand chains that
        run straight from the piece's entry (each layer read once)."""
        s, e = piece.start, piece.end
        for i in range(s, e + 1):
            layer = self.layers[i]
            if layer.op != "add" or len(layer.inputs) != 2:
                continue
            chains_found = []
            for src in layer.inputs:
                chain: list[int] = []
                j = self.index.get(src)
                while (
                    j is not None
                    and s <= j <= e
                    and len(self.readers.get(self.layers[j].name, [])) == 1
                ):
                    chain.append(j)
                    nxt = self.layers[j].inputs
                    if len(nxt) != 1:
                        chain = []
                        break
                    if nxt[0] == piece.entry:
                        break
                    j = self.index.get(nxt[0])
                else:
                    chain = []
                if chain and self.layers[chain[-1]].inputs == [piece.entry]:
                    chains_found.append(sorted(chain))
            if len(chains_found) == 2:
                short = min(chains_found, key=len)
                if len(short) < len(max(chains_found, key=len)):
                    return tuple(short)
        return ()

    # ------------------------------------------------------------------ blocks
    def blocks(self, pieces: list[Piece]) -> list[Block]:
        groups: dict[tuple[Any, ...], list[Piece]] = {}
        for piece in pieces:
            groups.setdefault(piece.key, []).append(piece)
        # a piece without a shortcut chain whose key equals a with-branch key joins that group
        order = sorted(
            groups.values(),
            key=lambda g: (-sum(p.end - p.start + 1 for p in g), -len(g), g[0].start),
        )
        taken: set[int] = set()
        chosen: list[Block] = []
        for group in order:
            branch_keys = {p.branch_key for p in group if p.branch}
            if len(branch_keys) > 1:
                continue
            picked = []
            for piece in sorted(group, key=lambda p: p.start):
                span = set(range(piece.start, piece.end + 1))
                if span & taken:
                    continue
                picked.append(piece)
            if len(picked) < 2:
                continue
            for piece in picked:
                taken |= set(range(piece.start, piece.end + 1))
            chosen.append(Block("", picked))
        return chosen

    # ------------------------------------------------------------------ parameters
    def build(self, block: Block, names_taken: set[str]) -> None:
        first = block.pieces[0]
        with_branch = next((p for p in block.pieces if p.branch), None)
        mixed = with_branch is not None and any(not p.branch for p in block.pieces)
        model_piece = with_branch or first
        # slots: (position among kept layers or ("b", k)), attr) -> value per piece (None: absent)
        slots: list[tuple[Any, str, list[Any]]] = []
        kept_of = [
            [i for i in range(p.start, p.end + 1) if i not in p.branch] for p in block.pieces
        ]
        for k, i in enumerate(kept_of[block.pieces.index(model_piece)]):
            for attr, value in self.layers[i].args.items():
                if _numeric(value):
                    column = [_square(self.layers[kept[k]].args[attr]) for kept in kept_of]
                    slots.append((k, attr, column))
        for k, i in enumerate(model_piece.branch):
            for attr, value in self.layers[i].args.items():
                if _numeric(value):
                    column = [
                        _square(self.layers[p.branch[k]].args[attr]) if p.branch else None
                        for p in block.pieces
                    ]
                    slots.append((("b", k), attr, column))
        in_channels = [self.channels.get(p.entry) for p in block.pieces]
        params: list[tuple[str, list[Any]]] = []
        origin: list[tuple[Any, str]] = []  # where each parameter was first needed
        rendered: dict[tuple[Any, str], str] = {}
        for where, attr, column in slots:
            defined = [v for v in column if v is not None]
            if len({repr(v) for v in defined}) <= 1:
                related = _relation(column, in_channels, params) if None in column else None
                if related is not None and related.isidentifier():
                    rendered[(where, attr)] = related  # a shortcut's stride: the block's
                continue  # the same in every instance: a literal in the body
            expr = _relation(column, in_channels, params)
            if expr is None:
                expr = f"@{len(params)}@"
                fill = next(v for v in column if v is not None)
                params.append((expr, [fill if v is None else v for v in column]))
                origin.append((where, attr))
            rendered[(where, attr)] = expr
        # names: "channels", "stride" where one parameter is the only one of its argument,
        # else after the layer that needs it ("b2_conv", "conv1_stride")
        names = Names(names_taken)
        per_attr: dict[str, int] = {}
        for _, attr in origin:
            per_attr[attr] = per_attr.get(attr, 0) + 1
        final = {}
        for k, (where, attr) in enumerate(origin):
            if per_attr[attr] == 1:
                base = "channels" if attr == "out" else attr
            else:
                base = self._slot_layer_name(model_piece, where)
                base = base if attr == "out" else f"{base}_{attr}"
            final[f"@{k}@"] = names.claim("n" + base if base[0].isdigit() else base)
        params = [(final[p], col) for p, col in params]
        for key, text in rendered.items():
            rendered[key] = re.sub(r"@\d+@", lambda m: final[m.group()], text)
        if mixed:
            params.append((names.claim("project"), [bool(p.branch) for p in block.pieces]))
        block.params = [p for p, _ in params]
        block.values = [[col[k] for _, col in params] for k in range(len(block.pieces))]
        block.body = self._body(model_piece, rendered, mixed, block.params)

    def _slot_layer_name(self, piece: Piece, where: Any) -> str:
        if isinstance(where, tuple):
            i = piece.branch[where[1]]
        else:
            kept = [i for i in range(piece.start, piece.end + 1) if i not in piece.branch]
            i = kept[where]
        return re.sub(r"\W+", "_", _relative(self.layers[i].name, piece.name)).strip("_")

    def _body(
        self, piece: Piece, rendered: dict[tuple[Any, str], str], mixed: bool, params: list[str]
    ) -> list[str]:
        kept = [i for i in range(piece.start, piece.end + 1) if i not in piece.branch]
        slot_of: dict[int, Any] = {i: k for k, i in enumerate(kept)}
        for k, i in enumerate(piece.branch):
            slot_of[i] = ("b", k)
        names = Names(["in", *params])
        shortcut = names.claim("shortcut") if mixed else None
        tensor: dict[str, str] = {piece.entry: "in"}
        local = []
        for i in range(piece.start, piece.end + 1):
            layer = self.layers[i]
            rel = _relative(layer.name, piece.name)
            local.append(
                Layer(
                    rel,
                    layer.op,
                    layer.args,
                    [
                        src if src == piece.entry else _relative(src, piece.name)
                        for src in layer.inputs
                    ],
                )
            )
            tensor.setdefault(layer.name, "")
        rel_slot = {
            local[i - piece.start].name: slot_of[i] for i in range(piece.start, piece.end + 1)
        }
        tensor = {piece.entry: "in"}

        def render(layer: Layer) -> str:
            where = rel_slot[layer.name]
            texts = {
                attr: rendered[(where, attr)] for attr in layer.args if (where, attr) in rendered
            }
            return link(layer.op, layer.args, texts)

        consumers = consumers_of(local)
        branch_names = {local[i - piece.start].name for i in piece.branch}
        pinned = {local[-1].name}
        if piece.branch:
            pinned.add(local[piece.branch[-1] - piece.start].name)
        stmts = chains(
            local, consumers, pinned, names, tensor, render, {local[-1].name: "out"}, False
        )
        lines: list[str] = []
        current: str | None = None  # branches name their source: b2 = in -> ...
        for stmt in stmts:
            if mixed and set(stmt.members) <= branch_names:
                body = " -> ".join(stmt.links)
                for other in stmts:
                    other.links = [
                        re.sub(rf"\b{stmt.name}\b", shortcut or "", x) for x in other.links
                    ]
                lines += [
                    "    if project {",
                    f"        {shortcut} = in -> {body}",
                    "    } else {",
                    f"        {shortcut} = in",
                    "    }",
                ]
                continue
            lines += write_statements([stmt], "    ", current)
            current = stmt.name
        return lines

    # ------------------------------------------------------------------ the spec
    def spec(self) -> str:
        pieces = self.candidates()
        blocks = self.blocks(pieces)
        block_names = Names([layer.name.split(".")[0] for layer in self.layers])
        for block in blocks:
            block.name = block_names.claim(_block_name(block, self.layers, self.model.classes))
        taken: set[str] = set()
        for block in blocks:
            self.build(block, taken)
        # the network body: layers, and units standing for block calls and repeats
        by_start = {p.start: (b, k) for b in blocks for k, p in enumerate(b.pieces)}
        units: list[Layer] = []
        i = 0
        skip_to = -1
        ordered = sorted(by_start)
        for i, layer in enumerate(self.layers):
            if i <= skip_to:
                continue
            if i not in by_start:
                units.append(layer)
                continue
            block, k = by_start[i]
            run = [k]
            while True:
                nxt = block.pieces[run[-1]].end + 1
                if nxt in by_start and by_start[nxt][0] is block:
                    run.append(by_start[nxt][1])
                else:
                    break
            for group in _repeat_runs(block, run):
                units.append(self._unit(block, group))
                skip_to = block.pieces[group[-1]].end
        del ordered
        names = Names([b.name for b in blocks])
        tensor: dict[str, str] = {}
        lines = [*header(self.model)]
        for block in blocks:
            params = ", ".join(block.params)
            lines += ["", f"block {block.name}({params}) {{", *block.body, "}"]
        lines += ["", f"network {Names.clean(self.model.name)} {{"]
        lines += input_decls(self.model, names, tensor)
        pinned = {layer for _, layer in self.model.outputs}
        named = {layer: Names.clean(name) for name, layer in self.model.outputs}
        stmts = chains(units, consumers_of(units), pinned, names, tensor, None, named)
        first_input = list(self.model.inputs)[-1] if self.model.inputs else None
        lines += write_statements(stmts, "    ", tensor.get(first_input or ""))
        lines += output_lines(self.model, stmts, tensor)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _unit(self, block: Block, group: list[int]) -> Layer:
        pieces = [block.pieces[k] for k in group]
        values = [block.values[k] for k in group]
        last = pieces[-1]
        exit_name = self.layers[last.end].name
        if len(group) == 1:
            text = f"{block.name}({', '.join(literal(v) for v in values[0])})"
            return Layer(pieces[0].name, UNIT, {"text": text, "exit": exit_name}, [pieces[0].entry])
        args = []
        for column in zip(*values, strict=True):
            first, rest = column[0], column[1:]
            if all(v == first for v in rest):
                args.append(literal(first))
            elif _alternates(list(column)):  # Swin's shift: 0, 3, 0, 3, ...
                args.append(_alternation(column[0], column[1]))
            elif isinstance(first, bool):
                args.append("i == 0" if first else "i != 0")
            else:
                args.append(f"{literal(first)} if i == 0 else {literal(rest[0])}")
        call = f"{block.name}({', '.join(args)})"
        index = " as i" if re.search(r"\bi\b", call) else ""
        text = f"repeat {len(group)}{index} {{ {call} }}"
        name = self._covering_scope(pieces) or _repeat_name([p.name for p in pieces])
        return Layer(
            name, UNIT, {"text": text, "repeat": True, "exit": exit_name}, [pieces[0].entry]
        )

    def _covering_scope(self, pieces: list[Piece]) -> str:
        """The scope the instances share when they are all of it (DenseNet's
        ``features.denseblock1`` holding ``denselayer1`` to ``denselayer6``), else ``""``."""
        parents = {_scope(p.name) for p in pieces}
        parent = parents.pop() if len(parents) == 1 else ""
        if not parent:
            return ""
        first, last = pieces[0].start, pieces[-1].end
        inside = all(
            first <= i <= last
            for i, layer in enumerate(self.layers)
            if layer.name.startswith(parent + ".")
        )
        return parent if inside else ""


def _alternates(column: list[Any]) -> bool:
    """More than two values, alternating between two that differ."""
    return (
        len(column) > 2
        and column[0] != column[1]
        and all(v == column[k % 2] for k, v in enumerate(column))
    )


def _alternation(even: Any, odd: Any) -> str:
    """An argument that alternates over a repeat's iterations, as an expression of ``i``."""
    if isinstance(even, bool):
        return "i % 2 == 0" if even else "i % 2 == 1"
    if even == 0 and isinstance(odd, int):
        return f"(i % 2) * {literal(odd)}"
    return f"{literal(even)} if i % 2 == 0 else {literal(odd)}"


def _alternating_run(block: Block, run: list[int], k: int) -> int:
    """How many instances from ``run[k]`` on alternate between two argument lists (each
    argument alike or alternating): Swin's blocks, shifted every second one."""
    values = [tuple(block.values[x]) for x in run[k:]]
    if len(values) < 3 or values[0] == values[1]:
        return 0
    n = 2
    while n < len(values) and values[n] == values[n % 2]:
        n += 1
    return n if n > 2 else 0


def _repeat_runs(block: Block, run: list[int]) -> list[list[int]]:
    """Cut consecutive instances into repeats: all instances after the first alike, and the
    first differing from them in at most one number (a stride or a width) and flags; or
    instances alternating between two argument lists, when that makes a longer repeat."""
    groups: list[list[int]] = []
    k = 0
    while k < len(run):
        group = [run[k]]
        j = k + 1
        while j < len(run):
            candidate = [*group, run[j]]
            rest = [tuple(block.values[x]) for x in candidate[1:]]
            if len(set(map(repr, rest))) != 1:
                break
            first = block.values[candidate[0]]
            numbers = sum(
                1 for a, b in zip(first, rest[0], strict=True) if a != b and not isinstance(a, bool)
            )
            if numbers > 1:
                break
            group = candidate
            j += 1
        alternating = _alternating_run(block, run, k)
        if alternating > len(group):
            group = run[k : k + alternating]
        groups.append(group)
        k += len(group)
    return groups


def _square(value: Any) -> Any:
    """(3, 3) as 3: a square kernel, stride or padding is one number, as the spec writes it."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def _relation(
    column: list[Any], in_channels: list[int | None], params: list[tuple[str, list[Any]]]
) -> str | None:
    """The column as ``in.channels``, an existing parameter, or either times a constant."""
    pairs = [(i, v) for i, v in enumerate(column) if v is not None]
    if not all(isinstance(v, int) and not isinstance(v, bool) for _, v in pairs):
        for name, values in params:
            if all(values[i] == v for i, v in pairs):
                return name
        return None
    sources: list[tuple[str, list[Any]]] = []
    if all(c is not None for c in in_channels):
        sources.append(("in.channels", list(in_channels)))
    sources += params
    for name, values in sources:
        if all(values[i] == v for i, v in pairs):
            return name
    for name, values in sources:
        if not all(
            isinstance(values[i], int) and not isinstance(values[i], bool) and values[i] > 0
            for i, _ in pairs
        ):
            continue
        ratios = {v / values[i] for i, v in pairs}
        if len(ratios) == 1:
            ratio = ratios.pop()
            if ratio == int(ratio) and ratio > 1:
                return f"{name} * {int(ratio)}"
            if (
                0 < ratio < 1
                and (1 / ratio) == int(1 / ratio)
                and all(values[i] % int(1 / ratio) == 0 for i, _ in pairs)
            ):
                return f"{name} // {int(1 / ratio)}"
        if any(v for _, v in pairs) and all(values[i] // 2 == v for i, v in pairs):
            return f"{name} // 2"  # a "same" padding: kernel // 2
    return None


def _common_prefix_raw(names: Sequence[str]) -> str:
    first = names[0] if names else ""
    k = 0
    while k < len(first) and all(len(n) > k and n[k] == first[k] for n in names):
        k += 1
    return first[:k]


def _common_prefix(names: Sequence[str]) -> str:
    if not names:
        return ""
    first = names[0]
    k = 0
    while k < len(first) and all(len(n) > k and n[k] == first[k] for n in names):
        k += 1
    return first[:k].rstrip("._/")


def _relative(name: str, scope: str) -> str:
    if name == scope:  # a function called in the scope's own forward (torch's /layer1.0/Add)
        return "x"
    if name.startswith(scope + "."):
        return name[len(scope) + 1 :]
    if name.startswith(scope) and len(name) > len(scope):
        return name[len(scope) :].lstrip("._/") or name
    return name


def _unit_name(name: str) -> str:
    return name


def _repeat_name(names: list[str]) -> str:
    parts = [n.rsplit(".", 1) for n in names]
    numbered = [p[1] for p in parts if len(p) == 2] == [str(k) for k in range(len(names))]
    if numbered and len({p[0] for p in parts}) == 1:
        return parts[0][0]
    raw = _common_prefix_raw(names)
    stem = raw.rstrip("._")
    single = all(len(n) == len(raw) + 1 and n[-1].isalpha() for n in names)
    if len(stem) >= 3 and stem not in REGISTRY and single:
        return stem  # res2a, res2b, res2c: res2
    while raw and raw[-1].isdigit():
        raw = raw[:-1]
    stem = raw.rstrip("._")
    tails = [n[len(raw) :] for n in names]
    if len(stem) >= 3 and stem not in REGISTRY and all(t.isdigit() for t in tails):
        joint = "_" if stem != raw else ""
        return f"{stem}{joint}{tails[0]}_{tails[-1]}"  # fire2, fire3: fire2_3; features_5_6
    return f"{names[0]}_to_{names[-1]}"


def _block_name(block: Block, layers: Sequence[Layer], classes: dict[str, str]) -> str:
    kinds = {classes.get(p.name) for p in block.pieces}
    containers = {None, "Sequential", "ModuleList", "ModuleDict"}
    if len(kinds) == 1 and not kinds & containers:  # the source's class: Bottleneck -> bottleneck
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(kinds.pop())).lower()
    tails = [p.name.split(".")[-1] for p in block.pieces]
    stem = re.sub(r"[\d_]+[a-z]?$", "", _common_prefix(tails)).rstrip("_")
    if len(stem) >= 3 and not stem.isdigit() and stem not in REGISTRY and stem not in KEYWORDS:
        return stem
    stems = {re.sub(r"[\d_.]+", "", t) for t in tails}
    only = next(iter(stems))
    if len(stems) == 1 and len(only) >= 3 and only not in REGISTRY and only not in KEYWORDS:
        return only
    ops = {layers[i].op for p in block.pieces[:1] for i in range(p.start, p.end + 1)}
    if "concat" in ops:
        return "mixed"
    if "add" in ops:
        return "residual"
    return "unit"


def dense_concats(model: FlatModel, channels: dict[str, int]) -> FlatModel:
    """DenseNet's concatenations written incrementally, so that each dense layer is a piece.

    A dense block concatenates everything so far before each layer: ``concat(x0, y1)``, then
    ``concat(x0, y1, y2)``, ... (torchvision's ``torch.cat(features, 1)``, and the ONNX Concat
    nodes it exports).  With every earlier tensor live up to the block's end, no piece has one
    entry.  A concatenation whose inputs begin with all of an earlier one's, in order, reads
    that one instead: ``concat(x0, y1, y2)`` becomes ``concat(c1, y2)``, the same tensor (a
    concatenation of concatenations along channels is their flat concatenation).  Each
    concatenation of such a chain then joins the scope of the layer it appends (torchvision's
    ``denselayer2.cat_1`` becomes ``denselayer1.cat_1``), so a dense layer is ``y = in -> ...;
    out = concat(in, y)``, one entry and one exit, the form of ``specs/densenet121.arch``.

    Returns a new model (``model`` is the flat fallback and stays as it is); ``channels`` gets
    the renamed tensors' counts.  A model without such a chain comes back unchanged.
    """
    concats: dict[tuple[str, ...], int] = {}  # a concatenation's inputs -> its layer index
    rewritten: dict[int, list[str]] = {}
    in_chain: set[int] = set()
    for i, layer in enumerate(model.layers):
        if layer.op != "concat" or layer.args or len(layer.inputs) < 2:
            continue
        inputs = tuple(layer.inputs)
        for cut in range(len(inputs) - 1, 1, -1):  # the longest earlier prefix
            j = concats.get(inputs[:cut])
            if j is not None:
                rewritten[i] = [model.layers[j].name, *inputs[cut:]]
                in_chain |= {i, j}
                break
        concats.setdefault(inputs, i)
    if not rewritten:
        return model
    taken = {layer.name for layer in model.layers} | set(model.inputs)
    renamed: dict[str, str] = {}
    for i in sorted(in_chain):
        layer = model.layers[i]
        scope = _scope(rewritten.get(i, layer.inputs)[-1])
        leaf = layer.name.rsplit(".", 1)[-1]
        if not scope or _scope(layer.name) == scope:
            continue
        name, k = f"{scope}.{leaf}", 2
        while name in taken:
            name, k = f"{scope}.{leaf}_{k}", k + 1
        taken.add(name)
        renamed[layer.name] = name
        if layer.name in channels:
            channels[name] = channels[layer.name]
    layers = [
        Layer(
            renamed.get(layer.name, layer.name),
            layer.op,
            layer.args,
            [renamed.get(src, src) for src in rewritten.get(i, layer.inputs)],
            layer.line,
        )
        for i, layer in enumerate(model.layers)
    ]
    return replace(
        model,
        layers=layers,
        outputs=[(out, renamed.get(name, name)) for out, name in model.outputs],
    )


def _scope(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def structured_spec(model: FlatModel, channels: dict[str, int]) -> str:
    """The model as a spec with blocks and repeats (see the module docstring)."""
    if not model.layers:
        return flat_spec(model)
    return Recovery(dense_concats(model, channels), channels).spec()
