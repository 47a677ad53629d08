"""The emitted source in process: cached emission, ``to_torch``, weights by canonical name."""

from __future__ import annotations

import linecache
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from archc.analysis import Network
from archc.emit.codegen import (
    py_literal,
)
from archc.emit.pytorch.emitter import Emission, Emitter
from archc.emit.pytorch.helpers import BUILD_FUNCTION
from archc.emit.pytorch.names import INSTALL_HINT
from archc.errors import EmitError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


CACHE: weakref.WeakKeyDictionary[Network, Emission] = weakref.WeakKeyDictionary()


def emission(network: Network) -> Emission:
    """Emit ``network`` (cached per network object)."""
    found = CACHE.get(network)
    if found is None:
        found = Emitter(network).emit()
        CACHE[network] = found
    return found


def module_source(network: Network, seed: int | None = None) -> str:
    """The PyTorch source for ``network``: what ``archc emit --target pytorch`` writes.

    With ``seed``, the file ends with ``build(seed=...)``, which initialises the weights as
    :func:`to_torch` does with that seed (the same values)."""
    result = emission(network)
    if seed is None:
        return result.source
    return result.source + BUILD_FUNCTION.format(cls=result.class_name, seed=py_literal(int(seed)))


def layer_paths(network: Network) -> dict[str, str | None]:
    """IR layer name -> module path in the emitted network (None for an input)."""
    return dict(emission(network).paths)


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(f"PyTorch is not installed: {INSTALL_HINT}") from None
    return torch


def network_class(network: Network) -> type:
    """The network's ``nn.Module`` subclass, from executing the emitted source."""
    import_torch()
    result = emission(network)
    filename = f"<archc-pytorch {network.name}>"
    linecache.cache[filename] = (len(result.source), None, result.source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": f"archc_generated.{network.name}"}
    exec(compile(result.source, filename, "exec"), namespace)
    return namespace[result.class_name]


def to_torch(network: Network, seed: int | None = None, *, device: str = "cpu") -> Any:
    """Build the network as an ``nn.Module`` (the emitted source, executed in process).

    Weights get PyTorch's default initialisation, reproducibly when ``seed`` is given (the
    global RNG is left untouched then), drawn on the CPU and then moved to ``device``, so a seed
    gives the same weights everywhere.  ``device="meta"`` builds the module without memory or
    initialisation: parameter shapes and counts, nothing to run.
    """
    torch = import_torch()
    cls = network_class(network)
    with torch.device("meta"):
        module = cls()
    if device == "meta":
        return module
    module = module.to_empty(device="cpu")
    reset_weights(module, seed)
    return module if device == "cpu" else module.to(device)


def reset_weights(module: Any, seed: int | None = None) -> None:
    """Initialise every layer as its constructor does (``reset_parameters``), in module order."""
    torch = import_torch()
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if reset is not None:
                reset()
            elif any(True for _ in sub.parameters(recurse=False)) or any(
                True for _ in sub.buffers(recurse=False)
            ):
                raise EmitError(f"cannot initialise {type(sub).__name__}: no reset_parameters")


def state_dict_to_weights(network: Network, state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The module's tensors under archc's canonical names (``<layer path>.<role>``), as numpy
    arrays in :meth:`Network.weights` order.  Every tensor but ``num_batches_tracked`` must be
    accounted for."""
    paths = layer_paths(network)
    out: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for canonical, layer, spec in network.weights():
        key = f"{paths[layer]}.{spec.role}"
        if key not in state_dict:
            raise EmitError(f"the state dict has no {key!r} (for {canonical})")
        tensor = state_dict[key]
        if tuple(tensor.shape) != spec.shape:
            raise EmitError(
                f"{key} has shape {tuple(tensor.shape)}, {canonical} needs {spec.shape}"
            )
        out[canonical] = tensor.detach().cpu().numpy()
        used.add(key)
    extra = [k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")]
    if extra:
        raise EmitError(f"the state dict has tensors the network does not declare: {extra[:3]}")
    return out
