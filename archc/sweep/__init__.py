"""Design-space exploration: evaluate a spec over a grid or a sample of its constants.

``archc.sweep(spec, axes={...}, where=..., pareto=[...])`` (see :func:`archc.sweep.api.sweep`)
parses the spec once, evaluates every candidate (elaboration and the analysis passes, no
re-parsing) on a local process pool or on Ray, streams every candidate as a row to JSONL, CSV or
Parquet, resumes a killed sweep, and finds the Pareto front.  Modules, one concern each:
``values`` (command-line literals and expressions), ``space`` (axes, grids, samples),
``evaluate`` (one candidate -> one row), ``engines`` (local pool, Ray), ``results`` (files,
resume), ``pareto``, ``report`` (HTML), ``api`` (the driver).

The package module is callable, so ``archc.sweep(...)`` works whether ``archc.sweep`` names the
API function or this package (importing a submodule rebinds the attribute to the package).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, spec: Any, axes: Any = None, **options: Any) -> Any:
        from archc.sweep.api import sweep

        return sweep(spec, axes, **options)


sys.modules[__name__].__class__ = _CallableModule
