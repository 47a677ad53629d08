"""Swin-T (issue 12): specs/swin_t.arch against torchvision's swin_t, and the window ops.

The counts are checked against torchvision's model (params, the int64 index buffers, torch's
FLOP counter on both models) and the emitted module, given torchvision's state by
``load_torchvision``, must compute torchvision's outputs.  The lean tests use a small Swin of
the same spec (``--set`` on its constants) at sizes that exercise padding to whole windows, a
shift switched off where one window holds the map, and patch merging of an odd map; ONNX
Runtime must compute what the PyTorch emission computes.  The full model's outputs are slow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.analysis import Network
from archc.emit.onnx import MIN_OPSET
from archc.emit.pytorch.runtime import state_dict_to_weights, to_torch
from archc.ops.windows import relative_position_index
from archc.torch_compat import load_torchvision
from tests.conftest import SPECS_DIR
from tests.torchvision_models import models

SWIN = SPECS_DIR / "swin_t.arch"

#: torchvision's swin_t at 3×224×224: params, buffers (12 indices of 7⁴), MACs (torch's
#: FlopCounterMode halved: conv 14,450,688 + addmm 4,162,566,144 + bmm 140,141,568 + mm
#: 173,408,256)
SWIN_T = (28_288_354, 28_812, 4_490_566_656)

#: a Swin of the same layout small enough for the lean run: channels, blocks, heads, first block
SMALL_STAGES = ((16, 2, 1, 0), (32, 2, 2, 2), (64, 2, 4, 4), (128, 2, 8, 6))
SMALL = {"STAGES": SMALL_STAGES, "BLOCKS": 8, "CLASSES": 10}


def small_swin(side: int) -> tuple[Network, Any]:
    net = archc.load(SWIN, inputs={"image": (3, side, side)}, consts=SMALL)
    tv = models().swin_transformer.SwinTransformer(
        patch_size=[4, 4],
        embed_dim=16,
        depths=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        window_size=[7, 7],
        num_classes=10,
    )
    return net, tv


def counts(model: Any) -> tuple[int, int]:
    return (
        sum(p.numel() for p in model.parameters()),
        sum(b.numel() for b in model.buffers()),
    )


def loaded(net: Network, tv: Any) -> tuple[Any, dict[str, str]]:
    """The emitted module with torchvision's state, norms and biases perturbed first (torchvision
    starts them at constants; its weights and bias tables are random already)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for tensor in tv.state_dict().values():
            if tensor.is_floating_point() and tensor.dim() == 1:
                tensor.add_(0.1 * torch.randn_like(tensor))
    module = net.to_torch().eval()
    mapping = load_torchvision(module, tv.eval())
    return module, mapping


def largest_difference(module: Any, tv: Any, image: torch.Tensor) -> float:
    with torch.no_grad():
        return float((module(image) - tv(image)).abs().max())


def test_swin_t_counts_equal_torchvision() -> None:
    net = archc.load(SWIN)
    totals = net.totals()
    assert (totals.params, totals.buffers, totals.macs) == SWIN_T
    with torch.device("meta"):
        tv = models().swin_t()
    assert counts(tv) == SWIN_T[:2]
    # the weight memory is torchvision's state in bytes: float32 tensors and int64 indices
    state_bytes = sum(t.numel() * t.element_size() for t in tv.state_dict().values())
    assert totals.weight_bytes == state_bytes == 113_383_912


def test_swin_t_macs_are_what_torch_counts_on_both_models() -> None:
    """torch's FLOP counter, on the meta device, over torchvision's swin_t and the emitted
    module: the convs, the linear layers (1×1 convs in the spec) and both products of every
    window, QKᵀ and the weights times V."""
    net = archc.load(SWIN)
    with torch.device("meta"):
        tv = models().swin_t().eval()
    module = to_torch(net, device="meta").eval()
    totals = []
    for model in (tv, module):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.empty(1, 3, 224, 224, device="meta"))
        totals.append(counter.get_total_flops())
    assert totals == [2 * SWIN_T[2]] * 2


@pytest.mark.parametrize("side", [64, 72])
def test_small_swin_counts_and_outputs_equal_torchvision(side: int) -> None:
    """At 64×64 the stages are 16, 8, 4 and 2 positions wide: padded to 21, 14, 7 and 7 (no
    shift in the last two, one window holds them); at 72×72 a map of 9 is merged (padded to
    10) into 5."""
    net, tv = small_swin(side)
    assert (net.totals().params, net.totals().buffers) == counts(tv)
    module, mapping = loaded(net, tv)
    # Swin's patch merging registers its reduction before its norm and applies the norm first
    assert mapping["stages.1.merge.norm.weight"] == "features.2.norm.weight"
    assert mapping["stages.1.merge.reduction.weight"] == "features.2.reduction.weight"
    attn = "stages.0.blocks.1.attended.attn"
    assert mapping[f"{attn}.relative_position_index"] == "features.1.1.attn.relative_position_index"
    assert largest_difference(module, tv, torch.randn(2, 3, side, side)) < 1e-5


def test_small_swin_macs_are_what_torch_counts() -> None:
    net, _ = small_swin(72)
    module = net.to_torch().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(1, 3, 72, 72))
    assert counter.get_total_flops() == 2 * net.totals().macs


def test_window_attention_counts_by_part() -> None:
    """Stage 1 at 224: 56×56 positions in 64 windows of 49 tokens, C = 96."""
    net = archc.load(SWIN)
    layer = "stages.0.blocks.1.attended.attn"
    assert net.layer(layer).attrs["shift"] == 3
    t, c = 49, 96
    assert net.cost(layer).macs == 64 * (t * c * 3 * c + 2 * t * t * c + t * c * c)
    assert net.cost(layer).params == 13 * 13 * 3 + 4 * c * c + 4 * c
    assert net.cost(layer).buffers == t * t


def test_window_attention_workspace_is_in_the_peak() -> None:
    """Per window: the tokens, q, k, v, the heads·T·T scores and their softmax, the context."""
    net = archc.load(SWIN)
    layer = "stages.0.blocks.0.attended.attn"
    windows, t, c, heads = 64, 49, 96, 3
    workspace = windows * (5 * t * c + 2 * heads * t * t)
    assert net.memory(layer).workspace == workspace
    # while it runs: its input (the layer norm's output), its output and the workspace
    assert net.totals().peak_activation_bytes >= 4 * (2 * 56 * 56 * c + workspace)


def test_small_swin_onnx_equals_pytorch_and_names_attention() -> None:
    net, tv = small_swin(72)
    module, _ = loaded(net, tv)
    weights = state_dict_to_weights(net, module.state_dict())
    image = torch.randn(2, 3, 72, 72)
    with torch.no_grad():
        want = module(image).numpy()
    for opset in (MIN_OPSET, None):
        model = net.to_onnx(weights=weights, opset=opset)
        ops = {node.name: node.op_type for node in model.graph.node}
        attn = "stages.0.blocks.1.attended.attn"
        for part, op in [
            ("scores", "MatMul"),
            ("position_bias", "Transpose"),
            ("shift_mask", "Constant"),
            ("softmax", "Softmax"),
            ("context", "MatMul"),
        ]:
            assert ops[f"{attn}/{part}"] == op
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (got,) = session.run(None, {"image": image.numpy()})
        assert abs(got - want).max() < 1e-4


def test_random_onnx_weights_hold_the_index() -> None:
    """``--weights random`` writes the relative position index, not random numbers."""
    net, _ = small_swin(64)
    model = net.to_onnx(seed=0)
    found = {t.name: t for t in model.graph.initializer}
    name = "stages.0.blocks.0.attended.attn.relative_position_index"
    index = numpy_helper.to_array(found[name])
    assert index.tolist() == relative_position_index(7)
    tv = models().swin_transformer.ShiftedWindowAttention(16, [7, 7], [0, 0], 1)
    assert np.array_equal(tv.relative_position_index.numpy(), index.astype(np.int64))


def test_patch_merge_order_is_torchvisions() -> None:
    """Channels (0, 0), (1, 0), (0, 1), (1, 1) of each 2×2 patch, an odd map zero-padded."""
    from torchvision.models.swin_transformer import _patch_merging_pad

    net = archc.load(
        "p.arch", text="network p {\n    input x: 3x5x4\n    output y = patch_merge\n}\n"
    )
    module = net.to_torch().eval()
    x = torch.randn(2, 3, 5, 4)
    want = _patch_merging_pad(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    assert net.outputs["y"] == (12, 3, 2)
    assert torch.equal(module(x), want)


@pytest.mark.slow
def test_swin_t_outputs_equal_torchvision() -> None:
    net = archc.load(SWIN)
    tv = models().swin_t()
    module, _ = loaded(net, tv)
    assert largest_difference(module, tv, torch.randn(1, 3, 224, 224)) < 1e-5


def test_a_spec_function_named_like_a_helper_function_is_renamed() -> None:
    """The window helper's module-level functions are reserved names in emitted files."""
    from archc.emit.pytorch import module_source

    text = (
        "fn swin_window_merge(c) {\n    c * 2\n}\n\n"
        "network t {\n    input x: 8x8x8\n"
        "    y = conv(swin_window_merge(4), 1) -> window_attention(2, window=4, shift=2)\n"
        "    output z = y\n}\n"
    )
    net = archc.load("t.arch", text=text)
    source = module_source(net)
    assert source.count("def swin_window_merge(") == 1  # the helper's own, not the spec's
    module = net.to_torch().eval()
    assert module(torch.randn(1, 8, 8, 8)).shape == (1, 8, 8, 8)
