"""``archc import``: Caffe prototxts and ONNX models as specs (archc/importers/)."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import archc
from archc.analysis import Network
from archc.cli import main
from archc.importers import ImportModelError, detect_format, read, to_spec
from archc.importers.caffe import read_caffe

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.arch"))
CAFFE = ROOT / "tests" / "data" / "caffe"
#: small 1-D and 3-D networks written for the round trip (no shipped spec covers every op)
IMPORT_SPECS = sorted((ROOT / "tests" / "data" / "import").glob("*.arch"))

# ONNX has no dropout at inference (the emitter writes Identity) and one global average pool
_SAME = {
    "dropout": "identity",
    "stochastic_depth": "identity",
    "adaptive_avgpool": "global_avgpool",
    "adaptive_avgpool1d": "global_avgpool",
    "adaptive_avgpool3d": "global_avgpool",
}


def _layers(net: Network) -> collections.Counter[tuple[str, tuple[int, ...]]]:
    return collections.Counter(
        (_SAME.get(net.layer(n).op, net.layer(n).op), net.shape(n)) for n in net.order
    )


def _counts(net: Network) -> tuple[int, int, int]:
    t = net.totals()
    return (t.params, t.buffers, t.macs)


# ------------------------------------------------------------------------------ ONNX round trip
@pytest.mark.parametrize("spec", SPECS + IMPORT_SPECS, ids=lambda p: p.stem)
def test_onnx_round_trip(spec: Path, tmp_path: Path) -> None:
    """spec -> emit --target onnx --weights none -> import -> analyze: the same numbers."""
    pytest.importorskip("onnx")
    import onnx

    source = archc.load(spec)
    path = tmp_path / f"{spec.stem}.onnx"
    onnx.save(archc.to_onnx(source, weights="none"), str(path))
    result = to_spec(read(path))
    assert result.structured, result.note
    assert _counts(result.network) == _counts(source)
    assert _layers(result.network) == _layers(source)
    assert result.network.outputs == {k: v for k, v in source.outputs.items()} or list(
        result.network.outputs.values()
    ) == list(source.outputs.values())


@pytest.mark.parametrize(
    "spec",
    ["specs/vit_b_16.arch", "specs/lraspp_mobilenet_v3_large.arch", "tests/data/import/seq1d.arch"],
)
def test_onnx_round_trip_opset13(spec: str, tmp_path: Path) -> None:
    """At the oldest opset archc emits the lowerings differ (ReduceMean's axes an attribute,
    Resize's sizes computed from the input's shape): the same numbers come back."""
    pytest.importorskip("onnx")
    import onnx

    source = archc.load(ROOT / spec)
    path = tmp_path / "m.onnx"
    onnx.save(archc.to_onnx(source, weights="none", opset=13), str(path))
    result = to_spec(read(path))
    assert result.structured, result.note
    assert _counts(result.network) == _counts(source)
    assert _layers(result.network) == _layers(source)


def test_onnx_structure_resnet50(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    import onnx

    path = tmp_path / "resnet50.onnx"
    onnx.save(archc.to_onnx(archc.load(ROOT / "specs/resnet50.arch"), weights="none"), str(path))
    spec, net = archc.import_model(str(path))
    assert spec.count("block ") == 1
    assert "layer1 = repeat 3" in spec and "layer3 = repeat 6 as i" in spec
    assert "conv(channels * 4, 1" in spec  # the expansion as an expression, not a parameter
    assert "in.channels" not in spec.split("block ")[1].split(")")[0]  # never a parameter
    # the source's scope paths survive: layer1.0.y.conv1 is a layer of both
    assert any(node.startswith("layer1.0.") for node in net.order)


def test_onnx_structure_swin_t(tmp_path: Path) -> None:
    """Swin's window attention and patch merging come back whole, and its blocks, shifted
    every second one, as repeats with the shift alternating."""
    pytest.importorskip("onnx")
    import onnx

    spec = ROOT / "specs/swin_t.arch"
    if not spec.exists():
        pytest.skip("specs/swin_t.arch is not in this tree")
    path = tmp_path / "swin_t.onnx"
    onnx.save(archc.to_onnx(archc.load(spec), weights="none"), str(path))
    text, net = archc.import_model(str(path))
    assert text.count("window_attention(in.channels // 32, shift=shift)") == 1
    assert text.count("= patch_merge -> layernorm") == 3
    assert "stages_2_blocks = repeat 6 as i { residual(i % 2 * 3) }" in text
    assert net.totals().params == 28_288_354


WRITTEN_OUT = """
include "lib/attention.arch"

const DIM = 48

network written_out {
    input image: 3x64x64
    x = conv(DIM, 16, stride=16) -> tokens -> class_token
    output y = mha(4)
}
"""


def test_onnx_attention_written_out(tmp_path: Path) -> None:
    """Multi-head attention written with matmul, softmax and the head reshapes (as
    tests/test_transformers.py checks it computes attention) imports as one attention layer:
    the subgraph is matched by its wiring, whatever ops wrote it."""
    pytest.importorskip("onnx")
    import onnx

    source = archc.load(ROOT / "specs" / "written_out.arch", text=WRITTEN_OUT)
    path = tmp_path / "m.onnx"
    onnx.save(archc.to_onnx(source, weights="none"), str(path))
    spec, net = archc.import_model(str(path))
    assert "attention(4)" in spec and "matmul" not in spec
    assert _counts(net) == _counts(source)


def test_onnx_errors_name_the_node(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Hardmax", ["x"], ["y"], name="/head/Hardmax")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ImportModelError, match=r"/head/Hardmax \(Hardmax\)"):
        read(path)
    path.write_bytes(b"not a model")
    with pytest.raises(ImportModelError, match=r"not an ONNX model|checker"):
        read(path, "onnx")


def test_onnx_checked_with_weights_left_out(tmp_path: Path) -> None:
    """The checker sees the model without its weights' bytes (no second parse of the file):
    it still rejects a bad node; a weight whose bytes do not fit its shape is an error; a model
    whose weights lie in another file imports without that file (only shapes are read)."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def model(*extra: Any, weight: Any = None) -> Any:
        w = weight or numpy_helper.from_array(np.zeros((64, 16, 3, 3), np.float32), "w")
        graph = helper.make_graph(
            [helper.make_node("Conv", ["x", "w"], ["y"], name="/c/Conv", pads=[1] * 4), *extra],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 64, 8, 8])],
            initializer=[w],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    path = tmp_path / "m.onnx"
    onnx.save(model(helper.make_node("Relu", ["y", "y"], ["z"], name="/r/Relu")), str(path))
    with pytest.raises(ImportModelError, match=r"checker rejects.*Node\(/r/Relu\)"):
        read(path)
    short = numpy_helper.from_array(np.zeros((64, 16, 3, 3), np.float32), "w")
    short.raw_data = short.raw_data[:-4]
    onnx.save(model(weight=short), str(path))
    with pytest.raises(ImportModelError, match=r"'w' has 36860 bytes.*needs 36864"):
        read(path)
    onnx.save(model(), str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    (tmp_path / "m.data").unlink()
    assert [(x.op, x.args["out"]) for x in read(path).layers] == [("conv", 64)]


def _torchvision_onnx(name: str, tmp_path: Path) -> tuple[Path, object]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from tests.torchvision_models import models

    model = getattr(models(), name)(weights=None).eval()
    path = tmp_path / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.randn(1, 3, 224, 224),),
            str(path),
            dynamo=False,
            training=torch.onnx.TrainingMode.PRESERVE,  # keep batch norm (eval would fold it)
            do_constant_folding=False,
        )
    return path, model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "efficientnet_b0", "densenet121"])
def test_torchvision_onnx(name: str, tmp_path: Path) -> None:
    """torchvision -> torch.onnx.export -> import: torchvision's parameter and buffer counts,
    and the MACs of the shipped spec where there is one."""
    path, model = _torchvision_onnx(name, tmp_path)
    result = to_spec(read(path))
    params = sum(p.numel() for p in model.parameters())  # type: ignore[attr-defined]
    buffers = sum(
        b.numel()
        for n, b in model.named_buffers()  # type: ignore[attr-defined]
        if not n.endswith("num_batches_tracked")
    )
    totals = result.network.totals()
    assert (totals.params, totals.buffers) == (params, buffers)
    shipped = ROOT / "specs" / f"{name}.arch"
    if shipped.exists():
        assert _counts(result.network) == _counts(archc.load(shipped))
    assert result.structured, result.note
    if name == "densenet121":  # dense layers and transitions recovered, as on the fx route
        assert re.findall(r"= repeat (\d+)", result.spec) == ["6", "12", "24", "16"]
    _assert_same_outputs(result.network, model)


def _assert_same_outputs(net: Network, model: Any, shape: tuple[int, ...] = (3, 224, 224)) -> None:
    """The spec's PyTorch module, given ``model``'s weights (``archc.torch_compat``), computes
    ``model``'s outputs (eval mode, a seeded random input, within 1e-5)."""
    torch = pytest.importorskip("torch")
    from archc.torch_compat import load_torchvision

    torch.manual_seed(0)
    with torch.no_grad():  # statistics other than a fresh model's 0 and 1, so they count
        for layer in model.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                layer.running_mean.uniform_(-0.5, 0.5)
                layer.running_var.uniform_(0.5, 2.0)
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.5, 0.5)
    module = net.to_torch(seed=0).eval()
    load_torchvision(module, model.eval())
    x = torch.randn(1, *shape)
    with torch.no_grad():
        expected, got = model(x), module(x)
    if isinstance(got, dict):
        (got,) = got.values()
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= 1e-5
    assert float(expected.abs().max()) > 0.1  # not a trivially zero output


# ------------------------------------------------------------------------------ Caffe
PUBLISHED = {
    "googlenet_deploy": 6_998_552,
    "alexnet_deploy": 60_965_224,
    "squeezenet1_0_deploy": 1_248_424,
    "squeezenet1_1_deploy": 1_235_496,
    # Kaiming He's files: torchvision's 25,557,032 and conv1's bias (see the test below)
    "resnet50_deploy": 25_557_096,
    "resnet50_train_val": 25_557_096,
    "mobilenet_v1_deploy": 4_231_976,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_caffe_published_counts(name: str) -> None:
    spec, net = archc.import_model(str(CAFFE / f"{name}.prototxt"))
    assert net.totals().params == PUBLISHED[name]
    flat = to_spec(read_caffe(CAFFE / f"{name}.prototxt"), structure=False).network
    assert _counts(net) == _counts(flat)
    assert archc.load("again.arch", text=spec).totals().params == PUBLISHED[name]


def test_caffe_googlenet_one_inception_block() -> None:
    spec, net = archc.import_model(str(CAFFE / "googlenet_deploy.prototxt"))
    assert re.findall(r"^block (\w+)", spec, re.M) == ["inception"]
    assert len(re.findall(r"= inception\(", spec)) == 9
    assert len(spec.splitlines()) < 40  # the prototxt has 1,690 lines
    assert net.totals().macs == archc.load(ROOT / "specs/googlenet.arch").totals().macs


def test_caffe_resnet50_one_block_with_repeats() -> None:
    spec, net = archc.import_model(str(CAFFE / "resnet50_deploy.prototxt"))
    assert len(re.findall(r"^block ", spec, re.M)) == 1
    assert re.findall(r"^    (\w+) = repeat (\d+)", spec, re.M) == [
        ("res2", "3"),
        ("res3", "4"),
        ("res4", "6"),
        ("res5", "3"),
    ]
    assert "if project {" in spec
    assert net.totals().buffers == 53_120  # BatchNorm statistics; Scale folded in
    train, _ = archc.import_model(str(CAFFE / "resnet50_train_val.prototxt"))
    # data and loss layers left out: the same spec but its output (the loss's input, no softmax)
    assert train.splitlines()[1:-2] == spec.splitlines()[1:-2]
    assert "    output fc1000 = linear(1000)" in train


def test_caffe_resnet50_conv1_has_kaiming_hes_bias() -> None:
    """KaimingHe/deep-residual-networks' ResNet-50-deploy.prototxt gives conv1 no
    ``bias_term``, so Caffe's default (a bias), and every other convolution ``bias_term:
    false``.  Its params are torchvision's 25,557,032 and conv1's 64 biases; with the BatchNorm
    layers' blobs (mean, variance and Caffe's one-number moving-average factor, 53 layers) the
    caffemodel holds the 25,610,269 numbers published for it (Netscope, HPE's DLBS tables)."""
    spec, net = archc.import_model(str(CAFFE / "resnet50_deploy.prototxt"))
    assert "    conv1 = conv(64, 7, stride=2, pad=3) -> batchnorm -> relu" in spec
    assert spec.count("bias=false") == 4  # the block's four convolutions, not conv1
    totals = net.totals()
    assert totals.params == 25_557_032 + 64
    batchnorms = sum(1 for node in net.order if net.layer(node).op == "batchnorm")
    assert batchnorms == 53
    assert totals.params + totals.buffers + batchnorms == 25_610_269


def test_caffe_resnet50_without_conv1_bias_is_torchvisions(tmp_path: Path) -> None:
    """The same deploy file with conv1's bias switched off (``bias_term: false``, as the other
    convolutions and torchvision have it) imports to the 25,557,032 params quoted for ResNet-50."""
    text = (CAFFE / "resnet50_deploy.prototxt").read_text(encoding="utf-8")
    conv1 = 'name: "conv1"\n  type: "Convolution"\n  bottom: "data"\n  top: "conv1"\n'
    assert text.count(conv1) == 1
    edited = text.replace(
        conv1 + "  convolution_param {\n", conv1 + "  convolution_param {\n    bias_term: false\n"
    )
    path = tmp_path / "resnet50_no_conv1_bias.prototxt"
    path.write_text(edited, encoding="utf-8")
    spec, net = archc.import_model(str(path))
    assert "    conv1 = conv(64, 7, stride=2, pad=3, bias=false) -> batchnorm -> relu" in spec
    assert net.totals().params == 25_557_032


def _prototxt(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "net.prototxt"
    path.write_text(
        'name: "t"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n' + body
    )
    return path


def test_caffe_unknown_layer_is_located(tmp_path: Path) -> None:
    path = _prototxt(
        tmp_path,
        'layer {\n  name: "odd"\n  type: "Crop"\n  bottom: "data"\n  top: "odd"\n}\n',
    )
    with pytest.raises(ImportModelError) as info:
        read(path)
    text = str(info.value)
    assert "net.prototxt:9:" in text and "'odd'" in text and "'Crop'" in text


def test_caffe_eltwise_max_and_lone_batchnorm(tmp_path: Path) -> None:
    path = _prototxt(
        tmp_path,
        'layer { name: "m" type: "Eltwise" bottom: "data" bottom: "data" top: "m"\n'
        "  eltwise_param { operation: MAX } }\n",
    )
    with pytest.raises(ImportModelError, match="MAX has no archc op"):
        read(path)
    path = _prototxt(
        tmp_path, 'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" }\n'
    )
    with pytest.raises(ImportModelError, match="without a Scale"):
        read(path)


def test_caffe_features(tmp_path: Path) -> None:
    """V1 layer types, in-place layers, Split, PReLU, Deconvolution, Flatten, PROD."""
    path = _prototxt(
        tmp_path,
        """
layers { name: "c" type: CONVOLUTION bottom: "data" top: "c"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "p" type: "PReLU" bottom: "c" top: "c" }
layer { name: "s" type: "Split" bottom: "c" top: "a" top: "b" }
layer { name: "x" type: "Eltwise" bottom: "a" bottom: "b" top: "x" eltwise_param { operation: PROD } }
layer { name: "d" type: "Deconvolution" bottom: "x" top: "d"
  convolution_param { num_output: 2 kernel_size: 2 stride: 2 } }
layer { name: "f" type: "Flatten" bottom: "d" top: "f" }
""",
    )
    spec, net = archc.import_model(str(path))
    assert "conv(4, 3, pad=1, bias=false) -> prelu" in spec
    assert "mul(" in spec and "conv_transpose(2, 2, stride=2)" in spec
    assert net.outputs == {"f": (512,)}


def test_detect_format() -> None:
    assert detect_format("x.prototxt") == "caffe"
    assert detect_format("x.onnx") == "onnx"
    assert detect_format("torchvision.models:resnet50") == "torch"
    assert detect_format(str(CAFFE / "alexnet_deploy.prototxt")) == "caffe"


def test_import_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.arch"
    assert main(["import", str(CAFFE / "googlenet_deploy.prototxt"), "-o", str(out)]) == 0
    assert "6,998,552 params" in capsys.readouterr().err
    assert main(["analyze", str(out), "--format", "json"]) == 0
    assert main(["fmt", "--check", str(out)]) == 0  # imported specs are formatted
    assert main(["import", str(CAFFE / "alexnet_deploy.prototxt"), "--flat"]) == 0
    assert "block" not in capsys.readouterr().out
    bad = tmp_path / "bad.prototxt"
    bad.write_text("layer { name: 'x' type: 'Nope' }\n")
    assert main(["import", str(bad)]) == 2
    assert "bad.prototxt:1:" in capsys.readouterr().err


def _import_process(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m archc import ARGS`` in a fresh interpreter: no test hook is installed there."""
    return subprocess.run(
        [sys.executable, "-m", "archc", "import", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_load_callable_installs_the_torchvision_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before importing a ``module:callable``'s module, archc makes torchvision importable
    (its CUDA wheel's fake kernels fail against CPU torch; archc.importers.torchvision_hook)."""
    from archc.importers.torch_import import load_callable
    from archc.importers.torchvision_hook import _SkipFakeKernelsWithoutOps

    def installed() -> int:
        return sum(isinstance(f, _SkipFakeKernelsWithoutOps) for f in sys.meta_path)

    monkeypatch.setattr(
        sys,
        "meta_path",
        [f for f in sys.meta_path if not isinstance(f, _SkipFakeKernelsWithoutOps)],
    )
    assert installed() == 0
    assert load_callable("collections:OrderedDict", {"a": 1}) == {"a": 1}
    load_callable("collections:OrderedDict")
    assert installed() == 1  # once


@pytest.mark.slow  # a fresh interpreter importing torch and torchvision: about 5 s
def test_import_command_torchvision_args(tmp_path: Path) -> None:
    """``archc import torchvision.models:NAME`` works as a command (archc installs the
    torchvision hook itself), with --args for the builder and --input for the shape."""
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    out = tmp_path / "r18.arch"
    done = _import_process(
        "torchvision.models:resnet18", "--args", "num_classes=10", "--input", "3x64x64",
        "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "11,181,642 params" in done.stderr  # torchvision's resnet18(num_classes=10)
    net = archc.load(out)
    assert net.totals().params == 11_181_642
    assert list(net.outputs.values()) == [(10,)]
    assert list(net.inputs.values()) == [(3, 64, 64)]


@pytest.mark.slow
def test_import_command_torchvision_resnet50(tmp_path: Path) -> None:
    """The issue's command: torchvision's exact counts, the shipped spec's MACs."""
    pytest.importorskip("torch")
    out = tmp_path / "resnet50.arch"
    done = _import_process("torchvision.models:resnet50", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "25,557,032 params" in done.stderr
    assert "blocks and repeats recovered" in done.stderr
    assert _counts(archc.load(out)) == _counts(archc.load(ROOT / "specs/resnet50.arch"))


# ------------------------------------------------------------------------------ PyTorch (torch.fx)
def _tiny_resnet() -> object:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Unit(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU()

        def forward(self, x: object) -> object:
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + x)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.layer = nn.Sequential(Unit(8), Unit(8), Unit(8))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x: object) -> object:
            x = self.pool(self.layer(self.stem(x)))
            return self.fc(torch.flatten(x, 1))

    return Net()


def test_torch_fx_blocks_from_module_classes() -> None:
    model = _tiny_resnet()
    spec, net = archc.import_model(model, input_shape=(3, 32, 32))
    assert "block unit(" in spec  # the class name
    assert "layer = repeat 3 { unit() }" in spec  # layer.0, layer.1, layer.2
    assert net.totals().params == sum(p.numel() for p in model.parameters())  # type: ignore[attr-defined]
    assert net.outputs == {"logits": (10,)}


def _tiny_densenet() -> Any:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class DenseLayer(nn.Module):
        def __init__(self, c: int, growth: int) -> None:
            super().__init__()
            self.norm1, self.relu1 = nn.BatchNorm2d(c), nn.ReLU()
            self.conv1 = nn.Conv2d(c, 4 * growth, 1, bias=False)
            self.norm2, self.relu2 = nn.BatchNorm2d(4 * growth), nn.ReLU()
            self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

        def forward(self, features: list[Any]) -> Any:  # torchvision's _DenseLayer
            x = self.relu1(self.norm1(torch.cat(features, 1)))
            return self.conv2(self.relu2(self.norm2(self.conv1(x))))

    class DenseBlock(nn.ModuleDict):
        def __init__(self, c: int, layers: int, growth: int) -> None:
            super().__init__()
            for k in range(layers):
                self.add_module(f"layer{k + 1}", DenseLayer(c + k * growth, growth))

        def forward(self, x: Any) -> Any:
            features = [x]
            for layer in self.values():
                features.append(layer(features))
            return torch.cat(features, 1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
            self.dense1 = DenseBlock(16, 3, 8)
            self.transition = nn.Sequential(
                nn.BatchNorm2d(40), nn.ReLU(), nn.Conv2d(40, 20, 1, bias=False), nn.AvgPool2d(2)
            )
            self.dense2 = DenseBlock(20, 3, 8)
            self.head = nn.Sequential(nn.BatchNorm2d(44), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
            self.fc = nn.Linear(44, 10)

        def forward(self, x: Any) -> Any:
            x = self.dense2(self.transition(self.dense1(self.stem(x))))
            return self.fc(torch.flatten(self.head(x), 1))

    return Net()


def test_torch_fx_dense_blocks() -> None:
    """A dense block (each layer reads the concatenation of all before it) becomes a repeat of
    one dense layer block, ``out = concat(in, new)``, and computes what the source does."""
    model = _tiny_densenet()
    result = to_spec(read(model, input_shape=(3, 32, 32)))
    assert result.structured, result.note
    spec = result.spec
    assert re.findall(r"^block (\w+)", spec, re.M) == ["dense_layer"]
    assert "    out = concat(in, norm1)" in spec
    assert re.findall(r"^    (\w+) = repeat (\d+)", spec, re.M) == [
        ("dense1", "3"),
        ("dense2", "3"),
    ]
    assert result.network.totals().params == sum(p.numel() for p in model.parameters())
    flat = to_spec(read(model, input_shape=(3, 32, 32)), structure=False)
    assert _counts(result.network) == _counts(flat.network)
    _assert_same_outputs(result.network, model, (3, 32, 32))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "efficientnet_b0", "densenet121"])
def test_torchvision_fx(name: str) -> None:
    """torchvision -> torch.fx -> import: torchvision's counts, the shipped spec's MACs, blocks
    recovered, and the re-emitted module with torchvision's weights gives its outputs."""
    pytest.importorskip("torch")
    from tests.torchvision_models import models

    model = getattr(models(), name)(weights=None)
    result = to_spec(read(model))
    net = result.network
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(
        b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")
    )
    assert (net.totals().params, net.totals().buffers) == (params, buffers)
    shipped = ROOT / "specs" / f"{name}.arch"
    if shipped.exists():
        assert _counts(net) == _counts(archc.load(shipped))
    assert result.structured, result.note
    if name == "densenet121":
        assert re.findall(r"^block (\w+)", result.spec, re.M) == ["dense_layer", "transition"]
        assert re.findall(r"= repeat (\d+)", result.spec) == ["6", "12", "24", "16"]
    _assert_same_outputs(net, model)


def test_onnx_flat_features(tmp_path: Path) -> None:
    """Gemm, LayerNormalization and Gelu on features (a transformer's MLP)."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = {"w": (8, 16), "b": (8,), "g": (8,), "bb": (8,)}
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="/fc1/Gemm", transB=1),
            helper.make_node("LayerNormalization", ["h", "g", "bb"], ["n"], name="/ln/L", axis=-1),
            helper.make_node("Gelu", ["n"], ["y"], name="/act/Gelu"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
        initializer=[
            numpy_helper.from_array(np.zeros(s, np.float32), n) for n, s in weights.items()
        ],
    )
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    spec, net = archc.import_model(str(path))
    assert "output y = linear(8) -> layernorm -> gelu" in spec
    assert net.totals().params == 8 * 16 + 8 + 16


# ------------------------------------------------------------------------------ ViT-B/16
VIT_PARAMS = 86_567_656  # torchvision's vit_b_16
VIT_MACS = 17_563_828_224  # archc analyze specs/vit_b_16.arch


def _vit() -> Any:
    """torchvision's vit_b_16 (eval), its zero-initialised head, class token and layer norms
    drawn at random so that the outputs compared depend on every tensor."""
    torch = pytest.importorskip("torch")
    from tests.torchvision_models import models

    model = models().vit_b_16(weights=None).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        model.heads.head.weight.normal_(0.0, 0.02)
        model.heads.head.bias.uniform_(-0.1, 0.1)
        model.class_token.normal_(0.0, 0.5)
        for layer in model.modules():
            if isinstance(layer, torch.nn.LayerNorm):
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.1, 0.1)
    return model


def _assert_vit(result: Any) -> None:
    """torchvision's counts, the shipped spec's, and one encoder block repeated 12 times."""
    assert result.structured, result.note
    totals = result.network.totals()
    assert (totals.params, totals.buffers, totals.macs) == (VIT_PARAMS, 0, VIT_MACS)
    assert _counts(result.network) == _counts(archc.load(ROOT / "specs" / "vit_b_16.arch"))
    assert len(re.findall(r"^block ", result.spec, re.M)) == 1
    assert re.findall(r"= repeat (\d+)", result.spec) == ["12"]
    assert "attention(12)" in result.spec
    assert "tokens -> class_token" in result.spec and "pos_embed" in result.spec
    assert "select" in result.spec


@pytest.mark.slow
def test_torchvision_vit_fx() -> None:
    """torchvision's vit_b_16 through torch.fx: tokens, class token, position embedding,
    nn.MultiheadAttention as attention(12), x[:, 0] as select; the re-emitted module with
    torchvision's weights gives its outputs."""
    model = _vit()
    result = to_spec(read(model))
    _assert_vit(result)
    _assert_same_outputs(result.network, model)


def _vit_onnx(
    model: Any, path: Path, shape: tuple[int, ...] = (3, 224, 224), dynamic: bool = False
) -> None:
    """torch.onnx.export (TorchScript) of vit_b_16.  With gradients off, eval-mode
    nn.MultiheadAttention takes its fused fast path (aten::_native_multi_head_attention), which
    that exporter cannot write; with them on it writes MatMul and Softmax nodes."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    with torch.enable_grad():
        torch.onnx.export(
            model,
            (torch.randn(2 if dynamic else 1, *shape),),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}} if dynamic else None,
            dynamo=False,
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=False,
        )


@pytest.mark.slow
def test_torchvision_vit_onnx(tmp_path: Path) -> None:
    """torchvision's vit_b_16 through torch.onnx.export: the attention subgraph (transposes,
    projections, per-head reshapes, the scaled QKᵀ, Softmax, the context, the output Gemm) is
    one attention(12) layer; counts and outputs as on the fx route."""
    model = _vit()
    path = tmp_path / "vit_b_16.onnx"
    _vit_onnx(model, path)
    result = to_spec(read(path))
    _assert_vit(result)
    _assert_same_outputs(result.network, model)


def _tiny_vit() -> Any:
    """torchvision's VisionTransformer at toy size (2 blocks, 2 heads, 16 features, 32×32)."""
    torch = pytest.importorskip("torch")
    from tests.torchvision_models import models

    vt = models().vision_transformer.VisionTransformer
    model = vt(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)
    torch.manual_seed(2)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    return model.eval()


def test_torch_fx_tiny_vit() -> None:
    """The fx route on a toy torchvision ViT: the token ops and attention(heads), one block
    repeated, torchvision's counts, and its outputs from the re-emitted module."""
    model = _tiny_vit()
    result = to_spec(read(model, input_shape=(3, 32, 32)))
    assert result.structured, result.note
    assert "conv(16, 8, stride=8) -> tokens -> class_token" in result.spec
    assert "attention(2)" in result.spec and "repeat 2 {" in result.spec
    assert result.network.totals().params == sum(p.numel() for p in model.parameters())
    _assert_same_outputs(result.network, model, (3, 32, 32))


@pytest.mark.parametrize("dynamic", [False, True], ids=["batch1", "dynamic_batch"])
def test_onnx_tiny_vit(dynamic: bool, tmp_path: Path) -> None:
    """torch.onnx.export of the toy ViT: nn.MultiheadAttention's MatMul/Softmax subgraph is
    one attention layer; counts and outputs as the model's.  With a dynamic batch, shapes
    shape inference cannot follow come from the registry (the tokens' count) and the scores
    (the heads)."""
    model = _tiny_vit()
    path = tmp_path / "vit.onnx"
    _vit_onnx(model, path, (3, 32, 32), dynamic)
    result = to_spec(read(path))
    assert result.structured, result.note
    assert result.spec.count("attention(2)") == 1 and "repeat 2 {" in result.spec
    assert result.network.totals().params == sum(p.numel() for p in model.parameters())
    _assert_same_outputs(result.network, model, (3, 32, 32))


def test_torch_fx_attention_errors() -> None:
    """Attention archc has no op for is an error naming the module."""
    torch = pytest.importorskip("torch")

    class Cross(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Conv2d(3, 8, 4, stride=4)
            self.memory = torch.nn.Linear(8, 8)
            self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: Any) -> Any:
            t = self.proj(x).flatten(2).transpose(1, 2)
            m = self.memory(t)
            return self.attn(t, m, m, need_weights=False)[0]

    with pytest.raises(ImportModelError, match=r"attn: attention other than self-attention"):
        read(Cross(), input_shape=(3, 8, 8))


@pytest.mark.slow
def test_import_command_torchvision_vit_b_16(tmp_path: Path) -> None:
    """``archc import torchvision.models:vit_b_16``: the shipped spec's counts."""
    pytest.importorskip("torch")
    out = tmp_path / "vit_b_16.arch"
    done = _import_process("torchvision.models:vit_b_16", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "86,567,656 params" in done.stderr and "17,563,828,224 MACs" in done.stderr
    assert "blocks and repeats recovered" in done.stderr
    assert _counts(archc.load(out)) == _counts(archc.load(ROOT / "specs/vit_b_16.arch"))


def test_torch_fx_1d_3d_layers() -> None:
    """Conv1d/3d, the 1-D and 3-D pools and batch norms through torch.fx (a subclass of a
    torch layer, as torchvision's video models write Conv3DSimple, counts as that layer)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Conv3DSimple(nn.Conv3d):  # torchvision.models.video's: only __init__ differs
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__(c_in, c_out, (1, 3, 3), padding=(0, 1, 1), bias=False)

    signal = nn.Sequential(
        nn.Conv1d(2, 8, 5, stride=2, padding=2), nn.BatchNorm1d(8), nn.ReLU(),
        nn.MaxPool1d(3, stride=2, padding=1), nn.AvgPool1d(2), nn.AdaptiveAvgPool1d(1),
        nn.Flatten(), nn.Linear(8, 3),
    )  # fmt: skip
    clip = nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1), Conv3DSimple(4, 4), nn.BatchNorm3d(4),
        nn.MaxPool3d((1, 2, 2)), nn.AvgPool3d(2), nn.AdaptiveMaxPool3d(1),
    )  # fmt: skip
    for model, shape, ops in (
        (signal, (2, 64), ["conv1d", "batchnorm", "relu", "maxpool1d", "avgpool1d"]),
        (clip, (2, 8, 16, 16), ["conv3d", "conv3d", "batchnorm", "maxpool3d", "avgpool3d"]),
    ):
        flat = read(model, input_shape=shape)
        assert [layer.op for layer in flat.layers][:5] == ops
        result = to_spec(flat)
        assert result.network.totals().params == sum(p.numel() for p in model.parameters())
        _assert_same_outputs(result.network, model, shape)
    assert read(clip, input_shape=(2, 8, 16, 16)).layers[1].args["kernel"] == (1, 3, 3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mc3_18", "r2plus1d_18"])
def test_torchvision_video_fx(name: str) -> None:
    """torchvision's video ResNets through torch.fx: the shipped specs' counts (conv3d with
    torchvision's Conv3DSimple and Conv2Plus1D), blocks and repeats, the same outputs."""
    pytest.importorskip("torch")
    from tests.torchvision_models import models

    model = getattr(models().video, name)(weights=None)
    result = to_spec(read(model, input_shape=(3, 16, 112, 112)))
    assert result.structured, result.note
    assert _counts(result.network) == _counts(archc.load(ROOT / "specs" / f"{name}.arch"))
    assert "block basic_block(" in result.spec
    _assert_same_outputs(result.network, model, (3, 16, 112, 112))
