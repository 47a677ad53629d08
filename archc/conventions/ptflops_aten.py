"""ptflops' ATen backend: ``get_model_complexity_info(model, res, backend="aten")``.

A ``TorchDispatchMode`` counts only ``aten.convolution`` (with the bias), ``aten.addmm`` (linear
with bias), ``aten.mm``/``matmul``/``bmm``; every other operator counts 0.
"""

from __future__ import annotations

from archc.conventions.base import (
    Convention,
    Rule,
    attention_bias_adds,
    bias_elements,
    plus,
    registry_macs,
    zero,
)
from archc.ops.windows import window_bias_adds

_ZERO = Rule("0", zero, "not in ATEN_OPS_MAPPING")

CONVENTION = Convention(
    name="ptflops-aten",
    tool="ptflops",
    version="0.7.5",
    unit="MACs",
    reports='get_model_complexity_info(model, res, backend="aten", as_strings=False)[0]',
    summary="conv and linear MACs plus their bias additions; everything else 0",
    fallback=_ZERO,
    rules={
        "input": Rule("0", zero, "a graph input"),
        "conv": Rule(
            "C_out·H_out·W_out·(C_in/groups)·k_h·k_w + C_out·H_out·W_out (bias)",
            plus(registry_macs("conv"), bias_elements),
            "aten.convolution: conv_flop",
        ),
        "linear": Rule(
            "in·out + out (bias)",
            plus(registry_macs("linear"), bias_elements),
            "aten.addmm (aten.mm without bias)",
        ),
        "matmul": Rule("batch·n·k·m", registry_macs("matmul"), "aten.bmm / aten.mm"),
        "attention": Rule(
            "T·D·3D + 2·T²·D + T·D² + 4·T·D (biases)",
            plus(registry_macs("attention"), attention_bias_adds),
            "aten.addmm for the projections, aten.bmm for QKᵀ and AV",
        ),
        "window_attention": Rule(
            "windows·(T·C·3C + 2·T²·C + T·C²) + windows·T·4C (biases)",
            plus(registry_macs("window_attention"), window_bias_adds),
            "aten.addmm for the projections, aten.bmm for QKᵀ and AV",
        ),
        "batchnorm": _ZERO,
        "lrn": _ZERO,
        "relu": _ZERO,
        "relu6": _ZERO,
        "hardswish": _ZERO,
        "sigmoid": _ZERO,
        "tanh": _ZERO,
        "softmax": _ZERO,
        "maxpool": _ZERO,
        "avgpool": _ZERO,
        "global_avgpool": _ZERO,
        "adaptive_avgpool": _ZERO,
        "flatten": _ZERO,
        "dropout": _ZERO,
        "identity": _ZERO,
        "concat": _ZERO,
        "add": _ZERO,
        "mul": _ZERO,
        "silu": _ZERO,
        "hardsigmoid": _ZERO,
        "gelu": _ZERO,
        "leaky_relu": _ZERO,
        "elu": _ZERO,
        "mish": _ZERO,
        "prelu": _ZERO,
        "conv_transpose": Rule(
            "C_in·H_in·W_in·(C_out/groups)·k_h·k_w + C_out·H_out·W_out (bias)",
            plus(registry_macs("conv_transpose"), bias_elements),
            "aten.convolution: conv_flop, transposed",
        ),
        "upsample": _ZERO,
        "pad": _ZERO,
        "channel_shuffle": _ZERO,
        "groupnorm": _ZERO,
        "instancenorm": _ZERO,
        "layernorm": _ZERO,
        "layer_scale": _ZERO,
        "stochastic_depth": _ZERO,
        "adaptive_maxpool": _ZERO,
    },
    treats={
        "bias": "counted: one per output element",
        "batchnorm": "0",
        "activations": "0",
        "pools": "0",
        "adds": "0",
        "attention": "aten.bmm/mm/matmul counted as MACs; softmax 0",
    },
)
