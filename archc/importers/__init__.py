"""``archc import``: models in other formats become readable ``.arch`` specs.

Each reader turns its source into a :class:`~archc.importers.model.FlatModel` (archc layers in
order, with the source's names as scopes): :mod:`~archc.importers.caffe` (prototxt, parsed by
hand), :mod:`~archc.importers.onnx_import` (onnx only, never torch) and
:mod:`~archc.importers.torch_import` (torch.fx; :mod:`~archc.importers.torchvision_hook` lets
torchvision import where its compiled ops do not load).  :mod:`~archc.importers.structure`
recovers blocks and repeats, :mod:`archc.fmt` lays the text out, and :func:`import_model` checks
that the spec it returns gives the flat model's numbers before returning it.

Nothing here is imported by ``archc analyze``; the readers import onnx and torch lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archc.importers.model import FlatModel, ImportModelError

if TYPE_CHECKING:
    from archc.analysis import Network

FORMATS = ("caffe", "onnx", "torch")


@dataclass(frozen=True)
class Imported:
    """What an import gives: the spec's text and its analysis; ``structured`` says whether
    blocks and repeats were recovered (False: the flat spec, see ``note``)."""

    spec: str
    network: Network
    structured: bool
    note: str = ""


def detect_format(source: str) -> str:
    """``caffe``, ``onnx`` or ``torch`` for a path or a ``module:callable`` reference."""
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".prototxt", ".pbtxt"):
        return "caffe"
    if suffix == ".onnx":
        return "onnx"
    if not path.exists() and ":" in source and not suffix:
        return "torch"
    if path.is_file():
        with path.open("rb") as fh:
            head = fh.read(4096)
        if b"layer" in head and (b"{" in head or b"name:" in head) and b"\0" not in head:
            return "caffe"
        return "onnx"
    if ":" in source:
        return "torch"
    raise ImportModelError(
        f"cannot tell what {source!r} is",
        hints=["name a .prototxt, a .onnx file or module:callable, or pass --from"],
    )


def read(source: Any, fmt: str | None = None, **options: Any) -> FlatModel:
    """The source as archc layers, before structure recovery."""
    if not isinstance(source, str | Path):
        from archc.importers.torch_import import read_torch

        return read_torch(source, **options)
    fmt = fmt or detect_format(str(source))
    if fmt == "caffe":
        from archc.importers.caffe import read_caffe

        return read_caffe(source, name=options.get("name"))
    if fmt == "onnx":
        from archc.importers.onnx_import import read_onnx

        return read_onnx(source, name=options.get("name"))
    if fmt == "torch":
        from archc.importers.torch_import import read_torch

        return read_torch(str(source), **options)
    raise ImportModelError(f"unknown format {fmt!r}", hints=[f"one of {', '.join(FORMATS)}"])


def _fingerprint(net: Network) -> tuple[Any, ...]:
    """Counts and every layer's (op, shape), as a multiset: what structure must not change."""
    totals = net.totals()
    layers = sorted(
        (net.layer(node).op, net.shape(node)) for node in net.order if net.layer(node).op != "input"
    )
    return (totals.params, totals.buffers, totals.macs, tuple(layers))


def to_spec(flat: FlatModel, structure: bool = True) -> Imported:
    """The flat model as a formatted spec, with blocks and repeats where ``structure`` finds
    them and they give the model's numbers (checked layer by layer), else one statement per
    chain."""
    import archc
    from archc.fmt import format_source
    from archc.importers.model import fingerprint, flat_spec, shapes_of
    from archc.importers.structure import structured_spec

    file = f"{flat.name}.arch"
    note = "structure recovery not asked for"
    if structure and flat.layers:
        expected = fingerprint(flat)
        channels = {name: shape[0] for name, shape in shapes_of(flat).items()}
        try:
            text = format_source(structured_spec(flat, channels), file, keep_spacing=False)
            net = archc.load(file, text=text)
        except Exception as exc:  # recovery must never cost the import: fall back to flat
            note = f"structure recovery failed ({type(exc).__name__}: {exc}); flat spec"
        else:
            if _fingerprint(net) == expected:
                return Imported(text, net, True)
            note = "structure recovery changed counts; flat spec"
    plain = format_source(flat_spec(flat), file, keep_spacing=False)
    return Imported(plain, archc.load(file, text=plain), False, note)


def import_model(source: Any, fmt: str | None = None, **options: Any) -> tuple[str, Network]:
    """Import a Caffe prototxt, an ONNX file, a ``module:callable`` or an ``nn.Module``:
    ``(spec_text, network)``."""
    structure = options.pop("structure", True)
    result = to_spec(read(source, fmt, **options), structure)
    return result.spec, result.network


__all__ = [
    "FORMATS",
    "ImportModelError",
    "Imported",
    "detect_format",
    "import_model",
    "read",
    "to_spec",
]
