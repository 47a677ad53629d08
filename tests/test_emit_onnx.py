"""``archc emit --target onnx``: valid, runnable graphs, built without torch, equal to PyTorch's.

Per spec: the ONNX checker (full check), shape inference against the analyzer, ONNX Runtime at
batch 1 and 3, initializer element counts, numerical equality with the PyTorch emission's
module given the same weights, and byte-identical output per seed.  Per op: every registry op
lowered, run and compared on small networks with edge cases (ceil-mode pools, "same" padding
with an even kernel, even LRN windows).  Plus the writer: external data, atomic writes, errors.

Models are cached per spec within the module; structure checks use ``weights="none"``.
"""

from __future__ import annotations

import errno
import hashlib
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import archc  # noqa: E402
from archc.analysis import Network  # noqa: E402
from archc.emit import onnx as onnx_emit  # noqa: E402
from archc.emit.onnx_serialize import ALIGNMENT, ModelWriter  # noqa: E402
from archc.emit.onnx_weights import ZeroWeights, tensor_rng, uniform  # noqa: E402
from archc.errors import EmitError, UsageError  # noqa: E402
from archc.ops import elements, ops_with  # noqa: E402
from tests.conftest import ROOT, load_spec  # noqa: E402

SMALL = "lenet5"  # a quick spec for writer and CLI tests
TOLERANCE = 1e-4  # relative to the output's largest magnitude


# ---------------------------------------------------------------------------------- helpers
@cache
def structure(name: str) -> onnx.ModelProto:
    """The spec's model without weights (graph inputs instead): cheap, cached."""
    return onnx_emit.to_onnx(load_spec(name), weights="none")


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def session(model: onnx.ModelProto | str | Path) -> ort.InferenceSession:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def random_inputs(net: Network, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        name: rng.standard_normal((batch, *shape), dtype=np.float32)
        for name, shape in net.inputs.items()
    }


def run(sess: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds), strict=True))


class _Hasher:
    """A file-like sink that hashes what the writer streams (no 550 MB buffers in tests)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def stream_digest(net: Network, **options: object) -> tuple[str, int]:
    model, source = onnx_emit._prepare(
        net, options.get("weights", "random"), options.get("seed"), options.get("opset")
    )
    sink = _Hasher()
    ModelWriter(model, net.weights() if source is not None else [], source).write(sink)  # type: ignore[arg-type]
    return sink.digest.hexdigest(), sink.size


def torch_pair(net: Network, seed: int = 0):
    """The PyTorch emission in eval mode with perturbed 1-D tensors (biases and BN statistics,
    so batch norm is not the identity), and the same weights as canonical numpy arrays."""
    torch = pytest.importorskip("torch")
    pytorch = pytest.importorskip("archc.emit.pytorch")
    module = net.to_torch(seed=seed).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point() and tensor.dim() == 1:
                noise = torch.rand(tensor.shape, generator=generator)
                if name.endswith(("running_var", "weight")):
                    tensor.copy_(noise + 0.5)
                else:
                    tensor.copy_(noise - 0.5)
    weights = pytorch.state_dict_to_weights(net, module.state_dict())
    return module, weights


def torch_outputs(module, net: Network, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        result = module(*(torch.from_numpy(feeds[name]) for name in net.inputs))
    if isinstance(result, torch.Tensor):
        result = (result,)
    elif isinstance(result, dict):
        result = tuple(result[name] for name in net.outputs)
    return [t.detach().numpy() for t in result]


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, what
    scale = float(np.abs(want).max()) or 1.0
    error = float(np.abs(got - want).max())
    assert error <= TOLERANCE * scale, f"{what}: max error {error:.3g} vs scale {scale:.3g}"


# ---------------------------------------------------------------------------------- the table
def test_every_op_with_weights_has_an_initialiser() -> None:
    # that every op has a lowering at all is tests/test_emitter_tables.py's one guard
    for op in ops_with("weights"):
        assert onnx_emit.LOWERINGS[op].init is not None, op


#: op -> edge cases beyond the op's registry examples (tests/test_op_examples.py runs those for
#: every op); a body follows ``input x: 4x11x10``
OP_CASES: dict[str, list[str]] = {
    "conv": [
        "output y = conv(6, 3, stride=2, pad=1, dilation=2, groups=2)",
        'output y = conv(5, 4, pad="same", bias=false)',  # even kernel: asymmetric padding
        "output y = conv(8, (3, 2), stride=(2, 1), pad=(1, 0), groups=4)",
    ],
    "maxpool": [
        "output y = maxpool(3, stride=2, ceil=true)",
        "output y = maxpool(2, stride=2, pad=1, ceil=true)",  # last window starts in padding
        "output y = maxpool(3, stride=1, pad=1)",
    ],
    "avgpool": [
        "output y = avgpool(3, stride=2, pad=1, ceil=true)",
        "output y = avgpool(3, stride=2, pad=1, ceil=true, count_include_pad=false)",
        "output y = avgpool(2)",
    ],
    "global_avgpool": ["output y = global_avgpool"],
    "adaptive_avgpool": [
        "output y = adaptive_avgpool(1)",
        "output y = conv(4, 2) -> adaptive_avgpool((5, 3))",
        "output y = adaptive_avgpool((3, 4))",  # neither axis divides: overlapping bins
        "output y = adaptive_avgpool((11, 4))",  # one axis divides, the other not
        "output y = adaptive_avgpool((7, 7))",  # torchvision's VGG/AlexNet head on a small map
    ],
    "adaptive_maxpool": [
        "output y = adaptive_maxpool(1)",
        "output y = adaptive_maxpool((3, 4))",
        "output y = adaptive_maxpool((2, 5))",  # 10 → 5 divides, 11 → 2 not
    ],
    "conv_transpose": [
        "output y = conv_transpose(6, 3, stride=2, pad=1, output_padding=1)",
        "output y = conv_transpose(4, 4, stride=2, pad=1, groups=4, bias=false)",
        "output y = conv_transpose(2, (3, 2), stride=(3, 2), output_padding=(2, 1), dilation=(1, 2))",
    ],
    "upsample": [
        "output y = upsample(2)",
        'output y = upsample(2, mode="bilinear")',
        'output y = upsample(2, mode="bilinear", align_corners=true)',
        'output y = upsample(size=(7, 23), mode="bilinear")',  # downsamples one axis
        "output y = upsample(size=(16, 25))",
        "output y = upsample(1.5)",
    ],
    "pad": [
        "output y = pad((1, 2, 3, 0))",
        'output y = pad((9, 0, 2, 10), mode="reflect")',  # the most reflect allows
        'output y = pad(3, mode="replicate")',
        "output y = pad((2, 1), value=0.5)",
    ],
    "channel_shuffle": [
        "output y = channel_shuffle(2)",
        "output y = conv(6, 1) -> channel_shuffle(3)",
    ],
    "groupnorm": [
        "output y = groupnorm(2)",
        "output y = groupnorm(4, affine=false)",
        "output y = flatten -> groupnorm(5)",
    ],
    "instancenorm": [
        "output y = instancenorm",
        "output y = instancenorm(affine=true)",
        "output y = instancenorm(track_running_stats=true)",
    ],
    "layernorm": [
        "output y = layernorm(eps=0.000001)",
        "output y = layernorm(affine=false)",
        "output y = flatten -> layernorm",
    ],
    "layer_scale": ["output y = layer_scale(0.5)", "output y = flatten -> layer_scale(2)"],
    "stochastic_depth": ["output y = stochastic_depth(0.1)"],
    "linear": ["output y = flatten -> linear(7)", "output y = flatten -> linear(7, bias=false)"],
    "flatten": ["output y = flatten"],
    "relu": ["output y = relu"],
    "relu6": ["output y = conv(4, 1) -> relu6"],
    "silu": ["output y = silu"],
    "hardsigmoid": ["output y = hardsigmoid"],
    "gelu": ["output y = gelu", 'output y = gelu(approximate="tanh")'],
    "leaky_relu": ["output y = leaky_relu(0.2)", "output y = leaky_relu(-1.5)"],
    "elu": ["output y = elu", "output y = elu(0.3)"],
    "mish": ["output y = mish"],
    "prelu": ["output y = prelu", "output y = prelu(shared=true)", "output y = flatten -> prelu"],
    "sigmoid": ["output y = sigmoid"],
    "tanh": ["output y = tanh"],
    "softmax": ["output y = softmax", "output y = flatten -> softmax"],
    "batchnorm": ["output y = bn(eps=0.001)", "output y = flatten -> bn"],
    "lrn": [
        "output y = lrn(3, alpha=0.1, beta=0.75, k=2.0)",
        "output y = lrn(4, alpha=0.1, beta=0.5)",
    ],
    "dropout": ["output y = dropout(0.3)"],
    "identity": ["output y = identity"],
    "concat": ["a = x -> conv(3, 1)\nb = x -> relu\noutput y = concat(a, b, x)"],
    "add": [
        "a = x -> relu\noutput y = add(x, a)",
        "a = x -> relu\nb = x -> tanh\noutput y = add(x, a, b)",
        "s = x -> global_avgpool\noutput y = add(x, s)",  # broadcast C×1×1
    ],
    "mul": [
        "s = x -> global_avgpool -> conv(4, 1) -> sigmoid\noutput y = mul(x, s)",  # squeeze-excitation
        "s = x -> conv(1, 1)\ng = x -> global_avgpool\noutput y = mul(x, s, g)",  # 1×H×W and C×1×1
    ],
}


def op_network(op: str, index: int) -> Network:
    body = textwrap.indent(OP_CASES[op][index], "    ")
    text = f"network {op}_{index} {{\n    input x: 4x11x10\n{body}\n}}\n"
    return archc.load(f"{op}_{index}.arch", text=text)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize(
    ("op", "index"), [(op, i) for op, cases in OP_CASES.items() for i in range(len(cases))]
)
def test_every_op_lowers_runs_and_matches_pytorch(op: str, index: int) -> None:
    net = op_network(op, index)
    model = onnx_emit.to_onnx(net, weights="random", seed=3)
    onnx.checker.check_model(model, full_check=True)
    feeds = random_inputs(net, 2)
    got = run(session(model), feeds)
    assert got["y"].shape == (2, *net.outputs["y"])
    module, weights = torch_pair(net, seed=index)
    got = run(session(onnx_emit.to_onnx(net, weights=weights)), feeds)
    (want,) = torch_outputs(module, net, feeds)
    assert_close(got["y"], want, f"{op} case {index}")


def test_lrn_on_features_is_refused_where_pytorch_refuses_it() -> None:
    # PyTorch's LocalResponseNorm and ONNX's LRN need channels and positions; a flat input is
    # a located error in the analysis, not a module that fails when it runs
    text = "network f {\n    input x: 4x11x10\n    output y = flatten -> lrn(3)\n}\n"
    with pytest.raises(archc.errors.SpecShapeError, match="lrn needs channels and positions"):
        archc.load("f.arch", text=text)


@pytest.mark.parametrize(
    "body",
    [
        "adaptive_avgpool(3)",
        "adaptive_maxpool((3, 4))",
        "groupnorm(2)",
        "layernorm",
        'upsample(size=(13, 9), mode="bilinear")',
        'gelu(approximate="tanh")',
    ],
)
@pytest.mark.parametrize("opset", [onnx_emit.MIN_OPSET, 17, None])
def test_new_lowerings_hold_at_every_opset(body: str, opset: int | None) -> None:
    """Adaptive pooling with bins that do not divide (once a located error) and the norms whose
    ReduceMean changed form in opset 18 equal PyTorch from the oldest opset archc emits."""
    text = f"network n {{\n    input x: 4x10x10\n    output y = {body}\n}}\n"
    net = archc.load("n.arch", text=text)
    module, weights = torch_pair(net)
    model = onnx_emit.to_onnx(net, weights=weights, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    feeds = random_inputs(net, 2)
    (want,) = torch_outputs(module, net, feeds)
    assert_close(run(session(model), feeds)["y"], want, f"{body} at opset {opset}")


# ---------------------------------------------------------------------------------- every spec
def test_checker_names_and_value_info(spec_name: str) -> None:
    net = load_spec(spec_name)
    model = structure(spec_name)
    onnx.checker.check_model(model, full_check=True)
    graph = model.graph
    assert [i.name for i in graph.input][: len(net.inputs)] == list(net.inputs)
    assert [o.name for o in graph.output] == list(net.outputs)
    for value in [*graph.input[: len(net.inputs)], *graph.output]:
        assert dims(value)[0] == onnx_emit.BATCH
    # one node per layer, named by its scope path (helpers are <path>/<step>)
    node_names = [n.name for n in graph.node]
    assert len(node_names) == len(set(node_names))
    layers = [n for n in net.order if net.layer(n).op != "input"]
    assert set(layers) <= set(node_names)
    assert all(n in set(layers) or "/" in n for n in node_names)
    # every intermediate value carries its shape
    declared = {
        v.name for v in [*graph.input, *graph.output, *graph.initializer, *graph.value_info]
    }
    used = {name for node in graph.node for name in [*node.input, *node.output] if name}
    assert used <= declared
    # weights are named canonically, in Network.weights() order
    weight_inputs = [i.name for i in graph.input[len(net.inputs) :]]
    assert weight_inputs == [name for name, _, _ in net.weights()]


def test_shape_inference_agrees_with_the_analyzer(spec_name: str) -> None:
    net = load_spec(spec_name)
    model = onnx.ModelProto()
    model.CopyFrom(structure(spec_name))
    del model.graph.value_info[:]
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    shapes = {v.name: dims(v) for v in [*inferred.graph.value_info, *inferred.graph.output]}
    values = onnx_emit._value_names(net)

    def batched(found: list[int | str] | None) -> list[int | str] | None:
        # after a Resize, ONNX's inference names the batch axis afresh (unk__0): it stays a
        # symbol, never a number
        if found and isinstance(found[0], str):
            return [onnx_emit.BATCH, *found[1:]]
        return found

    for node in net.order:
        if net.layer(node).op == "input":
            continue
        assert batched(shapes.get(values[node])) == [onnx_emit.BATCH, *net.shape(node)], node
    for name, shape in net.outputs.items():
        assert batched(shapes[name]) == [onnx_emit.BATCH, *shape]


def test_runs_and_equals_the_pytorch_emission(spec_name: str) -> None:
    net = load_spec(spec_name)
    module, weights = torch_pair(net)
    model = onnx_emit.to_onnx(net, weights=weights)
    totals = net.totals()
    assert (
        sum(elements(tuple(t.dims)) for t in model.graph.initializer)
        == totals.params + totals.buffers
    )
    sess = session(model)
    del model, weights
    for batch in (1, 3):
        feeds = random_inputs(net, batch, seed=batch)
        got = run(sess, feeds)
        assert [got[name].shape for name in net.outputs] == [
            (batch, *s) for s in net.outputs.values()
        ]
        if batch == 1:
            want = torch_outputs(module, net, feeds)
            for name, expected in zip(net.outputs, want, strict=True):
                assert_close(got[name], expected, f"{spec_name} output {name}")


def test_same_seed_gives_identical_bytes(spec_name: str) -> None:
    net = load_spec(spec_name)
    first = stream_digest(net, weights="random", seed=11)
    assert stream_digest(net, weights="random", seed=11) == first
    size = first[1]
    assert size >= 4 * (net.totals().params + net.totals().buffers)


# ---------------------------------------------------------------------------------- weights
def test_streamed_bytes_equal_serialize_to_string() -> None:
    for name in (SMALL, "resnet18"):
        net = load_spec(name)
        model = onnx_emit.to_onnx(net, weights="random", seed=5)
        sink = _Hasher()
        prepared, source = onnx_emit._prepare(net, "random", 5, None)
        ModelWriter(prepared, net.weights(), source).write(sink)  # type: ignore[arg-type]
        assert sink.digest.hexdigest() == hashlib.sha256(model.SerializeToString()).hexdigest()


def test_random_init_follows_pytorch_defaults() -> None:
    net = load_spec("resnet18")
    model = onnx_emit.to_onnx(net, weights="random", seed=0)
    arrays = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for name, layer, spec in net.weights():
        values = arrays[name]
        assert values.dtype == np.float32 and values.shape == spec.shape
        op = net.layer(layer).op
        if op == "batchnorm":
            start = {"weight": 1, "bias": 0, "running_mean": 0, "running_var": 1}[spec.role]
            assert np.all(values == start), name
        else:
            weight = next(s for n, lay, s in net.weights() if lay == layer and s.role == "weight")
            bound = 1 / np.sqrt(elements(weight.shape[1:]))
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.5 * bound, name
    # a tensor's values depend only on the seed and its name
    name = "logits.fc.weight"
    rng = tensor_rng(0, name)
    expected = rng.random((1000, 512), dtype=np.float32) * np.float32(2 / np.sqrt(512))
    expected -= np.float32(1 / np.sqrt(512))
    np.testing.assert_array_equal(arrays[name], expected)


@pytest.mark.parametrize("size", [1, 7, 2**18, 2**18 + 3, 3 * 2**18 + 1])
def test_uniform_is_numpys_float32_random(size: int) -> None:
    fast = uniform(tensor_rng(9, "t"), (size,), 0.25)
    slow = tensor_rng(9, "t").random(size, dtype=np.float32) * np.float32(0.5)
    slow -= np.float32(0.25)
    np.testing.assert_array_equal(fast, slow)


def test_zeros_and_none() -> None:
    net = load_spec(SMALL)
    zeros = onnx_emit.to_onnx(net, weights="zeros")
    assert all(not onnx.numpy_helper.to_array(t).any() for t in zeros.graph.initializer)
    none = onnx_emit.to_onnx(net, weights="none")
    assert len(none.graph.initializer) == 0
    assert len(none.SerializeToString()) < 20_000
    names = [name for name, _, _ in net.weights()]
    assert [i.name for i in none.graph.input] == [*net.inputs, *names]


def test_weight_mapping_is_checked() -> None:
    net = load_spec(SMALL)
    weights = {name: np.zeros(spec.shape, np.float64) for name, _, spec in net.weights()}
    model = onnx_emit.to_onnx(net, weights=weights)  # float64 is converted
    assert {t.data_type for t in model.graph.initializer} == {onnx.TensorProto.FLOAT}
    first = next(iter(weights))
    with pytest.raises(EmitError, match="missing 1 of the network's"):
        onnx_emit.to_onnx(net, weights={k: v for k, v in weights.items() if k != first})
    with pytest.raises(EmitError, match=r"does not have: 'c1\.conv\.weigth'"):
        onnx_emit.to_onnx(net, weights={**weights, "c1.conv.weigth": weights[first]})
    with pytest.raises(EmitError, match="has shape"):
        onnx_emit.to_onnx(net, weights={**weights, first: np.zeros((1, 2))})
    with pytest.raises(UsageError):
        onnx_emit.to_onnx(net, weights="ones")


# ---------------------------------------------------------------------------------- opsets
def test_default_opset_is_the_newest_onnxruntime_runs() -> None:
    opset = onnx_emit.default_opset()
    assert onnx_emit.MIN_OPSET <= opset <= onnx.defs.onnx_opset_version()
    model = structure(SMALL)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    session(onnx_emit.to_onnx(load_spec(SMALL), weights="zeros"))
    if opset < onnx.defs.onnx_opset_version():
        newer = onnx_emit.to_onnx(load_spec(SMALL), weights="zeros", opset=opset + 1)
        with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error type
            session(newer)


@pytest.mark.parametrize("name", ["googlenet", "resnet18"])
def test_oldest_opset_runs_and_agrees(name: str) -> None:
    net = load_spec(name)
    feeds = random_inputs(net, 1)
    old = run(session(onnx_emit.to_onnx(net, seed=1, opset=onnx_emit.MIN_OPSET)), feeds)
    new = run(session(onnx_emit.to_onnx(net, seed=1)), feeds)
    for key in new:
        assert_close(old[key], new[key], key)


def test_unsupported_opset_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="opset 9 is not supported"):
        onnx_emit.to_onnx(load_spec(SMALL), opset=9)


# ---------------------------------------------------------------------------------- files
def test_external_data_above_the_threshold(tmp_path: Path) -> None:
    net = load_spec("resnet18")
    path = tmp_path / "r18.onnx"
    written = onnx_emit.write(net, path, seed=2, external_threshold=1_000_000)
    assert written == [path, tmp_path / "r18.onnx.data"]
    assert path.stat().st_size < 200_000
    assert written[1].stat().st_size >= 4 * net.totals().params
    onnx.checker.check_model(str(path), full_check=True)
    loaded = onnx.load(str(path), load_external_data=False)
    for tensor in loaded.graph.initializer:
        record = {e.key: e.value for e in tensor.external_data}
        assert record["location"] == "r18.onnx.data"
        assert int(record["offset"]) % ALIGNMENT == 0
    feeds = random_inputs(net, 2)
    inline = run(session(onnx_emit.to_onnx(net, seed=2)), feeds)
    external = run(session(path), feeds)
    np.testing.assert_array_equal(inline["logits"], external["logits"])
    # below the threshold: one file, byte-identical to the in-memory model
    single = tmp_path / "single.onnx"
    assert onnx_emit.write(net, single, seed=2) == [single]
    assert single.read_bytes() == onnx_emit.to_onnx(net, seed=2).SerializeToString()


def test_full_disk_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "net.onnx"
    target.write_bytes(b"previous")
    calls = 0
    original = ZeroWeights.array

    def failing(self, entry):  # the disk fills up after a few tensors
        nonlocal calls
        calls += 1
        if calls > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, entry)

    monkeypatch.setattr(ZeroWeights, "array", failing)
    with pytest.raises(EmitError, match="the disk is full"):
        onnx_emit.write(load_spec(SMALL), target, weights="zeros")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]


def test_failed_external_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archc.emit.onnx as module

    real = module.write_atomic

    def fail_model(path, data):
        if str(path).endswith(".onnx"):
            raise EmitError(f"cannot write {path}: the disk is full")
        return real(path, data)

    monkeypatch.setattr(module, "write_atomic", fail_model)
    with pytest.raises(EmitError):
        onnx_emit.write(load_spec(SMALL), tmp_path / "x.onnx", external_threshold=1000)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- CLI
def cli(*argv: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """``archc`` in a fresh interpreter where importing torch fails."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from archc.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
    )


def test_cli_writes_a_model_without_torch(tmp_path: Path) -> None:
    out = tmp_path / "lenet.onnx"
    spec = f"specs/{SMALL}.arch"
    done = cli("emit", spec, "--target", "onnx", "--seed", "4", "-o", str(out))
    assert done.returncode == 0, done.stderr.decode()
    assert f"wrote {out}" in done.stderr.decode()
    assert out.read_bytes() == onnx_emit.to_onnx(load_spec(SMALL), seed=4).SerializeToString()
    piped = cli(
        "emit", spec, "--target", "onnx", "--seed", "4", "--weights", "none", "--opset", "13"
    )
    assert piped.returncode == 0, piped.stderr.decode()
    model = onnx.load_from_string(piped.stdout)
    assert model.opset_import[0].version == 13 and len(model.graph.initializer) == 0


def test_cli_errors_exit_2(tmp_path: Path) -> None:
    spec = f"specs/{SMALL}.arch"
    missing = cli("emit", spec, "--target", "onnx", "-o", str(tmp_path / "no" / "x.onnx"))
    assert missing.returncode == 2
    assert "emit error: cannot write" in missing.stderr.decode()
    assert "Traceback" not in missing.stderr.decode()
    directory = cli("emit", spec, "--target", "onnx", "-o", str(tmp_path))
    assert directory.returncode == 2 and "is a directory" in directory.stderr.decode()
    opset = cli("emit", spec, "--target", "onnx", "--opset", "3", "-o", str(tmp_path / "x.onnx"))
    assert opset.returncode == 2 and "opset 3 is not supported" in opset.stderr.decode()
    assert list(tmp_path.iterdir()) == []
    # adaptive pooling whose bins do not divide was a located emit error; it lowers now
    uneven = tmp_path / "uneven.arch"
    uneven.write_text("network u {\n    input x: 4x10x10\n    output y = adaptive_avgpool(3)\n}\n")
    emitted = cli("emit", str(uneven), "--target", "onnx", "-o", str(tmp_path / "u.onnx"))
    assert emitted.returncode == 0, emitted.stderr.decode()


def test_import_is_light() -> None:
    code = (
        "import sys, archc.emit.onnx\n"
        "heavy = [m for m in ('onnx', 'onnxruntime', 'torch', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
