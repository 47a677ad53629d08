"""torchvision's model builders for the tests, importable against the CPU build of torch.

The hook that makes ``import torchvision`` work where its compiled ops do not load (the
registry's torchvision wheel is a CUDA build) ships with archc:
:mod:`archc.importers.torchvision_hook`, whose docstring tells the story.  ``tests/conftest.py``
installs it before any test module imports torchvision (ptflops does, optionally);
:func:`models` returns ``torchvision.models``.  Nothing here downloads weights: tests build
models with ``weights=None``.
"""

from __future__ import annotations

from typing import Any

from archc.importers.torchvision_hook import META_REGISTRATIONS, allow_torchvision_import

__all__ = ["META_REGISTRATIONS", "allow_torchvision_import", "models"]


def models() -> Any:
    """``torchvision.models`` (the package must be installed: the ``test`` extra pins it)."""
    allow_torchvision_import()
    import torchvision.models

    return torchvision.models
