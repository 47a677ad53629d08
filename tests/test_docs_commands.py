"""Every command the documentation shows as runnable is run, and its output compared.

A runnable example in README.md or docs/*.md is a fenced ``console`` block right after the line
``<!-- run -->``.  In it, a line starting with ``$ `` is a command (run by bash, with archc on the
``PATH``); the lines after it, up to the next command, are what it prints (standard output and
standard error together, as a terminal shows them).  A line ``...`` stands for any number of
lines, so an example can show an excerpt.  Trailing blanks are ignored.

The commands run in a fresh directory in which ``specs`` is the repository's ``specs/``, so the
paths read as they do in the docs and files the examples write go nowhere else; ``COLUMNS`` is
unset (tables print at full width unless the example sets it) and ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

MARKER = "<!-- run -->"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELLIPSIS = "..."


@dataclass(frozen=True)
class Example:
    doc: str  # "docs/cli.md:120"
    command: str
    expected: tuple[str, ...]


def examples(path: Path) -> list[Example]:
    """The commands of every runnable block of ``path``, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != MARKER:
            i += 1
            continue
        fence = lines[i + 1] if i + 1 < len(lines) else ""
        where = f"{path.relative_to(ROOT)}:{i + 2}"
        assert fence.startswith("```console"), f"{where}: {MARKER} must precede a ```console block"
        j = i + 2
        block: list[tuple[int, str]] = []
        while j < len(lines) and not lines[j].startswith("```"):
            block.append((j + 1, lines[j]))
            j += 1
        assert j < len(lines), f"{where}: the block is not closed"
        command: tuple[int, str] | None = None
        expected: list[str] = []
        for number, text in [*block, (0, "$ ")]:
            if text.startswith("$ "):
                if command is not None:
                    doc = f"{path.relative_to(ROOT)}:{command[0]}"
                    out.append(Example(doc, command[1], tuple(expected)))
                command, expected = (number, text[2:]), []
            else:
                assert command is not None, f"{path.relative_to(ROOT)}:{number}: output first"
                expected.append(text.rstrip())
        i = j + 1
    return out


ALL = [e for doc in DOCS for e in examples(doc)]


def matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Whether ``actual`` is ``expected``, each ``...`` line standing for any lines."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line == ELLIPSIS else re.escape(line) + r"\n" for line in expected
    )
    text = "".join(line + "\n" for line in actual)
    return re.fullmatch(pattern, text) is not None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for all examples (a later command may read what an earlier one wrote)."""
    path = tmp_path_factory.mktemp("docs")
    (path / "specs").symlink_to(ROOT / "specs", target_is_directory=True)
    return path


def test_the_docs_have_runnable_examples() -> None:
    docs = {e.doc.split(":")[0] for e in ALL}
    assert {"README.md", "docs/cli.md", "docs/diagrams.md"} <= docs
    assert len(ALL) >= 5


@pytest.mark.parametrize("example", ALL, ids=[e.doc for e in ALL])
def test_example(example: Example, workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["NO_COLOR"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "-c", example.command],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    actual = [line.rstrip() for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, f"{example.doc}: `{example.command}` failed:\n{proc.stdout}"
    assert matches(example.expected, actual), (
        f"{example.doc}: `{example.command}` printed\n" + "\n".join(actual)
    )


def test_matches() -> None:
    assert matches(("a", "...", "d"), ["a", "b", "c", "d"])
    assert matches(("a", "...", "b"), ["a", "b"])
    assert not matches(("a", "b"), ["a", "b", "c"])
    assert not matches(("a", "...", "d"), ["a", "b"])
