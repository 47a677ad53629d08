"""torchvision's model builders, importable against the CPU build of torch.

The torchvision wheel the package index serves (``torchvision==0.28.0``, the ``test`` extra) is
built for CUDA: its compiled ops (``torchvision/_C.so``) link ``libtorch_cuda.so``, which the CPU
build of torch does not ship, so they do not load.  torchvision tolerates that
(``torchvision.extension._has_ops()`` is then false), but its ``__init__`` goes on to import
``torchvision._meta_registrations``, which registers fake (meta) kernels for those ops and fails
with ``RuntimeError: operator torchvision::nms does not exist``.  That breaks every
``import torchvision``, also the optional one of ptflops (``import torchvision.ops``, which
catches only ``ImportError``).

The models (``torchvision.models``) are pure Python and use none of the compiled ops.
:func:`allow_torchvision_import` adds an import hook that, when the compiled ops did not load,
gives ``torchvision._meta_registrations`` as an empty module, so fake kernels are registered
only for ops that exist; everything else of torchvision imports as usual.  Where the ops do
load (a CPU build of torchvision) the hook steps aside.  ``tests/conftest.py`` installs it
before any test module imports torchvision; :func:`models` returns ``torchvision.models``.
Nothing here downloads weights: tests build models with ``weights=None``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

META_REGISTRATIONS = "torchvision._meta_registrations"


class _SkipFakeKernelsWithoutOps(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torchvision._meta_registrations`` as an empty module when the ops did not load."""

    def find_spec(
        self,
        fullname: str,
        path: Any = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != META_REGISTRATIONS:
            return None
        # torchvision/__init__ imports torchvision.extension (which tries to load _C) first
        from torchvision import extension

        if extension._has_ops():
            return None  # the compiled ops are there: the real registrations run
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__doc__ = "Skipped by tests/torchvision_models.py: torchvision's ops did not load."


def allow_torchvision_import() -> None:
    """Makes ``import torchvision`` work where its compiled ops cannot load (idempotent)."""
    if not any(isinstance(f, _SkipFakeKernelsWithoutOps) for f in sys.meta_path):
        sys.meta_path.insert(0, _SkipFakeKernelsWithoutOps())


def models() -> Any:
    """``torchvision.models`` (the package must be installed: the ``test`` extra pins it)."""
    allow_torchvision_import()
    import torchvision.models

    return torchvision.models
