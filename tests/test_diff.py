"""archc diff: exact deltas between zoo networks (from the published numbers), layer matching by
scope path, output formats, and --rev against a git repository made in the test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from archc.cli import main
from archc.diff import ADDED, CHANGED, REMOVED, UNCHANGED, Side, diff_networks
from tests.conftest import SPECS_DIR, load_spec


def spec(name: str) -> str:
    path = SPECS_DIR / f"{name}.arch"
    assert path.is_file(), f"specs/{name}.arch is missing"
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def diff_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, "diff", *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def totals(doc: dict) -> dict[str, tuple[int, int, int]]:
    return {t["metric"]: (t["old"], t["new"], t["delta"]) for t in doc["totals"]}


# --------------------------------------------------------------------------- zoo pairs


def test_vgg16_to_vgg19(capsys: pytest.CaptureFixture[str]) -> None:
    doc = diff_json(capsys, spec("vgg16"), spec("vgg19"))
    t = totals(doc)
    # torchvision: vgg16 138,357,544 params, 15.47 GMACs; vgg19 143,667,240, 19.63 GMACs
    assert t["params"] == (138_357_544, 143_667_240, 143_667_240 - 138_357_544)
    assert t["macs"] == (15_470_264_320, 19_632_062_464, 19_632_062_464 - 15_470_264_320)
    assert t["buffers"] == (0, 0, 0)
    assert t["weight_memory"][2] == (143_667_240 - 138_357_544) * 4
    assert t["layers"][2] == 6
    by_status = {c["name"]: c["status"] for c in doc["layers"]}
    assert by_status == {
        f"conv{stage}_4.{op}": ADDED for stage in (3, 4, 5) for op in ("conv", "relu")
    }
    assert doc["summary"] == {ADDED: 6, REMOVED: 0, CHANGED: 0, UNCHANGED: 40}
    # a 3×3 conv from 512 to 512 channels: 3·3·512·512 + 512 parameters
    conv5_4 = next(c for c in doc["layers"] if c["name"] == "conv5_4.conv")
    assert conv5_4["new"]["params"] == 3 * 3 * 512 * 512 + 512
    assert conv5_4["new"]["shape"] == [512, 14, 14]
    assert conv5_4["old"] is None


def test_resnet50_to_resnet101(capsys: pytest.CaptureFixture[str]) -> None:
    doc = diff_json(capsys, spec("resnet50"), spec("resnet101"))
    t = totals(doc)
    assert t["params"] == (25_557_032, 44_549_160, 44_549_160 - 25_557_032)
    assert t["buffers"] == (53_120, 105_344, 105_344 - 53_120)
    assert t["macs"] == (4_089_184_256, 7_801_405_440, 7_801_405_440 - 4_089_184_256)
    assert t["weight_memory"][2] == (44_549_160 + 105_344 - 25_557_032 - 53_120) * 4
    # ResNet-101 is ResNet-50 with 23 instead of 6 blocks in layer3: blocks 6..22 are added
    added = [c["name"] for c in doc["layers"] if c["status"] == ADDED]
    blocks = sorted({int(name.split(".")[1]) for name in added})
    assert all(name.startswith("layer3.") for name in added)
    assert blocks == list(range(6, 23))
    assert len(added) == 17 * len(
        [n for n in load_spec("resnet50").order if n.startswith("layer3.1.")]
    )
    assert doc["summary"][REMOVED] == 0
    assert doc["summary"][CHANGED] == 0
    # each added bottleneck(256) holds 1,117,184 params + 6,144 buffer elements (torchvision)
    assert t["params"][2] == 17 * 1_117_184
    assert t["buffers"][2] == 17 * 2 * (256 + 256 + 1024)


def test_googlenet_to_googlenet_aux(capsys: pytest.CaptureFixture[str]) -> None:
    doc = diff_json(capsys, spec("googlenet"), spec("googlenet_aux"))
    t = totals(doc)
    assert t["params"] == (6_998_552, 13_378_280, 13_378_280 - 6_998_552)
    assert t["params"][2] == 3_188_840 + 3_190_888  # aux1 + aux2 (the spec's header)
    assert t["macs"][2] == 4_169_728 + 4_202_496
    assert t["buffers"] == (0, 0, 0)
    added = [c["name"] for c in doc["layers"] if c["status"] == ADDED]
    assert {name.split(".")[0] for name in added} == {"aux1", "aux2"}
    assert doc["summary"][REMOVED] == doc["summary"][CHANGED] == 0
    # aux heads sit after inception_4a and inception_4d: added layers follow their inputs
    names = [
        c["name"]
        for c in diff_json(capsys, spec("googlenet"), spec("googlenet_aux"), "--all")["layers"]
    ]
    assert names.index("aux1.pool") > max(
        i for i, n in enumerate(names) if n.startswith("inception_4a.")
    )
    assert names.index("aux1.pool") < min(
        i for i, n in enumerate(names) if n.startswith("inception_4b.")
    )


def test_depth_compares_scopes(capsys: pytest.CaptureFixture[str]) -> None:
    doc = diff_json(capsys, spec("googlenet"), spec("googlenet_aux"), "--depth", "1")
    layers = {c["name"]: c for c in doc["layers"]}
    assert set(layers) == {"aux1", "aux2"}
    assert layers["aux1"]["new"]["params"] == 3_188_840
    assert layers["aux2"]["new"]["params"] == 3_190_888


def test_reverse_diff_removes(capsys: pytest.CaptureFixture[str]) -> None:
    doc = diff_json(capsys, spec("vgg19"), spec("vgg16"))
    assert doc["summary"] == {ADDED: 0, REMOVED: 6, CHANGED: 0, UNCHANGED: 40}
    assert totals(doc)["params"][2] == 138_357_544 - 143_667_240
    names = [c["name"] for c in diff_json(capsys, spec("vgg19"), spec("vgg16"), "--all")["layers"]]
    # removed layers stay where they were: conv3_4 between conv3_3 and pool3
    assert names[names.index("conv3_3.relu") + 1 : names.index("pool3")] == [
        "conv3_4.conv",
        "conv3_4.relu",
    ]


def test_changed_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.arch"
    new = tmp_path / "new.arch"
    old.write_text(
        "network t {\n    input x: 3x32x32\n    c1 = conv(16, 3) -> relu\n"
        "    c2 = conv(32, 3) -> relu\n    output y = flatten -> linear(10)\n}\n"
    )
    new.write_text(
        "network t {\n    input x: 3x32x32\n    c1 = conv(16, 3) -> relu\n"
        "    c2 = conv(64, 3) -> relu\n    output y = flatten -> linear(10)\n}\n"
    )
    doc = diff_json(capsys, str(old), str(new))
    changed = {c["name"]: c["changed"] for c in doc["layers"] if c["status"] == CHANGED}
    assert changed == {
        "c2.conv": ["op", "shape", "params", "macs"],
        "c2.relu": ["shape"],
        "y.flatten": ["shape"],
        "y.linear": ["params", "macs"],
    }
    c2 = next(c for c in doc["layers"] if c["name"] == "c2.conv")
    assert (c2["old"]["params"], c2["new"]["params"]) == (
        3 * 3 * 16 * 32 + 32,
        3 * 3 * 16 * 64 + 64,
    )
    code, out, _ = run(capsys, "diff", str(old), str(new))
    assert code == 0
    line = next(line for line in out.splitlines() if "c2.conv" in line)
    assert "conv 3×3, 32 → conv 3×3, 64" in line
    assert "32×28×28 → 64×28×28" in line
    assert "4,640 → 9,280" in line


# --------------------------------------------------------------------------- formats and options


def test_text_format_hides_unchanged_unless_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", spec("vgg16"), spec("vgg19"))
    assert code == 0
    assert re.search(r"^params\s+138,357,544\s+143,667,240\s+\+5,309,696 \(\+3\.84%\)$", out, re.M)
    assert re.search(
        r"^macs\s+15,470,264,320\s+19,632,062,464\s+\+4,161,798,144 \(\+26\.90%\)$", out, re.M
    )
    assert re.search(r"^buffers\s+0\s+0\s+no change$", out, re.M)
    assert "layers: 6 added, 0 removed, 0 changed, 40 unchanged" in out
    marked = [line.split()[:2] for line in out.splitlines() if line.startswith("  +")]
    assert [name for _, name in marked] == [
        f"conv{stage}_4.{op}" for stage in (3, 4, 5) for op in ("conv", "relu")
    ]
    assert "conv1_1.conv" not in out
    _, everything, _ = run(capsys, "diff", spec("vgg16"), spec("vgg19"), "--all")
    assert "conv1_1.conv" in everything
    assert len(everything.splitlines()) == len(out.splitlines()) + 40


def test_markdown_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", spec("resnet50"), spec("resnet101"), "--format", "markdown")
    assert code == 0
    assert out.startswith("### archc diff: ")
    assert "| metric |" in out
    assert "| params | 25,557,032 | 44,549,160 | +18,992,128 (+74.31%) |" in out
    assert "<details><summary>170 layers</summary>" in out  # long lists fold in a PR comment
    assert (
        "| added | `layer3.6.y.conv1` | conv 1×1, 256 | 256×14×14 | 262,144 | 51,380,224 |" in out
    )


def test_identical_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", spec("vgg16"), spec("vgg16"), "--exit-code")
    assert code == 0
    assert "the two networks are identical" in out
    code, _, _ = run(capsys, "diff", spec("vgg16"), spec("vgg19"), "--exit-code")
    assert code == 1


def test_batch_and_dtype(capsys: pytest.CaptureFixture[str]) -> None:
    doc = diff_json(capsys, spec("vgg16"), spec("vgg19"), "--batch", "4", "--dtype", "float16")
    t = totals(doc)
    assert t["macs"][2] == 4 * (19_632_062_464 - 15_470_264_320)
    assert t["weight_memory"][2] == 2 * (143_667_240 - 138_357_544)
    assert t["params"][2] == 143_667_240 - 138_357_544


def test_api_matches_the_cli() -> None:
    a, b = load_spec("googlenet"), load_spec("googlenet")
    d = diff_networks(Side("a", a), Side("b", b))
    assert d.identical
    assert all(c.status == UNCHANGED for c in d.layers)
    assert len(d.layers) == len(a.order)


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "diff", spec("vgg16"))
    assert code == 2
    assert "needs two specs" in err
    code, _, err = run(capsys, "diff", spec("vgg16"), str(tmp_path / "missing.arch"))
    assert code == 2
    assert "no such file" in err


# --------------------------------------------------------------------------- --rev


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout


BLOCKS_V1 = "block unit(width) {\n    out = in -> conv(width, 3, pad=1) -> relu\n}\n"
BLOCKS_V2 = (
    "block unit(width) {\n    out = in -> conv(width, 3, pad=1, bias=false) -> bn -> relu\n}\n"
)
NET = (
    'include "lib/blocks.arch"\n'
    "network small {\n"
    "    input image: 3x32x32\n"
    "    a = unit(16)\n"
    "    b = unit(32)\n"
    "    output logits = global_avgpool -> flatten -> linear(10)\n"
    "}\n"
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert shutil.which("git"), "the --rev tests need git"
    root = tmp_path / "repo"
    (root / "specs" / "lib").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "specs" / "lib" / "blocks.arch").write_text(BLOCKS_V1)
    (root / "specs" / "small.arch").write_text(NET)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "v1")
    # the include changes in the next revision: every conv loses its bias and gains a bn
    (root / "specs" / "lib" / "blocks.arch").write_text(BLOCKS_V2)
    git(root, "commit", "-q", "-am", "v2")
    monkeypatch.chdir(root)
    return root


def test_rev_reads_includes_at_that_revision(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = diff_json(capsys, "specs/small.arch", "--rev", "HEAD~1")
    assert doc["old"]["label"] == "HEAD~1:specs/small.arch"
    assert doc["new"]["label"] == "specs/small.arch"
    # v1: conv biases 16 + 32; v2: no biases, bn weight and bias (params) + running stats (buffers)
    t = totals(doc)
    assert t["params"][2] == -(16 + 32) + 2 * (16 + 32)
    assert t["buffers"] == (0, 2 * (16 + 32), 2 * (16 + 32))
    added = sorted(c["name"] for c in doc["layers"] if c["status"] == ADDED)
    assert added == ["a.out.batchnorm", "b.out.batchnorm"]
    changed = {c["name"]: c["changed"] for c in doc["layers"] if c["status"] == CHANGED}
    assert changed == {"a.out.conv": ["params"], "b.out.conv": ["params"]}  # bias=false
    # the same revision as the working tree: no difference
    assert diff_json(capsys, "specs/small.arch", "--rev", "HEAD")["summary"][CHANGED] == 0


def test_rev_sees_uncommitted_work_and_removed_includes(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the working tree moves the block into another file and deletes the old one
    (repo / "specs" / "lib" / "blocks.arch").unlink()
    (repo / "specs" / "lib" / "units.arch").write_text(BLOCKS_V1.replace("3, pad=1", "5, pad=2"))
    (repo / "specs" / "small.arch").write_text(NET.replace("blocks.arch", "units.arch"))
    doc = diff_json(capsys, "specs/small.arch", "--rev", "HEAD~1")
    changed = {c["name"]: c["changed"] for c in doc["layers"] if c["status"] == CHANGED}
    assert changed == {
        "a.out.conv": ["op", "params", "macs"],
        "b.out.conv": ["op", "params", "macs"],
    }
    assert totals(doc)["params"][2] == (25 - 9) * (3 * 16 + 16 * 32)


def test_rev_errors(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "diff", "specs/small.arch", "--rev", "no-such-branch")
    assert code == 2
    assert "unknown git revision 'no-such-branch'" in err
    (repo / "specs" / "new.arch").write_text(NET)
    code, _, err = run(capsys, "diff", "specs/new.arch", "--rev", "HEAD")
    assert code == 2
    assert "no file specs/new.arch in revision HEAD" in err
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.arch").write_text(NET)
    code, _, err = run(capsys, "diff", str(outside / "x.arch"), "--rev", "HEAD")
    assert code == 2
    assert "git repository" in err


def test_rev_error_in_the_old_version_names_the_revision(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "specs" / "small.arch").write_text(NET.replace("unit(32)", "unit(32) -> linaer(3)"))
    git(repo, "commit", "-q", "-am", "broken")
    (repo / "specs" / "small.arch").write_text(NET)
    code, _, err = run(capsys, "diff", "specs/small.arch", "--rev", "HEAD")
    assert code == 2
    assert err.startswith("HEAD:specs/small.arch:5:")
    assert "linaer" in err


# --------------------------------------------------------------------------- HTML
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")
def test_html_side_by_side(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from archc.report.diffpage import STATUS_FILL
    from tests.test_report import assert_self_contained, parse

    out_file = tmp_path / "diff.html"
    code, out, err = run(
        capsys, "diff", spec("resnet50"), spec("resnet101"), "--format", "html", "-o", str(out_file)
    )
    assert code == 0, err
    assert out == ""
    page_text = out_file.read_text(encoding="utf-8")
    assert_self_contained(page_text)
    page = parse(page_text)
    assert sum(1 for tag, _ in page.tags if tag == "svg") == 2
    assert "(depth 2)" in page_text  # the shallower of the two automatic depths
    # the new side colours the added bottlenecks green, the old side has nothing removed
    new_svg = page_text[page_text.index('id="new-diagram"') :]
    old_svg = page_text[page_text.index('id="old-diagram"') : page_text.index('id="new-diagram"')]
    assert new_svg.count(f'fill="{STATUS_FILL[ADDED]}"') >= 17  # layer3.6 ... layer3.22
    assert f'fill="{STATUS_FILL[REMOVED]}" stroke="black"' not in old_svg
    # per-scope delta table: layer3 changed by exactly the published difference
    layer3 = re.search(r'<tr class="changed">.*?</tr>', page_text)
    assert layer3 is not None and "<code>layer3</code>" in layer3.group(0)
    assert "+18,992,128" in layer3.group(0)
    assert page_text.count('<tr class="added">') == 17 * 10  # every added layer listed


def test_text_is_coloured_only_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from archc.cli.diff import colour_changes

    code, out, _ = run(capsys, "diff", spec("vgg16"), spec("vgg19"))
    assert code == 0 and "\x1b[" not in out  # captured: not a terminal
    coloured = colour_changes(out)
    assert "\x1b[32m  +  conv3_4.conv" in coloured
    assert coloured.count("\x1b[") == 2 * 6  # six added layers, on and off


def test_set_overrides_constants_on_both_sides(tmp_path: Path, capsys) -> None:
    """--set reaches both specs: two files that differ only in a constant's default are the
    same network once the constant is set."""
    text = (SPECS_DIR / "sweep" / "mobilenet_v1_width.arch").read_text()
    narrow = tmp_path / "narrow.arch"
    narrow.write_text(text.replace("const width = 1.0", "const width = 0.5"))
    assert "const width = 0.5" in narrow.read_text()
    wide = str(SPECS_DIR / "sweep" / "mobilenet_v1_width.arch")
    code, out, _ = run(capsys, "diff", wide, str(narrow))
    assert code == 0 and "identical" not in out
    code, out, _ = run(capsys, "diff", wide, str(narrow), "--set", "width=0.5")
    assert code == 0 and "the two networks are identical" in out
