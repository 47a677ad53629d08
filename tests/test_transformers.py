"""Vision transformers (issue 12): ViT-B/16 against torchvision, and attention counted whole.

The counts are checked against torchvision's model and against torch's own FLOP counter on
the emitted module; the emitted module, given torchvision's state by ``load_torchvision``,
must compute torchvision's outputs.  The lean tests use a small ViT of the same spec
(``--set`` on its constants, a 32×32 input); the full model at 224 and 384 is slow.
"""

from __future__ import annotations

from typing import Any

import onnxruntime as ort
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import archc
import archc.errors
from archc.analysis import Network
from archc.emit.pytorch.runtime import state_dict_to_weights
from archc.torch_compat import load_torchvision
from tests.conftest import SPECS_DIR
from tests.torchvision_models import models

VIT = SPECS_DIR / "vit_b_16.arch"

#: a ViT of the same layout small enough for the lean run: 4 patches of 16×16
SMALL = {"DIM": 32, "HEADS": 4, "MLP": 64, "LAYERS": 2}


def small_vit() -> tuple[Network, Any]:
    net = archc.load(VIT, inputs={"image": (3, 32, 32)}, consts=SMALL)
    tv = models().VisionTransformer(
        image_size=32, patch_size=16, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64
    )
    return net, tv


def counts(model: Any) -> tuple[int, int]:
    return (
        sum(p.numel() for p in model.parameters()),
        sum(b.numel() for b in model.buffers()),
    )


def outputs_agree(net: Network, tv: Any, batch: int = 2) -> float:
    torch.manual_seed(0)
    for p in tv.parameters():  # torchvision starts the class token and some biases at zero
        p.data.normal_(0, 0.2)
    module = net.to_torch().eval()
    load_torchvision(module, tv.eval())
    image = torch.randn(batch, *net.inputs["image"])
    with torch.no_grad():
        return float((module(image) - tv(image)).abs().max())


def test_small_vit_counts_and_outputs_equal_torchvision() -> None:
    net, tv = small_vit()
    assert (net.totals().params, net.totals().buffers) == counts(tv)
    assert outputs_agree(net, tv) < 1e-5


def test_attention_macs_are_what_torch_counts_on_the_emitted_module() -> None:
    """Every product of attention is an op torch's FLOP counter sees in the emission."""
    net, _ = small_vit()
    module = net.to_torch().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(1, 3, 32, 32))
    assert counter.get_total_flops() == 2 * net.totals().macs


def test_attention_counts_by_part() -> None:
    """T = 197 tokens of D = 768: the projections, QKᵀ and the weights times V."""
    net = archc.load(VIT)
    layer = next(n for n in net.order if net.layer(n).op == "attention")
    assert net.cost(layer).macs == 197 * 768 * 3 * 768 + 2 * 197 * 197 * 768 + 197 * 768 * 768
    assert net.cost(layer).params == 4 * 768 * 768 + 4 * 768


def test_small_vit_onnx_equals_pytorch_and_names_attention() -> None:
    net, _ = small_vit()
    model = net.to_onnx(weights="none")
    names = {node.name for node in model.graph.node}
    attention = "encoder.0.attended.self_attention"
    for part in ("scores", "softmax", "context"):
        assert f"{attention}/{part}" in names
    ops = {node.name: node.op_type for node in model.graph.node}
    assert ops[f"{attention}/scores"] == "MatMul"
    assert ops[f"{attention}/softmax"] == "Softmax"
    torch.manual_seed(1)
    module = net.to_torch(seed=3).eval()
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = module(image).numpy()
    weights = state_dict_to_weights(net, module.state_dict())
    model = net.to_onnx(weights=weights)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": image.numpy()})
    assert abs(got - want).max() < 1e-4


def test_position_embedding_follows_the_input_size() -> None:
    """At 384×384 the grid is 24×24: 577 tokens, and a 1×577×768 position embedding."""
    net = archc.load(VIT, inputs={"image": (3, 384, 384)})
    pos = next(n for n in net.order if net.layer(n).op == "pos_embed")
    assert net.shape(pos) == (577, 768)
    assert net.totals().params == 86_567_656 + (577 - 197) * 768


def test_a_block_reads_a_tokens_features() -> None:
    """in.features is a token's D (in.channels, the first axis, is T)."""
    text = (
        "block probe() {\n    out = linear(in.features + 1)\n}\n"
        "network t {\n    input x: 3x32x32\n    y = conv(8, 16, stride=16) -> tokens\n"
        "    output z = probe\n}\n"
    )
    net = archc.load("t.arch", text=text)
    assert net.outputs["z"] == (4, 9)
    module = net.to_torch()
    assert module(torch.randn(1, 3, 32, 32)).shape == (1, 4, 9)


@pytest.mark.slow
def test_vit_b_16_counts_and_outputs_equal_torchvision() -> None:
    net = archc.load(VIT)
    tv = models().vit_b_16()
    assert (net.totals().params, net.totals().buffers) == counts(tv) == (86_567_656, 0)
    assert outputs_agree(net, tv, batch=1) < 1e-5


@pytest.mark.slow
def test_vit_b_16_at_384_counts_equal_torchvision() -> None:
    net = archc.load(VIT, inputs={"image": (3, 384, 384)})
    assert net.totals().params == counts(models().vit_b_16(image_size=384))[0]


DECOMPOSED = """
include "lib/attention.arch"

network decomposed {
    input image: 3x64x64
    x = conv(DIM, 16, stride=16) -> tokens -> class_token
    output y = HOW
}
"""


def decomposed(how: str) -> Network:
    text = "const DIM = 48\n" + DECOMPOSED.replace("HOW", how)
    return archc.load(SPECS_DIR / "decomposed.arch", text=text)


def test_attention_written_out_counts_the_same() -> None:
    """MHA written with matmul, softmax and the head reshapes gives attention's numbers."""
    whole, parts = decomposed("attention(4)"), decomposed("mha(4)")
    assert whole.totals().params == parts.totals().params
    assert whole.totals().macs == parts.totals().macs
    assert whole.outputs == parts.outputs == {"y": (17, 48)}


def test_attention_written_out_computes_the_same() -> None:
    whole, parts = decomposed("attention(4)"), decomposed("mha(4)")
    a, b = whole.to_torch(seed=0).eval(), parts.to_torch(seed=1).eval()
    # the same tensors in the same order: in_proj weight and bias, out_proj weight and bias
    b.load_state_dict(dict(zip(b.state_dict(), a.state_dict().values(), strict=True)))
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert float((a(image) - b(image)).abs().max()) < 1e-5
    # and ONNX Runtime runs the written-out form as PyTorch does
    weights = state_dict_to_weights(parts, b.state_dict())
    model = parts.to_onnx(weights=weights)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": image.numpy()})
    with torch.no_grad():
        assert abs(got - b(image).numpy()).max() < 1e-4


def test_attention_workspace_is_in_the_peak() -> None:
    """q, k, v, the heads·T·T scores and their softmax, and the context: part of the peak."""
    net = archc.load(VIT)
    node = next(n for n in net.order if net.layer(n).op == "attention")
    t, d, heads = 197, 768, 12
    assert net.memory(node).workspace == 3 * t * d + 2 * heads * t * t + t * d == 1_536_600
    # while attention runs: its input (also the residual's), its output and the workspace
    assert net.totals().peak_activation_bytes >= 4 * (2 * t * d + 1_536_600)


def test_attention_sees_the_whole_image() -> None:
    """A patch token sees its 16×16 patch; after attention every token sees all 224×224."""
    net = archc.load(VIT)
    attention = next(n for n in net.order if net.layer(n).op == "attention")
    before = net.layer(attention).inputs[0]
    assert net.rf(before).size == (16, 16)
    assert net.rf(attention).size == (224, 224)


EMBEDDING = """
network embedding {
    input image: 3x32x32
    patches = conv(32, 16, stride=16) -> tokens
HOW
}
"""

WITH_OPS = "    output y = patches -> class_token -> pos_embed"
WITH_PARAMS = """    token = param((1, 32))
    joined = concat(token, patches)
    table = param((5, 32), init="normal")
    output y = add(joined, table)"""


def test_learned_tensors_written_as_params_are_the_embedding_ops() -> None:
    """ViT's class token and position embedding as param + concat + add: the numbers, the
    PyTorch outputs and ONNX Runtime's of class_token -> pos_embed."""
    ops = archc.load("e.arch", text=EMBEDDING.replace("HOW", WITH_OPS))
    params = archc.load("e.arch", text=EMBEDDING.replace("HOW", WITH_PARAMS))
    assert ops.outputs == params.outputs == {"y": (5, 32)}
    assert ops.totals().params == params.totals().params == 24_608 + 32 + 5 * 32
    a, b = ops.to_torch(seed=0).eval(), params.to_torch(seed=1).eval()
    b.load_state_dict(dict(zip(b.state_dict(), a.state_dict().values(), strict=True)))
    image = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        want = a(image)
        assert float((b(image) - want).abs().max()) == 0.0
    weights = state_dict_to_weights(params, b.state_dict())
    model = params.to_onnx(weights=weights)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": image.numpy()})
    assert abs(got - want.numpy()).max() < 1e-5


def test_a_param_takes_no_input() -> None:
    text = EMBEDDING.replace("HOW", "    output y = patches -> param((1, 32))")
    with pytest.raises(archc.errors.SpecArgumentError, match="makes a tensor of its own"):
        archc.load("e.arch", text=text)


def test_a_vit_written_with_params_loads_torchvisions_weights() -> None:
    """load_torchvision pairs param modules with torchvision's class token and position
    embedding (parameters of its model and encoder) by shape, as it does the embedding ops."""
    text = VIT.read_text(encoding="utf-8").replace(
        "    embedded = class_token -> pos_embed\n",
        "    token = param((1, DIM))\n"
        "    joined = concat(token, patches)\n"
        '    table = param((5, DIM), init="normal")\n'
        "    embedded = add(joined, table)\n",
    )
    assert "param((1, DIM))" in text
    net = archc.load(VIT, text=text, inputs={"image": (3, 32, 32)}, consts=SMALL)
    _, tv = small_vit()
    assert outputs_agree(net, tv) < 1e-5
