"""Load an ONNX file for the importer: its graph and its weights' shapes, checked.

:func:`load_onnx` reads the file (``onnx.load``, external data left where it is), drops the
bytes of every large initializer once their size is checked against the tensor's shape (the
importer needs shapes only; small ones stay, for a Reshape's target or a Clip's bounds), and
runs ``onnx.checker`` on what is left, those initializers standing as graph inputs.  Checking
the file instead would parse every weight a second time (0.35 s and 240 MB for ResNet-152:
docs/performance.md).  Errors are :class:`~archc.importers.model.ImportModelError` naming the
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archc.importers.model import ImportModelError

__all__ = ["SMALL", "load_onnx"]

SMALL = 4096  # initializers up to this many elements are read as values (shapes, bounds)


def load_onnx(path: Path) -> Any:
    """The ``ModelProto`` at ``path``, checked, without its large initializers' bytes."""
    try:
        import onnx
    except ImportError as exc:
        from archc.errors import MissingDependencyError

        raise MissingDependencyError(
            "importing ONNX needs the onnx package", hints=["pip install 'archc[onnx]'"]
        ) from exc
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ImportModelError(f"{path}: not an ONNX model ({exc})") from None
    dropped = _drop_weight_bytes(model, path)
    try:
        onnx.checker.check_model(_checkable(model, dropped))
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportModelError(f"{path}: onnx.checker rejects the model: {message}") from None
    return model


#: bytes per element of TensorProto's data types: FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64,
#: BOOL, FLOAT16, DOUBLE, UINT32, UINT64, COMPLEX64, COMPLEX128, BFLOAT16, the four FLOAT8s
#: (STRING and the packed 4-bit types are not checked)
_ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8,
             15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1}  # fmt: skip


def _drop_weight_bytes(model: Any, path: Path) -> list[Any]:
    """Clear the bytes of every large initializer (the importer needs their shapes only),
    after checking that their size fits their shape and type: the one check of a tensor's data
    that ``onnx.checker`` would have made.  Returns the initializers cleared, and those whose
    data lies in another file (never read: ``load_external_data=False``)."""
    dropped = []
    for init in model.graph.initializer:
        if init.data_location == init.EXTERNAL:
            dropped.append(init)
            continue
        if not init.HasField("raw_data") or len(init.raw_data) <= 4 * SMALL:
            continue
        count = 1
        for d in init.dims:
            count *= int(d)
        itemsize = _ITEMSIZE.get(init.data_type)
        if itemsize is not None and len(init.raw_data) != count * itemsize:
            raise ImportModelError(
                f"{path}: onnx.checker rejects the model: initializer {init.name!r} has "
                f"{len(init.raw_data)} bytes, its shape {tuple(init.dims)} needs {count * itemsize}"
            )
        init.ClearField("raw_data")
        dropped.append(init)
    return dropped


def _checkable(model: Any, dropped: list[Any]) -> Any:
    """``model`` as ``onnx.checker`` can take it without its weights' bytes: the cleared
    initializers become graph inputs of their type and shape (a model without weights, as
    ``archc emit --weights none`` writes).  Checking the file instead would parse every weight
    a second time (0.35 s and 240 MB for ResNet-152)."""
    if not dropped:
        return model
    from onnx import ModelProto, helper

    names = {init.name for init in dropped}
    checked = ModelProto()
    checked.CopyFrom(model)
    graph = checked.graph
    kept = [init for init in graph.initializer if init.name not in names]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    declared = {vi.name for vi in graph.input}
    for init in dropped:
        if init.name not in declared:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, init.dims))
    return checked
