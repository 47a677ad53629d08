"""fvcore's ``FlopCountAnalysis(model, x).total()`` with its default operator handles.

fvcore traces the model with ``torch.jit.trace`` and counts ATen operators: one fused
multiply-add is one "flop".  Conv and linear count their multiply-accumulates without the bias;
``aten::batch_norm`` counts 2 per element (eval mode, affine); ``aten::adaptive_avg_pool2d`` one
per input element; every other operator (activations, max and average pooling, ``cat``,
``add``, ``flatten``, softmax, LRN's elementwise ops) has no handle and counts 0.  The model is
counted in eval mode, as fvcore's documentation does (in training mode batch norm counts 5 per
element).
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.conventions.base import (
    Convention,
    Rule,
    in_elements,
    maps_only,
    norm_elements,
    out_elements,
    registry_macs,
    times,
    zero,
)
from archc.ops import Attrs, Shape, elements

_MACS = registry_macs("conv")


def _conv(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return 0 if a["pad"] == "same" else _MACS(a, ins, out)


_UNHANDLED = Rule("0", zero, "no default handle for the traced ATen operator")
_IGNORED = Rule("0", zero, "in fvcore's list of ignored ATen operators")
_ADAPTIVE = Rule(
    "C·H_in·W_in (1 per input element)",
    in_elements,
    "aten::adaptive_avg_pool2d: elementwise_flop_counter(1, 0)",
)

_NORM = Rule(
    "5·n with an affine weight and bias, 4·n without",
    norm_elements(5, 4),
    "aten::group_norm/instance_norm/layer_norm: norm_flop_counter",
)


def _upsample(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return (4 if a["mode"] == "bilinear" else 1) * elements(out)


CONVENTION = Convention(
    name="fvcore",
    tool="fvcore",
    version="0.1.5.post20221221",
    unit="MACs",
    reports="FlopCountAnalysis(model, x).total(), model in eval mode",
    summary="conv and linear MACs without bias, plus batch norm (2/element) and adaptive "
    "average pooling (1/input element); everything else 0",
    fallback=_UNHANDLED,
    rules={
        "input": Rule("0", zero, "a graph input"),
        "conv": Rule(
            'C_out·H_out·W_out·(C_in/groups)·k_h·k_w (bias ignored); 0 with pad="same"',
            _conv,
            'aten::_convolution: conv_flop_jit; padding="same" traces to '
            "aten::_convolution_mode, which has no handle",
        ),
        "linear": Rule(
            "in·out (bias ignored)", registry_macs("linear"), "aten::linear: linear_flop_jit"
        ),
        "batchnorm": Rule(
            "2·C·H·W (eval mode, affine)",
            times(2, out_elements),
            "aten::batch_norm: batchnorm_flop_jit",
        ),
        "lrn": Rule(
            "0", zero, "F.local_response_norm traces to mul/pad/avg_pool3d/pow/div: no handles"
        ),
        "relu": _UNHANDLED,
        "relu6": Rule("0", zero, "aten::hardtanh: no handle"),
        "hardswish": Rule("0", zero, "aten::hardswish: no handle"),
        "sigmoid": _UNHANDLED,
        "tanh": _UNHANDLED,
        "softmax": _UNHANDLED,
        "maxpool": Rule("0", zero, "in fvcore's list of ignored ATen operators (aten::max_pool2d)"),
        "avgpool": Rule("0", zero, "aten::avg_pool2d: no handle"),
        "global_avgpool": Rule(
            "C·H_in·W_in (1 per input element) on C×H×W; 0 on other ranks",
            maps_only(in_elements),
            "aten::adaptive_avg_pool2d: elementwise_flop_counter(1, 0); the 1-D and 3-D "
            "poolings have no handle",
        ),
        "adaptive_avgpool": _ADAPTIVE,
        "adaptive_avgpool1d": _UNHANDLED,
        "adaptive_avgpool3d": _UNHANDLED,
        "matmul": Rule("batch·n·k·m", registry_macs("matmul"), "aten::matmul: matmul_flop_jit"),
        "attention": Rule(
            "T·D·3D + 2·T²·D + T·D² (projections and both products, bias ignored)",
            registry_macs("attention"),
            "aten::linear and aten::matmul in archc's SelfAttention.forward",
        ),
        "window_attention": Rule(
            "windows·(T·C·3C + 2·T²·C + T·C²) (projections and both products, bias ignored)",
            registry_macs("window_attention"),
            "aten::linear and aten::matmul in archc's WindowAttention.forward",
        ),
        "flatten": _IGNORED,
        "dropout": Rule("0", zero, "eval mode: aten::dropout is ignored"),
        "identity": Rule("0", zero, "no operator"),
        "concat": _IGNORED,
        "add": Rule("0", zero, "aten::add: no handle"),
        "mul": Rule("0", zero, "aten::mul: no handle"),
        "silu": _UNHANDLED,
        "hardsigmoid": _UNHANDLED,
        "gelu": _UNHANDLED,
        "leaky_relu": _UNHANDLED,
        "elu": _UNHANDLED,
        "mish": _UNHANDLED,
        "prelu": _UNHANDLED,
        "conv_transpose": Rule(
            "C_in·H_in·W_in·(C_out/groups)·k_h·k_w (bias ignored)",
            registry_macs("conv_transpose"),
            "aten::_convolution: conv_flop_jit, over the input positions when transposed",
        ),
        "upsample": Rule(
            "n (nearest), 4·n (bilinear)",
            _upsample,
            "aten::upsample_nearest2d: elementwise_flop_counter(0, 1); "
            "aten::upsample_bilinear2d: elementwise_flop_counter(0, 4)",
        ),
        "pad": Rule(
            "0", zero, "aten::constant_pad_nd/reflection_pad2d/replication_pad2d: no handle"
        ),
        "channel_shuffle": _UNHANDLED,
        "groupnorm": _NORM,
        "instancenorm": _NORM,
        "layernorm": _NORM,
        "layer_scale": Rule("0", zero, "x * scale: aten::mul has no handle"),
        "stochastic_depth": Rule("0", zero, "eval mode: returns its input, no operator"),
        "adaptive_maxpool": Rule("0", zero, "aten::adaptive_max_pool2d: no handle"),
    },
    treats={
        "bias": 'not counted (a convolution with padding="same" is not counted at all)',
        "batchnorm": "2 per element in eval mode (5 in training mode)",
        "activations": "0",
        "pools": "max and average pooling 0; adaptive average pooling 1 per input element",
        "adds": "0",
        "attention": "the projections (aten::linear) and both products (aten::matmul) as MACs; softmax 0",
    },
)
