"""Golden tests for every kind of spec error: location, source line, caret, hints, exit code 2.

Each ``tests/golden/errors/NAME.arch`` is analysed from inside that directory (so file names in
messages are stable); stderr must equal ``NAME.txt``.  After an intended change to a message,
regenerate with ``ARCHC_REGEN_GOLDEN=1 pytest tests/test_errors.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archc.cli import main

GOLDEN = Path(__file__).parent / "golden" / "errors"
CASES = sorted(p.stem for p in GOLDEN.glob("*.arch"))
REGEN = bool(os.environ.get("ARCHC_REGEN_GOLDEN"))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES)
def test_error_golden(case: str, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(GOLDEN)
    code, out, err = run_cli(["analyze", f"{case}.arch"], capsys)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    expected = GOLDEN / f"{case}.txt"
    if REGEN:
        expected.write_text(err, encoding="utf-8")
    assert err == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_error_names_kind_and_location(case: str, capsys, monkeypatch) -> None:
    """Every spec error starts with file:line:col: kind: (file errors with 'file error:')."""
    monkeypatch.chdir(GOLDEN)
    _, _, err = run_cli(["analyze", f"{case}.arch"], capsys)
    first = err.splitlines()[0]
    if case.startswith("file_"):
        assert first.startswith("file error: ")
    else:
        assert re.match(r"^[\w.]+:\d+:\d+: [a-z ]+ error: \S", first), first
        lines = err.splitlines()
        if case != "syntax_empty":  # an empty file has no line to show
            # the source line and a caret line follow
            assert re.match(r"^ +\d+ \| ", lines[1]) and "^" in lines[2]


def test_every_golden_has_expected_output() -> None:
    stray = sorted(p.stem for p in GOLDEN.glob("*.txt") if p.stem not in CASES)
    assert not stray, f"expected outputs without a spec: {stray}"
    kinds = {c.split("_")[0] for c in CASES}
    assert {"syntax", "name", "argument", "value", "shape", "include", "file"} <= kinds


def test_missing_file(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["analyze", "nowhere.arch"], capsys)
    assert code == 2
    assert err == "file error: no such file: nowhere.arch\n"


def test_directory(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.arch").mkdir()
    code, _, err = run_cli(["analyze", "dir.arch"], capsys)
    assert code == 2
    assert err == "file error: dir.arch is a directory, not a .arch file\n"


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)), b"\x89PNG\r\n\x1a\n\x00\x00", os.urandom(64) + b"\x00", b"\xff" * 10],
    ids=["all-bytes", "png", "random", "latin1"],
)
def test_garbage_never_tracebacks(data: bytes, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.arch").write_bytes(data)
    code, out, err = run_cli(["analyze", "garbage.arch"], capsys)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err and err.startswith("file error: garbage.arch is ")


def test_usage_errors_exit_2(capsys) -> None:
    for argv in (
        ["analyze"],
        ["analyze", "x.arch", "--batch", "0"],
        ["analyze", "x.arch", "--format", "yaml"],
        ["analyze", "x.arch", "--input", "image=3xAx2"],
        ["frobnicate"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
        assert "usage error" in capsys.readouterr().err


def test_subprocess_error_is_clean(tmp_path) -> None:
    """The installed entry point prints the same clean message: no traceback, exit 2."""
    spec = tmp_path / "bad.arch"
    spec.write_text("network n {\n    input x: 3x8x8\n    output y = conv(4, 9)\n}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "archc", "analyze", str(spec)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "shape error: kernel 9×9 does not fit the 8×8 input from x" in proc.stderr
