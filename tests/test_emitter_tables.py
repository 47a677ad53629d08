"""Every op × every emitter: the one place that says "a new op must be taught to every emitter".

An op is written in three places: its registry entry (``archc/ops/``), its row in the PyTorch
table and its lowering in the ONNX table.  This file is the single guard that each op has both
rows (so an op without one fails here by name), and that the emitters which derive their
rendering from the registry (Graphviz: a style from the op's traits) give every op one.  What
each row does is checked per op and example by ``tests/test_op_examples.py``.
"""

from __future__ import annotations

import importlib

import pytest

from archc.emit import graphviz
from archc.ops import REGISTRY

#: emitter module -> its op-keyed table: every registry op needs a row, written by hand
TABLES = {
    "archc.emit.pytorch": "TORCH_OPS",
    "archc.emit.onnx": "LOWERINGS",
}
#: emitters that derive an op's rendering from its registry entry: no row to write
DERIVED = {"archc.emit.graphviz"}


@pytest.mark.parametrize("op", sorted(REGISTRY))
@pytest.mark.parametrize("module", sorted(TABLES))
def test_every_op_has_a_row_in_every_emitter_table(module: str, op: str) -> None:
    table = getattr(importlib.import_module(module), TABLES[module])
    assert op in table, f"{module}.{TABLES[module]} has no entry for op '{op}'"


@pytest.mark.parametrize("module", sorted(TABLES))
def test_no_emitter_knows_ops_that_do_not_exist(module: str) -> None:
    table = getattr(importlib.import_module(module), TABLES[module])
    assert set(table) <= set(REGISTRY), set(table) - set(REGISTRY)


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_every_op_gets_a_diagram_style_from_its_traits(op: str) -> None:
    name = graphviz.style_name(REGISTRY[op])
    assert name is not None, f"op '{op}' has no trait with a style: add one to graphviz.STYLES"
    assert name in graphviz.STYLES, f"op '{op}' names an unknown diagram_style '{name}'"


def test_every_emit_target_is_covered() -> None:
    from archc.cli.emit import TARGETS

    modules = {getattr(target, "module", target) for target in TARGETS.values()}
    assert modules == set(TABLES) | DERIVED
