"""Source text the emitted file may carry besides the generated classes."""

from __future__ import annotations

HELPERS: dict[str, str] = {
    "Slice": '''
class Slice(nn.Module):
    """Channels start to end - 1 of the input (archc's slice): a view, as x[:, start:end]."""

    def __init__(self, start: int, end: int) -> None:
        super().__init__()
        self.start = start
        self.end = end

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.end]
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
