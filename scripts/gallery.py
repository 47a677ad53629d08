#!/usr/bin/env python3
"""Regenerate docs/gallery.md and docs/gallery/*.svg: a diagram of every network in specs/.

    python scripts/gallery.py            # rewrite the page and every SVG
    python scripts/gallery.py --check    # exit 1 if the page or an SVG is missing or stale
    python scripts/gallery.py --screenshot  # docs/report.png: the README's picture of a report

The page's text depends only on the specs (so tests/test_diagrams.py can compare it exactly
without running Graphviz); the SVGs depend on the Graphviz version too, so ``--check`` only
requires that each one exists.  Networks too large to read at full depth are drawn with
``--depth``, exactly as ``archc emit`` picks it by default (the page says so and gives the
command for every layer).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archc  # noqa: E402
from archc.analysis import Network  # noqa: E402
from archc.emit.graphviz import DiagramOptions, groups, render, resolve_depth  # noqa: E402
from archc.fileio import write_atomic  # noqa: E402
from archc.units import human_count  # noqa: E402

SPECS = ROOT / "specs"
PAGE = ROOT / "docs" / "gallery.md"
SVG_DIR = ROOT / "docs" / "gallery"
#: the most nodes a gallery diagram shows, as ``archc emit`` by default; a larger network is
#: drawn collapsed with --depth
MAX_NODES = DiagramOptions().max_nodes


def spec_paths(specs: Path = SPECS) -> list[Path]:
    """The network specs the gallery covers: specs/*.arch (not specs/lib or specs/examples)."""
    return sorted(specs.glob("*.arch"))


def pick_depth(net: Network) -> int | None:
    """The depth ``archc emit`` draws by default: full depth when it fits in ``MAX_NODES``
    nodes (normalizations and activations fused into the layer before), else the deepest
    ``--depth`` that does."""
    return resolve_depth(net, DiagramOptions())


def node_count(net: Network) -> int:
    options = DiagramOptions()
    return len(groups(net, resolve_depth(net, options), options))


def description(path: Path) -> str:
    """The first paragraph of the spec's header comment."""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text:
            if lines:
                break
            continue
        lines.append(text)
    return " ".join(lines)


def _command(path: Path) -> str:
    """The command that draws the picture (the default depth)."""
    rel = path.relative_to(ROOT).as_posix()
    return f"archc emit {rel} --target svg -o {path.stem}.svg"


def page(paths: list[Path]) -> str:
    """The Markdown of docs/gallery.md (no Graphviz needed)."""
    nets = [(p, archc.load(p)) for p in paths]
    out = [
        "# Gallery",
        "",
        "Every network in `specs/`, drawn by `archc emit --target svg` (colours by op; the",
        "legend is in each picture). This page and the pictures in `docs/gallery/` are generated",
        "by `scripts/gallery.py`: run `python scripts/gallery.py` after adding or changing a spec",
        "(CI runs `tests/test_diagrams.py`, which fails when this page is out of step with",
        "`specs/`). Each is the diagram `archc emit` draws by default: a layer and the",
        "normalizations and activations after it are one node, and networks that need more than",
        f"{MAX_NODES} nodes at full depth are collapsed to the deepest `--depth` that fits, so that",
        "blocks and repeats show as single nodes; `--depth all` draws every layer. See",
        "[diagrams.md](diagrams.md) for the options.",
        "",
        "| spec | network | params | MACs | layers | drawn at | nodes |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for path, net in nets:
        t = net.totals()
        depth = pick_depth(net)
        drawn = "full depth" if depth is None else f"depth {depth}"
        out.append(
            f"| [{path.stem}](#{path.stem}) | {net.name} | {human_count(t.params)} | "
            f"{human_count(t.macs)} | {t.layers} | {drawn} | {node_count(net)} |"
        )
    for path, net in nets:
        t = net.totals()
        depth = pick_depth(net)
        out += [
            "",
            f"## {path.stem}",
            "",
        ]
        text = description(path)
        if text:
            out += [f"> {text}", ""]
        out += [
            f"[`specs/{path.name}`](../specs/{path.name}) · network `{net.name}` · "
            f"{human_count(t.params)} params · {human_count(t.macs)} MACs · {t.layers} layers",
            "",
            f"`{_command(path)}`"
            + ("" if depth is None else f" (depth {depth}; every layer: `--depth all`)"),
            "",
            f"![{path.stem}](gallery/{path.stem}.svg)",
        ]
    return "\n".join(out) + "\n"


def write(paths: list[Path]) -> None:
    SVG_DIR.mkdir(parents=True, exist_ok=True)
    wanted = {f"{p.stem}.svg" for p in paths}
    for stale in sorted(SVG_DIR.glob("*.svg")):
        if stale.name not in wanted:
            stale.unlink()
            print(f"removed {stale.relative_to(ROOT)}")
    for path in paths:
        net = archc.load(path)
        svg = render(net, "svg", DiagramOptions())
        write_atomic(SVG_DIR / f"{path.stem}.svg", svg)
        print(f"wrote docs/gallery/{path.stem}.svg")
    write_atomic(PAGE, page(paths))
    print(f"wrote {PAGE.relative_to(ROOT)}")


def check(paths: list[Path]) -> list[str]:
    """What is out of step: an empty list when the page and the pictures match the specs."""
    problems = []
    if not PAGE.exists():
        return [f"{PAGE.relative_to(ROOT)} is missing"]
    if PAGE.read_text(encoding="utf-8") != page(paths):
        problems.append(f"{PAGE.relative_to(ROOT)} is out of date")
    for path in paths:
        if not (SVG_DIR / f"{path.stem}.svg").exists():
            problems.append(f"docs/gallery/{path.stem}.svg is missing")
    extra = {p.name for p in SVG_DIR.glob("*.svg")} - {f"{p.stem}.svg" for p in paths}
    problems += [f"docs/gallery/{name} has no spec" for name in sorted(extra)]
    return problems


#: the README's screenshot: GoogLeNet's report at 1400 x 1000 pixels, from its stages down
SCREENSHOT = ROOT / "docs" / "report.png"
CHROMIUM = "/usr/bin/chromium"


def screenshot(path: Path = SCREENSHOT) -> None:
    """Render specs/googlenet.arch's report in headless Chromium (Playwright) and save the
    window scrolled to the stages (stacked bars, live memory) as a PNG."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from archc.report import render_html

    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "googlenet.html"
        page_file.write_text(render_html(archc.load(SPECS / "googlenet.arch")), encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(page_file.as_uri(), wait_until="load")
                page.evaluate("document.getElementById('stages').scrollIntoView()")
                png = page.screenshot(type="png")
            finally:
                browser.close()
    write_atomic(path, png)
    print(f"wrote {path.relative_to(ROOT)} ({len(png) // 1024} KiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    parser.add_argument(
        "--screenshot", action="store_true", help="only remake docs/report.png (needs Chromium)"
    )
    args = parser.parse_args(argv)
    if args.screenshot:
        screenshot()
        return 0
    paths = spec_paths()
    if args.check:
        problems = check(paths)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python scripts/gallery.py", file=sys.stderr)
        return 1 if problems else 0
    write(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
