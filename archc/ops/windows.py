"""Swin Transformer's ops on C×H×W maps: shifted-window self-attention and patch merging.

Swin (Liu et al., 2021) keeps its tensors as maps, attending within non-overlapping w×w
windows.  archc keeps them channels first, as it keeps ConvNeXt's: torchvision's per-position
``nn.Linear`` layers are 1×1 convs in a spec (the same weights and MACs) and its layer norm
over channels is ``layernorm`` on a map.  ``window_attention`` is torchvision's
``ShiftedWindowAttention`` (``shifted_window_attention``): pad to whole windows, cyclic shift
(the mask keeping wrapped-around regions apart), multi-head attention with a learned relative
position bias per window, and the reverse steps.  ``patch_merge`` is the gather of
torchvision's ``PatchMerging`` (its layer norm and linear reduction are separate layers).
"""

from __future__ import annotations

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
    Window,
    dims,
    register,
)


def _map_input(op: str, x: Shape, name: str) -> tuple[int, int, int]:
    if len(x) != 3:
        raise ShapeProblem(f"{op} needs a C×H×W map, got {dims(x)} from {name}")
    return x[0], x[1], x[2]


def _whole(size: int, window: int) -> int:
    """``size`` padded up to a multiple of ``window``."""
    return -(-size // window) * window


def effective_shift(a: Attrs, height: int, width: int) -> tuple[int, int]:
    """The shift per axis (h, w) as torchvision applies it: none on an axis whose padded size
    is no larger than the window (one window holds it all)."""
    w, shift = a["window"], a["shift"]
    return (
        shift if _whole(height, w) > w else 0,
        shift if _whole(width, w) > w else 0,
    )


def window_count(a: Attrs, height: int, width: int) -> int:
    """Windows of the padded map."""
    w = a["window"]
    return (_whole(height, w) // w) * (_whole(width, w) // w)


@register
class WindowAttention(Op):
    name = "window_attention"
    doc = (
        "Swin's (shifted) window multi-head self-attention on a C×H×W map, with a learned "
        "relative position bias (torchvision's ShiftedWindowAttention)."
    )
    traits = frozenset({"weights", "spatial"})
    attrs = (
        AttrSpec("heads", "count", doc="attention heads; the channels must divide into them"),
        AttrSpec("window", "count", 7, "the side of the square windows attended within"),
        AttrSpec("shift", "nonneg", 0, "cyclic shift of the windows (Swin's odd blocks: window/2)"),
        AttrSpec("bias", "bool", True, "bias on the q, k, v projection"),
        AttrSpec("proj_bias", "bool", True, "bias on the output projection"),
        AttrSpec("dropout", "prob", 0.0, "dropout on the attention weights (training only)"),
        AttrSpec("proj_dropout", "prob", 0.0, "dropout after the projection (training only)"),
    )
    shape_doc = (
        "C×H×W → C×H×W; C divisible by heads, shift < window; H and W padded up to whole "
        "windows inside (as torchvision)"
    )
    examples = (
        Example("window_attention(2, window=4)", ((8, 8, 8),)),
        Example("window_attention(2, window=4, shift=2)", ((8, 8, 8),)),
        Example("window_attention(2, window=3, shift=1, bias=false)", ((6, 7, 5),)),
        Example("window_attention(3, window=4, shift=2, proj_bias=false)", ((6, 4, 9),)),
        Example("window_attention(1, window=3, dropout=0.1, proj_dropout=0.1)", ((4, 6, 6),)),
        # one window holds the padded map: no shift (torchvision's last stage at 224×224)
        Example("window_attention(2, window=4, shift=2)", ((8, 3, 3),)),
    )

    def check(self, a: Attrs) -> None:
        if a["shift"] >= a["window"]:
            raise ArgProblem(
                f"shift {a['shift']} must be smaller than the window ({a['window']})", "shift"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, _, _ = _map_input(self.name, ins[0], names[0])
        if c % a["heads"]:
            raise ShapeProblem(
                f"window_attention: the {c} channels of {names[0]} do not divide into "
                f"{a['heads']} heads"
            )
        return ins[0]

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return ins[0]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        # state-dict order: the module's own table and index, then its qkv and proj children
        c, w = ins[0][0], a["window"]
        found = [
            TensorSpec("relative_position_bias_table", ((2 * w - 1) ** 2, a["heads"])),
            # int64 in PyTorch, counted here in elements like every other buffer
            TensorSpec("relative_position_index", (w**4,), trainable=False, dtype="int64"),
            TensorSpec("qkv.weight", (3 * c, c)),
        ]
        if a["bias"]:
            found.append(TensorSpec("qkv.bias", (3 * c,)))
        found.append(TensorSpec("proj.weight", (c, c)))
        if a["proj_bias"]:
            found.append(TensorSpec("proj.bias", (c,)))
        return found

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        c, h, w = ins[0]
        return window_count(a, h, w) * sum(window_macs(a["window"] ** 2, c).values())

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        c, h, w = ins[0]
        windows, t = window_count(a, h, w), a["window"] ** 2
        biases = windows * t * (3 * c * int(a["bias"]) + c * int(a["proj_bias"]))
        # per score: the relative position bias, softmax's exp, sum and divide, and the shift
        # mask where one applies; per q element the 1/√d scale
        per_score = 4 + int(any(effective_shift(a, h, w)))
        scores = windows * a["heads"] * t * t * per_score
        return 2 * self.macs(a, ins, out) + biases + scores + windows * t * c

    def workspace(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # while the softmax runs, for every window: its tokens (the map rearranged, which qkv
        # reads), q, k and v (3·T·C), the scores and their softmax (heads·T·T each); then the
        # weights times V makes the T·C context
        tokens = window_tokens(a, ins) * ins[0][0]
        scores = a["heads"] * window_tokens(a, ins) * a["window"] ** 2
        return 5 * tokens + 2 * scores

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        # an output position sees the whole window holding it
        side = a["window"]
        return Window((side, side), (1, 1))

    def summary(self, a: Attrs) -> str:
        shift = f", shift {a['shift']}" if a["shift"] else ""
        return f"window attention {a['window']}×{a['window']}{shift}, {a['heads']} heads"


def window_macs(t: int, c: int) -> dict[str, int]:
    """One window's multiply-accumulates by part, for T = w² tokens of C channels (any number
    of heads: h heads of C/h channels do T·T·C for each product)."""
    return {"qkv": t * c * 3 * c, "scores": t * t * c, "context": t * t * c, "proj": t * c * c}


def relative_position_index(window: int) -> list[int]:
    """torchvision's ``relative_position_index`` for a w×w window, flattened (w⁴ entries): for
    tokens i, j (row-major in the window) the row of the bias table for their offset."""
    side = 2 * window - 1
    coords = [(r, c) for r in range(window) for c in range(window)]
    return [
        (ri - rj + window - 1) * side + (ci - cj + window - 1)
        for ri, ci in coords
        for rj, cj in coords
    ]


@register
class PatchMerge(Op):
    name = "patch_merge"
    doc = (
        "Swin's patch merging gather: each 2×2 patch's four positions stacked on the channels, "
        "C×H×W -> 4C×⌈H/2⌉×⌈W/2⌉ (torchvision's PatchMerging order; odd sizes zero-padded)."
    )
    traits = frozenset({"spatial"})
    shape_doc = (
        "C×H×W → 4C×⌈H/2⌉×⌈W/2⌉; channels in the order (0, 0), (1, 0), (0, 1), (1, 1) of "
        "(row, column) in each patch"
    )
    examples = (
        Example("patch_merge", ((3, 4, 6),)),
        Example("patch_merge", ((2, 5, 3),)),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, h, w = _map_input(self.name, ins[0], names[0])
        return (4 * c, -(-h // 2), -(-w // 2))

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        if x.channels is None:
            return SymbolicShape(None, 3)
        four = ar.total([ar.product([])] * 4)
        return SymbolicShape(ar.product([x.channels, four]), 3)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        return Window((2, 2), (2, 2))

    def summary(self, a: Attrs) -> str:
        return "patch merge 2×2"


# counts the peer conventions and the training-memory rules take from window attention's
# two nn.Linear children, which run on every token of every (padded) window
def window_tokens(a: Attrs, ins: Sequence[Shape]) -> int:
    """Tokens the projections see: w² per window of the padded map."""
    _, h, w = ins[0]
    return window_count(a, h, w) * a["window"] ** 2


def window_projection_macs(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """The qkv and proj layers' multiply-accumulates alone (C·3C + C·C per token)."""
    return window_tokens(a, ins) * 4 * ins[0][0] ** 2


def window_bias_adds(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """The additions of the qkv (3C) and proj (C) biases, per token."""
    c = ins[0][0]
    return window_tokens(a, ins) * (3 * c * int(a["bias"]) + c * int(a["proj_bias"]))


def window_linear_params(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """The qkv and proj layers' weight and bias elements, the bias table left out."""
    c = ins[0][0]
    return 4 * c * c + 3 * c * int(a["bias"]) + c * int(a["proj_bias"])
