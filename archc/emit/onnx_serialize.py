"""Serialising an ONNX model one weight tensor at a time.

``ModelProto.SerializeToString()`` needs the whole model, weights included, in memory twice (the
message and its bytes): 1.1 GB for VGG-16.  The protobuf wire format does not need that.  A
message is its fields in field-number order, each a key, and for nested messages a length and the
nested bytes.  So the writer serialises the model *without* initializers (a few hundred KB),
splits it where ``graph.initializer`` (graph field 5) and ``model.graph`` (model field 7) go,
computes every length up front from the tensors' shapes, and then writes each initializer's small
header followed by its raw float32 bytes straight from the numpy array, which is dropped before
the next one is made.  The bytes are exactly those ``SerializeToString()`` gives for the full
model (a test holds the two paths to that), so files stay byte-identical across runs.

Models larger than protobuf's 2 GB limit use ONNX external data instead: the ``.onnx`` file holds
the graph and, for each initializer, a (location, offset, length) record pointing into one data
file written beside it.  Offsets are aligned to 4 KiB so runtimes can memory-map the tensors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from archc.emit.onnx_weights import WeightEntry, WeightSource
from archc.ops import elements

if TYPE_CHECKING:
    import numpy as np
    import onnx

#: protobuf cannot serialise a message of 2 GiB or more
PROTOBUF_LIMIT = 2**31 - 1
#: alignment of each tensor in an external data file
ALIGNMENT = 4096

_LENGTH_DELIMITED = 2
_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
_TENSOR_RAW_DATA = 9  # TensorProto.raw_data
_FLOAT = 1  # TensorProto.FLOAT
_FLOAT_BYTES = 4


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int) -> bytes:
    return _varint(field << 3 | _LENGTH_DELIMITED)


def _split(message: onnx.ModelProto | onnx.GraphProto, field: int) -> tuple[bytes, bytes]:
    """The serialised fields of ``message`` numbered below and above ``field`` (which must be unset)."""
    below = type(message)()
    above = type(message)()
    below.CopyFrom(message)
    above.CopyFrom(message)
    for descriptor in message.DESCRIPTOR.fields:
        if descriptor.number < field:
            above.ClearField(descriptor.name)
        elif descriptor.number > field:
            below.ClearField(descriptor.name)
    return below.SerializeToString(), above.SerializeToString()


@dataclass(frozen=True)
class _Piece:
    """One initializer on the wire: everything before its raw bytes, and how many follow."""

    entry: WeightEntry
    prefix: bytes
    nbytes: int


class ModelWriter:
    """Writes ``model`` (a ModelProto without initializers) plus the weights ``source`` makes.

    ``entries`` are the network's weight tensors in initializer order (none without a source).  :attr:`size` is the
    byte size of the single-file model; :meth:`write` streams it; :meth:`write_external` and
    :meth:`write_data` produce the external-data pair instead.
    """

    def __init__(
        self,
        model: onnx.ModelProto,
        entries: Sequence[WeightEntry],
        source: WeightSource | None,
    ) -> None:
        import onnx

        if len(model.graph.initializer):
            raise ValueError("the model must come without initializers")
        self.model = model
        self.entries = list(entries)
        self.source = source
        self._pieces: list[_Piece] = []
        for entry in self.entries:
            name, _, spec = entry
            nbytes = elements(spec.shape) * _FLOAT_BYTES
            head = onnx.TensorProto(
                dims=spec.shape, data_type=_FLOAT, name=name
            ).SerializeToString()
            raw = _key(_TENSOR_RAW_DATA) + _varint(nbytes)
            body = len(head) + len(raw) + nbytes
            self._pieces.append(
                _Piece(entry, _key(_GRAPH_INITIALIZER) + _varint(body) + head + raw, nbytes)
            )
        graph = model.graph
        self._graph_head, self._graph_tail = _split(graph, _GRAPH_INITIALIZER)
        shell = onnx.ModelProto()
        shell.CopyFrom(model)
        shell.ClearField("graph")
        self._model_head, self._model_tail = _split(shell, _MODEL_GRAPH)
        self._graph_size = (
            len(self._graph_head)
            + sum(len(p.prefix) + p.nbytes for p in self._pieces)
            + len(self._graph_tail)
        )
        self.size = (
            len(self._model_head)
            + len(_key(_MODEL_GRAPH))
            + len(_varint(self._graph_size))
            + self._graph_size
            + len(self._model_tail)
        )
        self.weight_bytes = sum(p.nbytes for p in self._pieces)

    # ------------------------------------------------------------------ one file
    def write(self, fh: BinaryIO) -> None:
        """Stream the single-file model: identical to ``SerializeToString()`` of the full model."""
        fh.write(self._model_head)
        fh.write(_key(_MODEL_GRAPH) + _varint(self._graph_size))
        fh.write(self._graph_head)
        for piece in self._pieces:
            values = self._array(piece)
            fh.write(piece.prefix)
            fh.write(values.data.cast("B"))
            del values  # one tensor in memory at a time
        fh.write(self._graph_tail)
        fh.write(self._model_tail)

    # ------------------------------------------------------------------ external data
    def external_model(self, location: str) -> onnx.ModelProto:
        """The model with every initializer pointing into the data file ``location``."""
        import onnx

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        for (name, _, spec), (offset, length) in zip(self.entries, self._offsets(), strict=True):
            tensor = model.graph.initializer.add()
            tensor.dims.extend(spec.shape)
            tensor.data_type = _FLOAT
            tensor.name = name
            for key, value in (
                ("location", location),
                ("offset", str(offset)),
                ("length", str(length)),
            ):
                record = tensor.external_data.add()
                record.key = key
                record.value = value
            tensor.data_location = onnx.TensorProto.EXTERNAL
        return model

    def write_data(self, fh: BinaryIO) -> None:
        """Stream the external data file: each tensor's raw bytes at its aligned offset."""
        position = 0
        for piece, (offset, _) in zip(self._pieces, self._offsets(), strict=True):
            values = self._array(piece)
            fh.write(b"\0" * (offset - position))
            fh.write(values.data.cast("B"))
            del values
            position = offset + piece.nbytes

    def _offsets(self) -> Iterator[tuple[int, int]]:
        offset = 0
        for piece in self._pieces:
            offset = -(-offset // ALIGNMENT) * ALIGNMENT
            yield offset, piece.nbytes
            offset += piece.nbytes

    def _array(self, piece: _Piece) -> np.ndarray:
        assert self.source is not None, "entries without a weight source"
        values = self.source.array(piece.entry)
        if values.nbytes != piece.nbytes:  # pragma: no cover - sources check shapes
            raise ValueError(f"{piece.entry[0]}: {values.nbytes} bytes, expected {piece.nbytes}")
        return values


def add_initializers(
    model: onnx.ModelProto, entries: Sequence[WeightEntry], source: WeightSource
) -> None:
    """Put every weight into ``model.graph.initializer`` as raw float32 (the in-memory path)."""
    for entry in entries:
        name, _, spec = entry
        tensor = model.graph.initializer.add()
        tensor.dims.extend(spec.shape)
        tensor.data_type = _FLOAT
        tensor.name = name
        tensor.raw_data = source.array(entry).tobytes()
