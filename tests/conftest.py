"""Shared test helpers: the shipped specs, and a cached loader so suites share compiled networks."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import archc
from archc.analysis import Network
from tests.torchvision_models import allow_torchvision_import

# before anything imports torchvision (ptflops does): its compiled ops do not load against the
# CPU build of torch, and the hook keeps that from failing the import (see its docstring)
allow_torchvision_import()

ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = ROOT / "specs"
#: every network spec shipped in specs/ (not specs/lib/, which holds only blocks)


def spec_paths(directory: Path) -> list[Path]:
    """The ``.arch`` files in ``directory``, without dot-files (editor backups, temp files),
    which pathlib's glob would match."""
    return sorted(p for p in directory.glob("*.arch") if not p.name.startswith("."))


SPEC_PATHS = spec_paths(SPECS_DIR)
SPEC_IDS = [p.stem for p in SPEC_PATHS]
#: GoogLeNet's inception block instances, in Table 1's order (specs/googlenet.arch)
GOOGLENET_INCEPTIONS = [
    "inception_3a", "inception_3b", "inception_4a", "inception_4b", "inception_4c",
    "inception_4d", "inception_4e", "inception_5a", "inception_5b",
]  # fmt: skip
#: the small example specs in specs/examples/
EXAMPLE_PATHS = spec_paths(SPECS_DIR / "examples")


@cache
def load_spec(name: str) -> Network:
    """The compiled network for ``specs/<name>.arch`` (cached: treat it as read-only)."""
    return archc.load(SPECS_DIR / f"{name}.arch")


@pytest.fixture(params=SPEC_IDS)
def spec_name(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over every shipped spec."""
    return request.param
