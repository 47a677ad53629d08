"""Source text the emitted file may carry besides the generated classes."""

from __future__ import annotations

import re

HELPERS: dict[str, str] = {
    "Slice": '''
class Slice(nn.Module):
    """Channels start to end - 1 of the input (archc's slice), or of dimension dim: a view,
    as x[:, start:end]."""

    def __init__(self, start: int, end: int, dim: int = 1) -> None:
        super().__init__()
        self.start = start
        self.end = end
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.narrow(self.dim, self.start, self.end - self.start)
''',
    "Chain": '''
class Chain(nn.Sequential):
    """Layers applied in order, named as in the spec: an nn.Sequential with names."""

    def __init__(self, **layers: nn.Module) -> None:
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)
''',
    "LayerNorm2d": '''
class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels at each position of an N×C×H×W map (torchvision's
    ConvNeXt LayerNorm2d, whose state dict it shares)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
''',
    "LayerScale": '''
class LayerScale(nn.Module):
    """A learned scale per channel (ConvNeXt's layer_scale): x · scale, scale starting at init."""

    def __init__(self, channels: int, init: float, flat: bool = False) -> None:
        super().__init__()
        self.init = init
        self.scale = nn.Parameter(torch.empty((channels,) if flat else (channels, 1, 1)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.scale, self.init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
''',
    "StochasticDepth": '''
class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth without torchvision: the identity in eval mode; in
    training, zeroes each sample's input ("row") or the whole batch's ("batch") with
    probability p and scales what survives by 1 / (1 - p)."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise
''',
    "Tokens": '''
class Tokens(nn.Module):
    """A map's positions as tokens (archc's tokens): N×C×H×W -> N×(H·W)×C."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)
''',
    "ClassToken": '''
class ClassToken(nn.Module):
    """Prepends a learned token to N×T×D tokens (ViT's class token), starting at zero."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.empty(1, 1, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.token)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)
''',
    "PositionEmbedding": '''
class PositionEmbedding(nn.Module):
    """Adds a learned 1×T×D position embedding to N×T×D tokens (ViT's, drawn with std 0.02)."""

    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, tokens, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight
''',
    "Select": '''
class Select(nn.Module):
    """One token of N×T×D tokens (archc's select): x[:, index], the class token at 0."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]
''',
    "Param": '''
class Param(nn.Module):
    """A learned tensor, the same for every sample (archc's param): called with any tensor of
    the batch, it returns its weight repeated for that batch (a copy: a view of a parameter
    made under no_grad trips torch's module hooks, as FlopCounterMode's)."""

    def __init__(self, shape: tuple[int, ...], std: float = 0.0) -> None:
        super().__init__()
        self.std = std
        self.weight = nn.Parameter(torch.empty(1, *shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.std:
            nn.init.normal_(self.weight, std=self.std)
        else:
            nn.init.zeros_(self.weight)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.weight.expand(batch.shape[0], *self.weight.shape[1:]).clone()
''',
    "Reshape": '''
class Reshape(nn.Module):
    """Each sample in another shape (archc's reshape; -1 takes the rest)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)
''',
    "Permute": '''
class Permute(nn.Module):
    """Each sample's axes in another order (archc's permute; the batch stays first)."""

    def __init__(self, order: tuple[int, ...]) -> None:
        super().__init__()
        self.order = tuple(order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, *(axis + 1 for axis in self.order))
''',
    "SplitHeads": '''
class SplitHeads(nn.Module):
    """N×T×D tokens as N×heads×T×(D/heads) (archc's split_heads)."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)
''',
    "MergeHeads": '''
class MergeHeads(nn.Module):
    """N×heads×T×d back to N×T×(heads·d) tokens (archc's merge_heads)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).flatten(2)
''',
    "Rescale": '''
class Rescale(nn.Module):
    """Multiplies by a constant (archc's rescale: attention's 1/sqrt(d))."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor
''',
    "SelfAttention": '''
class SelfAttention(nn.MultiheadAttention):
    """Multi-head self-attention over N×T×D tokens (archc's attention), written out:
    softmax(Q·Kᵀ/√d)·V per head between the joint q, k, v projection and the output
    projection.  Its tensors and state dict are nn.MultiheadAttention's (as torchvision's ViT
    holds them); only forward differs, so that every product is an op a reader (and a FLOP
    counter) sees."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__(dim, heads, dropout=dropout, bias=bias, batch_first=True)

    def reset_parameters(self) -> None:
        self._reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        n, t, d = x.shape
        depth = d // self.num_heads
        qkv = nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(n, t, 3, self.num_heads, depth).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) * depth**-0.5
        weights = nn.functional.dropout(scores.softmax(dim=-1), self.dropout, self.training)
        context = (weights @ v).transpose(1, 2).reshape(n, t, d)
        return self.out_proj(context)
''',
    "WindowAttention": '''
@torch.fx.wrap
def swin_window_partition(
    x: torch.Tensor, window: int, shift: int
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """An N×C×H×W map as windows of tokens (N·windows × window² × C), channels last: padded to
    whole windows and, when shift > 0, rolled by -shift (not on an axis one window covers), as
    torchvision's shifted_window_attention; with (H, W, shift_h, shift_w) to undo it."""
    n, c, height, width = x.shape
    x = nn.functional.pad(x.permute(0, 2, 3, 1), (0, 0, 0, -width % window, 0, -height % window))
    padded_h, padded_w = x.shape[1], x.shape[2]
    shift_h, shift_w = (shift if padded_h > window else 0), (shift if padded_w > window else 0)
    if shift_h or shift_w:
        x = torch.roll(x, shifts=(-shift_h, -shift_w), dims=(1, 2))
    rows, cols = padded_h // window, padded_w // window
    x = x.view(n, rows, window, cols, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c), (height, width, shift_h, shift_w)


@torch.fx.wrap
def swin_shift_mask(
    scores: torch.Tensor, layout: tuple[int, int, int, int], window: int
) -> torch.Tensor:
    """The scores of shifted windows with -100 between tokens that the roll brought together
    from different regions of the map (torchvision's attention mask); unshifted, as they are."""
    height, width, shift_h, shift_w = layout
    if not (shift_h or shift_w):
        return scores
    region = scores.new_zeros((height + -height % window, width + -width % window))
    count = 0
    for top, bottom in ((0, -window), (-window, -shift_h), (-shift_h, None)):
        for left, right in ((0, -window), (-window, -shift_w), (-shift_w, None)):
            region[top:bottom, left:right] = count
            count += 1
    rows, cols = region.shape[0] // window, region.shape[1] // window
    region = region.view(rows, window, cols, window).permute(0, 2, 1, 3).reshape(rows * cols, -1)
    apart = region.unsqueeze(1) - region.unsqueeze(2)
    mask = apart.masked_fill(apart != 0, -100.0).unsqueeze(1)
    heads, t = scores.shape[1], scores.shape[2]
    return (scores.view(-1, rows * cols, heads, t, t) + mask).view(-1, heads, t, t)


@torch.fx.wrap
def swin_window_merge(
    x: torch.Tensor, layout: tuple[int, int, int, int], window: int
) -> torch.Tensor:
    """Windows of tokens back into the N×C×H×W map: rolled back and cropped."""
    height, width, shift_h, shift_w = layout
    padded_h, padded_w = height + -height % window, width + -width % window
    c = x.shape[-1]
    x = x.view(-1, padded_h // window, padded_w // window, window, window, c)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, padded_h, padded_w, c)
    if shift_h or shift_w:
        x = torch.roll(x, shifts=(shift_h, shift_w), dims=(1, 2))
    return x[:, :height, :width].permute(0, 3, 1, 2)


class WindowAttention(nn.Module):
    """Swin's shifted-window multi-head self-attention on an N×C×H×W map (archc's
    window_attention): torchvision's ShiftedWindowAttention, with its tensors (qkv and proj
    linear layers, the relative position bias table and its int64 index), applied to a
    channels-first map.  Tokens attend within their window, with the bias of their relative
    position; the steps that depend on the map's size are functions torch.fx keeps whole."""

    def __init__(
        self,
        dim: int,
        heads: int,
        window: int = 7,
        shift: int = 0,
        dropout: float = 0.0,
        proj_dropout: float = 0.0,
        bias: bool = True,
        proj_bias: bool = True,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.shift = shift
        self.dropout = dropout
        self.proj_dropout = proj_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        side = 2 * window - 1
        self.relative_position_bias_table = nn.Parameter(torch.empty(side * side, heads))
        self.register_buffer("relative_position_index", torch.empty(window**4, dtype=torch.long))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        w = self.window
        rows, cols = torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
        rows, cols = rows.flatten(), cols.flatten()
        offset_rows = rows[:, None] - rows[None, :] + w - 1
        offset_cols = cols[:, None] - cols[None, :] + w - 1
        with torch.no_grad():
            self.relative_position_index.copy_((offset_rows * (2 * w - 1) + offset_cols).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, heads, depth = self.window**2, self.heads, x.shape[1] // self.heads
        windows, layout = swin_window_partition(x, self.window, self.shift)
        q, k, v = self.qkv(windows).reshape(-1, t, 3, heads, depth).permute(2, 0, 3, 1, 4)
        scores = (q * depth**-0.5) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index]
        scores = scores + bias.view(t, t, heads).permute(2, 0, 1)
        scores = swin_shift_mask(scores, layout, self.window)
        weights = nn.functional.dropout(scores.softmax(dim=-1), self.dropout, self.training)
        context = (weights @ v).transpose(1, 2).reshape(-1, t, heads * depth)
        out = nn.functional.dropout(self.proj(context), self.proj_dropout, self.training)
        return swin_window_merge(out, layout, self.window)
''',
    "PatchMerge": '''
class PatchMerge(nn.Module):
    """Swin's patch merging gather on an N×C×H×W map (archc's patch_merge): each 2×2 patch's
    positions (0, 0), (1, 0), (0, 1), (1, 1) stacked on the channels, odd sizes zero-padded
    first, as torchvision's PatchMerging orders them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        parts = [x[..., 0::2, 0::2], x[..., 1::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 1::2]]
        return torch.cat(parts, dim=1)
''',
}


#: appended to the source by ``--seed``: the network built as ``to_torch(seed=...)`` builds it
BUILD_FUNCTION = """

def build(seed: int | None = {seed}) -> {cls}:
    \"\"\"The network with PyTorch's default initialisation, as archc's to_torch(seed) makes it.\"\"\"
    with torch.device("meta"):
        model = {cls}()
    model = model.to_empty(device="cpu")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if reset is not None:
                reset()
    return model
"""


#: every name a helper's text defines at module level (its class, and functions such as Swin's
#: ``swin_window_partition``): reserved, so that no generated class or spec function takes one
HELPER_NAMES: frozenset[str] = frozenset(
    match.group(1)
    for text in HELPERS.values()
    for match in re.finditer(r"^(?:class|def) (\w+)", text, re.MULTILINE)
)
