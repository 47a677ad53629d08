"""archc check: limit parsing, the assertion vocabulary, exit codes, reports (text, JSON, JUnit)
and GitHub annotations, on the real zoo specs."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archc
from archc.budget import METRICS, check_assertions, check_network, parse_limit
from archc.cli import main
from archc.errors import ArchError, BudgetError, SpecNameError
from archc.units import BYTE_SUFFIXES, COUNT_SUFFIXES, QuantityError
from tests.conftest import GOOGLENET_INCEPTIONS, SPECS_DIR, load_spec

GOOGLENET = str(SPECS_DIR / "googlenet.arch")
VGG16 = str(SPECS_DIR / "vgg16.arch")
RESNET50 = str(SPECS_DIR / "resnet50.arch")

GOOGLENET_PARAMS = 6_998_552
GOOGLENET_MACS = 1_582_671_872
VGG16_PARAMS = 138_357_544


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def with_asserts(tmp_path: Path, spec: str, asserts: str, block: str | None = None) -> Path:
    """A copy of ``specs/<spec>.arch`` (and specs/lib) in tmp_path with ``asserts`` appended to
    the network body, or to the body of ``block``."""
    text = (SPECS_DIR / f"{spec}.arch").read_text()
    lines = "".join(f"    {line.strip()}\n" for line in asserts.strip().splitlines())
    if block is None:
        end = text.rindex("}")
        text = text[:end] + lines + text[end:]
    else:
        start = text.index(f"block {block}(")
        end = text.index("\n}\n", start) + 1
        text = text[:end] + lines + text[end:]
    shutil.copytree(SPECS_DIR / "lib", tmp_path / "lib", dirs_exist_ok=True)
    path = tmp_path / f"{spec}.arch"
    path.write_text(text)
    return path


def assert_line(path: Path, needle: str) -> int:
    """The 1-based line of ``path`` that holds ``needle``."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("metric", "text", "value"),
    [
        ("params", "7M", 7_000_000),
        ("params", "1.6G", 1_600_000_000),
        ("params", "7Mi", 7 * 2**20),
        ("params", "1000", 1000),
        ("params", "0.5K", 500),
        ("layers", "60", 60),
        ("peak_memory", "200MB", 200_000_000),
        ("peak_memory", "200MiB", 200 * 2**20),
        ("peak_memory", "1.5GiB", 3 * 2**29),
        ("peak_memory", "4096", 4096),
        ("weight_memory", "512B", 512),
    ],
)
def test_parse_limit(metric: str, text: str, value: int) -> None:
    assert parse_limit(METRICS[metric], text) == value


@pytest.mark.parametrize(
    "text",
    ["", "M", "7m", "1.6g", "7 M", " 7M", "7M ", "-5", "1e6", "7MBs", "7.M", "0x10", "7,000", "∞"],
)
def test_parse_limit_rejects_malformed(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_limit(METRICS["params"], text)


@pytest.mark.parametrize(
    ("metric", "text", "hint"),
    [
        ("params", "7MB", "7M"),
        ("macs", "1GiB", "1G"),
        ("peak_memory", "200M", "200MB"),
        ("weight_memory", "4Gi", "4GiB"),
    ],
)
def test_parse_limit_rejects_the_wrong_unit(metric: str, text: str, hint: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(hint)):
        parse_limit(METRICS[metric], text)


@given(
    number=st.integers(min_value=0, max_value=10**6),
    suffix=st.sampled_from(sorted(COUNT_SUFFIXES)),
)
def test_parse_limit_scales_counts(number: int, suffix: str) -> None:
    assert parse_limit(METRICS["macs"], f"{number}{suffix}") == number * COUNT_SUFFIXES[suffix]


@given(
    number=st.integers(min_value=0, max_value=10**6),
    suffix=st.sampled_from(sorted(BYTE_SUFFIXES)),
)
def test_parse_limit_scales_bytes(number: int, suffix: str) -> None:
    assert (
        parse_limit(METRICS["peak_memory"], f"{number}{suffix}") == number * BYTE_SUFFIXES[suffix]
    )


@given(st.text(max_size=12))
def test_parse_limit_accepts_or_rejects_cleanly(text: str) -> None:
    """Any text either parses to a non-negative number or raises QuantityError, nothing else."""
    try:
        value = parse_limit(METRICS["params"], text)
    except QuantityError:
        return
    assert value >= 0
    assert re.fullmatch(r"(\d+(\.\d+)?|\.\d+)(K|M|G|T|Ki|Mi|Gi|Ti)?", text)


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-params", "7m"],
        ["--max-params", "seven"],
        ["--max-macs", "1.6 G"],
        ["--max-peak-memory", "200M"],
        ["--max-params", "7MB"],
        ["--max-params", "-1"],
    ],
)
def test_malformed_limit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", GOOGLENET, *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage error" in err
    assert argv[0] in err


# --------------------------------------------------------------------------- CLI budgets


def test_googlenet_under_7m_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", GOOGLENET, "--max-params", "7M")
    assert code == 0
    line = next(line for line in out.splitlines() if "params <= 7M" in line)
    assert line.split()[0] == "ok"
    assert "6,998,552" in line  # actual
    assert "limit <= 7,000,000" in line  # limit
    assert "margin +1,448 (+0.02%)" in line  # 7,000,000 - 6,998,552
    assert out.splitlines()[-1] == "ok: 1 spec, 1 check, 1 passed, 0 failed"


def test_vgg16_under_100m_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", VGG16, "--max-params", "100M")
    assert code == 1
    line = next(line for line in out.splitlines() if "params <= 100M" in line)
    assert line.split()[0] == "FAIL"
    assert "138,357,544" in line
    assert "margin -38,357,544 (-38.36%)" in line
    assert out.splitlines()[-1].startswith("FAILED: 1 spec, 1 check, 0 passed, 1 failed")


def test_every_limit_is_checked_against_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    net = load_spec("resnet50")
    t = net.totals()
    code, out, _ = run(
        capsys,
        "check",
        RESNET50,
        "--format",
        "json",
        "--max-params",
        "26M",
        "--max-buffers",
        "53120",
        "--max-macs",
        "4G",
        "--max-flops",
        "9G",
        "--max-weight-memory",
        "100MiB",
        "--max-activation-memory",
        "1GB",
        "--max-peak-memory",
        "8MiB",
        "--max-total-memory",
        "1GiB",
        "--max-layers",
        "175",
    )
    assert code == 1
    checks = {c["name"].split()[0]: c for c in json.loads(out)["specs"][0]["checks"]}
    assert {k: c["actual"] for k, c in checks.items()} == {
        "params": 25_557_032,
        "buffers": 53_120,
        "macs": 4_089_184_256,
        "flops": t.flops,
        "weight_memory": (25_557_032 + 53_120) * 4,
        "activation_memory": t.activation_bytes,
        "peak_memory": t.peak_activation_bytes,
        "total_memory": (25_557_032 + 53_120) * 4 + t.peak_activation_bytes,
        "layers": t.layers,
    }
    failed = sorted(k for k, c in checks.items() if not c["passed"])
    assert failed == ["macs", "peak_memory"]  # 4.09G > 4G; 9.19 MiB > 8 MiB
    assert checks["buffers"]["passed"] and checks["buffers"]["margin"] == 0


def test_batch_and_dtype_scale_memory_and_compute(capsys: pytest.CaptureFixture[str]) -> None:
    net = load_spec("googlenet")
    peak = net.totals().peak_activation_bytes
    code, out, _ = run(
        capsys,
        "check",
        GOOGLENET,
        "--format",
        "json",
        "--batch",
        "8",
        "--dtype",
        "float16",
        "--max-peak-memory",
        "1GB",
        "--max-weight-memory",
        "1GB",
        "--max-macs",
        "100G",
        "--max-params",
        "7M",
    )
    assert code == 0
    doc = json.loads(out)
    assert (doc["batch"], doc["dtype"]) == (8, "float16")
    actual = {c["name"].split()[0]: c["actual"] for c in doc["specs"][0]["checks"]}
    assert actual["peak_memory"] == peak // 4 * 2 * 8
    assert actual["weight_memory"] == GOOGLENET_PARAMS * 2
    assert actual["macs"] == GOOGLENET_MACS * 8
    assert actual["params"] == GOOGLENET_PARAMS  # does not scale


def test_several_specs_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", GOOGLENET, VGG16, RESNET50, "--max-params", "100M")
    assert code == 1
    assert out.splitlines()[-1] == "FAILED: 3 specs, 3 checks, 2 passed, 1 failed"
    headers = [line for line in out.splitlines() if not line.startswith(" ")]
    assert [h.split(":")[0] for h in headers[:3]] == [
        str(Path(p).relative_to(Path.cwd())) if Path(p).is_relative_to(Path.cwd()) else p
        for p in (GOOGLENET, VGG16, RESNET50)
    ]


def test_no_budgets_passes_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", VGG16)
    assert code == 0
    assert "no budgets" in out


def test_a_bad_spec_is_exit_2_and_the_others_are_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text("network bad {\n    input x: 3x8x8\n    output y = conv(4, 9)\n}\n")
    code, out, _ = run(capsys, "check", VGG16, str(bad), "--max-params", "100M")
    assert code == 2  # an error outranks a failed budget
    assert "FAIL" in out and "params <= 100M" in out
    assert "bad.arch:3:" in out and "shape error" in out
    assert out.splitlines()[-1].startswith("ERROR: 2 specs, 1 check, 0 passed, 1 failed, 1 spec")


def test_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check", str(tmp_path / "nope.arch"))
    assert code == 2
    assert "no such file" in out


def test_library_files_are_parsed_and_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(SPECS_DIR / "lib" / "resnet.arch"), GOOGLENET)
    assert code == 0
    assert "skipped: no network" in out
    assert out.splitlines()[-1].endswith("1 skipped")


def test_library_file_with_a_syntax_error_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = tmp_path / "blocks.arch"
    lib.write_text("block b(x) {\n    y = in -> conv(x 3)\n}\n")
    code, out, _ = run(capsys, "check", str(lib))
    assert code == 2
    assert "syntax error" in out


# --------------------------------------------------------------------------- in-spec asserts


def test_asserts_in_googlenet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = with_asserts(
        tmp_path,
        "googlenet",
        """
        assert params <= 7M, "GoogLeNet must stay under 7M parameters"
        assert macs < 1.5G, "the compute budget of the phone"
        assert inception_4a.params < 500K and params("inception_4a.b2") < 1M
        assert logits.shape == (1000,)
        assert inception_4a.shape == 512x14x14
        assert weight_memory(dtype="int8") <= 7MB
        """,
    )
    code, out, _ = run(capsys, "check", str(spec))
    assert code == 1
    lines = out.splitlines()
    rows = [
        re.split(r"\s{2,}", line.strip()) for line in lines if line.startswith(("  ok", "  FAIL"))
    ]
    status = {row[1]: row[0] for row in rows}
    assert status == {
        "params <= 7M": "ok",
        "macs < 1.5G": "FAIL",
        'inception_4a.params < 500K and params("inception_4a.b2") < 1M': "ok",
        "logits.shape == (1000,)": "ok",
        "inception_4a.shape == 512x14x14": "ok",
        'weight_memory(dtype="int8") <= 7MB': "ok",
    }
    # the failing assert points at its line: file:line:col, the source line and a caret
    line = assert_line(spec, "assert macs < 1.5G")
    where = f"{spec}:{line}:5: budget failed: the compute budget of the phone"
    i = next(i for i, text in enumerate(lines) if where in text)
    assert (
        lines[i + 1].strip()
        == f'{line} |     assert macs < 1.5G, "the compute budget of the phone"'
    )
    assert lines[i + 2].strip().startswith("| ")
    assert lines[i + 2].count("^") == len('assert macs < 1.5G, "the compute budget of the phone"')
    assert "margin -82,671,872 (-5.51%)" in next(line for line in lines if "macs < 1.5G" in line)


def test_metric_values_match_the_analysis(tmp_path: Path) -> None:
    spec = with_asserts(
        tmp_path,
        "googlenet",
        """
        assert inception_4a.params > 0
        assert params("inception_4a") > 0
        assert inception_4a.b2.conv_2.macs > 0
        assert params("inception_4a.b2.conv_2") > 0
        assert inception_4a.layers > 0
        assert activation_memory("inception_4a", batch=2, dtype="float16") > 0
        assert image.shape == 3x224x224
        assert buffers == 0
        """,
    )
    net = archc.load(spec)
    rows = {r.name: r for r in net.rows(depth=1)}
    layers = {r.name: r for r in net.rows()}
    actual = [c.actual for c in check_assertions(net)]
    assert actual == [
        rows["inception_4a"].params,
        rows["inception_4a"].params,
        layers["inception_4a.b2.conv_2"].macs,
        layers["inception_4a.b2.conv_2"].params,
        rows["inception_4a"].layers,
        rows["inception_4a"].activation_elements * 2 * 2,
        (3, 224, 224),
        0,
    ]
    assert rows["inception_4a"].params == 376_176  # Table 1: 364K (the table rounds biases out)


def test_scope_paths_with_numbers_use_the_call_form(tmp_path: Path) -> None:
    spec = with_asserts(
        tmp_path,
        "resnet50",
        """
        assert params("layer1.0") < 100K
        assert layer4.params > 10M
        assert params("layer1.0.y.conv1") == 4096
        assert buffers("layer1") == 2 * (3 * (64 + 64 + 256) + 256)
        assert layer3.shape == 1024x14x14
        """,
    )
    checks = check_assertions(archc.load(spec))
    assert [c.passed for c in checks] == [True, True, True, True, True]
    assert checks[0].actual == 75_008  # torchvision's layer1[0]: 4,096+36,864+16,384+16,384+BN
    assert checks[2].actual == 64 * 64


def test_asserts_in_a_block_are_checked_per_instance(tmp_path: Path) -> None:
    spec = with_asserts(
        tmp_path, "googlenet", 'assert params <= 1M, "an inception block"', block="inception"
    )
    checks = check_assertions(archc.load(spec))
    rows = {r.name: r for r in archc.load(spec).rows(depth=1)}
    assert [c.scope for c in checks] == GOOGLENET_INCEPTIONS
    assert [c.actual for c in checks] == [rows[c.scope].params for c in checks]
    assert [c.scope for c in checks if not c.passed] == ["inception_5a", "inception_5b"]
    assert checks[0].name == "inception_3a: params <= 1M"


def test_a_limit_on_the_left_is_read_the_right_way_round(tmp_path: Path) -> None:
    spec = with_asserts(tmp_path, "googlenet", "assert 7M >= params")
    (check,) = check_assertions(archc.load(spec))
    assert (check.actual, check.op, check.limit) == (GOOGLENET_PARAMS, "<=", 7_000_000)
    assert check.margin == 1448


def test_compound_asserts_report_the_deciding_part(tmp_path: Path) -> None:
    spec = with_asserts(
        tmp_path,
        "googlenet",
        """
        assert params < 100M and macs < 1G
        assert params < 7M and macs < 100G
        assert params < 1M or macs < 2G
        assert (params < 100M and
                layers < 1000)
        """,
    )
    checks = check_assertions(archc.load(spec))
    # a failing "and": the part that failed
    assert (checks[0].passed, checks[0].actual, checks[0].limit) == (
        False,
        GOOGLENET_MACS,
        1_000_000_000,
    )
    # a holding "and": the part closest to its limit (params: 0.02 % headroom)
    assert (checks[1].passed, checks[1].actual, checks[1].limit) == (
        True,
        GOOGLENET_PARAMS,
        7 * 10**6,
    )
    # a holding "or": the part that holds
    assert (checks[2].passed, checks[2].actual) == (True, GOOGLENET_MACS)
    # an assert over several lines is named by its text on one line
    assert checks[3].name == "params < 100M and layers < 1000"


def test_assert_kwargs_override_batch_and_dtype(tmp_path: Path) -> None:
    spec = with_asserts(
        tmp_path,
        "googlenet",
        """
        assert macs(batch=4) == 4 * macs
        assert weight_memory(dtype="int8") * 4 == weight_memory
        assert peak_memory(batch=2, dtype="float16") == peak_memory
        """,
    )
    assert all(c.passed for c in check_assertions(archc.load(spec)))
    # the command line's batch and dtype apply where the assert does not say
    checks = check_assertions(archc.load(spec), batch=2, dtype="float16")
    assert [c.passed for c in checks] == [False, False, True]


def test_shape_is_ambiguous_with_several_outputs(tmp_path: Path) -> None:
    net = archc.load(with_asserts(tmp_path, "googlenet_aux", "assert shape == (1000,)"))
    with pytest.raises(BudgetError, match="several outputs") as exc:
        check_assertions(net)
    assert "logits.shape" in str(exc.value) or ".shape" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "error", "message", "hint"),
    [
        ("assert parms <= 7M", SpecNameError, "unknown name 'parms'", "did you mean 'params'?"),
        ("assert inception_4a.parms < 1M", SpecNameError, "unknown metric 'parms'", "'params'"),
        ("assert paramz() < 1M", SpecNameError, "unknown function 'paramz'", "'params'"),
        (
            "assert inception_4x.params < 1M",
            SpecNameError,
            "no layer or scope 'inception_4x'",
            "did you mean 'inception_4",
        ),
        ('assert params("inception_4x.b2") < 1M', SpecNameError, "no layer or scope", ".b2'"),
        ("assert params <= 7MB", BudgetError, "comparing a count with a size in bytes", "7M"),
        ("assert peak_memory < 4M", BudgetError, "a size in bytes with a count", "4MB"),
        ("assert logits.shape == 1000", BudgetError, "shape with a number", "(1000,)"),
        ("assert inception_4a < 1M", BudgetError, "is a layer or scope", "inception_4a.params"),
        ("assert params(inception_4a) < 1M", BudgetError, "is a layer or scope", '"inception_4a"'),
        ("assert inception_4a.b2 < 1M", BudgetError, "is a layer or scope", "b2.params"),
        ("assert params + 1", BudgetError, "must be true or false", "assert params <= 7M"),
        ('assert peak_memory("inception_4a") < 1MB', BudgetError, "whole-network", "activation"),
        ("assert params(batch=2) < 1M", BudgetError, "does not depend on the batch", ""),
        ('assert macs(dtype="int8") < 1G', BudgetError, "does not depend on the dtype", ""),
        ('assert weight_memory(dtype="fp8") < 1GB', BudgetError, "unknown dtype", "float16"),
        ("assert params(1) < 1M", BudgetError, "as a string", 'params("inception_4a")'),
        ("assert (1 + 2).params < 1M", BudgetError, "layer or scope name", ""),
    ],
)
def test_malformed_asserts_are_located_errors(
    tmp_path: Path, text: str, error: type[ArchError], message: str, hint: str
) -> None:
    spec = with_asserts(tmp_path, "googlenet", text)
    net = archc.load(spec)  # analysis ignores asserts...
    with pytest.raises(error) as exc:  # ...check evaluates them
        check_assertions(net)
    rendered = str(exc.value)
    assert message in rendered
    assert hint in rendered
    line = assert_line(spec, text)
    assert rendered.startswith(f"{spec}:{line}:")
    assert text in rendered.splitlines()[1]  # the source line
    assert "^" in rendered.splitlines()[2]  # and a caret


def test_malformed_assert_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = with_asserts(tmp_path, "googlenet", "assert parms <= 7M")
    code, out, _ = run(capsys, "check", str(spec))
    assert code == 2
    assert "did you mean 'params'?" in out


def test_constants_shadow_metrics_and_calls_do_not(tmp_path: Path) -> None:
    spec = tmp_path / "t.arch"
    spec.write_text(
        "const layers = 3\n"
        "network t {\n"
        "    input x: 3x8x8\n"
        "    c = conv(4, 3) -> relu\n"
        "    output y = flatten -> linear(2)\n"
        "    assert layers == 3\n"
        "    assert layers() == 4\n"
        "}\n"
    )
    assert [c.passed for c in check_assertions(archc.load(spec))] == [True, True]


def test_check_network_puts_command_line_limits_first(tmp_path: Path) -> None:
    from archc.budget import Limit

    spec = with_asserts(tmp_path, "googlenet", "assert macs < 2G")
    checks = check_network(archc.load(spec), [Limit(METRICS["params"], 7_000_000, "7M")])
    assert [(c.origin, c.name) for c in checks] == [
        ("cli", "params <= 7M"),
        ("assert", "macs < 2G"),
    ]


# --------------------------------------------------------------------------- reports


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = with_asserts(tmp_path, "googlenet", 'assert macs < 1.5G, "phone budget"')
    code, out, _ = run(
        capsys, "check", str(spec), VGG16, "--max-params", "100M", "--format", "json"
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "archc.check/1"
    assert doc["limits"] == {"params": 100_000_000}
    assert doc["summary"] == {
        "specs": 2,
        "checks": 3,
        "passed": 1,
        "failed": 2,
        "errors": 0,
        "skipped": 0,
    }
    assert doc["exit_code"] == 1
    g, v = doc["specs"]
    assert (g["network"], g["status"], v["network"], v["status"]) == (
        "googlenet",
        "failed",
        "vgg16",
        "failed",
    )
    macs = g["checks"][1]
    assert macs["origin"] == "assert"
    assert macs["message"] == "phone budget"
    assert macs["location"]["line"] == assert_line(spec, "assert macs")
    assert macs["margin"] == 1_500_000_000 - GOOGLENET_MACS
    assert v["checks"][0]["actual"] == VGG16_PARAMS


def test_junit_report_parses_and_names_the_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text("network bad {\n    input x: 3x8x8\n    output y = linaer(3)\n}\n")
    spec = with_asserts(tmp_path, "googlenet", 'assert macs < 1.5G, "phone budget"')
    code, out, _ = run(
        capsys,
        "check",
        GOOGLENET,
        VGG16,
        str(spec),
        str(bad),
        "--max-params",
        "100M",
        "--format",
        "junit",
    )
    assert code == 2
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "2", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites][-1] == str(bad)
    assert [(s.get("tests"), s.get("failures"), s.get("errors")) for s in suites] == [
        ("1", "0", "0"),
        ("1", "1", "0"),
        ("2", "1", "0"),
        ("1", "0", "1"),
    ]
    failures = {
        (case.get("classname"), case.get("name")): case.find("failure")
        for case in root.iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failures) == {("archc.vgg16", "params <= 100M"), ("archc.googlenet", "macs < 1.5G")}
    vgg = failures[("archc.vgg16", "params <= 100M")]
    assert "138,357,544" in (vgg.get("message") or "")
    macs = failures[("archc.googlenet", "macs < 1.5G")]
    assert "phone budget" in (macs.get("message") or "")
    assert "assert macs < 1.5G" in (macs.text or "")  # the source line
    case = next(c for c in root.iter("testcase") if c.get("name") == "macs < 1.5G")
    assert case.get("line") == str(assert_line(spec, "assert macs"))
    error = next(c for c in root.iter("testcase") if c.find("error") is not None)
    assert "linaer" in (error.find("error").get("message") or "")  # type: ignore[union-attr]
    passed = [
        c for c in root.iter("testcase") if len(c.findall("failure") + c.findall("error")) == 0
    ]
    assert {c.get("name") for c in passed} == {"params <= 100M"}


def test_output_file_gets_the_report_and_stdout_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "budgets.xml"
    code, out, _ = run(
        capsys, "check", VGG16, "--max-params", "100M", "--format", "junit", "-o", str(report)
    )
    assert code == 1
    assert ET.parse(report).getroot().get("failures") == "1"
    assert "FAIL" in out and out.splitlines()[-1].startswith("FAILED")


# --------------------------------------------------------------------------- GitHub


def test_github_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    spec = with_asserts(tmp_path, "googlenet", 'assert macs < 1.5G, "phone budget, 50%"')
    code, out, _ = run(capsys, "check", VGG16, str(spec), GOOGLENET, "--max-params", "100M")
    assert code == 1
    notes = [line for line in out.splitlines() if line.startswith("::")]
    assert len(notes) == 2
    vgg_line = assert_line(Path(VGG16), "network vgg16")
    assert notes[0].startswith(f"::error file={_shown(VGG16)},line={vgg_line},col=1,")
    assert "::budget failed: params <= 100M: actual 138,357,544" in notes[0]
    line = assert_line(spec, "assert macs")
    assert notes[1].startswith(f"::error file={spec},line={line},col=5,endColumn=")
    # workflow-command escaping: ',' and ':' in properties, '%' and newlines in the message
    assert "title=archc budget::" in notes[1]
    assert notes[1].endswith("(phone budget, 50%25)")


def test_github_annotations_for_errors_and_machine_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    bad = tmp_path / "bad.arch"
    bad.write_text("network bad {\n    input x: 3x8x8\n    output y = linaer(3)\n}\n")
    code, out, err = run(capsys, "check", VGG16, str(bad), "--max-params", "1G", "--format", "json")
    assert code == 2
    assert json.loads(out)["summary"]["errors"] == 1  # stdout stays parseable
    assert err.startswith(f"::error file={bad},line=3,col=16,")
    assert "name error: unknown op, block or tensor 'linaer'" in err


def test_no_annotations_outside_github(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    _, out, err = run(capsys, "check", VGG16, "--max-params", "100M")
    assert "::error" not in out + err


def _shown(path: str) -> str:
    p = Path(path)
    return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else path


# --------------------------------------------------------------------------- pre-commit


def test_pre_commit_hook_runs_on_changed_spec_files(tmp_path: Path) -> None:
    """The hook's entry, given spec and library files as pre-commit passes them, exits 0."""
    import subprocess
    import sys

    hooks = (SPECS_DIR.parent / ".pre-commit-hooks.yaml").read_text()
    fields = dict(
        re.findall(r"^\s*-?\s*(id|entry|language|files):\s*(.+?)\s*$", hooks, re.MULTILINE)
    )
    assert fields["id"] == "archc-check"
    assert fields["language"] == "python"
    files = [SPECS_DIR / "googlenet.arch", SPECS_DIR / "lib" / "resnet.arch"]
    assert all(re.search(fields["files"], str(f)) for f in files)
    assert fields["entry"] == "archc check"
    proc = subprocess.run(
        [sys.executable, "-m", "archc", "check", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    over = subprocess.run(
        [sys.executable, "-m", "archc", "check", "--max-params", "5M", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert over.returncode == 1


def test_text_report_colours_failures_on_a_terminal_only() -> None:
    from archc.budget import LIMITABLE, Limit, parse_limit
    from archc.check_report import check_spec, render_text

    metric = next(m for m in LIMITABLE if m.name == "params")
    limits = [Limit(metric, parse_limit(metric, "1M"), "1M")]
    results = [check_spec(GOOGLENET, limits, 1, "float32", {}, {})]
    plain = render_text(results, 1, "float32")
    colored = render_text(results, 1, "float32", color=True)
    assert "\x1b[" not in plain and "FAIL" in plain
    assert "\x1b[31m  FAIL" in colored and "\x1b[31mFAILED:" in colored
    assert colored.replace("\x1b[31m", "").replace("\x1b[0m", "") == plain
