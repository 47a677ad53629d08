"""The spec formatter (archc/fmt.py) and ``archc fmt``."""

from __future__ import annotations

from pathlib import Path

import pytest

import archc
from archc.cli import main
from archc.fmt import format_source

SPECS = Path(__file__).resolve().parent.parent / "specs"
ALL = sorted(SPECS.rglob("*.arch"))
NETWORKS = sorted(p for p in SPECS.glob("*.arch"))


def _numbers(net: archc.analysis.Network) -> tuple[object, ...]:
    t = net.totals()
    shapes = [(net.layer(n).name, net.layer(n).op, net.shape(n)) for n in net.order]
    return (t.params, t.buffers, t.macs, t.flops, shapes)


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(SPECS)))
def test_format_is_idempotent(path: Path) -> None:
    text = path.read_text()
    once = format_source(text, str(path))
    assert format_source(once, str(path)) == once
    canonical = format_source(text, str(path), keep_spacing=False)
    assert format_source(canonical, str(path), keep_spacing=False) == canonical
    # every comment survives
    assert [line.strip() for line in text.splitlines() if line.strip().startswith("#")] == [
        line.strip() for line in once.splitlines() if line.strip().startswith("#")
    ]


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.name)
def test_formatted_spec_means_the_same(path: Path) -> None:
    before = archc.load(path)
    for keep in (True, False):
        text = format_source(path.read_text(), str(path), keep_spacing=keep)
        after = archc.load(path, text=text)
        assert _numbers(after) == _numbers(before)


UGLY = """\
# header

const   W=[ (1,16,1,1),
  (6,24,2,2) ]   # table
block b( x , y=2 ){
  out = in->conv( x,3,pad = 1 )->relu
  if y==2 { z = in } else { z = in -> relu }
}
fn f(a,b=3){ a*(b+1) }



network n {
  input image : 3x32x32
  a=b(8)   # hi
  s = repeat 2 as i { b(f(i) , y=(2)) }
  t = for (p,q,r,u) in W {
    c = conv(q,1)
  }
  output o = flatten->linear( 10 )
}
"""

CANONICAL = """\
# header

const W = [(1, 16, 1, 1), (6, 24, 2, 2)]  # table

block b(x, y=2) {
    out = in -> conv(x, 3, pad=1) -> relu
    if y == 2 {
        z = in
    } else {
        z = in -> relu
    }
}

fn f(a, b=3) {
    a * (b + 1)
}

network n {
    input image: 3x32x32
    a = b(8)  # hi
    s = repeat 2 as i { b(f(i), y=2) }
    t = for (p, q, r, u) in W {
        c = conv(q, 1)
    }
    output o = flatten -> linear(10)
}
"""


def test_canonical_layout() -> None:
    assert format_source(UGLY) == CANONICAL
    assert format_source(CANONICAL) == CANONICAL


def test_minimal_parentheses_and_literals() -> None:
    text = "network n {\n    input x: 3×8×8\n    y = conv((2 + 3) * 2, 1, pad=(1 - 1)) -> lrn(alpha=1e-4)\n}\n"
    out = format_source(text)
    assert "conv((2 + 3) * 2, 1, pad=1 - 1)" in out
    assert "3×8×8" in out and "alpha=1e-4" in out  # literals as written


def test_long_chain_breaks_under_the_first_layer() -> None:
    links = " -> ".join(["conv(64, 3, pad=1) -> relu"] * 5)
    out = format_source(f"network n {{\n    input x: 3x8x8\n    y = {links}\n}}\n")
    lines = out.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[3].startswith("        -> ")  # under "conv" after "y = "


def test_fmt_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "u.arch"
    spec.write_text(UGLY)
    assert main(["fmt", "--check", str(spec)]) == 1
    assert "not formatted" in capsys.readouterr().err
    assert main(["fmt", "--diff", str(spec)]) == 0
    assert "+block b(x, y=2) {" in capsys.readouterr().out
    assert spec.read_text() == UGLY  # --diff writes nothing
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text() == CANONICAL
    assert main(["fmt", "--check", str(spec)]) == 0


def test_fmt_reports_syntax_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.arch"
    spec.write_text("network n {\n    x = conv(\n}\n")
    assert main(["fmt", str(spec)]) == 2
    assert "bad.arch:" in capsys.readouterr().err
