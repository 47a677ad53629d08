"""Source text the emitted file may carry besides the generated classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    pass


HELPERS: dict[str, str] = {
    "Chain": '''
class Chain(nn.Sequential):
    """Layers applied in order, named as in the spec; the first may join several tensors."""

    def __init__(self, **layers: nn.Module) -> None:
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        first, *rest = self
        x = first(*inputs)
        for layer in rest:
            x = layer(x)
        return x
''',
    "Concat": '''
class Concat(nn.Module):
    """Joins tensors along the channel (or feature) dimension."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(inputs, dim=1)
''',
    "Add": '''
class Add(nn.Module):
    """Elementwise sum of same-shaped tensors (a residual connection)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total
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
