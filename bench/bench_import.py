"""``archc import`` of ResNet-152 ONNX: the whole process, imports included, as a user runs it.

The model is archc's own ResNet-152 emitted with random weights (``archc emit
specs/resnet152.arch --target onnx --weights random``: 230 MB of initializers, read for their
shapes only) or without them (``--weights none``).  Each run is a fresh interpreter:

    python -m archc import resnet152.onnx -o resnet152.arch

Reported: median wall time and CPU time (user + system) over the runs; the issue's bar is 2 s
of wall time.  The figures and the command that made them are in docs/performance.md.

    python bench/bench_import.py                 # both weight modes, 3 runs each
    python bench/bench_import.py --repeat 1 --weights none
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import ROOT, whole_process

BAR = 2.0  # seconds, whole process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--weights", choices=("random", "none", "both"), default="both")
    args = parser.parse_args()
    modes = ["none", "random"] if args.weights == "both" else [args.weights]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            model = Path(tmp) / f"resnet152_{mode}.onnx"
            emit = [sys.executable, "-m", "archc", "emit", "specs/resnet152.arch"]
            emit += ["--target", "onnx", "--weights", mode, "--seed", "0", "-o", str(model)]
            subprocess.run(emit, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
            out = Path(tmp) / "resnet152.arch"
            cmd = [sys.executable, "-m", "archc", "import", str(model), "-o", str(out)]
            wall, cpu = whole_process(cmd, args.repeat)
            size = model.stat().st_size / 1e6
            lines = len(out.read_text().splitlines())
            ok = wall <= BAR
            failed |= not ok
            print(
                f"resnet152 ONNX, weights {mode:6} ({size:6.1f} MB): wall {wall:.2f} s, "
                f"cpu {cpu:.2f} s, spec {lines} lines  [{'ok' if ok else 'over'} {BAR:.0f} s]"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
