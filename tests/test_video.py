"""Networks on clips and waveforms (issue 11, "conv and pools for 1-D and 3-D data").

The video specs are torchvision's video ResNets (Tran et al. 2018): ``r3d_18``, ``mc3_18`` and
``r2plus1d_18`` of ``torchvision.models.video``, at torchvision's clip size 3×16×112×112:

- archc's params, buffers (without ``num_batches_tracked``) and conv + linear MACs are the
  figures the specs' headers state and equal torchvision's own module counts (forward hooks on
  its ``Conv3d`` and ``Linear`` modules, on the meta device), at that clip and at a small clip
  of odd, unequal sides, where every conv's output shape is torchvision's too;
- torchvision's model (random weights and batch-norm statistics), loaded into archc's emitted
  module with :func:`archc.torch_compat.load_torchvision`, computes the same outputs within 1e-5
  in eval mode: at 3×4×32×32 in the lean run, at 3×16×112×112 in the slow one.

``specs/m5.arch`` (Dai et al. 2017's M5 on raw audio, in the configuration of PyTorch's
speech-command tutorial) is checked against the tutorial's module, written here independently
of the spec: counts, every layer's output shape at 8 kHz and 16 kHz, and, with the module's
state loaded, the outputs (the tutorial's ``log_softmax`` applied to archc's logits).

Nothing downloads weights: the builders get ``weights=None``.
"""

from __future__ import annotations

from functools import cache
from math import prod

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archc
from archc.analysis import Network
from archc.emit import pytorch
from archc.errors import ArchError
from archc.torch_compat import load_torchvision
from tests.conftest import SPECS_DIR, load_spec
from tests.test_torchvision import randomize_statistics
from tests.torchvision_models import models

ATOL = 1e-5
#: torchvision's clip (its video weights' crop, 16 frames)
CLIP = (3, 16, 112, 112)

#: params, buffers, MACs at 3×16×112×112 (the specs' headers and tests/reference/zoo.csv)
VIDEO: dict[str, tuple[int, int, int]] = {
    "r3d_18": (33_371_472, 9_600, 40_696_553_472),
    "mc3_18": (11_695_440, 9_600, 43_342_635_008),
    "r2plus1d_18": (31_505_325, 25_350, 40_519_080_960),
}
#: torchvision module -> archc row (at --depth 1) with the same output
STAGES = {
    "stem": "stem",
    "layer1": "layer1",
    "layer2": "layer2",
    "layer3": "layer3",
    "layer4": "layer4",
    "avgpool": "pool",
    "fc": "logits",
}


def video_spec(name: str, clip: tuple[int, ...] = CLIP) -> Network:
    if clip == CLIP:
        return load_spec(name)
    return archc.load(SPECS_DIR / f"{name}.arch", inputs={"clip": clip})


def tv_video(name: str, device: str = "cpu") -> nn.Module:
    with torch.device(device):
        model: nn.Module = getattr(models().video, name)(weights=None)
    return model.eval()


def totals(net: Network) -> tuple[int, int, int]:
    t = net.totals()
    return t.params, t.buffers, t.macs


def state_counts(model: nn.Module) -> tuple[int, int]:
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(
        b.numel() for k, b in model.named_buffers() if not k.endswith("num_batches_tracked")
    )
    return params, buffers


class Trace:
    """Conv + linear MACs of one forward pass, and each conv's output shape in call order."""

    def __init__(self, model: nn.Module, convs: tuple[type[nn.Module], ...]) -> None:
        self.macs = 0
        self.conv_shapes: list[tuple[int, ...]] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._hooks = [
            m.register_forward_hook(self._count)
            for m in model.modules()
            if isinstance(m, (*convs, nn.Linear))
        ]

    def _count(self, module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if isinstance(module, nn.Linear):
            self.macs += out.numel() * module.in_features
        else:
            assert isinstance(module, nn.modules.conv._ConvNd)
            kernel = prod(module.kernel_size)
            self.macs += out.numel() * module.in_channels // module.groups * kernel
            self.conv_shapes.append(tuple(out.shape[1:]))

    def record(self, model: nn.Module, paths: list[str]) -> None:
        """Also records the output shapes of the submodules at ``paths``."""
        for path in paths:

            def hook(module: nn.Module, args: object, out: torch.Tensor, path: str = path) -> None:
                self.shapes[path] = tuple(out.shape[1:])

            self._hooks.append(model.get_submodule(path).register_forward_hook(hook))

    def run(self, model: nn.Module, x: torch.Tensor) -> None:
        with torch.no_grad():
            model(x)
        for handle in self._hooks:
            handle.remove()


@cache
def torchvision_trace(name: str, clip: tuple[int, ...]) -> Trace:
    model = tv_video(name, "meta")
    trace = Trace(model, (nn.Conv3d,))
    trace.record(model, list(STAGES))
    trace.run(model, torch.empty(1, *clip, device="meta"))
    return trace


def conv_shapes(net: Network, op: str) -> list[tuple[int, ...]]:
    """The output shape of each of ``net``'s ``op`` layers, in the order they run."""
    return [net.shape(layer.name) for layer in net.layers() if layer.op == op]


def random_input(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def loaded(net: Network, reference: nn.Module) -> nn.Module:
    """archc's module for ``net`` with ``reference``'s state (random statistics) loaded."""
    randomize_statistics(reference)
    module = pytorch.to_torch(net, device="meta").to_empty(device="cpu")
    load_torchvision(module, reference)
    return module.eval()


# --------------------------------------------------------------------------- video: counts
@pytest.mark.parametrize("name", list(VIDEO))
def test_video_counts_equal_torchvision(name: str) -> None:
    net = load_spec(name)
    trace = torchvision_trace(name, CLIP)
    assert totals(net) == (*state_counts(tv_video(name, "meta")), trace.macs) == VIDEO[name]
    assert net.inputs == {"clip": CLIP}
    assert net.outputs == {"logits": (400,)}


@pytest.mark.parametrize("name", list(VIDEO))
def test_video_shapes_follow_torchvision_at_another_clip(name: str) -> None:
    """At 3×5×37×50 (odd frames, unequal sides) the counts, each stage's output and every
    conv's output are torchvision's."""
    clip = (3, 5, 37, 50)
    net = video_spec(name, clip)
    trace = torchvision_trace(name, clip)
    assert totals(net)[2] == trace.macs
    rows = {row.name: row.shape for row in net.rows(1)}
    assert {path: rows[row] for path, row in STAGES.items()} == trace.shapes
    assert conv_shapes(net, "conv3d") == trace.conv_shapes


def test_mc3_keeps_the_frames_and_r3d_halves_them() -> None:
    """MC3 convolves in time only in its stem and first stage; R3D and R(2+1)D stride in time
    from stage 2 on, as torchvision's do."""
    assert load_spec("mc3_18").shape("layer4.1.out.relu") == (512, 16, 7, 7)
    assert load_spec("r3d_18").shape("layer4.1.out.relu") == (512, 2, 7, 7)
    assert load_spec("r2plus1d_18").shape("layer4.1.out.relu") == (512, 2, 7, 7)


def test_r2plus1d_mid_channels_are_torchvision_s() -> None:
    """Each (2+1)D block's width ``mid`` comes from the block's input, for both its convs
    (layer2.0: 64 -> 128 gives 230 in both; a block of 128 -> 128 would give 288)."""
    model = tv_video("r2plus1d_18", "meta")
    theirs = [
        m.out_channels
        for m in model.modules()
        if isinstance(m, nn.Conv3d) and m.kernel_size == (1, 3, 3)
    ]
    net = load_spec("r2plus1d_18")
    ours = [net.shape(layer.name)[0] for layer in net.layers() if layer.name.endswith(".spatial")]
    assert ours[1:] == theirs  # the stem's 1×7×7 first
    assert ours[0] == 45 and theirs[4:6] == [230, 230]


# --------------------------------------------------------------------------- video: outputs
def video_difference(name: str, clip: tuple[int, ...]) -> float:
    torch.manual_seed(0)
    model = tv_video(name)
    module = loaded(video_spec(name, clip), model)
    x = random_input(1, *clip)
    with torch.no_grad():
        ours, theirs = module(x), model(x)
    assert ours.shape == theirs.shape == (1, 400)
    assert float(theirs.std()) > 1e-3  # a real comparison
    return float((ours - theirs).abs().max())


@pytest.mark.parametrize("name", list(VIDEO))
def test_video_outputs_equal_torchvision(name: str) -> None:
    assert video_difference(name, (3, 4, 32, 32)) <= ATOL


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VIDEO))
def test_video_outputs_equal_torchvision_at_its_clip(name: str) -> None:
    assert video_difference(name, CLIP) <= ATOL


# --------------------------------------------------------------------------- M5 on waveforms
class M5(nn.Module):
    """The M5 of PyTorch's speech-command tutorial (Dai et al. 2017 at the tutorial's widths),
    written for this test: four conv / batch norm / ReLU / 4× max pool stages, an average over
    what is left of time, a linear layer per frame and ``log_softmax``."""

    def __init__(
        self, n_input: int = 1, n_output: int = 35, stride: int = 16, n_channel: int = 32
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = self.pool4(F.relu(self.bn4(self.conv4(x))))
        x = F.avg_pool1d(x, x.shape[-1])
        x = x.permute(0, 2, 1)
        x = self.fc1(x)
        return F.log_softmax(x, dim=2)


#: the spec's figures at 1×8000 (its header and tests/reference/zoo.csv state them)
M5_COUNTS = (26_915, 384, 1_880_256)
#: reference module -> archc layer with the same output
M5_LAYERS = {
    **{f"conv{k}": f"block{k}.conv" for k in range(1, 5)},
    **{f"bn{k}": f"block{k}.batchnorm" for k in range(1, 5)},
    **{f"pool{k}": f"block{k}.pool" for k in range(1, 5)},
}


def m5_spec(samples: int = 8000) -> Network:
    if samples == 8000:
        return load_spec("m5")
    return archc.load(SPECS_DIR / "m5.arch", consts={"samples": samples})


@cache
def m5_trace(samples: int) -> Trace:
    with torch.device("meta"):
        reference = M5()
    trace = Trace(reference, (nn.Conv1d,))
    trace.record(reference, list(M5_LAYERS))
    trace.run(reference, torch.empty(1, 1, samples, device="meta"))
    return trace


def test_m5_counts_equal_the_reference() -> None:
    with torch.device("meta"):
        reference = M5()
    assert totals(m5_spec()) == (*state_counts(reference), m5_trace(8000).macs) == M5_COUNTS
    assert state_counts(reference)[0] == 26_915  # the tutorial's "Number of parameters: 26915"


@pytest.mark.parametrize("samples", [8000, 16000])
def test_m5_layer_shapes_equal_the_reference(samples: int) -> None:
    """Every layer's output at 8 kHz and at 16 kHz (``--set samples=16000``), where the last
    pool leaves 3 frames to average."""
    net = m5_spec(samples)
    trace = m5_trace(samples)
    assert {path: net.shape(layer) for path, layer in M5_LAYERS.items()} == trace.shapes
    assert totals(net)[2] == trace.macs
    assert net.inputs == {"wave": (1, samples)}
    assert net.outputs == {"logits": (35,)}


@pytest.mark.parametrize("samples", [8000, 16000])
def test_m5_outputs_equal_the_reference(samples: int) -> None:
    torch.manual_seed(0)
    reference = M5().eval()
    module = loaded(m5_spec(samples), reference)
    wave = random_input(2, 1, samples)
    with torch.no_grad():
        ours, theirs = module(wave), reference(wave)
    assert ours.shape == (2, 35) and theirs.shape == (2, 1, 35)
    assert float(theirs.std()) > 1e-3
    assert float((F.log_softmax(ours, dim=1) - theirs[:, 0]).abs().max()) <= ATOL


# --------------------------------------------------------------------------- the right form
@pytest.mark.parametrize(
    ("shape", "layer", "message"),
    [
        (
            "3x16x112x112",
            "maxpool(3, stride=2)",
            "maxpool needs a C×H×W input, got 3×16×112×112 from x: use maxpool3d for a C×D×H×W"
            " input",
        ),
        (
            "3x16x112x112",
            "conv(64, 3)",
            "conv needs a C×H×W input, got 3×16×112×112 from x: use conv3d for a C×D×H×W input",
        ),
        (
            "1x16000",
            "avgpool(4)",
            "avgpool needs a C×H×W input, got 1×16000 from x: use avgpool1d for a C×L input",
        ),
        (
            "1x16000",
            "conv3d(8, 3)",
            "conv3d needs a C×D×H×W input, got 1×16000 from x: use conv1d for a C×L input",
        ),
    ],
)
def test_an_op_of_the_wrong_rank_names_the_right_form(shape: str, layer: str, message: str) -> None:
    text = f"network n {{\n    input x: {shape}\n    output y = {layer}\n}}\n"
    with pytest.raises(ArchError, match="shape error") as caught:
        archc.load(SPECS_DIR / "inline.arch", text=text)
    assert message in str(caught.value)
