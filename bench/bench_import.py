"""``archc import`` of ResNet-152 ONNX (or another shipped spec's): the whole process, imports
included, as a user runs it.

The model is archc's own ResNet-152 emitted with random weights (``archc emit
specs/resnet152.arch --target onnx --weights random``: 230 MB of initializers, read for their
shapes only) or without them (``--weights none``); with ``--torchvision``, also torchvision's
resnet152 as ``torch.onnx.export`` writes it (torch's node names and Identity nodes, batch norm
kept: ``TrainingMode.PRESERVE``).  Each run is a fresh interpreter:

    python -m archc import resnet152.onnx -o resnet152.arch

Reported: median wall time and CPU time (user + system) over the runs; the issue's bar is 2 s
of wall time.  The figures and the command that made them are in docs/performance.md.

    python bench/bench_import.py                 # both weight modes, 3 runs each
    python bench/bench_import.py --repeat 1 --weights none
    python bench/bench_import.py --torchvision   # and torchvision's export (needs torch)
    python bench/bench_import.py --spec vit_b_16 # another shipped spec (and, with
                                                 # --torchvision, torchvision's model of that name)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import ROOT, whole_process

BAR = 2.0  # seconds, whole process

EXPORT_TORCHVISION = """
import sys, torch
from archc.importers.torchvision_hook import allow_torchvision_import
allow_torchvision_import()
import torchvision
model = getattr(torchvision.models, sys.argv[2])(weights=None).eval()
# gradients on: eval-mode nn.MultiheadAttention's fused fast path has no ONNX export
with torch.enable_grad():
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), sys.argv[1], dynamo=False,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--weights", choices=("random", "none", "both"), default="both")
    parser.add_argument(
        "--torchvision", action="store_true", help="also torchvision's model, exported"
    )
    parser.add_argument("--spec", default="resnet152", help="the shipped spec (specs/NAME.arch)")
    args = parser.parse_args()
    modes = ["none", "random"] if args.weights == "both" else [args.weights]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        models: list[tuple[str, Path]] = []
        for mode in modes:
            model = Path(tmp) / f"{args.spec}_{mode}.onnx"
            emit = [sys.executable, "-m", "archc", "emit", f"specs/{args.spec}.arch"]
            emit += ["--target", "onnx", "--weights", mode, "--seed", "0", "-o", str(model)]
            subprocess.run(emit, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
            models.append((f"archc, weights {mode:6}", model))
        if args.torchvision:
            model = Path(tmp) / f"{args.spec}_torchvision.onnx"
            export = [sys.executable, "-c", EXPORT_TORCHVISION, str(model), args.spec]
            subprocess.run(export, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
            models.append(("torchvision export   ", model))
        for label, model in models:
            out = Path(tmp) / f"{args.spec}.arch"
            cmd = [sys.executable, "-m", "archc", "import", str(model), "-o", str(out)]
            wall, cpu = whole_process(cmd, args.repeat)
            size = model.stat().st_size / 1e6
            lines = len(out.read_text().splitlines())
            ok = wall <= BAR
            failed |= not ok
            print(
                f"{args.spec} ONNX, {label} ({size:6.1f} MB): wall {wall:.2f} s, "
                f"cpu {cpu:.2f} s, spec {lines} lines  [{'ok' if ok else 'over'} {BAR:.0f} s]"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
