"""The library's layers, checked on the source: who may import whom, and how big a module gets.

- Only ``archc/cli/`` knows the command line: no other module imports ``argparse`` or
  ``archc.cli`` (emitters take frozen option dataclasses).
- The analysis core never imports an emitter: emitters depend on the analysis, and the
  conveniences that go the other way (``Network.to_torch``) resolve them in ``archc.backends``.
- No module is over 800 lines: a module that grows past that gets split by concern.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "archc"
MODULES = sorted(PACKAGE.rglob("*.py"))
#: the layers above the analysis core, which may use the emitters
OUTER = ("cli", "emit", "report", "sweep", "backends.py", "__main__.py")
MAX_LINES = 800


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, at any depth (lazy imports in functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports_any(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in _imports(path)
        if any(name == p or name.startswith(p + ".") for p in prefixes)
    )


#: ``python -m archc`` is the CLI's other entry point
CLI = ("cli/", "__main__.py")


@pytest.mark.parametrize("path", [m for m in MODULES if not _rel(m).startswith(CLI)], ids=_rel)
def test_only_the_cli_knows_the_command_line(path: Path) -> None:
    assert _imports_any(path, ("argparse", "archc.cli")) == []


@pytest.mark.parametrize("path", [m for m in MODULES if not _rel(m).startswith(OUTER)], ids=_rel)
def test_the_analysis_core_never_imports_an_emitter(path: Path) -> None:
    assert _imports_any(path, ("archc.emit", "archc.cli", "archc.report")) == []


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_module_is_too_big(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines; split it by concern"


def test_the_back_ends_resolve() -> None:
    from archc.backends import BACKENDS, backend

    for name in BACKENDS:
        assert callable(backend(name))


def test_shipped_spec_lists_skip_dot_files(tmp_path: Path) -> None:
    from tests.conftest import spec_paths

    for name in ("a.arch", ".a.arch.swp.arch", ".hidden.arch", "b.arch", "c.txt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in spec_paths(tmp_path)] == ["a.arch", "b.arch"]
