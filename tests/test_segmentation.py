"""Dense prediction (issue 12): the segmentation specs are torchvision's models, U-Net is U-Net.

For ``fcn_resnet50``, ``deeplabv3_mobilenet_v3_large`` and ``lraspp_mobilenet_v3_large``:

- archc's params, buffers (without ``num_batches_tracked``) and conv + linear MACs are the
  issue's figures at 3×520×520 and equal torchvision's own module counts (forward hooks on its
  ``Conv2d`` and ``Linear`` modules, on the meta device), with and without the auxiliary head
  (``--set aux=true``), and at another input size (``--input image=3x480x640``), where the
  stages' output shapes are torchvision's too;
- torchvision's model (random weights and batch-norm statistics), loaded into archc's emitted
  module with :func:`archc.torch_compat.load_torchvision`, computes the same outputs (its
  ``{'out': ..., 'aux': ...}``) within 1e-5 in eval mode: on small inputs of odd, unequal
  sides in the lean run, at 520×520 in the slow one.

``specs/unet.arch`` is checked against a U-Net written here independently of it, in the layout
of milesial/Pytorch-UNet (``UNet(n_channels=3, n_classes=2, bilinear=False)``: DoubleConv of
two padded 3×3 convs without bias, each with batch norm and ReLU; Down a 2×2 max pool and a
DoubleConv; Up a 2×2/2 transposed conv halving the channels, padded to the skip's size, after
which it is concatenated; a 1×1 OutConv): params, buffers, MACs (conv, transposed conv), each
stage's output shape, and, with the reference's weights loaded, the outputs.

Nothing downloads weights: the builders get ``weights=None, weights_backbone=None``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, NamedTuple

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archc
from archc.analysis import Network
from archc.cli import main
from archc.emit import pytorch
from archc.torch_compat import load_torchvision
from tests.conftest import SPECS_DIR, load_spec
from tests.test_torchvision import randomize_statistics, record_rates
from tests.torchvision_models import models

ATOL = 1e-5


class Case(NamedTuple):
    #: params, buffers, MACs at 3×520×520 without the aux head (the issue's table)
    table: tuple[int, int, int]
    #: the same with torchvision's aux head (aux_loss=True, here --set aux=true), or None
    with_aux: tuple[int, int, int] | None
    #: torchvision module (in the model) -> archc row (at --depth 1) of the same output
    stages: dict[str, str]


CASES: dict[str, Case] = {
    "fcn_resnet50": Case(
        (32_957_013, 54_144, 142_725_772_800),
        (35_322_218, 54_656, 152_716_512_000),
        {
            "backbone.layer1": "layer1",
            "backbone.layer2": "layer2",
            "backbone.layer3": "layer3",
            "backbone.layer4": "layer4",
            "classifier": "head",
        },
    ),
    "deeplabv3_mobilenet_v3_large": Case(
        (11_025_477, 27_984, 10_436_350_688),
        (11_029_328, 28_004, 10_452_447_938),
        {"backbone.4": "c2", "backbone.15": "bnecks", "backbone.16": "c5", "classifier": "head"},
    ),
    "lraspp_mobilenet_v3_large": Case(
        (3_221_538, 24_656, 2_086_219_688),
        None,
        {"backbone.4": "low", "backbone.15": "bnecks", "backbone.16": "high"},
    ),
}
SEGMENTATION = list(CASES)
#: (spec, aux) for every variant
VARIANTS = [(name, False) for name in CASES] + [
    (name, True) for name, case in CASES.items() if case.with_aux
]


def tv_model(name: str, aux: bool, device: str = "cpu") -> nn.Module:
    """torchvision's segmentation model, random weights, no downloads."""
    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None}
    if CASES[name].with_aux is not None:
        kwargs["aux_loss"] = aux
    with torch.device(device):
        model: nn.Module = getattr(models().segmentation, name)(**kwargs)
    return model.eval()


def spec(name: str, aux: bool = False, size: tuple[int, int] | None = None) -> Network:
    if not aux and size is None:
        return load_spec(name)
    inputs = {"image": (3, *size)} if size else None
    return archc.load(
        SPECS_DIR / f"{name}.arch", inputs=inputs, consts={"aux": True} if aux else {}
    )


def module_macs(model: nn.Module, run: Any) -> int:
    """Conv (also transposed) and linear MACs of ``run()``, from forward hooks on ``model``."""
    macs = 0

    def count(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.ConvTranspose2d):  # each input element into out/g · k² outputs
            kernel = module.kernel_size[0] * module.kernel_size[1]
            macs += args[0].numel() * module.out_channels // module.groups * kernel
        elif isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            macs += out.numel() * module.in_channels // module.groups * kernel
        elif isinstance(module, nn.Linear):
            macs += out.numel() * module.in_features

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
    ]
    with torch.no_grad():
        run()
    for hook in hooks:
        hook.remove()
    return macs


def state_counts(model: nn.Module) -> tuple[int, int]:
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(
        b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked")
    )
    return params, buffers


@cache
def torchvision_counts(
    name: str, aux: bool, size: tuple[int, int]
) -> tuple[tuple[int, int, int], dict[str, tuple[int, ...]]]:
    """torchvision's params, buffers and MACs at ``size``; and its stages' output shapes."""
    model = tv_model(name, aux, "meta")
    shapes: dict[str, tuple[int, ...]] = {}

    def record(path: str) -> Any:
        def hook(module: nn.Module, args: object, out: torch.Tensor) -> None:
            shapes[path] = tuple(out.shape[1:])

        return hook

    for path in CASES[name].stages:
        model.get_submodule(path).register_forward_hook(record(path))
    image = torch.empty(1, 3, *size, device="meta")
    macs = module_macs(model, lambda: model(image))
    return (*state_counts(model), macs), shapes


def totals(net: Network) -> tuple[int, int, int]:
    t = net.totals()
    return t.params, t.buffers, t.macs


def max_difference(net: Network, model: nn.Module, image: torch.Tensor) -> float:
    """Loads ``model`` into archc's module for ``net``; the largest difference of any output."""
    randomize_statistics(model)
    module = pytorch.to_torch(net, device="meta").to_empty(device="cpu")
    load_torchvision(module, model)
    module.eval()
    with torch.no_grad(), record_rates(module) as ours_rates, record_rates(model) as tv_rates:
        ours, theirs = module(image), model(image)
    ours = ours if isinstance(ours, tuple) else (ours,)
    assert list(theirs) == list(net.outputs)  # out (and aux), in that order
    assert ours_rates == tv_rates  # dropout, which a state_dict does not show
    worst = 0.0
    for mine, tv in zip(ours, theirs.values(), strict=True):
        assert tuple(mine.shape) == tuple(tv.shape) == (image.shape[0], 21, *image.shape[2:])
        assert float(tv.std()) > 1e-3  # a real comparison
        worst = max(worst, float((mine - tv).abs().max()))
    return worst


def random_image(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------- counts
@pytest.mark.parametrize("name", SEGMENTATION)
def test_the_issues_figures(name: str) -> None:
    assert totals(load_spec(name)) == CASES[name].table
    assert load_spec(name).outputs == {"out": (21, 520, 520)}


@pytest.mark.parametrize(("name", "aux"), VARIANTS)
def test_counts_equal_torchvision(name: str, aux: bool) -> None:
    counts, _ = torchvision_counts(name, aux, (520, 520))
    assert totals(spec(name, aux)) == counts
    assert counts == (CASES[name].with_aux if aux else CASES[name].table)


@pytest.mark.parametrize(("name", "aux"), VARIANTS)
def test_another_input_size_follows_torchvision(name: str, aux: bool) -> None:
    """At 3×480×640 the counts and every stage's shape are torchvision's, the outputs the
    input's size."""
    net = spec(name, aux, (480, 640))
    counts, shapes = torchvision_counts(name, aux, (480, 640))
    assert totals(net) == counts
    rows = {row.name: row.shape for row in net.rows(1)}
    assert {path: rows[row] for path, row in CASES[name].stages.items()} == shapes
    assert list(net.outputs.values()) == [(21, 480, 640)] * (2 if aux else 1)


def test_another_input_size_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SPECS_DIR / "fcn_resnet50.arch")
    assert main(["analyze", path, "--input", "image=3x480x640", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)["totals"]
    counts, _ = torchvision_counts("fcn_resnet50", False, (480, 640))
    assert (got["params"], got["buffers"], got["macs"]) == counts


@pytest.mark.parametrize("name", ["fcn_resnet50", "deeplabv3_mobilenet_v3_large"])
def test_aux_head_on_the_command_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SPECS_DIR / f"{name}.arch")
    assert main(["analyze", path, "--set", "aux=true", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    got = doc["totals"]
    assert (got["params"], got["buffers"], got["macs"]) == CASES[name].with_aux
    assert [(o["name"], o["shape"]) for o in doc["outputs"]] == [
        ("out", [21, 520, 520]),
        ("aux", [21, 520, 520]),
    ]


# --------------------------------------------------------------------------- outputs
#: small inputs with odd, unequal sides (the strided convs round up, the upsampling follows)
LEAN_SIZE = {
    "fcn_resnet50": (45, 61),
    "deeplabv3_mobilenet_v3_large": (75, 101),
    "lraspp_mobilenet_v3_large": (75, 101),
}


@pytest.mark.parametrize(("name", "aux"), VARIANTS)
def test_outputs_equal_torchvision(name: str, aux: bool) -> None:
    size = LEAN_SIZE[name]
    torch.manual_seed(0)
    model = tv_model(name, aux)
    image = random_image(1, 3, *size)
    assert max_difference(spec(name, aux, size), model, image) <= ATOL


@pytest.mark.slow
@pytest.mark.parametrize(("name", "aux"), VARIANTS)
def test_outputs_equal_torchvision_at_520(name: str, aux: bool) -> None:
    torch.manual_seed(0)
    model = tv_model(name, aux)
    assert max_difference(spec(name, aux), model, random_image(1, 3, 520, 520)) <= ATOL


# --------------------------------------------------------------------------- U-Net
class DoubleConv(nn.Sequential):
    """(3×3 conv, padded, no bias → batch norm → ReLU) twice."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(cin, cout))


class Up(nn.Module):
    """Up-convolution to half the channels, padded to the skip's size, concatenated after the
    skip, then a DoubleConv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """The padded U-Net of milesial/Pytorch-UNet (bilinear=False), written for this test."""

    def __init__(self, channels: int = 3, classes: int = 2) -> None:
        super().__init__()
        self.inc = DoubleConv(channels, 64)
        self.down1 = Down(64, 128)
        self.down2 = Down(128, 256)
        self.down3 = Down(256, 512)
        self.down4 = Down(512, 1024)
        self.up1 = Up(1024, 512)
        self.up2 = Up(512, 256)
        self.up3 = Up(256, 128)
        self.up4 = Up(128, 64)
        self.outc = nn.Conv2d(64, classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


#: the spec's figures at 3×256×256 (its header and tests/reference/zoo.csv state them)
UNET = (31_037_698, 11_776, 48_171_581_440)
#: reference module -> archc row at --depth 1 with the same output
UNET_STAGES = {
    "inc": "inc",
    **{f"down{k}": f"down{k}" for k in range(1, 5)},
    **{f"up{k}.up": f"x{k}" for k in range(1, 5)},  # the up-convolution (padded by nothing)
    **{f"up{k}": f"up{k}" for k in range(1, 5)},
    "outc": "logits",
}


def unet_spec(shape: tuple[int, int, int] | None = None) -> Network:
    if shape is None:
        return load_spec("unet")
    return archc.load(SPECS_DIR / "unet.arch", inputs={"image": shape})


def test_unet_counts_equal_the_reference() -> None:
    with torch.device("meta"):
        reference = UNet()
    image = torch.empty(1, 3, 256, 256, device="meta")
    counts = (*state_counts(reference), module_macs(reference, lambda: reference(image)))
    assert totals(load_spec("unet")) == counts == UNET


@pytest.mark.parametrize("shape", [(3, 256, 256), (1, 572, 572), (3, 101, 77)])
def test_unet_stage_shapes_equal_the_reference(shape: tuple[int, int, int]) -> None:
    """Each stage's output shape; at 572 and 101×77 a pool drops a row and the up-convolution
    is padded back."""
    with torch.device("meta"):
        reference = UNet(channels=shape[0])
    seen: dict[str, tuple[int, ...]] = {}
    for path in UNET_STAGES:

        def hook(module: nn.Module, args: object, out: torch.Tensor, path: str = path) -> None:
            seen[path] = tuple(out.shape[1:])

        reference.get_submodule(path).register_forward_hook(hook)
    with torch.no_grad():
        reference(torch.empty(1, *shape, device="meta"))
    net = unet_spec(shape)
    rows = {row.name: row.shape for row in net.rows(1)}
    up_convolutions = {f"x{k}.conv_transpose": f"up{k}.up" for k in range(1, 5)}
    for path, row in UNET_STAGES.items():
        if path.endswith(".up"):  # before the pad
            node = next(n for n, p in up_convolutions.items() if p == path)
            assert net.shape(node) == seen[path], path
        else:
            assert rows[row] == seen[path], path
    assert net.outputs == {"logits": (2, *shape[1:])}


def unet_difference(shape: tuple[int, int, int]) -> float:
    torch.manual_seed(0)
    reference = UNet(channels=shape[0]).eval()
    randomize_statistics(reference)
    net = unet_spec(shape)
    module = pytorch.to_torch(net, device="meta").to_empty(device="cpu")
    load_torchvision(module, reference)
    module.eval()
    image = random_image(1, *shape)
    with torch.no_grad():
        ours, theirs = module(image), reference(image)
    assert ours.shape == theirs.shape == (1, 2, *shape[1:])
    assert float(theirs.std()) > 1e-3
    return float((ours - theirs).abs().max())


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 45, 37)])
def test_unet_outputs_equal_the_reference(shape: tuple[int, int, int]) -> None:
    assert unet_difference(shape) <= ATOL


@pytest.mark.slow
def test_unet_outputs_equal_the_reference_at_its_size() -> None:
    assert unet_difference((3, 256, 256)) <= ATOL
