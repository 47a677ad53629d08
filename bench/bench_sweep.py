"""Benchmark ``archc sweep``: candidates per second, per core and per engine.

    python bench/bench_sweep.py            # prints a Markdown report
    python bench/bench_sweep.py --quick    # fewer candidates
    python bench/bench_sweep.py --no-ray   # skip the Ray engine

1. Per core: the sweep evaluated in this process (``workers=0``), measured in CPU time so that
   other jobs on the machine do not count, for ResNet-50 and MobileNet v1 (with a width
   constant, ``specs/sweep/mobilenet_v1_width.arch``; ``specs/mobilenet_v2.arch`` too when it has
   a ``width`` constant).  Two paths: a resolution sweep, where candidates that differ only in
   input size reuse one elaborated graph, and a sweep where every candidate is elaborated anew.
   Targets: >= 100 candidates/s on ResNet-50, >= 500/s on a MobileNet.
2. Engines, wall clock: local with 1 and 2 worker processes, and Ray on a local instance of 2
   CPUs, on the same sweeps.  Every engine's rows are checked identical to the in-process ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archc.loader import load_program  # noqa: E402
from archc.sweep import candidate  # noqa: E402
from archc.sweep.api import sweep  # noqa: E402

RESNET = ROOT / "specs" / "resnet50.arch"
MOBILENET = ROOT / "specs" / "sweep" / "mobilenet_v1_width.arch"
MOBILENET_V2 = ROOT / "specs" / "mobilenet_v2.arch"


def sweeps(quick: bool) -> list[tuple[str, Path, dict[str, str], bool]]:
    """(label, spec, axes, elaboration reused?) for every measured sweep."""
    step = 4 if quick else 1
    out = [
        ("ResNet-50, resolution 64..1024", RESNET, {"resolution": f"64:1024:{2 * step}"}, True),
        (
            "ResNet-50, every candidate elaborated",
            RESNET,
            {"resolution": f"64:1024:{8 * step}"},
            False,
        ),
        (
            "MobileNet v1, width × resolution",
            MOBILENET,
            {"width": f"0.25:1.5:{0.01 * step:g}", "resolution": "128:320:32"},
            True,
        ),
        ("MobileNet v1, width only", MOBILENET, {"width": f"0.25:2.0:{0.01 * step:g}"}, False),
    ]
    if MOBILENET_V2.exists() and any(c.name == "width" for c in load_program(MOBILENET_V2).consts):
        out.append(
            (
                "MobileNet v2, width × resolution",
                MOBILENET_V2,
                {"width": "0.35:1.4:0.05", "resolution": "128:320:32"},
                True,
            )
        )
    return out


def per_core(spec: Path, axes: dict[str, str], reuse: bool) -> tuple[int, float, list[Any]]:
    """(candidates, candidates per CPU second, rows) evaluated in this process."""
    keep = candidate.KEEP_ELABORATED
    candidate.KEEP_ELABORATED = keep if reuse else 0
    try:
        sweep(spec, {k: v.split(":")[0] for k, v in axes.items()}, workers=0)  # warm up
        start = time.process_time()
        result = sweep(spec, axes, workers=0)
        cpu = time.process_time() - start
    finally:
        candidate.KEEP_ELABORATED = keep
    return len(result), len(result) / cpu, result.rows


def engine_rate(spec: Path, axes: dict[str, str], rows: list[Any], **options: Any) -> float:
    """Wall-clock candidates/s of one engine, on its second run of the sweep (Ray's workers import
    archc on their first task; that start-up is not what a long sweep pays per candidate)."""
    sweep(spec, axes, **options)
    start = time.perf_counter()
    result = sweep(spec, axes, **options)
    wall = time.perf_counter() - start
    assert result.rows == rows, f"{options}: rows differ from the in-process sweep"
    return len(result) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    measured = sweeps(args.quick)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores, load average {load}, Python {sys.version.split()[0]}\n"
    )
    print("| sweep | candidates | per core (CPU time) |")
    print("| --- | ---: | ---: |")
    rows_of = {}
    for label, spec, axes, reuse in measured:
        count, rate, rows = per_core(spec, axes, reuse)
        rows_of[label] = rows
        print(f"| {label} | {count:,} | {rate:,.0f}/s |")
    ray_ready = False
    if not args.no_ray:
        try:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            ray_ready = True
        except ImportError:
            print("\n(Ray is not installed: pip install 'archc[ray]')")
    print()
    head = "| sweep | local, 1 worker | local, 2 workers |" + (
        " Ray, 2 CPUs |" if ray_ready else ""
    )
    print(head)
    print("| --- | ---: | ---: |" + (" ---: |" if ray_ready else ""))
    for label, spec, axes, reuse in measured:
        if not reuse:
            continue
        rows = rows_of[label]
        one = engine_rate(spec, axes, rows, workers=1)
        two = engine_rate(spec, axes, rows, workers=2)
        line = f"| {label} | {one:,.0f}/s | {two:,.0f}/s |"
        if ray_ready:
            line += f" {engine_rate(spec, axes, rows, engine='ray'):,.0f}/s |"
        print(line)
    if ray_ready:
        import ray

        ray.shutdown()


if __name__ == "__main__":
    main()
