"""archc sweep: the design space, constraints, the Pareto front, result files, resuming, failures,
and ``--set`` on the other commands."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import archc
from archc.budget import check_assertions
from archc.cli import main
from archc.errors import ArchError, SpecNameError, SpecValueError, UsageError
from archc.sweep.api import sweep
from archc.sweep.candidate import DEFAULT_METRICS, ERROR, METRIC_NAMES, OK, REJECTED, Evaluator
from archc.sweep.pareto import Objective, pareto_front
from archc.sweep.space import make_space
from archc.sweep.values import parse_axis, parse_value
from tests.conftest import ROOT, SPECS_DIR

TINY = """\
const width = 16
const depth = 2
const wide = width * 2

block unit(ch) {
    conv(ch, 3, pad=1, bias=false) -> bn -> relu
}

network tiny {
    input image: 3x32x32
    stem = conv(width, 3, pad=1) -> relu
    body = repeat depth { unit(width) }
    down = maxpool(2) -> conv(wide, 3, pad=1) -> relu
    squeeze = maxpool(8)
    output logits = global_avgpool -> flatten -> linear(10)
    assert params <= 40K, "tiny stays tiny"
}
"""
WIDTH_SPEC = SPECS_DIR / "sweep" / "mobilenet_v1_width.arch"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.arch"
    path.write_text(TINY)
    return path


def totals_row(path: Path, consts: dict[str, Any], resolution: int | None = None) -> dict[str, Any]:
    """A row's metrics computed the long way: archc.load with --set and --input, then check."""
    inputs = {"image": (3, resolution, resolution)} if resolution else None
    net = archc.load(path, inputs=inputs, consts=consts)
    t = net.totals()
    return {
        "params": t.params,
        "buffers": t.buffers,
        "macs": t.macs,
        "flops": t.flops,
        "weight_memory": t.weight_bytes,
        "activation_memory": t.activation_bytes,
        "peak_memory": t.peak_activation_bytes,
        "total_memory": t.weight_bytes + t.peak_activation_bytes,
        "layers": t.layers,
        "asserts_pass": all(c.passed for c in check_assertions(net)),
    }


def assert_metrics(row: dict[str, Any], expected: dict[str, Any]) -> None:
    known = [k for k in METRIC_NAMES if k in expected and k in row]
    assert len(known) >= 9
    assert {k: row[k] for k in known} == {k: expected[k] for k in known}


# --------------------------------------------------------------------------- values and axes


def test_axis_syntax() -> None:
    assert parse_axis("0.35:1.4:0.35") == [0.35, 0.7, 1.05, 1.4]  # exact decimal steps
    assert parse_axis("128:320:64") == [128, 192, 256, 320]
    assert parse_axis("1,2,3") == [1, 2, 3]
    assert parse_axis("(1, 7),(7, 1)") == [(1, 7), (7, 1)]
    assert parse_axis("true") == [True]
    assert parse_value("fast") == "fast" and parse_value('"a b"') == "a b"
    assert parse_value("3x224x224") == (3, 224, 224) and parse_value("4M") == 4_000_000
    for bad in ("1:2", "2:1:1", "1:2:0", "a:b:c"):
        with pytest.raises(UsageError):
            parse_axis(bad)


def test_grid_order_and_values(tiny: Path) -> None:
    result = sweep(tiny, {"width": "8,16", "depth": "1:3:1"}, workers=0)
    assert [(r["width"], r["depth"]) for r in result] == list(itertools.product([8, 16], [1, 2, 3]))
    assert [r["index"] for r in result] == list(range(6))
    assert result.columns == ["index", "width", "depth", "status", *DEFAULT_METRICS, "message"]
    for row in result:
        expected = totals_row(tiny, {"width": row["width"], "depth": row["depth"]})
        assert_metrics(row, expected)


def test_resolution_axis_sets_every_image_input(tiny: Path) -> None:
    result = sweep(tiny, {"resolution": [16, 64]}, workers=0)
    for row in result:
        expected = totals_row(tiny, {}, resolution=row["resolution"])
        assert row["macs"] == expected["macs"] and row["status"] == OK


def test_rows_equal_a_fresh_compile_whatever_the_order(tiny: Path) -> None:
    """Candidates that differ only in resolution reuse an elaborated graph: the rows must still
    be what compiling each candidate from scratch gives, in any order, errors in between."""
    axes = {"width": "8,16", "depth": "1,2", "resolution": "8,16,32"}
    result = sweep(tiny, axes, samples=12, seed=5, workers=0, check_asserts=False)
    assert {r["status"] for r in result} == {OK, ERROR}
    for row in result:
        if row["status"] == OK:
            consts = {"width": row["width"], "depth": row["depth"]}
            expected = totals_row(tiny, consts, resolution=row["resolution"])
            assert_metrics(row, expected)
    for row in sweep(WIDTH_SPEC, {"width": "0.5,1.0", "resolution": "128,224"}, workers=0):
        expected = totals_row(WIDTH_SPEC, {"width": row["width"]}, resolution=row["resolution"])
        assert_metrics(row, expected)


def test_random_sample_is_seeded_distinct_and_in_the_grid(tiny: Path) -> None:
    axes = {"width": "4:64:4", "depth": "1:4:1"}
    space = make_space(axes, samples=10, seed=3)
    grid = {tuple(space.point(i).values()) for i in range(space.grid_size)}
    picked = [tuple(space.candidate(i).values()) for i in range(len(space))]
    assert len(set(picked)) == 10 and set(picked) <= grid
    assert picked == [tuple(make_space(axes, 10, 3).candidate(i).values()) for i in range(10)]
    assert picked != [tuple(make_space(axes, 10, 4).candidate(i).values()) for i in range(10)]
    result = sweep(tiny, axes, samples=10, seed=3, workers=0)
    assert [(r["width"], r["depth"]) for r in result] == picked
    with pytest.raises(UsageError, match="more than the 64 points"):
        make_space(axes, samples=65)


# --------------------------------------------------------------------------- constraints


def test_where_and_spec_asserts_reject_with_a_reason(tiny: Path) -> None:
    result = sweep(tiny, {"width": "8,16,32", "depth": "1,3"}, where="macs <= 3M", workers=0)
    for row in result:
        expected = totals_row(tiny, {"width": row["width"], "depth": row["depth"]})
        fits = expected["macs"] <= 3_000_000 and expected["asserts_pass"]
        assert row["status"] == (OK if fits else REJECTED), row
        if expected["macs"] > 3_000_000:
            assert row["message"].startswith("--where: macs <= 3M (actual ")
        elif not expected["asserts_pass"]:
            assert "tiny.arch:16:5: assert params <= 40K" in row["message"]
    assert {r["status"] for r in result} == {OK, REJECTED}


def test_where_sees_constants_and_scopes(tiny: Path) -> None:
    result = sweep(tiny, {"width": "8,16,32"}, where="width >= 16 and stem.params < 500", workers=0)
    assert [r["status"] for r in result] == [REJECTED, OK, REJECTED]


def test_bad_axes_and_constraints_are_the_commands_errors(tiny: Path) -> None:
    with pytest.raises(SpecNameError, match="did you mean 'width'"):
        sweep(tiny, {"widht": "8,16"}, workers=0)
    with pytest.raises(SpecValueError, match="'width' is integer 16 here, not number"):
        sweep(tiny, {"width": "0.5,1.0"}, workers=0)
    with pytest.raises(SpecNameError, match="did you mean 'macs'"):
        sweep(tiny, {"width": "8,16"}, where="mcas <= 3M", workers=0)
    with pytest.raises(ArchError, match="--where:1:8"):
        sweep(tiny, {"width": "8"}, where="macs <=", workers=0)
    with pytest.raises(UsageError, match="did you mean 'macs'"):
        sweep(tiny, {"width": "8"}, pareto="mac", workers=0)


# --------------------------------------------------------------------------- Pareto front


def brute_force_front(rows: list[dict[str, Any]], objectives: list[Objective]) -> list[int]:
    def key(r: dict[str, Any]) -> list[float]:
        return [-r[o.column] if o.maximize else r[o.column] for o in objectives]

    ok = [r for r in rows if r["status"] == OK]
    front = []
    for r in ok:
        a = key(r)
        dominated = any(
            all(x <= y for x, y in zip(key(s), a, strict=True)) and key(s) != a for s in ok
        )
        if not dominated:
            front.append(r["index"])
    return sorted(front)


@pytest.mark.parametrize(
    "objectives",
    ["params,macs", "macs,width:max", "params,peak_memory,depth:max", "macs"],
)
def test_pareto_front_matches_brute_force(tiny: Path, objectives: str) -> None:
    result = sweep(
        tiny,
        {"width": "4:32:4", "depth": "1:3:1", "resolution": "8,16,24,32"},
        where="macs <= 6M",
        pareto=objectives,
        workers=0,
        check_asserts=False,
    )
    assert {r["status"] for r in result} == {OK, REJECTED, ERROR}
    assert sorted(r["index"] for r in result.front) == brute_force_front(
        result.rows, result.objectives
    )


def test_pareto_keeps_ties() -> None:
    rows = [
        {"index": 0, "status": OK, "a": 1, "b": 2},
        {"index": 1, "status": OK, "a": 1, "b": 2},
        {"index": 2, "status": OK, "a": 2, "b": 2},
        {"index": 3, "status": ERROR, "a": None, "b": None},
    ]
    front = pareto_front(rows, [Objective("a"), Objective("b")])
    assert [r["index"] for r in front] == [0, 1]


# --------------------------------------------------------------------------- failures


def test_failing_candidates_are_rows_with_located_messages(tiny: Path) -> None:
    result = sweep(tiny, {"resolution": "8,32"}, workers=0)
    bad, good = result.rows
    assert bad["status"] == ERROR and good["status"] == OK
    assert bad["message"].startswith(f"{tiny}:14:15: shape error: maxpool 8×8 does not fit")
    assert "squeeze = maxpool(8)" in bad["message"] and "^^^" in bad["message"]
    assert all(bad[m] is None for m in DEFAULT_METRICS)


def _die_once(marker: str) -> Any:
    original = Evaluator.evaluate_batch

    def evaluate_batch(self: Evaluator, batch: Any) -> Any:
        if batch[0][0] == 3 and not os.path.exists(marker):
            Path(marker).write_text("died")
            os._exit(1)
        return original(self, batch)

    return evaluate_batch


def test_a_dead_worker_is_retried(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    # the pool forks, so workers inherit the patched method: the worker given candidate 3 dies once
    monkeypatch.setattr(Evaluator, "evaluate_batch", _die_once(str(tmp_path / "marker")))
    axes = {"width": "4:32:4"}
    result = sweep(tiny, axes, workers=2, batch_size=1)
    assert (tmp_path / "marker").exists()
    assert result.rows == sweep(tiny, axes, workers=0).rows


def test_engines_agree(tiny: Path) -> None:
    axes = {"width": "4:32:4", "resolution": "8,16,32"}
    inline = sweep(tiny, axes, workers=0, where="macs <= 2M").rows
    assert sweep(tiny, axes, workers=2, where="macs <= 2M").rows == inline
    assert sweep(tiny, axes, workers=2, batch_size=5, where="macs <= 2M").rows == inline


# --------------------------------------------------------------------------- result files


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_output_holds_every_row_and_resumes_after_a_torn_row(
    tiny: Path, tmp_path: Path, suffix: str
) -> None:
    axes = {"width": "4:32:4", "resolution": "8,32"}
    out = tmp_path / f"rows.{suffix}"
    full = sweep(tiny, axes, output=out, workers=0).rows
    complete = out.read_bytes()
    lines = complete.splitlines(keepends=True)
    # a sweep killed halfway through writing a row (in CSV, an error row whose located message
    # spans several lines: the cut falls inside its quoted field)
    assert full[5]["status"] == OK and full[6]["status"] == ERROR
    if suffix == "jsonl":
        kept = 5
        torn = b"".join(lines[:5]) + lines[5][:9]
    else:
        kept = 6  # the header, rows 0-5, then the first line and a bit of row 6's message
        reader = csv.reader(io.StringIO(complete.decode()))
        for _ in range(1 + kept):
            next(reader)
        records = reader.line_num
        torn = b"".join(lines[:records]) + lines[records] + lines[records + 1][:5]
    out.write_bytes(torn)
    manifest = out.with_name(out.name + ".sweep.json")
    state = json.loads(manifest.read_text())
    state["complete"] = False
    manifest.write_text(json.dumps(state))
    resumed = sweep(tiny, axes, output=out, workers=0)
    assert resumed.evaluated == len(full) - kept
    assert out.read_bytes() == complete
    assert [r["index"] for r in resumed.rows] == list(range(len(full)))
    assert [(r["status"], r["macs"]) for r in resumed.rows] == [
        (r["status"], r["macs"]) for r in full
    ]
    # a finished sweep rerun evaluates nothing; a different sweep may not reuse the file
    assert sweep(tiny, axes, output=out, workers=0).evaluated == 0
    with pytest.raises(UsageError, match="different sweep"):
        sweep(tiny, {"width": "4:32:8"}, output=out, workers=0)
    assert sweep(tiny, {"width": "4:32:8"}, output=out, workers=0, overwrite=True).evaluated == 4


def test_output_that_is_not_a_sweep_is_not_overwritten(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.jsonl"
    out.write_text("precious\n")
    with pytest.raises(UsageError, match="not the output of an archc sweep"):
        sweep(tiny, {"width": "8"}, output=out, workers=0)
    assert out.read_text() == "precious\n"


def test_parquet_output(tiny: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "rows.parquet"
    result = sweep(tiny, {"width": "4:16:4"}, output=out, workers=0)
    table = pq.read_table(out).to_pylist()
    assert [r["macs"] for r in table] == [r["macs"] for r in result.rows]
    assert not out.with_name(out.name + ".journal.jsonl").exists()
    assert sweep(tiny, {"width": "4:16:4"}, output=out, workers=0).rows == table


def test_killed_sweep_resumes_with_no_row_lost_or_doubled(tmp_path: Path) -> None:
    """A real kill: SIGKILL the CLI mid-run, rerun it, compare with an uninterrupted run."""
    axes = ["--set", "width=0.25:1.5:0.01", "--set", "resolution=128:224:32"]  # 504 candidates
    out = tmp_path / "killed.jsonl"
    argv = [sys.executable, "-m", "archc", "sweep", str(WIDTH_SPEC), *axes, "--quiet"]
    argv += ["--workers", "1", "--batch-size", "4", "-o", str(out)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = out.read_bytes().count(b"\n")
    assert 40 <= written < 504, "the sweep was not killed mid-run"
    rerun = subprocess.run(
        [a for a in argv if a != "--quiet"], cwd=ROOT, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"sweep: {written:,} candidates resumed from the output" in rerun.stderr
    reference = tmp_path / "reference.jsonl"
    full = subprocess.run(
        [*argv[:-1], str(reference), "--workers", "2"], cwd=ROOT, capture_output=True, text=True
    )
    assert full.returncode == 0, full.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert rerun.stdout == full.stdout


# --------------------------------------------------------------------------- CLI, report, API


def test_cli_prints_the_front_and_writes_a_report(tmp_path: Path, capsys) -> None:
    report = tmp_path / "front.html"
    code = main(
        [
            "sweep",
            str(WIDTH_SPEC),
            "--set",
            "width=0.25,0.5,0.75,1.0",
            "--set",
            "resolution=128,224",
            "--where",
            "macs <= 400M",
            "--pareto",
            "macs,params:max",
            "--workers",
            "0",
            "--report",
            str(report),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "8 candidates, 7 ok, 1 rejected, 0 errors" in out
    assert "sweep: 8/8 candidates" in err
    page = report.read_text()
    assert "<svg" in page and "const width = 1.0" in page and "<script" not in page
    assert "src=" not in page and "href=" not in page


def test_cli_usage_errors_exit_2(tiny: Path, capsys) -> None:
    assert main(["sweep", str(tiny), "--set", "width", "--workers", "0"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert main(["sweep", str(tiny), "--set", "depht=1,2", "--workers", "0"]) == 2
    assert "did you mean 'depth'" in capsys.readouterr().err


def test_api_is_exported(tiny: Path) -> None:
    result = archc.sweep(tiny, {"width": [8, 16]}, workers=0)
    assert [r["width"] for r in result] == [8, 16]
    assert len(result) == 2 and result.front


# --------------------------------------------------------------------------- --set everywhere


def test_set_overrides_a_constant_and_what_depends_on_it(tiny: Path) -> None:
    net = archc.load(tiny, consts={"width": 8})
    assert net.shape("stem.conv") == (8, 32, 32) and net.shape("down.conv") == (16, 16, 16)
    assert archc.load(WIDTH_SPEC, consts={"width": 0.75}).totals().params == 2_585_560


def test_set_on_the_command_line(tiny: Path, capsys) -> None:
    assert main(["analyze", str(tiny), "--set", "width=8", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["params"] == archc.load(tiny, consts={"width": 8}).totals().params
    assert main(["analyze", str(tiny), "--set", "widht=8"]) == 2
    err = capsys.readouterr().err
    assert "name error: --set names 'widht'" in err and "did you mean 'width'" in err
    assert main(["analyze", str(tiny), "--set", "width=abc"]) == 2
    err = capsys.readouterr().err
    assert "'width' is integer 16 here, not string" in err and f"{tiny}:1:1" in err


def test_metric_columns(tiny: Path) -> None:
    result = sweep(tiny, {"width": "8,16"}, workers=0)
    assert result.metrics == list(DEFAULT_METRICS)
    everything = sweep(tiny, {"width": "8,16"}, metrics="all", workers=0)
    assert everything.metrics == list(METRIC_NAMES)
    if "train_memory" in METRIC_NAMES:  # an objective brings its column
        trained = sweep(tiny, {"width": "8,16"}, pareto="train_memory,macs", workers=0)
        assert "train_memory" in trained.columns
        assert all(r["train_memory"] > r["total_memory"] for r in trained)
    with pytest.raises(UsageError, match="did you mean 'params'"):
        sweep(tiny, {"width": "8"}, metrics="parms", workers=0)


def test_set_in_check(tiny: Path, capsys) -> None:
    assert main(["check", str(tiny), "--set", "width=32", "--set", "depth=3"]) == 1
    assert "tiny stays tiny" in capsys.readouterr().out
    assert main(["check", str(tiny), "--set", "width=8"]) == 0


def test_the_worked_example_of_docs_sweep_md() -> None:
    """docs/sweep.md: MobileNetV2 width × resolution under 300M MACs, and torchvision's variants
    (the counts tests/test_torchvision.py checks against torchvision itself)."""
    spec = SPECS_DIR / "mobilenet_v2.arch"
    if not spec.exists():
        pytest.skip("specs/mobilenet_v2.arch is not in this tree")
    result = sweep(
        spec,
        {"width": "0.35:1.4:0.05", "resolution": "128:320:32"},
        where="macs <= 300M",
        pareto="width:max,resolution:max",
        workers=0,
    )
    assert result.counts() == {OK: 96, REJECTED: 58, ERROR: 0}
    assert [(r["width"], r["resolution"], r["macs"]) for r in result.front] == [
        (1.4, 160, 297_916_400),
        (1.1, 192, 248_662_336),
        (0.95, 224, 284_539_200),
        (0.8, 256, 290_197_504),
        (0.7, 288, 286_205_600),
        (0.55, 320, 216_358_400),
    ]
    rows = {(r["width"], r["resolution"]): r for r in result.rows}
    torchvision = {  # width_mult -> (params, MACs) at 224×224
        0.5: (1_968_680, 97_131_840),
        0.75: (2_636_424, 209_069_792),
        1.0: (3_504_872, 300_774_272),
        1.4: (6_108_776, 582_195_824),
    }
    for width, (params, macs) in torchvision.items():
        row = rows[(width, 224)]
        assert (row["params"], row["macs"]) == (params, macs)
        assert row["status"] == (OK if macs <= 300_000_000 else REJECTED)
    assert rows[(1.0, 224)]["message"] == (
        "--where: macs <= 300M (actual 300,774,272, limit 300,000,000)"
    )
