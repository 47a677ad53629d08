"""archc: a declarative architecture compiler and analyzer for convolutional networks.

``archc.load(path)`` compiles a ``.arch`` spec into an analysed :class:`~archc.analysis.Network`.
Importing archc imports neither torch nor onnx; the emitters that need them import them lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from archc.analysis import Network


def load(path: Any, inputs: Any = None, text: str | None = None, consts: Any = None) -> Network:
    """Compile and analyse a spec; see :func:`archc.analysis.load`."""
    from archc.analysis import load as _load

    return _load(path, inputs=inputs, text=text, consts=consts)


def to_torch(network: Network, seed: int | None = None) -> Any:
    """The network as a PyTorch ``nn.Module`` (the ``torch`` extra); see
    :func:`archc.emit.pytorch.to_torch`."""
    from archc.backends import backend

    return backend("torch")(network, seed=seed)


def to_onnx(network: Network, **options: Any) -> Any:
    """The network as an ONNX ``ModelProto`` (the ``onnx`` extra); see
    :func:`archc.emit.onnx.to_onnx`."""
    from archc.backends import backend

    return backend("onnx")(network, **options)


def import_model(source: Any, **options: Any) -> tuple[str, Network]:
    """Import a Caffe prototxt, an ONNX model, a ``module:callable`` or an ``nn.Module`` as a
    spec: ``(spec_text, network)``; see :func:`archc.importers.import_model`."""
    from archc.importers import import_model as _import_model

    return _import_model(source, **options)


def sweep(spec: Any, axes: Any = None, **options: Any) -> Any:
    """Explore a spec's design space; see :func:`archc.sweep.api.sweep`."""
    from archc.sweep.api import sweep as _sweep

    return _sweep(spec, axes, **options)


__all__ = ["__version__", "import_model", "load", "sweep", "to_onnx", "to_torch"]
