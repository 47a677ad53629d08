"""Functional equality with torchvision: the specs written after its models are its models.

For every spec of issue 11's table, two classic specs (ResNet-50, SqueezeNet 1.1), and the
width multipliers of MobileNetV2:

- archc's params, buffers (without ``num_batches_tracked``) and conv + linear MACs equal
  torchvision's own module counts (MACs from forward hooks on its ``Conv2d`` and ``Linear``
  modules, run on the meta device at the spec's input size: no arithmetic);
- torchvision's model, with random weights and random batch-norm statistics (so that a
  misplaced layer changes the output), loaded into archc's emitted module with
  :func:`archc.torch_compat.load_torchvision`, computes the same outputs in eval mode, within
  1e-5, on a random input smaller than the spec's (the networks are fully convolutional up to
  their global pool, and the small input keeps the suite fast).

torchvision 0.28.0 comes with the ``test`` extra; ``tests/torchvision_models.py`` says how its
models are imported on the CPU build of torch.  Nothing downloads weights (``weights=None``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn

import archc
from archc.emit import pytorch
from archc.torch_compat import TorchCompatError, load_torchvision
from tests.conftest import ROOT, SPECS_DIR, load_spec
from tests.torchvision_models import models


class Case(NamedTuple):
    builder: str  # torchvision.models.<builder>
    size: int = 224  # the spec's input (and torchvision's reference) resolution
    test_size: int = 64  # the input of the output comparison
    slow: bool = False


CASES: dict[str, Case] = {
    "mobilenet_v2": Case("mobilenet_v2"),
    "resnext50_32x4d": Case("resnext50_32x4d", test_size=32),
    "wide_resnet50_2": Case("wide_resnet50_2", test_size=32, slow=True),
    "densenet121": Case("densenet121", test_size=32),
    "regnet_x_400mf": Case("regnet_x_400mf"),
    "regnet_y_400mf": Case("regnet_y_400mf"),
    "mnasnet1_0": Case("mnasnet1_0"),
    "mobilenet_v3_large": Case("mobilenet_v3_large"),
    "mobilenet_v3_small": Case("mobilenet_v3_small"),
    "efficientnet_b0": Case("efficientnet_b0"),
    "efficientnet_v2_s": Case("efficientnet_v2_s", size=384, slow=True),
    "convnext_tiny": Case("convnext_tiny", test_size=32),
    "shufflenet_v2_x1_0": Case("shufflenet_v2_x1_0"),
    # two of the classic specs, written in torchvision's layout before issue 11
    "resnet50": Case("resnet50", test_size=32),
    "squeezenet1_1": Case("squeezenet1_1"),
}

ATOL = 1e-5

#: the table of issue 11 ("Modern CNNs")
ISSUE_11 = [
    "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
    "efficientnet_v2_s", "shufflenet_v2_x1_0", "densenet121", "regnet_x_400mf", "regnet_y_400mf",
    "resnext50_32x4d", "wide_resnet50_2", "mnasnet1_0", "convnext_tiny",
]  # fmt: skip


#: the specs, the heavy ones marked slow
SPECS = [pytest.param(n, marks=pytest.mark.slow) if c.slow else n for n, c in CASES.items()]


@cache
def torchvision_counts(builder: str, size: int, **kwargs: Any) -> tuple[int, int, int]:
    """torchvision's params, buffers (no ``num_batches_tracked``) and conv + linear MACs."""
    build = getattr(models(), builder)
    try:
        with torch.device("meta"):  # no memory, no initialisation
            model = build(weights=None, **kwargs).eval()
    except NotImplementedError:  # RegNet's width generator reads tensors' values
        model = build(weights=None, **kwargs).eval().to("meta")
    macs = 0

    def count(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            macs += out.numel() * module.in_channels // module.groups * kernel
        else:  # nn.Linear, per position where it is applied to a map (ConvNeXt)
            macs += out.numel() * module.in_features

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    with torch.no_grad():
        model(torch.empty(1, 3, size, size, device="meta"))
    for hook in hooks:
        hook.remove()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(
        b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked")
    )
    return params, buffers, macs


def randomize_statistics(model: nn.Module, seed: int = 1) -> None:
    """Random normalisation weights, biases and running statistics, and layer scales near 1:
    at initialisation they are ones and zeros (1e-6 for ConvNeXt's layer scale), which would
    hide a norm paired with the wrong layer."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
            if isinstance(module, nn.modules.batchnorm._BatchNorm | nn.LayerNorm | nn.GroupNorm):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
            for name, parameter in module.named_parameters(recurse=False):
                if name == "layer_scale":
                    parameter.uniform_(0.5, 1.5, generator=generator)


def max_difference(net: archc.analysis.Network, tv_model: nn.Module, size: int) -> float:
    """Loads ``tv_model`` into archc's module for ``net``; the largest output difference."""
    randomize_statistics(tv_model)
    # no initialisation: load_torchvision fills every tensor (or fails)
    module = pytorch.to_torch(net, device="meta").to_empty(device="cpu")
    load_torchvision(module, tv_model)
    module.eval()
    tv_model.eval()
    image = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), record_rates(module) as our_rates, record_rates(tv_model) as tv_rates:
        ours, theirs = module(image), tv_model(image)
    assert ours.shape == theirs.shape
    assert float(theirs.std()) > 1e-3  # a real comparison, not of two near-constant outputs
    # the layers a state_dict cannot show: dropout and stochastic depth, with their rates
    assert our_rates == tv_rates
    return float((ours - theirs).abs().max())


@contextlib.contextmanager
def record_rates(model: nn.Module) -> Iterator[list[tuple[str, float, str]]]:
    """Records (class name, rate, mode) of each dropout and stochastic depth as it runs."""
    rates: list[tuple[str, float, str]] = []

    def hook(module: nn.Module, args: object, out: object) -> None:
        kind = type(module).__name__
        rates.append((kind, round(module.p, 12), getattr(module, "mode", "")))

    hooks = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if type(m).__name__ in ("Dropout", "StochasticDepth")
    ]
    try:
        yield rates
    finally:
        for handle in hooks:
            handle.remove()


# --------------------------------------------------------------------------- every spec
@pytest.mark.parametrize("name", SPECS)
def test_counts_equal_torchvision(name: str) -> None:
    case = CASES[name]
    totals = load_spec(name).totals()
    assert (totals.params, totals.buffers, totals.macs) == torchvision_counts(
        case.builder, case.size
    )


@pytest.mark.parametrize("name", SPECS)
def test_outputs_equal_torchvision(name: str) -> None:
    case = CASES[name]
    torch.manual_seed(0)
    tv_model = getattr(models(), case.builder)(weights=None)
    assert max_difference(load_spec(name), tv_model, case.test_size) <= ATOL


def test_every_spec_of_issue_11_is_compared() -> None:
    """Each spec of issue 11's table is compared here, under its torchvision builder's name."""
    builders = set(dir(models()))
    assert all(case.builder in builders for case in CASES.values())
    shipped = {p.stem for p in SPECS_DIR.glob("*.arch")}
    assert set(CASES) <= shipped
    assert {name for name in ISSUE_11 if name in shipped} <= set(CASES)


# --------------------------------------------------------------------------- MobileNetV2 width
#: MobileNetV2's width multipliers: params, buffers, MACs (as docs/zoo.md states them)
WIDTHS = {
    0.5: (1_968_680, 18_544, 97_131_840),
    0.75: (2_636_424, 26_640, 209_069_792),
    1.0: (3_504_872, 34_112, 300_774_272),
    1.4: (6_108_776, 47_936, 582_195_824),
}


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_mobilenet_v2_width_multiplier_is_torchvisions(width: float) -> None:
    """``--set width=W`` (here ``consts=``) gives ``mobilenet_v2(width_mult=W)``."""
    net = archc.load(SPECS_DIR / "mobilenet_v2.arch", consts={"width": width})
    totals = net.totals()
    expected = torchvision_counts("mobilenet_v2", 224, width_mult=width)
    assert (totals.params, totals.buffers, totals.macs) == expected == WIDTHS[width]
    if width != 1.0:
        doc = " ".join((ROOT / "docs" / "zoo.md").read_text(encoding="utf-8").split())
        assert "at {}: {:,} / {:,} / {:,}".format(width, *expected) in doc
    if width != 1.0:  # width 1.0 is the spec's own case above
        torch.manual_seed(0)
        tv_model = models().mobilenet_v2(weights=None, width_mult=width)
        assert max_difference(net, tv_model, 64) <= ATOL


def test_mobilenet_v2_width_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from archc.cli import main

    spec = str(SPECS_DIR / "mobilenet_v2.arch")
    assert main(["analyze", spec, "--set", "width=0.75", "--format", "json"]) == 0
    import json

    totals = json.loads(capsys.readouterr().out)["totals"]
    params, buffers, macs = torchvision_counts("mobilenet_v2", 224, width_mult=0.75)
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, buffers, macs)


@pytest.mark.parametrize(("alpha", "builder"), [(0.5, "mnasnet0_5"), (1.3, "mnasnet1_3")])
def test_mnasnet_depth_multiplier_is_torchvisions(alpha: float, builder: str) -> None:
    """``--set alpha=A`` on ``specs/mnasnet1_0.arch`` gives torchvision's other MNASNets."""
    totals = archc.load(SPECS_DIR / "mnasnet1_0.arch", consts={"alpha": alpha}).totals()
    assert (totals.params, totals.buffers, totals.macs) == torchvision_counts(builder, 224)


# --------------------------------------------------------------------------- load_torchvision
def test_load_torchvision_returns_the_name_map() -> None:
    net = archc.load(SPECS_DIR / "mobilenet_v2.arch", consts={"width": 0.5})
    module = net.to_torch(seed=0)
    tv_model = models().mobilenet_v2(weights=None, width_mult=0.5)
    mapping = load_torchvision(module, tv_model)
    assert mapping["stem.conv.weight"] == "features.0.0.weight"
    assert mapping["stem.batchnorm.num_batches_tracked"] == "features.0.1.num_batches_tracked"
    assert mapping["logits.fc.bias"] == "classifier.1.bias"
    assert set(mapping) == set(module.state_dict())
    assert sorted(mapping.values()) == sorted(tv_model.state_dict())


def test_load_torchvision_fails_loudly_on_a_different_network() -> None:
    net = archc.load(SPECS_DIR / "mobilenet_v2.arch", consts={"width": 0.5})
    module = net.to_torch(seed=0)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with pytest.raises(
        TorchCompatError, match=r"layer 1 of \d+: weight is 16×3×3×3 against 32×3×3×3"
    ):
        load_torchvision(module, models().mobilenet_v2(weights=None))
    with pytest.raises(TorchCompatError, match=r"against torchvision's features\.0\.0 "):
        load_torchvision(module, models().mobilenet_v2(weights=None))
    # nothing was copied
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    with pytest.raises(TorchCompatError, match="layers with state"):
        load_torchvision(
            nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)), nn.Sequential(nn.Conv2d(3, 4, 3))
        )


@pytest.mark.parametrize(
    ("ours", "theirs", "message"),
    [
        (nn.Conv2d(3, 4, 3, stride=2), nn.Conv2d(3, 4, 3), r"stride \(2, 2\) against \(1, 1\)"),
        (nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 3), r"padding \(1, 1\) against \(0, 0\)"),
        (nn.BatchNorm2d(4, eps=1e-3), nn.BatchNorm2d(4), "eps 0.001 against 1e-05"),
        (nn.BatchNorm2d(4, momentum=0.01), nn.BatchNorm2d(4), "momentum 0.01 against 0.1"),
        (nn.BatchNorm2d(4), nn.GroupNorm(2, 4), "batch norm against group norm"),
        (nn.Conv2d(4, 8, 3), nn.Linear(4 * 9, 8), "weight is 8×4×3×3 against 8×36"),
        (nn.Conv2d(4, 8, 1, stride=2), nn.Linear(4, 8), "not 1×1, stride 1"),
        (nn.Conv2d(4, 8, 1, bias=False), nn.Conv2d(4, 8, 1), "1 tensors against 2"),
    ],
)
def test_load_torchvision_checks_each_pair(
    ours: nn.Module, theirs: nn.Module, message: str
) -> None:
    with pytest.raises(TorchCompatError, match=message):
        load_torchvision(ours, theirs)


def test_a_pointwise_conv_takes_a_linear_layers_weights() -> None:
    conv, linear = nn.Conv2d(4, 8, 1), nn.Linear(4, 8)
    assert load_torchvision(conv, linear) == {"weight": "weight", "bias": "bias"}
    x = torch.randn(2, 4, 3, 3)
    expected = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    assert torch.allclose(conv(x), expected, atol=1e-6)


def test_torch_compat_imports_neither_torch_nor_torchvision_until_called() -> None:
    code = (
        "import sys, archc.torch_compat\n"
        "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
