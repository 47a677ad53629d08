"""Benchmark the PyTorch emission: source as a whole process, and ``to_torch()`` split up.

    python bench/bench_pytorch.py            # prints a Markdown report; 9 runs per figure
    python bench/bench_pytorch.py --quick    # 3 runs per figure

1. Whole process, interpreter start and imports included, with torch made unimportable
   (``sys.modules["torch"] = None``, as if it were not installed):
   ``archc emit specs/resnet152.arch --target pytorch -o OUT``; next to ``archc analyze`` of
   the same spec and ``python -c pass`` for scale.  Target (issue 4): under 0.5 s.
2. ``Network.to_torch(seed=0)`` split into its parts, each in a fresh interpreter: importing
   torch, building the module (emitting the source, executing it, instantiating the network
   class on the meta device: no memory, no initialisation) and initialising the weights
   (``to_empty`` on the CPU, then every layer's ``reset_parameters``, seeded).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import whole_process

ROOT = Path(__file__).resolve().parent.parent
SPECS = ("resnet152", "vgg16", "googlenet", "inception_v3")
TARGET = 0.5  # seconds, whole process

#: ``python -c`` prelude that makes ``import torch`` fail, then runs archc's CLI
NO_TORCH_CLI = (
    "import sys; sys.modules['torch'] = None\n"
    "from archc.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
    "sys.exit(code)\n"
)

SPLIT = """
import json, sys, time
start = time.perf_counter()
import torch
imported = time.perf_counter()
import archc
from archc.emit import pytorch
net = archc.load(sys.argv[1])
loaded = time.perf_counter()
module = pytorch.to_torch(net, device="meta")   # emit + exec + instantiate, no memory
built = time.perf_counter()
module = module.to_empty(device="cpu")
pytorch.reset_weights(module, seed=0)
done = time.perf_counter()
print(json.dumps({"import": imported - start, "compile": loaded - imported,
                  "build": built - loaded, "init": done - built,
                  "params": sum(p.numel() for p in module.parameters())}))
"""


def split(spec: str, runs: int) -> dict[str, float]:
    """Median of each part of ``to_torch`` over ``runs`` fresh interpreters."""
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", SPLIT, f"specs/{spec}.arch"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout))
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per figure instead of 9")
    args = parser.parse_args()
    runs = 3 if args.quick else 9
    py = sys.executable
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "net.py")
        rows = [
            ("`python -c pass`", [py, "-c", "pass"]),
            (
                "`archc analyze specs/resnet152.arch` (no torch)",
                [py, "-c", NO_TORCH_CLI, "analyze", "specs/resnet152.arch"],
            ),
        ]
        for spec in SPECS:
            rows.append(
                (
                    f"`archc emit specs/{spec}.arch --target pytorch -o OUT` (no torch)",
                    [py, "-c", NO_TORCH_CLI, "emit", f"specs/{spec}.arch", "--target", "pytorch",
                     "-o", out],
                )
            )  # fmt: skip
        print(f"Whole process, median of {runs} runs\n")
        print("| command | wall | CPU |")
        print("| --- | ---: | ---: |")
        for label, cmd in rows:
            wall_s, cpu_s = whole_process(cmd, runs)
            print(f"| {label} | {wall_s * 1000:.0f} ms | {cpu_s * 1000:.0f} ms |")
            if "resnet152.arch --target pytorch" in label:
                ok = min(wall_s, cpu_s) < TARGET
    print(f"\n`to_torch(seed=0)` split, median of {max(3, runs // 3)} fresh interpreters\n")
    print(
        "| spec | params | import torch | (archc.load) | build (emit + exec + meta) "
        "| weight init | to_torch total |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for spec in SPECS:
        s = split(spec, max(3, runs // 3))
        total = s["import"] + s["build"] + s["init"]
        print(
            f"| {spec} | {s['params'] / 1e6:.1f} M | {s['import']:.2f} s | "
            f"({s['compile'] * 1000:.0f} ms) | {s['build'] * 1000:.0f} ms | {s['init']:.2f} s | "
            f"{total:.2f} s |"
        )
    print(f"\ntarget: resnet152 source in under {TARGET} s: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
