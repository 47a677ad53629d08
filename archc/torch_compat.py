"""Loading torchvision's weights into the modules archc emits.

A spec written after a torchvision model names its layers as the paper does (``stem``,
``stages.1.blocks.0.depthwise.conv``), torchvision as its code does (``features.2.conv.1.0``),
so the two ``state_dict`` s share no keys.  They do share their order: both list the layers as
the network is written, and each layer's tensors in a fixed order.  :func:`load_torchvision`
pairs the layers that hold state, in that order, checks each pair (the kind of layer, every
tensor's shape, the geometry of convolutions, the epsilon and momentum of normalisations) and
copies torchvision's tensors into the emitted module.  Any disagreement is an error that names
both layers.

This module imports torch only when called, and never torchvision: it receives the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archc.errors import ArchError

__all__ = ["TorchCompatError", "load_torchvision"]


class TorchCompatError(ArchError):
    """A torchvision model's state does not fit the emitted module."""

    kind = "torch compat error"


@dataclass(frozen=True)
class _Layer:
    """A module that holds tensors of its own: its path, family and tensors in state order."""

    path: str
    module: Any
    family: str
    #: (name, tensor, is_parameter), ``num_batches_tracked`` left out
    tensors: tuple[tuple[str, Any, bool], ...]
    #: the batch-norm step counter, copied along when both sides have one
    counter: Any

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def describe(self) -> str:
        shapes = ", ".join(f"{n} {_shape_text(t.shape)}" for n, t, _ in self.tensors)
        return f"{self.path or '(root)'} ({type(self.module).__name__}: {shapes})"


def load_torchvision(module: Any, tv_model: Any) -> dict[str, str]:
    """Copy the state of ``tv_model`` (a torchvision model) into ``module`` (archc's emission).

    ``module`` is what ``Network.to_torch()`` builds (or the class of ``archc emit --target
    pytorch``) for a spec of the same network; ``tv_model`` is the torchvision model, built with
    or without weights (``torchvision.models.mobilenet_v2(weights=...)``).  Returns the map from
    each of ``module``'s state keys to the torchvision key it was loaded from.

    How layers are paired: on each side, the layers that hold tensors of their own (conv,
    linear, the normalisations, a layer scale, PReLU) are listed in module order, a module's
    own tensors after its submodules' (torchvision's ConvNeXt block owns its layer scale, which
    it applies after its layers).  The k-th layer of one side is paired with the k-th of the
    other, so a spec lists parallel branches in torchvision's order (RegNet's projection
    shortcut before the main branch).  Loose learned tensors are paired apart, by shape: ViT's
    class token and position embedding are parameters of torchvision's model and encoder
    (listed after everything inside them) and modules of their own in archc's emission.  A
    pair must agree on

    - the family: convolution or linear (a 1×1 convolution, stride 1, no padding or groups,
      matches a linear layer applied per position, as ConvNeXt's pointwise layers are), batch
      norm, layer norm, group norm, instance norm, PReLU, or another layer with tensors;
    - every tensor's role (parameter or buffer) and shape (trailing dimensions of size 1 aside:
      a 1×1 convolution's weight has the shape of a linear layer's, a layer scale's ``C×1×1``
      that of a ``C`` vector);
    - for convolutions, kernel size, stride, padding, dilation and groups; for normalisations,
      ``eps`` and ``momentum``.

    ``num_batches_tracked`` is copied where both sides keep it and never required.  Stateless
    layers (activations, pooling, dropout, the merges) leave no trace in a ``state_dict``: a
    wrong activation or a residual add in the wrong place is found only by comparing outputs,
    which the tests do for every spec written after a torchvision model.

    Raises :class:`TorchCompatError` when the number of layers, a family, a shape or a
    hyperparameter differs, naming both layers; nothing is copied then.
    """
    import torch

    ours, ours_loose = _split_loose(_layers(module))
    theirs, theirs_loose = _split_loose(_layers(tv_model))
    loose = _pair_loose(ours_loose, theirs_loose)
    pairs = list(zip(ours, theirs, strict=False))
    for index, (mine, tv) in enumerate(pairs):
        problem = _mismatch(mine, tv)
        if problem:
            raise TorchCompatError(
                f"layer {index + 1} of {len(ours)}: {problem}: archc's {mine.describe()} "
                f"against torchvision's {tv.describe()}"
            )
    if len(ours) != len(theirs):
        extra, side = (
            (ours, "archc's module") if len(ours) > len(theirs) else (theirs, "torchvision's model")
        )
        raise TorchCompatError(
            f"archc's module has {len(ours)} layers with state, torchvision's model "
            f"{len(theirs)}: {side} goes on with {extra[len(pairs)].describe()}"
        )
    mapping: dict[str, str] = {}
    with torch.no_grad():
        for mine, tv in [*pairs, *loose]:
            for (name, target, _), (tv_name, source, _) in zip(
                mine.tensors, tv.tensors, strict=True
            ):
                target.copy_(source.reshape(target.shape))
                mapping[mine.key(name)] = tv.key(tv_name)
            if mine.counter is not None and tv.counter is not None:
                mine.counter.copy_(tv.counter)
                mapping[mine.key("num_batches_tracked")] = tv.key("num_batches_tracked")
    return mapping


COUNTER = "num_batches_tracked"


def _split_loose(layers: list[_Layer]) -> tuple[list[_Layer], list[_Layer]]:
    """The layers, and apart from them the loose learned tensors: ViT's class token and
    position embedding, which torchvision keeps as parameters of the model and of its encoder
    (listed after all their submodules) and archc's emission as modules of their own, in the
    order the network uses them."""
    kept = [layer for layer in layers if not _is_loose(layer)]
    return kept, [layer for layer in layers if _is_loose(layer)]


#: the module classes of archc's emission that hold one learned tensor (emit/pytorch/helpers)
_LOOSE_HELPERS = ("ClassToken", "PositionEmbedding", "Param")


def _is_loose(layer: _Layer) -> bool:
    if type(layer.module).__name__ in _LOOSE_HELPERS:
        return True
    # a container's own parameter (torchvision's class_token, pos_embedding): a module with
    # children that holds a 1×T×D tensor of its own
    return (
        layer.family == "layer with tensors"
        and any(True for _ in layer.module.children())
        and all(t.dim() == 3 and t.shape[0] == 1 for _, t, _ in layer.tensors)
    )


def _pair_loose(ours: list[_Layer], theirs: list[_Layer]) -> list[tuple[_Layer, _Layer]]:
    """Loose tensors paired by shape (one side's order is not the other's), each of ours with
    the first of theirs of the same shapes; any left over is an error naming it."""
    left = list(theirs)
    pairs = []
    for mine in ours:
        shapes = [tuple(t.shape) for _, t, _ in mine.tensors]
        match = next(
            (tv for tv in left if [tuple(t.shape) for _, t, _ in tv.tensors] == shapes), None
        )
        if match is None:
            raise TorchCompatError(
                f"archc's {mine.describe()} has no learned tensor of its shape in torchvision's "
                "model"
            )
        left.remove(match)
        pairs.append((mine, match))
    if left:
        raise TorchCompatError(
            f"torchvision's {left[0].describe()} has no counterpart in archc's module"
        )
    return pairs


def _layers(model: Any) -> list[_Layer]:
    """The modules of ``model`` that hold persistent tensors of their own, children first."""
    persistent = set(model.state_dict(keep_vars=True))
    found: list[_Layer] = []

    def visit(module: Any, path: str) -> None:
        for name, child in _children_in_use_order(module):
            visit(child, f"{path}.{name}" if path else name)
        tensors: list[tuple[str, Any, bool]] = []
        counter = None
        own = [(n, t, True) for n, t in module.named_parameters(recurse=False)]
        own += [(n, t, False) for n, t in module.named_buffers(recurse=False)]
        for name, tensor, is_parameter in own:
            if tensor is None or (f"{path}.{name}" if path else name) not in persistent:
                continue
            if name == COUNTER:
                counter = tensor
            else:
                tensors.append((name, tensor, is_parameter))
        if tensors:
            found.append(_Layer(path, module, _family(module), tuple(tensors), counter))

    visit(model, "")
    return found


#: torchvision modules whose children run in another order than they are registered in, with
#: the order they run in: Swin's PatchMerging creates its reduction before its norm and applies
#: the norm first (a spec writes the layers in the order they run)
_USE_ORDER = {"PatchMerging": ("norm", "reduction")}


def _children_in_use_order(module: Any) -> list[tuple[str, Any]]:
    children = list(module.named_children())
    order = _USE_ORDER.get(type(module).__name__)
    if order is None or sorted(order) != sorted(name for name, _ in children):
        return children
    return sorted(children, key=lambda item: order.index(item[0]))


def _family(module: Any) -> str:
    from torch import nn

    kinds: list[tuple[str, type | tuple[type, ...]]] = [
        ("convolution or linear", (nn.modules.conv._ConvNd, nn.Linear)),
        ("batch norm", nn.modules.batchnorm._BatchNorm),
        ("layer norm", nn.LayerNorm),
        ("group norm", nn.GroupNorm),
        ("instance norm", nn.modules.instancenorm._InstanceNorm),
        ("PReLU", nn.PReLU),
    ]
    for family, types in kinds:
        if isinstance(module, types):
            return family
    return "layer with tensors"


def _mismatch(mine: _Layer, tv: _Layer) -> str:
    """Why two layers cannot share state, or ``""``."""
    if mine.family != tv.family:
        return f"{mine.family} against {tv.family}"
    if len(mine.tensors) != len(tv.tensors):
        return f"{len(mine.tensors)} tensors against {len(tv.tensors)}"
    for (name, a, a_param), (_, b, b_param) in zip(mine.tensors, tv.tensors, strict=True):
        if a_param != b_param:
            return f"{name} is a {'parameter' if a_param else 'buffer'} against a {'parameter' if b_param else 'buffer'}"
        if _squeezed(a.shape) != _squeezed(b.shape):
            return f"{name} is {_shape_text(a.shape)} against {_shape_text(b.shape)}"
    return _conv_mismatch(mine.module, tv.module) or _norm_mismatch(mine.module, tv.module)


def _conv_mismatch(a: Any, b: Any) -> str:
    from torch import nn

    convs = [m for m in (a, b) if isinstance(m, nn.modules.conv._ConvNd)]
    if len(convs) == 1:  # a convolution against a linear layer: a pointwise one only
        conv = convs[0]
        pointwise = all(k == 1 for k in conv.kernel_size) and all(s == 1 for s in conv.stride)
        unpadded = not isinstance(conv.padding, str) and all(p == 0 for p in conv.padding)
        if not (pointwise and unpadded and conv.groups == 1):
            return "a linear layer against a convolution that is not 1×1, stride 1, unpadded"
    if len(convs) == 2:
        for attribute in ("kernel_size", "stride", "dilation", "groups", "padding"):
            x, y = getattr(a, attribute), getattr(b, attribute)
            if x != y and not (isinstance(x, str) or isinstance(y, str)):
                return f"{attribute} {x} against {y}"
    return ""


def _norm_mismatch(a: Any, b: Any) -> str:
    for attribute in ("eps", "momentum"):
        x, y = getattr(a, attribute, None), getattr(b, attribute, None)
        if x is None and y is None:
            continue
        if x is None or y is None or not math.isclose(x, y, rel_tol=1e-6):
            return f"{attribute} {x} against {y}"
    return ""


def _squeezed(shape: Any) -> tuple[int, ...]:
    dims = tuple(int(d) for d in shape)
    while len(dims) > 1 and dims[-1] == 1:
        dims = dims[:-1]
    return dims


def _shape_text(shape: Any) -> str:
    return "×".join(str(int(d)) for d in shape) or "scalar"
