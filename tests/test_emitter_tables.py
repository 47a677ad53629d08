"""Every op × every emitter: each back end's table covers exactly the op registry.

The per-emitter test files check what each entry does; this one is the single place that says
"a new op must be taught to every emitter", so adding an op without a PyTorch, ONNX or Graphviz
rendering fails here by name.
"""

from __future__ import annotations

import importlib

import pytest

from archc.ops import REGISTRY

# emitter module -> the name of its op-keyed table
TABLES = {
    "archc.emit.pytorch": "TORCH_OPS",
    "archc.emit.onnx": "LOWERINGS",
    "archc.emit.graphviz": "NODE_STYLE",
}


@pytest.mark.parametrize("op", sorted(REGISTRY))
@pytest.mark.parametrize("module", sorted(TABLES))
def test_every_emitter_knows_every_op(module: str, op: str) -> None:
    table = getattr(importlib.import_module(module), TABLES[module])
    assert op in table, f"{module}.{TABLES[module]} has no entry for op '{op}'"


@pytest.mark.parametrize("module", sorted(TABLES))
def test_no_emitter_knows_ops_that_do_not_exist(module: str) -> None:
    table = getattr(importlib.import_module(module), TABLES[module])
    assert set(table) <= set(REGISTRY), set(table) - set(REGISTRY)


def test_every_emit_target_is_registered() -> None:
    from archc.cli.emit import TARGETS

    assert set(TARGETS.values()) == set(TABLES)
