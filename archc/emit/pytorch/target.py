"""``archc emit --target pytorch`` as a library call: options in, source bytes out."""

from __future__ import annotations

from dataclasses import dataclass

from archc.analysis import Network
from archc.emit.pytorch.runtime import module_source


@dataclass(frozen=True)
class PytorchOptions:
    """What the PyTorch target can be asked for.

    ``seed`` appends ``build(seed)`` to the file, which initialises the weights exactly as
    ``to_torch(seed=...)`` does.
    """

    seed: int | None = None


def emit(network: Network, options: PytorchOptions | None = None) -> bytes:
    """The module source for ``network``, as UTF-8 bytes (what ``-o`` writes)."""
    options = options or PytorchOptions()
    return module_source(network, options.seed).encode("utf-8")
