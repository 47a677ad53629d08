"""torchinfo's ``summary(model, input_size).total_mult_adds`` ("Total mult-adds").

torchinfo derives mult-adds from each leaf module's parameters: a module class whose name
contains "Conv" counts (weight + bias elements) × H_out·W_out; any other module with a
``weight`` or ``bias`` counts their elements once per sample (linear: in·out + out, batch norm:
2·C); a module without parameters counts 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.conventions.base import (
    Convention,
    Rule,
    bias_elements,
    plus,
    registry_macs,
    registry_params,
    zero,
)
from archc.ops import Attrs, Shape
from archc.ops.windows import window_count, window_linear_params


def _params(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    # batch norm's weight and bias: C each, once per sample
    return 2 * ins[0][0]


_NO_PARAMS = Rule("0", zero, "a module without parameters")


def _param_rule(op: str, formula: str) -> Rule:
    return Rule(
        formula,
        registry_params(op),
        "LayerInfo.calculate_macs: output_size[0] × parameter elements",
    )


def _attention(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    d = out[-1]
    return d * d + (d if a["bias"] else 0)


def _window_attention(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    _, h, w = ins[0]
    return window_count(a, h, w) * window_linear_params(a, ins, out)


def _conv_transpose(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return registry_params("conv_transpose")(a, ins, out) * out[1] * out[2]


CONVENTION = Convention(
    name="torchinfo",
    tool="torchinfo",
    version="1.8.0",
    unit="MACs",
    reports="summary(model, input_size=(1, *shape)).total_mult_adds",
    summary="parameters × output positions: conv and linear MACs plus bias, batch norm 2·C; "
    "everything without parameters 0",
    fallback=_NO_PARAMS,
    rules={
        "input": Rule("0", zero, "a graph input"),
        "conv": Rule(
            "(C_out·(C_in/groups)·k_h·k_w + C_out)·H_out·W_out (weight and bias per position)",
            plus(registry_macs("conv"), bias_elements),
            "LayerInfo.calculate_macs, Conv branch",
        ),
        "param": Rule(
            "its elements (its parameters)", registry_params("param"), "LayerInfo.calculate_macs"
        ),
        "pos_embed": Rule(
            "T·D (its parameters)", registry_params("pos_embed"), "LayerInfo.calculate_macs"
        ),
        "attention": Rule(
            "D² + D (the output projection's parameters: only nn.Linear children count)",
            _attention,
            "LayerInfo.calculate_macs on the out_proj child; the joint projection's "
            "in_proj_weight is not named weight",
        ),
        "window_attention": Rule(
            "windows·(4C² + 3C + C) (the qkv and proj children's parameters, once per window: "
            "the windows are their batch)",
            _window_attention,
            "LayerInfo.calculate_macs on the qkv and proj children, whose output_size[0] is "
            "batch × windows; the bias table is not named weight",
        ),
        "linear": Rule(
            "in·out + out (weight and bias elements), also on T×D tokens",
            registry_params("linear"),
            "LayerInfo.calculate_macs: output_size[0] × parameter elements, and "
            "output_size[0] is the batch: a linear layer on tokens counts once, not T times "
            "(torchinfo issue #226: 173 M mult-adds for ViT-B/16)",
        ),
        "batchnorm": Rule(
            "2·C (weight and bias elements, not per position)",
            _params,
            "LayerInfo.calculate_macs: output_size[0] × parameter elements",
        ),
        "lrn": _NO_PARAMS,
        "relu": _NO_PARAMS,
        "relu6": _NO_PARAMS,
        "hardswish": _NO_PARAMS,
        "sigmoid": _NO_PARAMS,
        "tanh": _NO_PARAMS,
        "softmax": _NO_PARAMS,
        "maxpool": _NO_PARAMS,
        "avgpool": _NO_PARAMS,
        "global_avgpool": _NO_PARAMS,
        "adaptive_avgpool": _NO_PARAMS,
        "flatten": _NO_PARAMS,
        "dropout": _NO_PARAMS,
        "identity": _NO_PARAMS,
        "concat": _NO_PARAMS,
        "add": _NO_PARAMS,
        "mul": _NO_PARAMS,
        "silu": _NO_PARAMS,
        "hardsigmoid": _NO_PARAMS,
        "gelu": _NO_PARAMS,
        "leaky_relu": _NO_PARAMS,
        "elu": _NO_PARAMS,
        "mish": _NO_PARAMS,
        "prelu": _param_rule("prelu", "C (or 1 shared): its parameters"),
        "conv_transpose": Rule(
            "(C_in·(C_out/groups)·k_h·k_w + C_out)·H_out·W_out (weight and bias per output "
            "position)",
            _conv_transpose,
            "LayerInfo.calculate_macs, Conv branch",
        ),
        "upsample": _NO_PARAMS,
        "pad": _NO_PARAMS,
        "channel_shuffle": _NO_PARAMS,
        "groupnorm": _param_rule(
            "groupnorm", "2·C with an affine weight and bias (its parameters)"
        ),
        "instancenorm": _param_rule(
            "instancenorm", "2·C with an affine weight and bias (its parameters; not buffers)"
        ),
        "layernorm": _param_rule(
            "layernorm", "2·C with an affine weight and bias (its parameters)"
        ),
        "layer_scale": Rule(
            "0", zero, "its parameter is named scale: only weight and bias parameters count"
        ),
        "stochastic_depth": _NO_PARAMS,
        "adaptive_maxpool": _NO_PARAMS,
    },
    treats={
        "bias": "counted: once per output position (conv), once per sample (linear)",
        "batchnorm": "2·C per sample (its parameters), not per element",
        "activations": "0",
        "pools": "0",
        "adds": "0",
        "attention": "only the output projection (an nn.Linear child) counts: D² + D, once, not per token",
    },
)
