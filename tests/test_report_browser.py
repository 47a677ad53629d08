"""The HTML report in a real browser: headless Chromium (Debian's package) driven by Playwright.

The page must load with no console errors and no network request other than its own file:// URL,
the diagram must be there, clicking a column header must sort the table, the header must stay in
sight, and the page must fit 1400 and 700 pixel windows and print.  Screenshots (at 1400 and 700
pixels) and a print PDF are saved under ``artifacts/`` (gitignored) for a person to look at; the
paths are printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archc.report import render_html
from tests.conftest import ROOT, load_spec

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
LAPTOP = {"width": 1400, "height": 900}
NARROW = {"width": 700, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
    pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot"),
]


class Session:
    """One page in a fresh Chromium profile, with every request and console message recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=LAPTOP,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "googlenet.html"
    path.write_text(render_html(load_spec("googlenet")), encoding="utf-8")
    return path


@pytest.fixture()
def session(browser_context: Any, report_file: Path) -> Iterator[Session]:
    page = browser_context.new_page()
    s = Session(page)
    page.goto(report_file.as_uri(), wait_until="load")
    yield s
    page.close()


def _column(page: Any, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#layers tbody tr:not(.hidden) td:nth-child({index + 1})",
        "cells => cells.map(c => c.getAttribute('data-v') ?? c.textContent)",
    )


def _header(page: Any, title: str) -> Any:
    return page.locator("#layers thead th button", has_text=title).first


def test_loads_without_errors_or_network(session: Session, report_file: Path) -> None:
    page = session.page
    assert page.title() == "googlenet · archc report"
    page.wait_for_timeout(300)  # let any late request or error show up
    assert session.errors == []
    assert session.requests == [report_file.as_uri()]


def test_diagram_is_present(session: Session) -> None:
    page = session.page
    net = load_spec("googlenet")
    svg = page.locator("#diagram-frame svg")
    assert svg.count() == 1
    box = svg.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    titles = page.eval_on_selector_all(
        "#diagram-frame g.node > title", "ts => ts.map(t => t.textContent)"
    )
    row_nodes = page.eval_on_selector_all(
        "#layers tbody tr", "rs => rs.map(r => r.getAttribute('data-node'))"
    )
    assert len(row_nodes) == len(net.rows())
    assert set(row_nodes) == set(titles)  # every row finds its node; every node has rows
    assert len(titles) <= 60
    assert page.locator("#diagram-frame g.cluster").count() == 9


def test_header_click_sorts_the_table(session: Session) -> None:
    page = session.page
    original = _column(page, 1)
    assert original == [r.name for r in load_spec("googlenet").rows()]

    _header(page, "params").click()
    params = [int(v) for v in _column(page, 4)]
    assert params == sorted(params, reverse=True)
    assert params[0] > params[-1]
    th = page.locator("#layers thead th", has=page.locator("button", has_text="params")).first
    assert th.get_attribute("aria-sort") == "descending"
    assert _column(page, 1)[0] == "logits.linear"  # the classifier holds the most parameters

    _header(page, "params").click()
    params = [int(v) for v in _column(page, 4)]
    assert params == sorted(params)
    assert th.get_attribute("aria-sort") == "ascending"

    _header(page, "layer").click()
    names = _column(page, 1)
    assert names == sorted(names, key=str.lower)

    _header(page, "MACs").click()
    macs = [int(v) for v in _column(page, 6)]
    assert macs == sorted(macs, reverse=True)

    _header(page, "#").click()
    assert _column(page, 1) == original
    assert session.errors == []


def test_filter_and_links(session: Session) -> None:
    page = session.page
    page.fill("#filter", "inception_4a.b2")
    visible = _column(page, 1)
    assert visible and all(name.startswith("inception_4a.b2") for name in visible)
    # a name in the table highlights its node in the diagram
    first = page.locator("#layers tbody tr:not(.hidden)").first
    first.locator("a.node-link").click()
    highlighted = page.eval_on_selector_all(
        "#diagram-frame g.node.hl > title", "ts => ts.map(t => t.textContent)"
    )
    assert highlighted == [first.get_attribute("data-node")] == ["inception_4a.b2"]
    page.fill("#filter", "")
    assert len(_column(page, 1)) == len(load_spec("googlenet").rows())
    assert session.errors == []


@pytest.mark.parametrize("width", [1400, 1280, 700])
def test_fits_the_window(browser_context: Any, report_file: Path, width: int) -> None:
    """At 1400 and 1280 pixels every column shows; at 700 the table drops the share, intensity,
    RF and line columns and says so, and still needs no horizontal scroll; a screenshot of each
    of 1400 and 700 is saved."""
    page = browser_context.new_page()
    try:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(report_file.as_uri(), wait_until="load")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        table_fits = page.evaluate(
            "(() => { const w = document.querySelector('.table-wrap');"
            " return w.scrollWidth <= w.clientWidth; })()"
        )
        assert table_fits, f"the layer table needs a horizontal scroll at {width}px"
        shown = page.eval_on_selector_all(
            "#layers thead th", "ths => ths.filter(t => t.offsetParent).map(t => t.innerText)"
        )
        narrow_note = page.locator(".narrow-only").first
        if width >= 1280:
            assert len(shown) == 12 and narrow_note.is_hidden()
        else:
            assert [t.strip(" ↕") for t in shown] == [
                "layer", "op", "output", "params", "MACs", "memory",
            ]  # fmt: skip
            assert narrow_note.is_visible()
        # the header stays in sight: scrolled to the table, the navigation is still at the top
        page.locator("#layers-section").scroll_into_view_if_needed()
        page.evaluate("document.getElementById('layers-section').scrollIntoView()")
        top = page.evaluate("document.querySelector('header.page').getBoundingClientRect().top")
        assert top == 0 and page.locator("header.page nav").is_visible()
        heading = page.evaluate(
            "document.querySelector('#layers-section h2').getBoundingClientRect().top"
        )
        bottom = page.evaluate(
            "document.querySelector('header.page').getBoundingClientRect().bottom"
        )
        assert heading >= bottom - 1, "the section heading hides under the sticky header"
        if width in (1400, 700):
            ARTIFACTS.mkdir(exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")
            shot = ARTIFACTS / f"report-googlenet-{width}.png"
            page.screenshot(path=str(shot))
            page.locator("#stages").evaluate("e => e.scrollIntoView()")
            review = ARTIFACTS / f"report-googlenet-{width}-review.png"
            page.screenshot(path=str(review))
            for path in (shot, review):
                assert path.stat().st_size > 10_000
                print(f"saved {path}")
    finally:
        page.close()


def test_print_fits_an_a4_page(browser_context: Any, report_file: Path) -> None:
    """A4 less 12 mm margins is about 700 CSS pixels: nothing may stick out in print."""
    page = browser_context.new_page()
    try:
        page.set_viewport_size({"width": 700, "height": 1000})
        page.goto(report_file.as_uri(), wait_until="load")
        page.emulate_media(media="print")
        assert page.evaluate("document.documentElement.scrollWidth") <= 700

        def style(selector: str, prop: str) -> str:
            return str(
                page.evaluate(
                    f"getComputedStyle(document.querySelector({selector!r}))"
                    f".getPropertyValue({prop!r})"
                )
            )

        # long sections start a page; short ones move whole; a heading stays with what follows
        for section in ("#diagram", "#chart", "#layers-section", "#source"):
            assert style(section, "break-before") == "page", section
        for section in ("#budgets", "#stages", "#memory", "#receptive-field"):
            assert style(section, "break-inside") == "avoid", section
        assert style("#totals h2", "break-after") == "avoid"
        assert style("header.page", "position") == "static"
    finally:
        page.close()


def test_screenshots_and_print(session: Session) -> None:
    page = session.page
    ARTIFACTS.mkdir(exist_ok=True)
    top = ARTIFACTS / "report-googlenet.png"
    page.screenshot(path=str(top))
    page.locator("#chart").evaluate("e => e.scrollIntoView()")
    chart = ARTIFACTS / "report-googlenet-chart.png"
    page.screenshot(path=str(chart))
    page.emulate_media(media="print")
    assert page.locator("nav.sections").is_hidden()
    assert page.locator("#filter").is_hidden()
    frame_overflow = page.evaluate(
        "getComputedStyle(document.getElementById('diagram-frame')).overflow"
    )
    assert frame_overflow == "visible"
    pdf = ARTIFACTS / "report-googlenet.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF-")
    for path in (top, chart, pdf):
        assert path.stat().st_size > 10_000
        print(f"saved {path}")
    assert session.errors == []


def test_html_diff(browser_context: Any, tmp_path: Path) -> None:
    """``archc diff --format html``: loads cleanly, both diagrams side by side at 1400 px with
    the added scopes coloured; a screenshot is saved."""
    from archc.diff import Side, diff_networks
    from archc.report.diffpage import STATUS_FILL, render_diff_html

    d = diff_networks(
        Side("specs/resnet50.arch", load_spec("resnet50")),
        Side("specs/resnet101.arch", load_spec("resnet101")),
    )
    path = tmp_path / "diff.html"
    path.write_text(render_diff_html(d), encoding="utf-8")
    page = browser_context.new_page()
    try:
        s = Session(page)
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(200)
        assert s.errors == [] and s.requests == [path.as_uri()]
        old = page.locator("#old-diagram svg").bounding_box()
        new = page.locator("#new-diagram svg").bounding_box()
        assert old and new and old["x"] + old["width"] <= new["x"]  # side by side
        added = page.eval_on_selector_all(
            f"#new-diagram g.node [fill='{STATUS_FILL['added']}']", "ps => ps.length"
        )
        assert added >= 17
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        ARTIFACTS.mkdir(exist_ok=True)
        first_added = page.locator(f"#new-diagram g.node [fill='{STATUS_FILL['added']}']").first
        first_added.evaluate("e => e.scrollIntoView({block: 'center'})")
        shot = ARTIFACTS / "diff-resnet50-resnet101.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        print(f"saved {shot}")
    finally:
        page.close()
