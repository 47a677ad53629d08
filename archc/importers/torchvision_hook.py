"""Lets ``import torchvision`` succeed where torchvision's compiled ops cannot load.

The torchvision wheel the package index serves for ``torch==2.13.0`` is built for CUDA: its
compiled ops (``torchvision/_C.so``) link ``libtorch_cuda.so``, which the CPU build of torch does
not ship, so they do not load.  torchvision tolerates that (``torchvision.extension._has_ops()``
is then false), but its ``__init__`` goes on to import ``torchvision._meta_registrations``, which
registers fake (meta) kernels for those ops and fails with ``RuntimeError: operator
torchvision::nms does not exist``.  That breaks every ``import torchvision``, and so ``archc
import torchvision.models:resnet50``.

The models (``torchvision.models``) are pure Python and use none of the compiled ops.
:func:`allow_torchvision_import` adds an import hook that, when the compiled ops did not load,
gives ``torchvision._meta_registrations`` as an empty module, so fake kernels are registered
only for ops that exist; everything else of torchvision imports as usual.  Where the ops do load
(a CPU build of torchvision, or CUDA torch) the hook steps aside and the real registrations run.

:func:`archc.importers.torch_import.load_callable` installs the hook before it imports the module
of a ``module:callable`` reference; the tests install it before anything imports torchvision.
This module imports neither torch nor torchvision.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

__all__ = ["META_REGISTRATIONS", "allow_torchvision_import"]

#: the module whose import fails without the compiled ops
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
        from torchvision import extension  # type: ignore[import-not-found,unused-ignore]

        if extension._has_ops():
            return None  # the compiled ops are there: the real registrations run
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__doc__ = "Left empty by archc.importers.torchvision_hook: torchvision's compiled ops did not load."


def allow_torchvision_import() -> None:
    """Makes ``import torchvision`` work where its compiled ops cannot load (idempotent; the hook
    changes nothing where they do load, nor for any other module)."""
    if not any(isinstance(f, _SkipFakeKernelsWithoutOps) for f in sys.meta_path):
        sys.meta_path.insert(0, _SkipFakeKernelsWithoutOps())
