"""The in-process back ends (a PyTorch module, an ONNX model), found at call time in one place.

The analysis core (:mod:`archc.analysis`, elaboration, passes) never imports :mod:`archc.emit`:
emitters depend on the analysis, not the other way round.  The conveniences
:meth:`Network.to_torch <archc.analysis.Network.to_torch>`, :meth:`Network.to_onnx
<archc.analysis.Network.to_onnx>`, :func:`archc.to_torch` and :func:`archc.to_onnx` reach the
emitters through :func:`backend`, which names them by module path, so importing archc never
imports an emitter (nor torch or onnx).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: back end -> (module, function): the function takes the network first
BACKENDS: dict[str, tuple[str, str]] = {
    "torch": ("archc.emit.pytorch", "to_torch"),
    "onnx": ("archc.emit.onnx", "to_onnx"),
    # how a network shows itself in a notebook: Network._repr_html_ / _repr_markdown_
    "notebook_html": ("archc.report.notebook", "repr_html"),
    "notebook_markdown": ("archc.report.notebook", "repr_markdown"),
}


def backend(name: str) -> Callable[..., Any]:
    """The function that builds ``name``'s in-process object from a network."""
    module, function = BACKENDS[name]
    found: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return found
