"""Regression tests for the hardening findings of issue 13 (docs/security.md lists them all):
safe writes, the parser-table cache, includes, output hygiene, lines and digits, value checks.

Limits and deep nesting are in test_limits.py; the property-based fuzz test in test_fuzz.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archc import syntax
from archc.cli import main
from archc.errors import EmitError
from archc.fileio import forget_inputs, note_input, write_atomic

ROOT = Path(__file__).resolve().parent.parent
SMALL = (
    "network small {\n    input x: 3x8x8\n    conv(4, 3, pad=1) -> relu\n    output y = relu\n}\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small spec in a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "small.arch"
    path.write_text(SMALL)
    return path


def _temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- writes


def test_dev_null_stays_a_device(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "emit", str(spec), "--target", "dot", "-o", "/dev/null")
    assert code == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_fifo_is_written_through(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = spec.parent / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run(capsys, "emit", str(spec), "--target", "dot", "-o", str(fifo))
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received and received[0].startswith(b"digraph small")


def test_symlink_survives_and_its_target_is_written(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = spec.parent / "real.dot"
    target.write_text("old")
    link = spec.parent / "link.dot"
    link.symlink_to("real.dot")
    code, _, err = run(capsys, "emit", str(spec), "--target", "dot", "-o", str(link))
    assert code == 0, err
    assert link.is_symlink()
    assert target.read_text().startswith("digraph small")


def test_writing_onto_an_input_is_refused(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (spec.parent / "lib.arch").write_text("const k = 3\n")
    spec.write_text('include "lib.arch"\n' + SMALL.replace("conv(4, 3", "conv(4, k"))
    before = spec.read_text()
    for target in (spec, spec.parent / "lib.arch"):
        code, _, err = run(capsys, "emit", str(spec), "--target", "dot", "-o", str(target))
        assert code == 2
        assert "it is an input of this run" in err
    assert spec.read_text() == before


def test_new_files_follow_the_umask_existing_keep_their_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        fresh = write_atomic(tmp_path / "fresh.txt", "x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o600)
        write_atomic(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert kept.read_text() == "new"
    finally:
        os.umask(old)


def test_interrupted_write_leaves_no_temp_file(tmp_path: Path) -> None:
    def interrupted(fh: object) -> None:
        fh.write(b"partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "out.bin", interrupted)
    assert _temps(tmp_path) == []
    assert not (tmp_path / "out.bin").exists()


def test_sigterm_during_a_write_removes_the_temp_file(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from archc.cli import _terminate\n"
        "from archc.fileio import write_atomic\n"
        "signal.signal(signal.SIGTERM, _terminate)\n"
        "def produce(fh):\n"
        "    fh.write(b'partial')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "write_atomic(sys.argv[1], produce)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out.bin")], capture_output=True, timeout=60
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_file_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".out.txt.archc-{dead}.abc123.tmp"
    stale.write_text("left by a killed run")
    other = tmp_path / ".unrelated.tmp"
    other.write_text("not ours")
    write_atomic(tmp_path / "out.txt", "done")
    assert not stale.exists()
    assert other.exists()


@pytest.mark.parametrize("target", ["pytorch", "dot"])
def test_dash_means_stdout_for_every_target(
    spec: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    code, out, err = run(capsys, "emit", str(spec), "--target", target, "-o", "-")
    assert code == 0, err
    assert out.strip()
    assert not (spec.parent / "-").exists()


def test_check_dash_means_stdout(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(spec), "--format", "json", "-o", "-")
    assert code == 0
    assert json.loads(out)["schema"] == "archc.check/1"
    assert not (spec.parent / "-").exists()


def test_trailing_slash_names_a_directory(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "emit", str(spec), "--target", "dot", "-o", "newdir/")
    assert code == 2
    assert "does not exist" in err
    assert not (spec.parent / "newdir").exists()


def test_note_input_survives_forget(tmp_path: Path) -> None:
    path = tmp_path / "in.arch"
    path.write_text("x")
    note_input(path)
    with pytest.raises(EmitError):
        write_atomic(path, "y")
    forget_inputs()
    write_atomic(path, "y")
    assert path.read_text() == "y"


# ----------------------------------------------------------------------------- parser tables


def test_parser_tables_never_come_from_the_shared_temp_folder() -> None:
    source = (ROOT / "archc" / "syntax.py").read_text()
    assert "cache=True" not in source
    assert "cache=str(cache) if cache else False" in source


def test_parser_table_cache_is_private_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHC_CACHE_DIR", str(tmp_path / "cache"))
    before = {p.name for p in Path(tempfile.gettempdir()).glob(".lark_cache*")}
    syntax._parser.cache_clear()
    try:
        syntax._parser()
        directory = tmp_path / "cache"
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        tables = list(directory.glob("tables-*.lark"))
        assert len(tables) == 1
        assert stat.S_IMODE(tables[0].stat().st_mode) == 0o600
        assert tables[0].with_suffix(".sha256").exists()
        grammar = (ROOT / "archc" / "grammar.lark").read_text()
        assert syntax.table_cache(grammar) == tables[0]  # sound: kept
        with tables[0].open("ab") as fh:  # altered (or half-written): deleted, rebuilt
            fh.write(b"tampered")
        assert syntax.table_cache(grammar) == tables[0]
        assert not tables[0].exists()
        syntax._parser.cache_clear()
        syntax._parser()
        assert syntax.parse(SMALL, "x.arch").networks
    finally:
        syntax._parser.cache_clear()
    assert {p.name for p in Path(tempfile.gettempdir()).glob(".lark_cache*")} <= before


def test_no_cache_where_others_may_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("ARCHC_CACHE_DIR", str(shared))
    assert syntax.cache_dir() is None
    monkeypatch.setenv("ARCHC_CACHE_DIR", "")
    assert syntax.cache_dir() is None


# ----------------------------------------------------------------------------- includes


def _with_include(spec: Path, include: str) -> None:
    spec.write_text(f'include "{include}"\n' + SMALL)


def test_include_of_dev_zero_is_refused(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _with_include(spec, "/dev/zero")
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    assert "outside the spec's directory" in err


def test_include_of_a_fifo_is_refused_without_blocking(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(spec.parent / "lib.fifo")
    _with_include(spec, "lib.fifo")
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    assert "not a regular file" in err


def test_include_size_cap(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (spec.parent / "big.arch").write_text("# padding\n" * 100)
    _with_include(spec, "big.arch")
    code, _, err = run(capsys, "analyze", str(spec), "--limit", "include_bytes=500")
    assert code == 2
    assert "larger than 500 bytes" in err
    assert run(capsys, "analyze", str(spec))[0] == 0


def test_include_outside_the_project_is_refused_and_never_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    secret = tmp_path / "secret.arch"
    secret.write_text("password = hunter2\n")
    main_spec = project / "net.arch"
    main_spec.write_text('include "../secret.arch"\n' + SMALL)
    monkeypatch.chdir(project)
    for argv in (["net.arch"], ["net.arch", "--include-path", str(tmp_path / "elsewhere")]):
        code, _, err = run(capsys, "analyze", *argv)
        assert code == 2
        assert "outside the spec's directory" in err
        assert "hunter2" not in err
    # an explicit --include-path allows it (and then it is the user's own file to quote)
    code, _, err = run(capsys, "analyze", "net.arch", "--include-path", str(tmp_path))
    assert code == 2
    assert "syntax error" in err


def test_link_out_of_the_project_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.arch").write_text("const k = 3\n")
    (project / "lib.arch").symlink_to(tmp_path / "outside.arch")
    (project / "net.arch").write_text('include "lib.arch"\n' + SMALL)
    monkeypatch.chdir(project)
    code, _, err = run(capsys, "analyze", "net.arch")
    assert code == 2
    assert "outside the spec's directory" in err


def test_includes_inside_the_project_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "analyze", str(ROOT / "specs" / "resnet18.arch"))
    assert code == 0, err


# ----------------------------------------------------------------------------- output hygiene


def test_control_characters_reach_the_terminal_visibly(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec.write_text(SMALL.replace("output y = relu", 'output y = relu\n    x = "\x1b]0;pwned\x07"'))
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err
    assert "\u241b" in err and "\u2407" in err


def test_check_text_report_cannot_forge_workflow_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    forged = tmp_path / "::warning::forged.arch"
    forged.write_text(SMALL.replace("output y", 'assert params < 1, "\r::error::x"\n    output y'))
    newline = tmp_path / "a\n::error::b.arch"
    newline.write_text("network (")
    code, out, _ = run(capsys, "check", forged.name, newline.name)
    assert code == 2
    for line in out.splitlines():
        assert not line.lstrip().startswith("::"), line
    assert "\r" not in out


def test_junit_is_well_formed_xml_with_control_characters(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec.write_text(
        SMALL.replace("output y", 'assert params < 1, "bell\x07 esc\x1b nul"\n    output y')
    )
    code, out, _ = run(capsys, "check", str(spec), "--format", "junit")
    assert code == 1
    root = ET.fromstring(out.encode("utf-8"))
    assert root.get("failures") == "1"


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_outputs_are_strict(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_text(SMALL.replace("output y", "assert params / 1 > 0.5\n    output y"))
    code, out, _ = run(capsys, "check", str(spec), "--format", "json", "--max-params", "0")
    assert code == 1
    _strict(out)
    code, out, _ = run(capsys, "analyze", str(spec), "--format", "json")
    assert code == 0
    _strict(out)


HTML_SPEC = """block b(mode="<img src=x onerror=alert(1)>") {
    relu
}
network html {
    input x: 3x8x8
    conv(4, 3)
    output y = b()
}
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "--format", "markdown", "--depth", "1"],
        ["report", "--format", "markdown"],
        ["report"],
    ],
    ids=["analyze-md", "report-md", "report-html"],
)
def test_markdown_and_html_escape_spec_strings(
    spec: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    spec.write_text(HTML_SPEC)
    code, out, err = run(capsys, argv[0], str(spec), *argv[1:])
    assert code == 0, err
    assert "<img" not in out
    if "markdown" in argv:
        assert "&lt;img src=x onerror=alert(1)&gt;" in out  # shown, escaped


# ----------------------------------------------------------------------------- lines, digits


@pytest.mark.parametrize("separator", ["\f", "\x85", "\u2028", "\u2029", "\x1c", "\r"])
def test_excerpt_shows_the_line_the_lexer_counted(
    spec: Path, capsys: pytest.CaptureFixture[str], separator: str
) -> None:
    spec.write_text(
        f"network n {{\n    # a{separator}b\n    input x: 3x8x8\n    output y = bogus\n}}\n"
    )
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    lines = err.splitlines()
    assert lines[0].startswith("small.arch:4:")
    assert "output y = bogus" in lines[1]


def test_byte_order_mark_is_accepted(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    code, out, err = run(capsys, "analyze", str(spec))
    assert code == 0, err
    assert "small" in out


@pytest.mark.parametrize("digit", ["\u09ea", "\u0664", "\uff13", "\U0001d7dd"])
def test_only_ascii_digits_are_numbers(
    spec: Path, capsys: pytest.CaptureFixture[str], digit: str
) -> None:
    spec.write_text(SMALL.replace("conv(4, 3", f"conv({digit}, 3"))
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    assert "syntax error: unexpected character" in err


# ----------------------------------------------------------------------------- value checks


@pytest.mark.parametrize("eps", ["0.0", "0", "-1e-5", "1e308 * 10"])
def test_batchnorm_eps_must_be_finite_and_positive(
    spec: Path, capsys: pytest.CaptureFixture[str], eps: str
) -> None:
    spec.write_text(SMALL.replace("-> relu", f"-> batchnorm(eps={eps})"))
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    assert "small.arch:3:" in err


def test_duplicate_block_parameters(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_text(
        "block a(w, w) {\n    conv(w, 3)\n}\n"
        + SMALL.replace("relu\n    output", "a(2, 3)\n    output")
    )
    code, _, err = run(capsys, "emit", str(spec), "--target", "pytorch")
    assert code == 2
    assert err.startswith("small.arch:1:12: name error: block 'a' has two parameters named 'w'")


def test_block_named_like_an_op(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_text("block relu(w) {\n    conv(w, 3)\n}\n" + SMALL)
    code, _, err = run(capsys, "analyze", str(spec))
    assert code == 2
    assert err.startswith("small.arch:1:1: name error: block 'relu' has the name of an op")


@pytest.mark.parametrize(
    "test", ['params == "x"', 'params != "7M"', "params == (1, 2)", "true == 1"]
)
def test_comparing_different_kinds_is_an_error(
    spec: Path, capsys: pytest.CaptureFixture[str], test: str
) -> None:
    spec.write_text(SMALL.replace("output y", f"assert {test}\n    output y"))
    code, out, _ = run(capsys, "check", str(spec))
    assert code == 2
    assert "cannot compare" in out


def test_table_output_shows_control_characters_visibly(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec.write_text(
        'block b(mode="\x1b[31mred\x07") {\n    relu\n}\n'
        "network n {\n    input x: 3x8x8\n    conv(4, 3)\n    output y = b()\n}\n"
    )
    code, out, err = run(capsys, "analyze", str(spec), "--depth", "1")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert 'b("\u241b[31mred\u2407")' in out


def test_svg_with_control_characters_in_spec_strings_is_well_formed(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    spec.write_text(
        'block b(mode="\x1b[31mred\x07") {\n    relu\n}\n'
        "network n {\n    input x: 3x8x8\n    conv(4, 3)\n    output y = b()\n}\n"
    )
    target = spec.parent / "n.svg"
    code, _, err = run(
        capsys, "emit", str(spec), "--target", "svg", "--depth", "1", "-o", str(target)
    )
    assert code == 0, err
    ET.parse(target)


def test_huge_adaptive_pools_are_analysed_at_once(tmp_path: Path) -> None:
    """adaptive pooling's window and FLOPs are closed forms: no loop over 900 million bins."""
    import time

    import archc

    spec = tmp_path / "huge.arch"
    spec.write_text(
        "network n {\n input x: 1x30000x30000\n output y = adaptive_maxpool(29999)\n}\n"
    )
    start = time.perf_counter()
    net = archc.load(spec)
    assert net.totals().flops > 0
    assert time.perf_counter() - start < 30  # it took minutes; it is now milliseconds


def test_markdown_report_to_stdout_writes_no_svg_named_dash(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "archc",
            "report",
            str(Path("specs/lenet5.arch").resolve()),
            "--format",
            "markdown",
            "-o",
            "-",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and run.stdout.startswith("### lenet5")
    assert list(tmp_path.iterdir()) == []


def test_diff_takes_the_limits_too() -> None:
    import subprocess
    import sys

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "archc",
            "diff",
            "specs/vgg16.arch",
            "specs/vgg19.arch",
            "--limit",
            "layers=10",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "more than 10 layers" in run.stderr
