"""Resource limits (archc/limits.py, docs/security.md): every hostile size or depth from issue 13
ends in a located error with exit code 2 (never a RecursionError, an OverflowError or a hang),
and each limit can be raised.  Also: anonymous-layer naming is linear."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import archc
from archc.cli import main
from archc.errors import ArchError
from archc.limits import DEFAULT, Limits, LimitSyntaxError, use_limits, with_settings

HEAD = "network deep {\n    input x: 3x8x8\n"
TAIL = "    output y = relu\n}\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name deep.arch relative to here


def analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *extra: str):
    path = tmp_path / "deep.arch"
    path.write_text(text)
    started = time.perf_counter()
    code = main(["analyze", "deep.arch", *extra])
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert "internal error" not in err and "Traceback" not in err, err
    return code, out, err


def network(*body: str) -> str:
    return HEAD + "".join(f"    {line}\n" for line in body) + TAIL


def test_defaults_and_settings() -> None:
    assert DEFAULT.layers == 1_000_000
    assert DEFAULT.max_int == 2**63 - 1
    changed = with_settings(DEFAULT, ["layers=5", "elaboration-seconds=1.5"])
    assert (changed.layers, changed.elaboration_seconds) == (5, 1.5)
    for bad in ["layers", "nope=3", "layers=-1", "layers=x", "int_bits=99999"]:
        with pytest.raises(LimitSyntaxError):
            with_settings(DEFAULT, [bad])


def test_bad_limit_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = analyze(tmp_path, capsys, network("relu"), "--limit", "layers=many")
    assert code == 2
    assert "usage error" in err


def test_environment_sets_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHC_LIMITS", "layers=2")
    code, _, err = analyze(tmp_path, capsys, network("relu", "relu"))
    assert code == 2
    assert "more than 2 layers" in err


def test_huge_repeat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = analyze(tmp_path, capsys, network("r = repeat 1000000000 {", "    relu", "}"))
    assert code == 2
    assert err.startswith("deep.arch:3:")
    assert "repeat count 1,000,000,000 is above the limit" in err
    assert "--limit repeat=N" in err


def test_layer_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = network("r = repeat 1000 {", "    s = repeat 1000 {", "        relu", "    }", "}")
    code, _, err = analyze(tmp_path, capsys, text, "--limit", "layers=5000")
    assert code == 2
    assert "more than 5,000 layers" in err


def test_elaboration_time_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = network("r = repeat 3000 {", "    relu", "}")
    code, _, err = analyze(tmp_path, capsys, text, "--limit", "elaboration_seconds=0.000001")
    assert code == 2
    assert "elaboration took longer than" in err


def test_repeats_that_make_no_layers_stop_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = network(
        "r = repeat 100000 {", "    s = repeat 100000 {", "        assert true", "    }", "}"
    )
    code, _, err = analyze(tmp_path, capsys, text, "--limit", "elaboration_seconds=0.2")
    assert code == 2
    assert "elaboration took longer than 0.2 seconds" in err
    code, _, err = analyze(tmp_path, capsys, text, "--limit", "layers=5000")
    assert code == 2
    assert "more than 5,000 asserts" in err


def test_repeated_squaring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    consts = "const c0 = 3\n" + "".join(f"const c{i + 1} = c{i} * c{i}\n" for i in range(30))
    code, _, err = analyze(tmp_path, capsys, consts + network("relu"))
    assert code == 2
    assert "integer too large: more than 63 bits" in err


@pytest.mark.parametrize(
    "literal",
    ["9" * 5000, "9" * 20, "1e999", "1" * 400 + ".5", "9" * 5000 + "M", "3x" + "9" * 5000 + "x2"],
    ids=["4300-digit", "over-int64", "float-inf", "long-float", "quantity", "dims"],
)
def test_huge_literals(tmp_path: Path, capsys: pytest.CaptureFixture[str], literal: str) -> None:
    code, _, err = analyze(tmp_path, capsys, "const big = " + literal + "\n" + network("relu"))
    assert code == 2
    assert err.startswith("deep.arch:1:13:"), err[:200]


def test_adaptive_pool_of_10_to_the_20(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = analyze(tmp_path, capsys, network("adaptive_avgpool(10000000000 * 10000000000)"))
    assert code == 2
    assert "integer too large" in err


def test_float_overflow_in_arithmetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = analyze(tmp_path, capsys, "const f = 1e308 * 10.0\n" + network("relu"))
    assert code == 2
    assert "not finite" in err


def test_huge_tensors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "network big {\n    input x: 9223372036854775807\n    output y = relu\n}\n"
    code, _, err = analyze(tmp_path, capsys, text)
    assert code == 2
    assert "more than the limit of 1,099,511,627,776" in err


def test_big_totals_stay_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values near the limits: totals far above a float's exact range still print (exit 0)."""
    text = (
        "network big {\n    input x: 1000000x1000x1000\n    conv(1000000, 1000) -> flatten\n"
        "    output y = linear(1000)\n}\n"
    )
    for fmt in ("table", "json", "markdown", "csv"):
        code, out, err = analyze(tmp_path, capsys, text, "--format", fmt)
        assert code == 0, err
        assert out


def test_onnx_huge_random_weights_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnx")
    text = "network w {\n    input x: 100000\n    output y = linear(100000)\n}\n"
    path = tmp_path / "w.arch"
    path.write_text(text)
    code = main(["emit", str(path), "--target", "onnx", "-o", str(tmp_path / "w.onnx")])
    _, err = capsys.readouterr()
    assert code == 2
    assert "37.3 GiB, more than the limit" in err
    assert not (tmp_path / "w.onnx").exists()


# ----------------------------------------------------------------------------- depth


@pytest.mark.parametrize(
    "expr",
    [
        " + ".join(["1"] * 1000),
        " * ".join(["1"] * 20000),
        "not " * 2000 + "true",
        "-(" * 1000 + "1" + ")" * 1000,
        "(" * 5000 + "1" + ")" * 5000,
        "(" * 1000 + "1" + ",)" * 1000,
        "1 if true else " * 1000 + "1",
    ],
    ids=["sum-1000", "product-20000", "not-2000", "neg-1000", "parens-5000", "tuple", "cond"],
)
def test_deep_expressions(tmp_path: Path, capsys: pytest.CaptureFixture[str], expr: str) -> None:
    code, _, err = analyze(tmp_path, capsys, f"const k = {expr}\n" + network("relu"))
    if expr.startswith("(((((") and "," not in expr:
        assert code == 0, err  # parentheses alone add no depth
    else:
        assert code == 2
        assert err.startswith("deep.arch:1:"), err[:300]
        assert "--limit expression_depth=N" in err


def test_assert_with_deep_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.arch"
    path.write_text(network("assert params < " + " + ".join(["1"] * 3000)))
    code = main(["check", str(path)])
    out, _ = capsys.readouterr()
    assert code == 2
    assert "expression nested too deeply" in out


def test_deep_statement_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = ["if true {"] * 600 + ["relu"] + ["}"] * 600
    code, _, err = analyze(tmp_path, capsys, network(*body))
    assert code == 2
    assert "statement nested too deeply: more than 100 levels" in err


def test_deep_block_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = "block b0() {\n    relu\n}\n" + "".join(
        f"block b{i}() {{\n    b{i - 1}()\n}}\n" for i in range(1, 200)
    )
    code, _, err = analyze(tmp_path, capsys, blocks + network("b199()"))
    assert code == 2
    assert "nested too deeply: more than 100 levels of if, repeat and block calls" in err
    assert err.startswith("deep.arch:")


def test_deep_include_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(1000):
        (tmp_path / f"inc{i}.arch").write_text(f'include "inc{i + 1}.arch"\n' if i < 999 else "")
    code, _, err = analyze(tmp_path, capsys, 'include "inc0.arch"\n' + network("relu"))
    assert code == 2
    assert "includes nested more than 64 deep" in err


def test_limits_can_be_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = ["if true {"] * 150 + ["relu"] + ["}"] * 150
    code, _, err = analyze(tmp_path, capsys, network(*body))
    assert code == 2
    code, _, err = analyze(tmp_path, capsys, network(*body), "--limit", "nesting=200")
    assert code == 0, err


def test_library_api_uses_limits(tmp_path: Path) -> None:
    path = tmp_path / "n.arch"
    path.write_text(network("relu", "relu"))
    with use_limits(Limits(layers=2)), pytest.raises(ArchError, match="more than 2 layers"):
        archc.load(path)
    assert len(archc.load(path).order) == 4


# ----------------------------------------------------------------------------- stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_stdout_is_an_error_with_a_message(tmp_path: Path) -> None:
    spec = Path(__file__).resolve().parent.parent / "specs" / "lenet5.arch"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "archc", "analyze", str(spec)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert "cannot write output" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_closed_stdout_is_an_error_with_a_message() -> None:
    spec = Path(__file__).resolve().parent.parent / "specs" / "lenet5.arch"
    proc = subprocess.run(
        [sys.executable, "-m", "archc", "analyze", str(spec)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=lambda: __import__("os").close(1),
    )
    assert proc.returncode == 2
    assert "standard output is closed" in proc.stderr


# ----------------------------------------------------------------------------- naming


def _spec(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / f"{name}.arch"
    path.write_text(network(*lines))
    return path


def test_anonymous_names_are_unchanged(tmp_path: Path) -> None:
    path = _spec(tmp_path, "names", ["relu", "relu", "r = relu", "relu as relu_4", "relu", "relu"])
    net = archc.load(path)
    assert net.order == ["x", "relu", "relu_2", "r", "relu_4", "relu_3", "relu_5", "y"]


@pytest.mark.slow
def test_anonymous_naming_is_linear(tmp_path: Path) -> None:
    n = 5_000  # the quadratic naming took 9 s here (35 s at 10,000); linear takes ~1 s
    anonymous = _spec(tmp_path, "anon", ["relu"] * n)
    named = _spec(tmp_path, "named", [f"r{i} = relu" for i in range(n)])
    archc.load(named)  # warm

    def best(path: Path) -> float:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            archc.load(path)
            times.append(time.perf_counter() - start)
        return min(times)

    t_anon, t_named = best(anonymous), best(named)
    assert t_anon < 2 * t_named + 0.2, f"anonymous {t_anon:.2f} s, named {t_named:.2f} s"


@pytest.mark.parametrize(
    "argv",
    [
        ["--batch", str(10**400)],
        ["--batch", "\u09ea"],
        ["--depth", "9" * 30],
        ["--input", "x=3x\u09eax8"],
        ["--input", f"x=3x{10**30}x8"],
    ],
    ids=["batch-10^400", "batch-bengali", "depth-huge", "input-bengali", "input-huge"],
)
def test_command_line_numbers_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    (tmp_path / "deep.arch").write_text(network("relu"))
    with pytest.raises(SystemExit) as exit_:  # argparse rejects it while parsing
        main(["analyze", "deep.arch", *argv])
    assert exit_.value.code == 2
    assert "usage error" in capsys.readouterr().err


def test_largest_batch_still_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = analyze(tmp_path, capsys, network("relu"), "--batch", str(2**63 - 1))
    assert code == 0, err
    assert "TiB" in out
