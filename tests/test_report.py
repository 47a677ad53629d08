"""``archc report``: the self-contained HTML page and the Markdown summary (no browser here;
tests/test_report_browser.py drives Chromium)."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from archc.cli import main
from archc.emit.graphviz import DiagramOptions
from archc.formats import op_label
from archc.report import ReportOptions, build, render_html, render_markdown
from archc.report.model import percent
from tests.conftest import SPEC_IDS, SPECS_DIR, load_spec

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")

VOID = {"meta", "link", "input", "br", "img", "hr", "wbr", "source", "col", "area", "base"}
#: XML namespace names in the inline SVG; identifiers, never fetched
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


class Page(HTMLParser):
    """Collects what the tests look at and checks that elements nest properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[str] = []  # data-key of each table row
        self.row_nodes: list[str] = []  # data-node of each table row: its diagram node
        self.node_titles: list[str] = []
        self._in_title = False
        self._in_svg = 0
        self._node_group = False  # the previous start tag was <g class="node">

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "svg":
            self._in_svg += 1
        if tag == "tr" and "data-key" in a:
            self.rows.append(a["data-key"] or "")
            self.row_nodes.append(a.get("data-node") or "")
        if tag == "title" and self._in_svg:
            self._in_title = self._node_group
        if tag not in VOID:
            self.stack.append(tag)
        self._node_group = tag == "g" and a.get("class") == "node"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()
        if tag == "svg":
            self._in_svg -= 1
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.node_titles.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def assert_self_contained(page: str) -> None:
    """Nothing in the page can make the browser fetch: no external src/href, no CSS url()."""
    assert re.search(
        r"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'", page
    )
    for url in re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", page):
        assert url in NAMESPACES or url.rstrip("/") in NAMESPACES, f"external reference {url}"
    assert not re.search(r"\bsrc\s*=", page, re.I)
    hrefs = re.findall(r"""\bhref\s*=\s*["']([^"']*)["']""", page)
    assert all(h.startswith("#") or h == "data:," for h in hrefs), hrefs
    assert "@import" not in page
    assert not re.search(r"url\(", page)
    assert "<link" not in page.replace('<link rel="icon" href="data:,">', "")


@pytest.fixture(scope="module")
def vgg16_page() -> str:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is missing")
    return render_html(load_spec("vgg16"))


# --------------------------------------------------------------------------- model
def test_shares_add_up_and_highlights_name_the_heaviest_rows() -> None:
    data = build(load_spec("vgg16"))
    for key in ("params", "macs", "memory"):
        assert sum(data.share(key, r) for r in data.rows) == pytest.approx(1.0)
    from archc.report.model import highlights

    lines = highlights(data)
    # by stage (top-level scope); fc6.linear is all of fc6, so it is not named twice
    assert lines[0] == "fc6 holds 74.3% of the params (102.76M of 138.36M)"
    assert lines[1].startswith("conv1_2 holds 12.0% of the MACs")
    assert lines[2].startswith("conv1_1 holds 21.1% of the activation memory")
    # ResNet-50: the stage that matters, then the heaviest single layer
    lines = highlights(build(load_spec("resnet50")))
    assert lines[1] == (
        "layer3 holds 35.8% of the MACs (1.46G of 4.09G); the most in one layer: stem.conv1, 2.9%"
    )


def test_percent() -> None:
    assert percent(0) == "–"
    assert percent(0.0001) == "<0.1%"
    assert percent(0.743) == "74.3%"


# --------------------------------------------------------------------------- HTML
@needs_dot
def test_html_is_self_contained(vgg16_page: str) -> None:
    assert vgg16_page.startswith("<!DOCTYPE html>")
    assert_self_contained(vgg16_page)
    assert "@media print" in vgg16_page
    assert '<meta name="viewport"' in vgg16_page


@needs_dot
def test_html_structure(vgg16_page: str) -> None:
    page = parse(vgg16_page)
    net = load_spec("vgg16")
    rows = [r.name for r in net.rows()]
    assert page.rows == rows  # the sortable table: one row per layer, in order
    # the diagram: conv and relu fused, every row links to the node that draws it
    assert set(page.row_nodes) == set(page.node_titles)
    assert len(page.node_titles) == 25
    assert sum(1 for tag, _ in page.tags if tag == "svg") == 2  # the diagram, live memory
    assert sum(1 for tag, _ in page.tags if tag == "script") == 1
    assert [a.get("data-type") for tag, a in page.tags if tag == "th" and "data-type" in a] == [
        "num", "text", "text", "num", "num", "num", "num", "num", "num", "num", "num", "num",
    ]  # fmt: skip
    # totals and where the weight and compute sit
    for text in ("138.36M", "138,357,544", "15.47G", "527.79 MiB", "24.50 MiB peak live"):
        assert text in vgg16_page
    assert "fc6 holds 74.3% of the params" in vgg16_page
    fc6 = re.search(r'<td class="name" title="fc6.linear">.*?</tr>', vgg16_page)
    assert fc6 is not None
    assert 'class="fill params" style="width:100.00%"' in fc6.group(0)
    assert ">74.3%<" in fc6.group(0)


@needs_dot
def test_html_is_deterministic(vgg16_page: str) -> None:
    assert render_html(load_spec("vgg16")) == vgg16_page


@needs_dot
def test_html_at_depth_is_per_block() -> None:
    net = load_spec("googlenet")
    options = ReportOptions(depth=1, diagram=DiagramOptions(depth=1))
    page_text = render_html(net, options)
    page = parse(page_text)
    assert page.rows == [r.name for r in net.rows(1)]
    assert sorted(page.node_titles) == sorted(page.rows)
    assert "per block, depth 1" in page_text
    assert page_text.count('<td class="name" title="inception_') == 9


@needs_dot
@pytest.mark.parametrize("spec", SPEC_IDS)
def test_html_for_every_spec(spec: str) -> None:
    net = load_spec(spec)
    page_text = render_html(net)
    assert_self_contained(page_text)
    page = parse(page_text)
    assert page.rows == [r.name for r in net.rows()]
    assert set(page.row_nodes) == set(page.node_titles)
    assert len(page.node_titles) <= 60
    # every line link lands on a line of the inlined source
    anchors = set(re.findall(r'id="(src-\d+-\d+)"', page_text))
    links = set(re.findall(r'href="#(src-\d+-\d+)"', page_text))
    assert links and links <= anchors


def test_markdown_at_full_depth() -> None:
    page = render_markdown(load_spec("lenet5"), ReportOptions(depth=None))
    assert "| `c1.conv` | conv 5×5, 6 |" in page


# --------------------------------------------------------------------------- Markdown
def test_markdown_totals_blocks_and_link() -> None:
    net = load_spec("googlenet")
    text = render_markdown(net, ReportOptions(depth=1), diagram="googlenet.svg")
    lines = text.splitlines()
    assert lines[0] == "### googlenet"
    assert "| params | 7.00M | 6,998,552 |" in lines
    assert "| MACs | 1.58G | 1,582,671,872; FLOPs 3.19G |" in lines
    assert "#### Per block (depth 1)" in lines
    table = [ln for ln in lines if ln.startswith("| `")]
    assert len(table) == len(net.rows(1))
    assert (
        "| `inception_4e` | inception(256, 160, 320, 32, 128, 128) | 832×14×14 | 868,352 | "
        "12.4% | 169,996,288 | 10.7% | 1.78 MiB | 17.3 |"
    ) in lines
    assert "| `drop` | dropout 0.4 | 1024×1×1 | 0 | – | 0 | – | in-place | – |" in lines
    assert "| convention | archc | MACs of conv and linear (docs/conventions.md) |" in lines
    assert lines[-1] == "![googlenet diagram](googlenet.svg)"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_markdown_to_stdout_says_how_to_draw(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS_DIR / "resnet50.arch")
    code, out, err = run_cli(["report", spec, "--format", "markdown"], capsys)
    assert code == 0, err
    assert "#### Per block (depth 1)" in out
    layer3 = next(r for r in load_spec("resnet50").rows(1) if r.name == "layer3")
    assert f"| `layer3` | {op_label(layer3)} | 1024×14×14 |" in out
    assert out.rstrip().endswith(f"_Diagram: `archc emit {spec} --target svg -o resnet50.svg`_")


@needs_dot
def test_cli_markdown_writes_the_svg_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The docs/diagrams.md example: the directory ``review`` does not exist yet."""
    out_md = tmp_path / "review" / "googlenet.md"
    code, out, err = run_cli(
        ["report", str(SPECS_DIR / "googlenet.arch"), "--format", "markdown", "-o", str(out_md)],
        capsys,
    )
    assert code == 0, err
    assert out == ""
    assert f"archc: created directory {tmp_path / 'review'}/" in err
    text = out_md.read_text(encoding="utf-8")
    assert text.rstrip().endswith("![googlenet diagram](googlenet.svg)")
    svg = (tmp_path / "review" / "googlenet.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and svg.count('class="node"') == 57  # the default diagram


@needs_dot
def test_cli_markdown_svg_option_links_relative_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "img").mkdir()
    argv = ["report", str(SPECS_DIR / "vgg16.arch"), "--format", "markdown", "--depth", "2"]
    code, _, err = run_cli([*argv, "-o", "docs/vgg.md", "--svg", "img/vgg.svg"], capsys)
    assert code == 0, err
    assert "![vgg16 diagram](../img/vgg.svg)" in (tmp_path / "docs/vgg.md").read_text("utf-8")
    assert (tmp_path / "img/vgg.svg").exists()
    # --svg without -o: link relative to the current directory
    code, out, err = run_cli([*argv, "--svg", "img/v2.svg"], capsys)
    assert code == 0, err
    assert "![vgg16 diagram](img/v2.svg)" in out


@needs_dot
def test_cli_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_html = tmp_path / "r.html"
    argv = ["report", str(SPECS_DIR / "resnet18.arch"), "-o", str(out_html)]
    argv += ["--depth", "2", "--color-by", "macs", "--batch", "8", "--dtype", "float16"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out == ""
    text = out_html.read_text(encoding="utf-8")
    assert_self_contained(text)
    assert "batch 8 · float16" in text
    assert "share of MACs" in text  # the diagram's legend


def test_cli_svg_needs_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["report", str(SPECS_DIR / "lenet5.arch"), "--svg", "x.svg"], capsys)
    assert code == 2
    assert "--svg goes with --format markdown" in err


def test_cli_html_without_dot_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    out_html = tmp_path / "r.html"
    code, _, err = run_cli(["report", str(SPECS_DIR / "lenet5.arch"), "-o", str(out_html)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "needs Graphviz's 'dot' program" in err
    assert not out_html.exists()


def test_assets_are_package_data() -> None:
    from importlib import resources

    assets = resources.files("archc.report").joinpath("assets")
    names = sorted(p.name for p in assets.iterdir())
    assert names == ["diff.html", "page.html", "report.css", "report.js"]


# --------------------------------------------------------------------------- review sections
BUDGETED = """
network budgeted {
    input image: 3x32x32
    stem = conv(16, 3, pad=1) -> batchnorm -> relu
    output logits = global_avgpool -> flatten -> linear(10)
    assert params <= 500, "fits a microcontroller"
    assert macs < 10M
    assert stem.params < 1000
}
"""


@needs_dot
def test_budgets_pass_and_fail_with_margins(tmp_path: Path) -> None:
    import archc

    spec = tmp_path / "budgeted.arch"
    spec.write_text(BUDGETED, encoding="utf-8")
    page_text = render_html(archc.load(spec))
    assert "2 of 3 budgets hold; 1 fails (batch 1, float32)" in page_text
    failed = re.search(r'<tr class="fail">.*?</tr>', page_text)
    assert failed is not None and "params &lt;= 500" in failed.group(0)
    assert "fits a microcontroller" in failed.group(0)
    assert ">−150 (-30.0%)<" in failed.group(0)  # 650 params: 150 over
    assert page_text.count('<span class="badge pass">pass</span>') == 2
    assert 'href="#src-1-6"' in page_text  # the assert's line, in the source section
    assert 'id="src-1-6"' in page_text


def test_markdown_budgets(tmp_path: Path) -> None:
    import archc

    spec = tmp_path / "budgeted.arch"
    spec.write_text(BUDGETED, encoding="utf-8")
    text = render_markdown(archc.load(spec))
    assert "#### Budgets: 2 of 3 hold" in text
    assert "| ❌ | `params <= 500` | 650 | &lt;= 500 | −150 (-30.0%) |" in text
    assert "Budgets" not in render_markdown(load_spec("lenet5"))


@needs_dot
def test_no_budgets_says_how_to_add_them(vgg16_page: str) -> None:
    assert "This spec declares no budgets" in vgg16_page


@needs_dot
def test_review_sections_of_resnet50() -> None:
    net = load_spec("resnet50")
    page_text = render_html(net)
    page = parse(page_text)
    # the line column says which file: lib/resnet.arch is not resnet50.arch
    assert '<a class="src-link" href="#src-2-17">lib/resnet.arch:17</a>' in page_text
    assert '<a class="src-link" href="#src-1-13">13</a>' in page_text  # resnet50.arch's own
    assert "A line number is in <code>resnet50.arch</code> unless another file is named" in (
        page_text
    )
    assert "<code>lib/resnet.arch</code>" in page_text
    # stages: one stacked bar per quantity, a segment per top-level scope with a share
    assert page_text.count('<div class="stack-row">') == 3
    assert re.search(r'class="seg s4" style="width:35\.8\d+%" title="layer3: 1\.46G', page_text)
    # live memory: the peak named, equal to the analysis' peak
    from archc.report.review import live_memory
    from archc.units import human_bytes

    lm = live_memory(net)
    assert lm.peak == net.totals().peak_activation_bytes
    assert f"Peak live activation memory <b>{human_bytes(lm.peak)}</b> while" in page_text
    assert f'<b class="peak-layer">{lm.peak_node}</b>' in page_text
    # receptive field against the 224×224 input
    assert "first covers the whole 224×224 input" in page_text
    assert "layer3.4.y.conv2" in page_text
    # the heaviest rows only in the per-row chart
    assert page_text.count('<td class="name" title=') == 15
    assert len(page.rows) == len(net.rows())


# --------------------------------------------------------------------------- notebooks
@needs_dot
def test_notebook_html_is_the_summary_and_the_collapsed_diagram() -> None:
    net = load_spec("resnet50")
    html_text = net._repr_html_()
    assert html_text.startswith('<div class="archc-network"')
    assert "<script" not in html_text  # notebooks may not run it; nothing needs it
    assert "25.56M" in html_text and "layer3 holds 35.8% of the MACs" in html_text
    assert html_text.count("<svg") == 1 and html_text.count('class="node"') == 42
    assert "collapsed to --depth 3" in html_text
    parse(html_text)  # well-formed


def test_notebook_without_dot_still_shows_the_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    html_text = load_spec("lenet5")._repr_html_()
    assert "<svg" not in html_text and "No diagram: " in html_text
    assert "61.71K" in html_text


def test_notebook_markdown() -> None:
    net = load_spec("googlenet")
    assert net._repr_markdown_() == render_markdown(net)
    assert "#### Per block (depth 1)" in net._repr_markdown_()
