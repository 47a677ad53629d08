"""Training memory against PyTorch itself: saved tensors and a real optimizer step.

The saved-activation bytes of :func:`archc.training.training_memory` must equal, exactly, what
autograd saves for archc's emitted module in training mode, measured with
``torch.autograd.graph.saved_tensors_hooks`` (each storage counted once; parameters and buffers
are weights, not activations).  Weights, gradients and optimizer state must equal the tensors a
real ``torch.optim`` step leaves behind.
"""

from __future__ import annotations

from typing import Any

import pytest

import archc
from archc.analysis import Network
from archc.errors import UsageError
from archc.ops import REGISTRY
from archc.training import OPTIMIZERS, SAVES, TrainOptions, save_rule, training_memory
from tests.conftest import SPECS_DIR, load_spec

#: the networks the acceptance criterion names (MobileNetV2 when its spec ships)
NETWORKS = ["resnet50", "vgg16", "mobilenet_v1", "inception_v3"] + (
    ["mobilenet_v2"] if (SPECS_DIR / "mobilenet_v2.arch").exists() else []
)


SMALL_INPUTS = {"mobilenet_v1": {"image": (3, 32, 32)}}


def test_every_op_is_covered_by_a_rule_its_examples_check() -> None:
    # an op needs no row when its traits' default (or the fallback) is right: the examples
    # test below compares every op's examples with autograd, so a wrong default fails by name
    assert set(SAVES) <= set(REGISTRY)
    for name, op in REGISTRY.items():
        assert save_rule(name).doc, name
        assert op.internal or op.examples, f"{name} has no example to check its save rule"


def _saved_bytes(model: Any, inputs: list[Any]) -> int:
    """Bytes of every distinct storage autograd saves during one forward, weights excluded."""
    import torch

    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in state:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*inputs)
    return sum(seen.values())


def _examples() -> list[tuple[str, str, tuple[tuple[int, ...], ...]]]:
    return [
        (name, ex.call, ex.inputs)
        for name, op in REGISTRY.items()
        for ex in getattr(op, "examples", ())
    ]


def test_op_examples_save_what_autograd_saves() -> None:
    torch = pytest.importorskip("torch")
    wrong = []
    for name, call, shapes in _examples():
        op = REGISTRY[name]
        example = next(e for e in op.examples if e.call == call and e.inputs == shapes)
        net = archc.load(f"<{name}>", text=example.spec())
        model = net.to_torch(seed=0).train()
        inputs = [torch.randn(2, *s, requires_grad=True) for s in shapes]
        theirs = _saved_bytes(model, inputs)
        ours = training_memory(net, TrainOptions(batch=2, inputs_require_grad=True))
        if ours.saved_activation_bytes != theirs:
            wrong.append(f"{call} on {shapes}: archc {ours.saved_activation_bytes}, torch {theirs}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.slow
@pytest.mark.parametrize("spec", NETWORKS)
def test_saved_activations_equal_autograd(spec: str) -> None:
    torch = pytest.importorskip("torch")
    net = load_spec(spec)
    (shape,) = net.inputs.values()
    model = net.to_torch(seed=0).train()
    theirs = _saved_bytes(model, [torch.randn(2, *shape)])
    assert training_memory(net, TrainOptions(batch=2)).saved_activation_bytes == theirs


@pytest.mark.parametrize(
    ("spec", "dtype"),
    [("mobilenet_v1", "bfloat16"), ("mobilenet_v1", "float16"), ("inception_v3", "bfloat16")],
)
def test_saved_activations_in_half_precision(spec: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    # a small image keeps it fast; the module is the spec's own at any input size
    net = archc.load(SPECS_DIR / f"{spec}.arch", inputs={"image": (3, 96, 96)})
    model = net.to_torch(seed=0).to(getattr(torch, dtype)).train()
    theirs = _saved_bytes(model, [torch.randn(2, 3, 96, 96, dtype=getattr(torch, dtype))])
    ours = training_memory(net, TrainOptions(batch=2, dtype=dtype))
    assert ours.saved_activation_bytes == theirs


def _step_state(net: Network, optimizer: str, dtype: str) -> dict[str, int]:
    torch = pytest.importorskip("torch")
    model = net.to_torch(seed=0).to(getattr(torch, dtype)).train()
    params = list(model.parameters())
    opt = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.1),
        "sgd-momentum": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),
        "adam": lambda: torch.optim.Adam(params),
        "adamw": lambda: torch.optim.AdamW(params),
    }[optimizer]()
    (shape,) = net.inputs.values()
    model(torch.randn(2, *shape, dtype=getattr(torch, dtype))).sum().backward()
    opt.step()
    state = [t for s in opt.state.values() for t in s.values() if torch.is_tensor(t)]
    buffers = [b for name, b in model.named_buffers() if not name.endswith("num_batches_tracked")]
    return {
        "weights": sum(t.nbytes for t in [*params, *buffers]),
        "gradients": sum(p.grad.nbytes for p in params if p.grad is not None),
        "optimizer": sum(t.nbytes for t in state),
    }


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize(("spec", "dtype"), [("lenet5", "float32"), ("mobilenet_v1", "bfloat16")])
def test_weights_gradients_and_optimizer_state_equal_a_real_step(
    spec: str, dtype: str, optimizer: str
) -> None:
    # the state does not depend on the input size: a small image keeps backward fast
    net = archc.load(SPECS_DIR / f"{spec}.arch", inputs=SMALL_INPUTS.get(spec))
    real = _step_state(net, optimizer, dtype)
    ours = training_memory(net, TrainOptions(optimizer=optimizer, batch=2, dtype=dtype))
    assert (ours.weight_bytes, ours.gradient_bytes, ours.optimizer_bytes) == (
        real["weights"],
        real["gradients"],
        real["optimizer"],
    )


def test_master_weights_keep_float32_copies_and_state() -> None:
    net = load_spec("resnet50")
    params = net.totals().params
    tensors = sum(1 for _, _, t in net.weights() if t.trainable)
    plain = training_memory(net, TrainOptions(optimizer="adam", dtype="bfloat16"))
    mixed = training_memory(
        net, TrainOptions(optimizer="adam", dtype="bfloat16", master_weights=True)
    )
    assert plain.optimizer_bytes == 2 * params * 2 + 4 * tensors
    assert mixed.master_weight_bytes == 4 * params
    assert mixed.optimizer_bytes == 2 * params * 4 + 4 * tensors + 4 * params
    assert mixed.gradient_bytes == plain.gradient_bytes == 2 * params


def test_saved_activations_scale_with_the_batch_and_per_layer_add_up() -> None:
    net = load_spec("resnet50")
    one = training_memory(net, TrainOptions(batch=1))
    four = training_memory(net, TrainOptions(batch=4))
    bn_stats = 2 * 4 * sum(net.shape(n)[0] for n in net.order if net.layer(n).op == "batchnorm")
    assert four.saved_activation_bytes - bn_stats == 4 * (one.saved_activation_bytes - bn_stats)
    assert sum(layer.saved_bytes for layer in four.layers) == four.saved_activation_bytes
    assert four.peak_backward_bytes > four.weight_bytes + four.saved_activation_bytes


def test_checkpointing_a_scope_keeps_only_what_enters_it() -> None:
    net = load_spec("resnet50")
    base = training_memory(net, TrainOptions(batch=8))
    ckpt = training_memory(net, TrainOptions(batch=8, checkpoint=("layer3",)))
    assert ckpt.saved_activation_bytes < base.saved_activation_bytes
    inside = [x for x in ckpt.layers if x.checkpointed]
    assert inside and all(x.name.startswith("layer3.") for x in inside)
    # what the first checkpointed layer keeps is layer3's input, layer2's output
    entering = 8 * 4 * 512 * 28 * 28
    assert sum(x.saved_bytes for x in inside) <= entering
    with pytest.raises(UsageError, match="no scope 'nope'"):
        training_memory(net, TrainOptions(checkpoint=("nope",)))


# ---------------------------------------------------------------------------- the command line
def _analyze(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from archc.cli import main

    code = main(["analyze", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_train_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    from importlib import resources

    import jsonschema

    spec = str(SPECS_DIR / "resnet50.arch")
    argv = [spec, "--train", "--optimizer", "adamw", "--batch", "32", "--depth", "1"]
    code, out, err = _analyze(capsys, *argv, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    schema = json.loads(resources.files("archc").joinpath("schema/analysis-v2.json").read_text())
    jsonschema.validate(doc, schema)
    memory = training_memory(load_spec("resnet50"), TrainOptions(optimizer="adamw", batch=32))
    training = doc["training"]
    assert training["saved_activation_bytes"] == memory.saved_activation_bytes
    assert training["peak_backward_bytes"] == memory.peak_backward_bytes
    assert [r["name"] for r in training["layers"]] == [r["name"] for r in doc["layers"]]
    assert sum(r["saved_bytes"] for r in training["layers"]) == memory.saved_activation_bytes
    code, out, err = _analyze(capsys, *argv, "--checkpoint", "layer3,layer4")
    assert code == 0, err
    assert "training    adamw, batch 32, float32, checkpointing layer3, layer4" in out
    assert "peak during backward" in out


def test_analyze_train_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS_DIR / "resnet50.arch")
    code, _, err = _analyze(capsys, spec, "--optimizer", "sgd")
    assert code == 2 and "go with --train" in err
    code, _, err = _analyze(capsys, spec, "--train", "--checkpoint", "layer9")
    assert code == 2 and "no scope 'layer9'" in err


def test_assert_metrics_train_memory_and_conventions(tmp_path: Any) -> None:
    from archc.budget import check_assertions
    from archc.errors import BudgetError

    text = (SPECS_DIR / "resnet50.arch").read_text(encoding="utf-8")
    asserts = """network resnet50 {
    assert train_memory(optimizer="adam", batch=32, dtype="bfloat16") < 2GB
    assert train_memory(optimizer="sgd", checkpoint="layer3,layer4", master_weights=true) > 0
    assert macs(convention="thop") == 4133742592
    assert layer3.macs < macs(convention="ptflops", batch=2)
"""
    spec = SPECS_DIR / "resnet50.arch"
    net = archc.load(spec, text=text.replace("network resnet50 {\n", asserts, 1))
    checks = check_assertions(net)
    assert [c.passed for c in checks] == [True, True, True, True]
    bf16 = TrainOptions(optimizer="adam", batch=32, dtype="bfloat16")
    assert checks[0].actual == training_memory(net, bf16).peak_backward_bytes
    bad = text.replace(
        "network resnet50 {\n", 'network resnet50 {\n    assert macs(convention="x") > 0\n', 1
    )
    with pytest.raises(BudgetError, match="unknown convention 'x'"):
        check_assertions(archc.load(spec, text=bad))
    bad = text.replace(
        "network resnet50 {\n",
        'network resnet50 {\n    assert train_memory(checkpoint="nope") > 0\n',
        1,
    )
    with pytest.raises(BudgetError, match="no scope 'nope'"):
        check_assertions(archc.load(spec, text=bad))
