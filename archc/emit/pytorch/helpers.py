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
