"""ONNX emission against ``torch.onnx.export``: whole processes, wall time and peak RSS.

Each measurement is a fresh interpreter, imports included, as a user runs it:

* archc:  ``python -m archc emit SPEC --target onnx --weights random --seed 0 -o OUT``
* torch:  import torch, build the PyTorch emission (``Network.to_torch(seed=0)``), eval mode,
  ``torch.onnx.export(..., dynamo=False)`` with a symbolic batch (the TorchScript exporter: the
  torch.export-based one needs ``onnxscript``, which the onnx extra does not install).

Peak RSS is the child's ``ru_maxrss`` from ``os.wait4``.  The figures and the command that made
them are in docs/performance.md.  The issue's bar, checked on vgg16 and printed at the end:
archc under half of torch's time, and under 1.3 GB peak RSS.

    python bench/bench_onnx.py                        # vgg16, resnet152, googlenet; 3 runs each
    python bench/bench_onnx.py --specs vgg16 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TORCH_EXPORT = """
import sys
import torch
import archc

net = archc.load(sys.argv[1])
module = net.to_torch(seed=0).eval()
example = tuple(torch.zeros(1, *shape) for shape in net.inputs.values())
names = [*net.inputs, *net.outputs]
with torch.no_grad():
    torch.onnx.export(
        module, example, sys.argv[2], dynamo=False,
        input_names=list(net.inputs), output_names=list(net.outputs),
        dynamic_axes={name: {0: "N"} for name in names},
    )
"""

TIME_BAR = 0.5  # archc's time as a fraction of torch's, at most
RSS_BAR = 1.3e9  # bytes


@dataclass
class Run:
    seconds: float
    peak_rss: int  # bytes
    size: int  # bytes written
    error: str = ""


def measure(command: list[str], output: Path) -> Run:
    """Run ``command`` to completion; its wall time, peak RSS and the size of what it wrote."""
    for stale in output.parent.glob(output.name + "*"):
        stale.unlink()
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        message = stderr.read().decode(errors="replace").strip()
    size = sum(p.stat().st_size for p in output.parent.glob(output.name + "*"))
    error = "" if child.returncode == 0 else (message.splitlines() or ["failed"])[-1]
    return Run(seconds, usage.ru_maxrss * 1024, size, error)


def best_of(command: list[str], output: Path, repeat: int) -> tuple[Run, list[float]]:
    runs = [measure(command, output) for _ in range(repeat)]
    failed = next((r for r in runs if r.error), None)
    if failed:
        return failed, []
    times = [r.seconds for r in runs]
    median = statistics.median(times)
    return Run(median, max(r.peak_rss for r in runs), runs[-1].size), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", nargs="+", default=["vgg16", "resnet152", "googlenet"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and spec (median)")
    parser.add_argument(
        "--no-torch", action="store_true", help="skip the torch.onnx.export baseline"
    )
    args = parser.parse_args(argv)

    rows = []
    verdict = 0
    with tempfile.TemporaryDirectory(prefix="bench_onnx.") as tmp:
        for spec in args.specs:
            path = str(ROOT / "specs" / f"{spec}.arch")
            out = Path(tmp) / f"{spec}.onnx"
            archc_cmd = [sys.executable, "-m", "archc", "emit", path, "--target", "onnx"]
            archc_cmd += ["--weights", "random", "--seed", "0", "-o", str(out)]
            ours, ours_times = best_of(archc_cmd, out, args.repeat)
            theirs = None
            if not args.no_torch:
                ref = Path(tmp) / f"{spec}.torch.onnx"
                theirs, _ = best_of(
                    [sys.executable, "-c", TORCH_EXPORT, path, str(ref)], ref, args.repeat
                )
            rows.append((spec, ours, ours_times, theirs))
            print(f"{spec}: archc {_show(ours)}; torch.onnx.export {_show(theirs)}", flush=True)

    print()
    print("| spec | file | archc emit | peak RSS | torch.onnx.export | peak RSS | time ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for spec, ours, _, theirs in rows:
        ratio = f"{ours.seconds / theirs.seconds:.2f}" if theirs and not theirs.error else "n/a"
        print(
            f"| {spec} | {ours.size / 1e6:.0f} MB | {ours.seconds:.2f} s | {ours.peak_rss / 1e9:.2f} GB "
            f"| {_time(theirs)} | {_rss(theirs)} | {ratio} |"
        )
    for spec, ours, _, theirs in rows:
        if spec != "vgg16":
            continue
        ok_rss = not ours.error and ours.peak_rss < RSS_BAR
        print(
            f"\nvgg16 peak RSS {ours.peak_rss / 1e9:.2f} GB < {RSS_BAR / 1e9} GB: {'PASS' if ok_rss else 'FAIL'}"
        )
        verdict |= not ok_rss
        if theirs and not theirs.error:
            ok_time = ours.seconds < TIME_BAR * theirs.seconds
            print(
                f"vgg16 time {ours.seconds:.2f} s < {TIME_BAR} × {theirs.seconds:.2f} s: {'PASS' if ok_time else 'FAIL'}"
            )
            verdict |= not ok_time
    return int(verdict)


def _show(run: Run | None) -> str:
    if run is None:
        return "skipped"
    if run.error:
        return f"failed: {run.error}"
    return f"{run.seconds:.2f} s, {run.peak_rss / 1e9:.2f} GB peak RSS, {run.size / 1e6:.0f} MB"


def _time(run: Run | None) -> str:
    return "n/a" if run is None or run.error else f"{run.seconds:.2f} s"


def _rss(run: Run | None) -> str:
    return "n/a" if run is None or run.error else f"{run.peak_rss / 1e9:.2f} GB"


if __name__ == "__main__":
    sys.exit(main())
