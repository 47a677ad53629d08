"""Warnings (archc.lint): unused tensors and strides that skip pixels; ``--strict``.

"Never sees" is checked against PyTorch: changing the pixels a warning names leaves the layer's
output unchanged, and changing any other pixel changes it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc.lint import lint


def warnings_of(body: str) -> list[str]:
    net = archc.load("lint.arch", text="network n {\n" + body + "\n}\n")
    return [w.message for w in lint(net)]


def test_an_unused_tensor_is_reported_at_its_line() -> None:
    net = archc.load(
        "lint.arch",
        text="network n {\n input x: 3x8x8\n a = conv(4, 1)\n b = x -> relu\n output y = a\n}\n",
    )
    (warning,) = lint(net)
    assert warning.message == "the output of 'b' is never used"
    assert (warning.span.line, warning.span.column) == (4, 11)
    assert str(warning).startswith("lint.arch:4:11: warning:")


def test_outputs_and_consumed_tensors_are_not_reported() -> None:
    assert (
        warnings_of(" input x: 3x8x8\n a = conv(4, 1)\n output y = a -> relu\n output z = a") == []
    )


@pytest.mark.parametrize("spec", ["vgg16", "googlenet", "inception_v3", "mobilenet_v1"])
def test_clean_classics_have_no_warnings(spec: str) -> None:
    assert lint(archc.load(f"specs/{spec}.arch")) == []


def test_a_strided_one_by_one_conv_is_not_reported() -> None:
    assert lint(archc.load("specs/resnet50.arch")) == []


def test_a_stride_longer_than_its_window_is_reported_once_per_line() -> None:
    net = archc.load(
        "lint.arch",
        text="block b() {\n    out = maxpool(2, stride=3)\n}\n"
        "network n {\n input x: 3x30x30\n output y = b -> b -> b\n}\n",
    )
    (warning,) = lint(net)
    assert "skips 1 row and 1 column between windows" in warning.message
    assert "(and 2 more made by this line)" in warning.message
    assert warning.span.line == 2


torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pad", "lost"),
    [(224, 7, 2, 0, 1), (33, 3, 2, 0, 0), (20, 3, 3, 0, 2), (31, 5, 3, 1, 0), (32, 3, 2, 0, 1)],
)
def test_never_sees_is_what_pytorch_does(
    size: int, kernel: int, stride: int, pad: int, lost: int
) -> None:
    found = warnings_of(
        f" input x: 1x{size}x{size}\n output y = conv(1, {kernel}, stride={stride}, pad={pad})"
    )
    if lost:
        assert found and f"never sees the last {lost} rows" in found[0]
    else:
        assert found == []
    conv = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=pad)
    x = torch.randn(1, 1, size, size)
    with torch.no_grad():
        base = conv(x)
        seen_last = size - lost - 1
        for row in range(size - lost, size):  # the rows the warning names: no effect
            changed = x.clone()
            changed[:, :, row, :] += 1.0
            assert torch.equal(conv(changed), base)
        changed = x.clone()  # the last row it does see: an effect
        changed[:, :, seen_last, :] += 1.0
        assert not torch.equal(conv(changed), base)


def test_strict_turns_warnings_into_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "s.arch"
    spec.write_text(
        "network n {\n input x: 3x8x8\n a = conv(4, 1)\n b = x -> relu\n output y = a\n}\n"
    )
    run = [sys.executable, "-m", "archc", "analyze", str(spec)]
    plain = subprocess.run(run, capture_output=True, text=True)
    assert plain.returncode == 0 and "warning: the output of 'b' is never used" in plain.stderr
    strict = subprocess.run([*run, "--strict"], capture_output=True, text=True)
    assert strict.returncode == 2 and "warning (--strict)" in strict.stderr
    assert "Traceback" not in strict.stderr
