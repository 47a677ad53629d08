"""Analysis passes, run in a fixed order over the IR.  Each writes one annotation key."""

from __future__ import annotations

import networkx as nx

from archc.passes.costs import count_costs
from archc.passes.memory import G_PEAK, plan_memory
from archc.passes.receptive_field import receptive_fields
from archc.passes.shapes import infer_shapes

PIPELINE = (infer_shapes, count_costs, plan_memory, receptive_fields)


def run_passes(g: nx.DiGraph) -> nx.DiGraph:
    for p in PIPELINE:
        p(g)
    return g


__all__ = ["G_PEAK", "PIPELINE", "run_passes"]
