"""Token tensors and self-attention: what vision transformers are made of.

A token tensor is T×D: T tokens (patches, plus a class token) of D features each, the features
last as PyTorch's ``batch_first`` layers keep them.  ``tokens`` turns a C×H×W map into one
(H·W tokens of C features, ViT's patch embedding after its strided conv); ``linear`` and
``layernorm`` act on the last axis of a T×D tensor as ``nn.Linear`` and ``nn.LayerNorm`` do;
``class_token`` and ``pos_embed`` are the learned tensors ViT adds; ``attention`` is multi-head
self-attention, counted whole (its four projections and both matrix products, docs/
conventions.md); ``select`` picks one token (the class token) for the head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from archc.ops.base import (
    ArgProblem,
    Arithmetic,
    Attrs,
    AttrSpec,
    Example,
    Op,
    Shape,
    ShapeProblem,
    SymbolicShape,
    T,
    TensorSpec,
    dims,
    elements,
    features_last,
    last_axis,
    leading_axes,
    register,
)


def token_input(op: str, x: Shape, name: str) -> tuple[int, int]:
    """``x`` as (T, D), or a :class:`ShapeProblem` saying how to make tokens."""
    if len(x) != 2:
        hint = ": make tokens with 'tokens' (C×H×W → H·W×C)" if len(x) == 3 else ""
        raise ShapeProblem(f"{op} needs a T×D token input, got {dims(x)} from {name}{hint}")
    return x[0], x[1]


@register
class Tokens(Op):
    name = "tokens"
    doc = "A map's positions as tokens: C×H×W -> (H·W)×C (ViT's flatten(2).transpose(1, 2))."
    traits = frozenset({"view"})
    shape_doc = "C×H×W → (H·W)×C, row-major positions; C×L → L×C"
    examples = (Example("tokens", ((6, 3, 4),)), Example("tokens", ((5, 7),)))

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        x = ins[0]
        if not 2 <= len(x) <= 4:
            raise ShapeProblem(f"tokens needs a C×L, C×H×W or C×D×H×W map, got {dims(x)}")
        return (elements(x[1:]), x[0])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        count = ar.product(list(x.spatial)) if x.spatial is not None and not x.last else None
        return SymbolicShape(x.channels, 2, (count,) if count is not None else None, last=True)

    def summary(self, a: Attrs) -> str:
        return "tokens"


@register
class ClassToken(Op):
    name = "class_token"
    doc = "Prepends a learned token: T×D -> (T+1)×D (ViT's class token, D parameters)."
    traits = frozenset({"weights"})
    shape_doc = "T×D → (T + 1)×D; the learned 1×1×D token comes first"
    examples = (Example("class_token", ((5, 8),)),)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        t, d = token_input(self.name, ins[0], names[0])
        return (t + 1, d)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        lead = leading_axes(x)
        count = ar.total([lead[0], ar.product([])]) if lead else None
        return SymbolicShape(last_axis(x), 2, (count,) if count is not None else None, last=True)

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        return [TensorSpec("token", (1, 1, ins[0][1]), init=0.0)]


@register
class PosEmbed(Op):
    name = "pos_embed"
    doc = "Adds a learned position embedding, one D-vector per token (ViT: T·D parameters)."
    traits = frozenset({"weights", "elementwise"})
    shape_doc = "unchanged (T×D); the 1×T×D table is sized from the input's token count"
    examples = (Example("pos_embed", ((5, 8),)),)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        token_input(self.name, ins[0], names[0])
        return ins[0]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        return [TensorSpec("weight", (1, *ins[0]))]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out)


@register
class Param(Op):
    name = "param"
    doc = "A learned tensor of the shape given, the same for every sample (a class token, a table)."
    traits = frozenset({"weights"})
    n_inputs = 0
    attrs = (
        AttrSpec("shape", "dims", doc="the per-sample shape, e.g. (1, 768) for a class token"),
        AttrSpec("init", "choice", "zeros", "how it starts", choices=("zeros", "normal")),
    )
    shape_doc = "no input: the shape given, repeated for every sample of the batch"
    examples = (
        Example("param((1, 8))", ((5, 8),), standalone=True),
        Example('param((5, 8), init="normal")', ((5, 8),), standalone=True),
    )

    def check(self, a: Attrs) -> None:
        if -1 in a["shape"]:
            raise ArgProblem("a param's shape must be given in full (no -1)", "shape")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return tuple(a["shape"])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        sizes = ar.items(a["shape"])
        if sizes is None:
            return SymbolicShape(None, 2, None, last=True)
        if len(sizes) == 1:
            return SymbolicShape(sizes[0], 1)
        return SymbolicShape(sizes[-1], len(sizes), tuple(sizes[:-1]), last=True)

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        init = 0.0 if a["init"] == "zeros" else None  # normal: drawn with std 0.02, as ViT's
        return [TensorSpec("weight", (1, *a["shape"]), init=init)]

    def summary(self, a: Attrs) -> str:
        return f"param {dims(a['shape'])}"


@register
class Select(Op):
    name = "select"
    doc = "One token of T×D: its D features (ViT's x[:, 0], the class token)."
    traits = frozenset({"view"})
    attrs = (AttrSpec("index", "nonneg", 0, "the token kept (0: the class token)"),)
    shape_doc = "T×D → D; 0 ≤ index < T"
    examples = (Example("select", ((5, 8),)), Example("select(3)", ((5, 8),)))

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        t, d = token_input(self.name, ins[0], names[0])
        if a["index"] >= t:
            raise ShapeProblem(f"select: token {a['index']} does not exist, {names[0]} has {t}")
        return (d,)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(last_axis(ins[0]), 1)

    def summary(self, a: Attrs) -> str:
        return f"select {a['index']}"


@register
class Attention(Op):
    name = "attention"
    doc = (
        "Multi-head self-attention over T×D tokens (nn.MultiheadAttention, batch_first): "
        "query, key and value projections, softmax(QKᵀ/√d)·V per head, output projection."
    )
    traits = frozenset({"weights"})
    diagram_style = "attention"
    global_field = True
    attrs = (
        AttrSpec("heads", "count", doc="attention heads; D must divide into them"),
        AttrSpec("bias", "bool", True, "biases on the projections"),
        AttrSpec("dropout", "prob", 0.0, "dropout on the attention weights (training only)"),
    )
    shape_doc = "T×D → T×D; D divisible by heads"
    examples = (
        Example("attention(2)", ((5, 8),)),
        Example("attention(4, bias=false)", ((3, 8),)),
        Example("attention(2, dropout=0.1)", ((4, 6),)),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        _, d = token_input(self.name, ins[0], names[0])
        if d % a["heads"]:
            raise ShapeProblem(
                f"attention: the {d} features of {names[0]} do not divide into {a['heads']} heads"
            )
        return ins[0]

    def check(self, a: Attrs) -> None:
        if not 0 <= a["dropout"] < 1:  # pragma: no cover - the "prob" kind guarantees it
            raise ArgProblem("dropout must be in [0, 1)", "dropout")

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        return features_last(x, last_axis(x), leading_axes(x))  # type: ignore[arg-type]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        d = ins[0][1]
        found = [TensorSpec("in_proj_weight", (3 * d, d))]
        if a["bias"]:
            found.append(TensorSpec("in_proj_bias", (3 * d,), init=0.0))
        found.append(TensorSpec("out_proj.weight", (d, d)))
        if a["bias"]:
            found.append(TensorSpec("out_proj.bias", (d,), init=0.0))
        return found

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return sum(attention_macs(ins[0][0], ins[0][1]).values())

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        t, d = ins[0]
        biases = 4 * t * d if a["bias"] else 0
        # per score: the 1/√d scale, and softmax's exp, sum and divide
        return 2 * self.macs(a, ins, out) + biases + 4 * a["heads"] * t * t

    def workspace(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # while the softmax runs: q, k, v (3·T·D), the scores and their softmax (heads·T·T
        # each); then the weights times V makes the T·D context
        t, d = ins[0]
        return 3 * t * d + 2 * a["heads"] * t * t + t * d

    def summary(self, a: Attrs) -> str:
        return f"attention, {a['heads']} heads"


def attention_macs(t: int, d: int) -> dict[str, int]:
    """Self-attention's multiply-accumulates by part, for T tokens of D features (any number
    of heads: h heads of d/h features do h·T·T·(D/h) = T·T·D for each product)."""
    return {
        "qkv": t * d * 3 * d,
        "scores": t * t * d,  # QKᵀ
        "context": t * t * d,  # softmax(QKᵀ/√d)·V
        "out": t * d * d,
    }


# ------------------------------------------------------------------ attention, written out
@register
class SplitHeads(Op):
    name = "split_heads"
    doc = "T×D tokens as heads×T×(D/heads): attention's per-head view (a reshape and transpose)."
    traits = frozenset({"view"})
    attrs = (AttrSpec("heads", "count", doc="heads; D must divide into them"),)
    shape_doc = "T×D → heads×T×(D/heads)"
    examples = (Example("split_heads(2)", ((5, 8),)),)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        t, d = token_input(self.name, ins[0], names[0])
        if d % a["heads"]:
            raise ShapeProblem(
                f"split_heads: the {d} features of {names[0]} do not divide into {a['heads']} heads"
            )
        return (a["heads"], t, d // a["heads"])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        d, lead = last_axis(x), leading_axes(x)
        depth = ar.quotient(d, a["heads"]) if d is not None else None
        spatial = (a["heads"], lead[0]) if lead else None
        return SymbolicShape(depth, 3, spatial, last=True)

    def summary(self, a: Attrs) -> str:
        return f"split_heads {a['heads']}"


@register
class MergeHeads(Op):
    name = "merge_heads"
    doc = "heads×T×d back to T×(heads·d) tokens: split_heads undone."
    diagram_style = "view"  # a transpose and reshape (a copy, as the axes are not in order)
    shape_doc = "h×T×d → T×(h·d)"
    examples = (Example("merge_heads", ((2, 5, 4),)),)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        x = ins[0]
        if len(x) != 3:
            raise ShapeProblem(f"merge_heads needs heads×T×d, got {dims(x)} from {names[0]}")
        return (x[1], x[0] * x[2])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        lead = leading_axes(x)
        d = last_axis(x)
        if lead is None or d is None:
            return SymbolicShape(None, 2, None, last=True)
        return SymbolicShape(ar.product([lead[0], d]), 2, (lead[1],), last=True)


@register
class MatMul(Op):
    name = "matmul"
    doc = "Matrix product of two tensors over their last two axes (attention's QKᵀ and AV)."
    traits = frozenset({"merge"})
    global_field = True  # QKᵀ: every token's scores involve every other token
    attrs = (AttrSpec("transpose", "bool", False, "multiply by the second's transpose: a·bᵀ"),)
    shape_doc = "…×n×k by …×k×m → …×n×m (by …×m×k with transpose=true); the leading axes must agree"
    examples = (
        Example("matmul(a, b, transpose=true)", ((2, 5, 4), (2, 5, 4))),
        Example("matmul(a, b)", ((2, 5, 5), (2, 5, 4))),
        Example("matmul(a, b)", ((3, 4), (4, 6))),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if len(ins) != 2:
            raise ShapeProblem(f"matmul multiplies two tensors, got {len(ins)}")
        x, y = ins
        if len(x) < 2 or len(x) != len(y):
            raise ShapeProblem(
                f"matmul needs two tensors of the same rank (2 or more): {names[0]} is "
                f"{dims(x)}, {names[1]} is {dims(y)}"
            )
        k, m = (y[-1], y[-2]) if a["transpose"] else (y[-2], y[-1])
        if x[-1] != k or x[:-2] != y[:-2]:
            raise ShapeProblem(
                f"matmul: {names[0]} ({dims(x)}) and {names[1]} ({dims(y)}"
                f"{', transposed' if a['transpose'] else ''}) do not multiply"
            )
        return (*x[:-1], m)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x, y = ins
        lead_y = leading_axes(y)
        transpose = (
            ar.known(a["transpose"]) if not isinstance(a["transpose"], bool) else a["transpose"]
        )
        m = (lead_y[-1] if lead_y else None) if transpose else last_axis(y)
        return SymbolicShape(m, x.rank, leading_axes(x), last=True)

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out) * ins[0][-1]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out)

    def summary(self, a: Attrs) -> str:
        return "matmul a·bᵀ" if a["transpose"] else "matmul"


@register
class Rescale(Op):
    name = "rescale"
    doc = "Multiplies by a constant (attention's 1/√d on the scores)."
    traits = frozenset({"elementwise"})
    attrs = (AttrSpec("factor", "float", doc="the constant"),)
    shape_doc = "unchanged"
    examples = (Example("rescale(0.5)"), Example("rescale(0.125)", ((2, 5, 5),)))

    def check(self, a: Attrs) -> None:
        if not math.isfinite(a["factor"]):
            raise ArgProblem(f"factor must be finite, got {a['factor']!r}", "factor")

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out)

    def summary(self, a: Attrs) -> str:
        return f"rescale {a['factor']:g}"
