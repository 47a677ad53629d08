"""thop (pytorch-OpCounter): ``thop.profile(model, inputs=(x,))[0]``.

thop puts a forward hook on the leaf modules it has a rule for and adds up their counts; a
module type without a rule (nn.Flatten, nn.Sigmoid, nn.Tanh, nn.LocalResponseNorm, nn.Identity,
the emitted ``Add``/``Concat`` helpers) counts 0.  Conv and linear count their MACs without the
bias, batch norm 4 per element, average pooling 1 per output element and adaptive average
pooling (window + 1) per output element.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.conventions.base import (
    Convention,
    Rule,
    conv_transpose_over_output,
    except_maps,
    norm_elements,
    out_elements,
    registry_macs,
    times,
    zero,
)
from archc.ops import Attrs, Shape, elements
from archc.ops.windows import window_projection_macs


def _adaptive(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    # count_adap_avgpool: int((prod(in_hw / out_hw) + 1) * out.numel()) in float64
    kernel = 1.0
    for i, o in zip(ins[0][1:], out[1:], strict=True):
        kernel *= i / o
    return int((kernel + 1) * elements(out))


def _softmax(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    # count_softmax over its dim (the channels or features, or the axis given): (exp + sum +
    # divide) per row
    features = ins[0][a["axis"]]
    rows = elements(ins[0]) // features
    return rows * (3 * features - 1)


_NO_RULE = Rule("0", zero, "no rule for the module type: counted as zero")
_ZERO_OPS = Rule("0", zero, "registered as zero_ops")
_ADAPTIVE = Rule("(H_in/H_out · W_in/W_out + 1)·C·H_out·W_out", _adaptive, "count_adap_avgpool")


def _upsample(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return (11 if a["mode"] == "bilinear" else 1) * elements(out)


CONVENTION = Convention(
    name="thop",
    tool="thop",
    version="0.1.1.post2209072238",
    unit="MACs",
    reports="thop.profile(model, inputs=(x,))[0]",
    summary="conv and linear MACs without bias, batch norm 4/element, average pools and "
    "softmax counted; ReLU, max pool, dropout 0; modules without a rule 0",
    fallback=_NO_RULE,
    rules={
        "input": Rule("0", zero, "a graph input"),
        "conv": Rule(
            "C_out·H_out·W_out·(C_in/groups)·k_h·k_w (bias ignored)",
            registry_macs("conv"),
            "count_convNd",
        ),
        "linear": Rule("in·out (bias ignored)", registry_macs("linear"), "count_linear"),
        "batchnorm": Rule(
            "4·n (2 per element, doubled for the affine weight and bias)",
            times(4, out_elements),
            "count_normalization",
        ),
        "lrn": _NO_RULE,
        "relu": _ZERO_OPS,
        "relu6": _ZERO_OPS,
        "hardswish": _NO_RULE,
        "sigmoid": _NO_RULE,
        "tanh": _NO_RULE,
        "softmax": Rule(
            "(3·C − 1)·n/C, C the softmax axis's size (exp, sum, divide per row)",
            _softmax,
            "count_softmax",
        ),
        "maxpool": _ZERO_OPS,
        "avgpool": Rule("C·H_out·W_out (1 per output element)", out_elements, "count_avgpool"),
        "global_avgpool": _ADAPTIVE,
        "adaptive_avgpool": _ADAPTIVE,
        "flatten": _NO_RULE,
        "dropout": _ZERO_OPS,
        "identity": _NO_RULE,
        "concat": _NO_RULE,
        "add": _NO_RULE,
        "mul": Rule("0", zero, "x * y: no module, not seen"),
        "silu": _NO_RULE,
        "hardsigmoid": _NO_RULE,
        "gelu": _NO_RULE,
        "leaky_relu": Rule("0", zero, "count_relu: 0 (thop counts no activation)"),
        "elu": _NO_RULE,
        "mish": _NO_RULE,
        "prelu": Rule("n", out_elements, "count_prelu (eval mode)"),
        "conv_transpose": Rule(
            "C_out·H_out·W_out·(C_in/groups)·k_h·k_w (bias ignored; counted over the output, "
            "as for a convolution)",
            conv_transpose_over_output,
            "count_convNd",
        ),
        "upsample": Rule(
            "n (nearest), 11·n (bilinear)", _upsample, "count_upsample: calculate_upsample"
        ),
        "pad": Rule(
            "0",
            zero,
            "nn.ZeroPad2d registered as zero_ops; the other padding modules have no rule",
        ),
        "channel_shuffle": _NO_RULE,
        "groupnorm": _NO_RULE,
        "instancenorm": Rule(
            "4·n with an affine weight and bias, 2·n without",
            norm_elements(4, 2),
            "count_normalization",
        ),
        "layernorm": Rule(
            "on a flat input or tokens (nn.LayerNorm) 4·n with an affine weight and bias, 2·n "
            "without; "
            "0 on a map (LayerNorm2d has no rule)",
            except_maps(norm_elements(4, 2)),
            "count_normalization; rules match exact module types",
        ),
        "layer_scale": _NO_RULE,
        "stochastic_depth": _NO_RULE,
        "adaptive_maxpool": _ZERO_OPS,
        "window_attention": Rule(
            "windows·T·(C·3C + C·C) (the qkv and proj nn.Linear rules; bias and products not "
            "counted)",
            window_projection_macs,
            "count_linear on the qkv and proj children",
        ),
    },
    treats={
        "bias": "not counted",
        "batchnorm": "4 per element (affine)",
        "activations": "ReLU/ReLU6 0; sigmoid and tanh have no rule (0); softmax 3C−1 per row",
        "pools": "max 0; average 1 per output element; adaptive average (window + 1) per output",
        "adds": "0 (no rule for the module; x + y is not seen)",
        "attention": "no rule for nn.MultiheadAttention or its subclass (0)",
    },
)
