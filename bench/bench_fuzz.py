"""A longer fuzz run than the suite's tests/test_fuzz.py: same generators, more cases, every command.

    python bench/bench_fuzz.py                  # 5 minutes, seed 0
    python bench/bench_fuzz.py --seconds 3600 --seed 7
    python bench/bench_fuzz.py --save failures/ # write each failing case there

Alternates grammar-generated specs and byte-mutated shipped specs, runs one archc command on each
(in process, as the suite does), and checks the promise of docs/security.md: exit code 0, 1 or 2,
a message with every 2, never an internal error or a traceback.  Prints the exit-code counts,
cases per second and each distinct failure with the case that found it; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archc.cli import main  # noqa: E402
from tests.test_fuzz import FAST, SPECS, Grammar, mutate, workspace  # noqa: E402

COMMANDS = [
    ["analyze"],
    ["analyze", "--format", "json"],
    ["analyze", "--format", "markdown", "--depth", "1"],
    ["check", "--max-params", "1M"],
    ["check", "--format", "junit"],
    ["check", "--format", "json"],
    ["emit", "--target", "pytorch"],
    ["emit", "--target", "dot"],
    ["report", "--format", "markdown"],
    ["report"],
]


def run_case(path: Path, command: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([command[0], str(path), *command[1:], *FAST])
    return code, err.getvalue() + out.getvalue()


def problem(code: int, text: str) -> str | None:
    lines = text.strip().splitlines()
    internal = [line for line in lines if "internal error" in line or "Error" in line]
    if code not in (0, 1, 2):
        return f"exit {code}: " + (internal or lines or ["(no message)"])[0]
    if "Traceback" in text or "internal error" in text:
        return (internal or lines)[0]
    if code == 2 and not text.strip():
        return "exit 2 without a message"
    return None


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="directory for failing cases")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    originals = [p.read_bytes() for p in SPECS]
    codes: Counter[int] = Counter()
    failures: dict[str, tuple[str, bytes]] = {}
    cases = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        where = workspace(Path(tmp))
        path = where / "case.arch"
        while time.perf_counter() - started < args.seconds:
            if cases % 2:
                data = mutate(rng.choice(originals), rng)
            else:
                hostility = rng.choice([0.0, 0.04, 0.2])
                data = (
                    Grammar(random.Random(rng.getrandbits(64)), hostility)
                    .spec()
                    .encode("utf-8", "surrogatepass")
                )
            command = rng.choice(COMMANDS)
            path.write_bytes(data)
            code, text = run_case(path, command)
            codes[code] += 1
            cases += 1
            found = problem(code, text)
            if found and found not in failures:
                failures[found] = (" ".join(command), data)
                print(f"FAIL {found}\n  archc {' '.join(command)} on:\n{data[:2000]!r}\n")
                if args.save:
                    args.save.mkdir(parents=True, exist_ok=True)
                    (args.save / f"case{len(failures)}.arch").write_bytes(data)
    elapsed = time.perf_counter() - started
    print(f"{cases:,} cases in {elapsed:.0f} s ({cases / elapsed:.0f}/s), seed {args.seed}")
    print("exit codes: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(codes.items())))
    print(f"distinct failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main_())
