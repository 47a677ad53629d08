"""PyTorch: readable ``nn.Module`` source for a network, and the module itself in process.

``archc emit SPEC --target pytorch`` writes one Python file: a class per block definition
(GoogLeNet's ``inception`` is one class, instantiated nine times), a class per multi-statement
repeat body, and a class for the network.  :func:`to_torch` executes that same source and
instantiates the network class, so the file and the in-process module are one network.

How the source is made
    The emitter walks the spec's AST the way elaboration does (same statements, same naming
    rules) but *symbolically*: inside a block class the block's parameters are Python
    variables, so ``if``, ``repeat``, constants and expressions over parameters become Python
    (``if project:``, ``for i in range(blocks):``, ``width * 4``).  Input channels are not
    written in a spec; every class takes ``in_channels`` first and tracks each tensor's channel
    count as an expression (:mod:`archc.emit.pyexpr`).  At network level every value is known,
    so every expression folds to a literal: ``Inception(480, 192, 96, 208, 16, 48, 64)``.

What each op becomes
    One entry per registry op in :data:`TORCH_OPS` (:mod:`.table`) (the internal ``input`` op included): the
    module it constructs, how it changes the channel count, rank and spatial size, and whether
    its output may be overwritten by an in-place ReLU.

Names
    Module paths are the IR's layer paths: a block instance, a named chain (a :class:`Chain`, a
    named ``nn.Sequential``), a repeat (an ``nn.Sequential`` indexed 0, 1, ...) are submodules,
    so ``inception_3a.b2.conv`` is ``model.inception_3a.b2.conv``.  Every identifier comes from a
    :class:`~archc.emit.codegen.Namespace`: a spec name that is a Python keyword, an
    ``nn.Module`` attribute (``forward``, ``train``) or, for a local variable, ``torch``, ``nn``,
    ``self`` or a builtin gets a trailing ``_``; a leading double underscore becomes one.  :func:`layer_paths` maps every IR layer to its module path, and the emitter
    checks that map against the IR, so a naming disagreement is an error, never a wrong file.

torch is imported only by :func:`to_torch` and :func:`reset_weights`; writing source needs none.

The package, by concern: :mod:`.table` (the op table), :mod:`.statements` (statement layout),
:mod:`.classgen` (one generated class), :mod:`.emitter` (the whole file), :mod:`.runtime`
(``to_torch``, weights) and :mod:`.target` (``archc emit --target pytorch``).
"""

from __future__ import annotations

from archc.emit.pytorch.emitter import Emission
from archc.emit.pytorch.helpers import BUILD_FUNCTION, HELPERS
from archc.emit.pytorch.names import MODULE_ATTRIBUTES
from archc.emit.pytorch.runtime import (
    emission,
    layer_paths,
    module_source,
    network_class,
    reset_weights,
    state_dict_to_weights,
    to_torch,
)
from archc.emit.pytorch.table import TORCH_OPS, TorchOp
from archc.emit.pytorch.target import PytorchOptions, emit

__all__ = [
    "BUILD_FUNCTION",
    "HELPERS",
    "MODULE_ATTRIBUTES",
    "TORCH_OPS",
    "Emission",
    "PytorchOptions",
    "TorchOp",
    "emission",
    "emit",
    "layer_paths",
    "module_source",
    "network_class",
    "reset_weights",
    "state_dict_to_weights",
    "to_torch",
]
