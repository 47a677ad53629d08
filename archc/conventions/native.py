"""archc's own convention: multiply-accumulates of conv and linear, nothing else.

The numbers torchvision quotes as GFLOPS ("4.09" for ResNet-50); every op's ``macs()`` in the
registry.  See the MACs section of docs/conventions.md.
"""

from __future__ import annotations

from archc.conventions.base import Convention, Rule, registry_macs, zero

_MACS = "Op.macs() in archc/ops/"
_NONE = Rule("0", zero, "no multiply-accumulates")

CONVENTION = Convention(
    name="archc",
    tool="archc",
    version="",  # whatever version is running
    unit="MACs",
    reports="archc analyze: MACs",
    summary="multiply-accumulates of conv, conv_transpose, linear and attention (its products "
    "included); bias, norms, activations, pools, adds: 0",
    fallback=_NONE,
    rules={
        "input": _NONE,
        "conv": Rule(
            "C_out·H_out·W_out·(C_in/groups)·k_h·k_w", registry_macs("conv"), _MACS + "conv"
        ),
        "linear": Rule("in·out", registry_macs("linear"), _MACS),
        "batchnorm": _NONE,
        "lrn": _NONE,
        "relu": _NONE,
        "relu6": _NONE,
        "hardswish": _NONE,
        "sigmoid": _NONE,
        "tanh": _NONE,
        "softmax": _NONE,
        "maxpool": _NONE,
        "avgpool": _NONE,
        "global_avgpool": _NONE,
        "adaptive_avgpool": _NONE,
        "flatten": _NONE,
        "dropout": _NONE,
        "identity": _NONE,
        "concat": _NONE,
        "add": _NONE,
        "mul": _NONE,
        "silu": _NONE,
        "hardsigmoid": _NONE,
        "gelu": _NONE,
        "leaky_relu": _NONE,
        "elu": _NONE,
        "mish": _NONE,
        "prelu": _NONE,
        "conv_transpose": Rule(
            "C_in·H_in·W_in·(C_out/groups)·k_h·k_w",
            registry_macs("conv_transpose"),
            _MACS,
        ),
        "upsample": _NONE,
        "pad": _NONE,
        "channel_shuffle": _NONE,
        "groupnorm": _NONE,
        "instancenorm": _NONE,
        "layernorm": _NONE,
        "layer_scale": _NONE,
        "stochastic_depth": _NONE,
        "adaptive_maxpool": _NONE,
        "matmul": Rule("batch·n·k·m", registry_macs("matmul"), _MACS + "matrix products"),
        "attention": Rule(
            "T·D·3D (q, k, v) + T²·D (QKᵀ) + T²·D (weights·V) + T·D² (output)",
            registry_macs("attention"),
            _MACS + "attention's four projections and two products",
        ),
        "window_attention": Rule(
            "windows·(T·C·3C + 2·T²·C + T·C²), T = window², windows of the padded map",
            registry_macs("window_attention"),
            _MACS + "window attention's projections and two products per window",
        ),
    },
    treats={
        "bias": "not counted",
        "batchnorm": "0 (folded into the conv at inference)",
        "activations": "0",
        "pools": "0",
        "adds": "0",
        "attention": "the four projections and both products (QKᵀ and weights·V, T·T·D each) are MACs",
    },
)
