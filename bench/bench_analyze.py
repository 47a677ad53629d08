"""Benchmark the analysis path: whole-process latency and archc's own scaling.

    python bench/bench_analyze.py            # prints a Markdown report
    python bench/bench_analyze.py --quick    # fewer repetitions

1. Whole process: ``archc analyze specs/resnet50.arch --format json`` (median of N runs), next to
   ``python -c "import networkx"`` and bare ``python -c pass`` for scale.
2. archc's own work (read + parse + elaborate + passes + verify, in process) on generated specs of
   N conv/relu lines written out one per line (no ``repeat``), for N = 2,500 ... 20,000: the time
   must grow linearly.
3. ``python -X importtime`` of the analyze path: which heavy modules are imported (none of torch,
   onnx, onnxruntime, graphviz may appear).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import whole_process

ROOT = Path(__file__).resolve().parent.parent


def generated_spec(lines: int) -> str:
    body = ["network generated {", "    input image: 16x32x32"]
    for i in range(lines // 2):
        body.append(f"    c{i} = conv(16, 3, pad=1)")
        body.append(f"    r{i} = relu")
    body.append("    output y = global_avgpool")
    body.append("}")
    return "\n".join(body) + "\n"


def own_work(lines: int, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of archc.load() (read, parse, IR, passes, verify)."""
    import archc

    text = generated_spec(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"gen{lines}.arch"
        path.write_text(text)
        archc.load(path)  # warm: grammar cache, imports
        walls, cpus = [], []
        for _ in range(runs):
            start, cpu = time.perf_counter(), time.process_time()
            net = archc.load(path)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        assert len(net.order) == lines + 2
    return statistics.median(walls), statistics.median(cpus)


def heavy_imports() -> list[str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "archc",
            "analyze",
            "specs/resnet50.arch",
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    names = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    return sorted(
        {n for n in names if n.split(".")[0] in ("torch", "onnx", "onnxruntime", "graphviz")}
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3 if args.quick else 9
    archc_cmd = [sys.executable, "-m", "archc"]
    print("| whole process | wall (median) | CPU (median) |")
    print("| --- | ---: | ---: |")
    commands = {
        "`python -c pass`": [sys.executable, "-c", "pass"],
        "`python -c 'import networkx'`": [sys.executable, "-c", "import networkx"],
        "`archc analyze specs/resnet50.arch --format json`": [
            *archc_cmd,
            "analyze",
            "specs/resnet50.arch",
            "--format",
            "json",
        ],
        "`archc analyze specs/inception_v3.arch`": [
            *archc_cmd,
            "analyze",
            "specs/inception_v3.arch",
        ],
    }
    for label, cmd in commands.items():
        w, c = whole_process(cmd, runs)
        print(f"| {label} | {w * 1000:.0f} ms | {c * 1000:.0f} ms |")
    print()
    print("| generated spec (lines) | parse + IR + passes, wall | CPU | CPU per 1,000 lines |")
    print("| ---: | ---: | ---: | ---: |")
    for lines in (2_500, 5_000, 10_000, 20_000):
        w, c = own_work(lines, max(3, runs // 3))
        print(f"| {lines:,} | {w:.2f} s | {c:.2f} s | {c / lines * 1000 * 1000:.0f} ms |")
    print()
    print(f"heavy modules imported by analyze: {heavy_imports() or 'none'}")


if __name__ == "__main__":
    main()
