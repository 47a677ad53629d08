"""DeepSpeed's flops profiler: the FLOPs of ``get_model_profile(model, input_shape)``.

DeepSpeed patches ``torch.nn.functional`` and a few tensor methods while the model runs and
attributes each call to the innermost module.  Its *MACs* are exactly archc's (conv and linear
multiply-accumulates, no bias); this convention reproduces its headline **FLOPs**: 2 per MAC,
plus conv bias (linear bias is not counted), ReLU 1 per element (ReLU6 0), batch norm 2 per element (eval
mode), pools and softmax 1 per input element, and LRN's internal tensor ops.  ``x + y``,
``torch.cat``, sigmoid and tanh are not patched (0).

DeepSpeed computes a convolution's output size itself from the padding it is given; with
``padding="same"`` it pads ``d·(k−1)//2`` on each side, so an even kernel loses a row and a
column, and this rule does the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.conventions.base import (
    Convention,
    Rule,
    bias_elements,
    in_elements,
    lrn_functionals,
    norm_elements,
    out_elements,
    plus,
    registry_macs,
    times,
    zero,
)
from archc.ops import Attrs, Shape, elements


def _conv(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    # _conv_flops_compute: 2·MACs + bias, over the output size it derives from the padding,
    # for any number of spatial axes (conv1d, conv, conv3d)
    c_in, sizes = ins[0][0], ins[0][1:]
    pads = (
        tuple(d * (k - 1) // 2 for k, d in zip(a["kernel"], a["dilation"], strict=True))
        if a["pad"] == "same"
        else a["pad"]
    )
    positions = 1
    for size, k, d, st, p in zip(sizes, a["kernel"], a["dilation"], a["stride"], pads, strict=True):
        positions *= (size + 2 * p - (d * (k - 1) + 1)) // st + 1
    macs = elements(a["kernel"]) * c_in * (a["out"] // a["groups"]) * positions
    return 2 * macs + (a["out"] * positions if a["bias"] else 0)


_UNPATCHED = Rule("0", zero, "not a patched functional or tensor method")
_POOL = Rule("C·H_in·W_in (1 per input element)", in_elements, "_pool_flops_compute")

_NORM = Rule(
    "5·n with an affine weight and bias, 4·n without",
    norm_elements(5, 4),
    "patched F.group_norm/F.instance_norm/F.layer_norm",
)


def _upsample(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    if a["size"] is not None:
        return out[1] * out[2]
    return int(elements(ins[0]) * a["scale"] ** 2)


CONVENTION = Convention(
    name="deepspeed",
    tool="deepspeed",
    version="0.19.8",
    unit="FLOPs",
    reports="get_model_profile(model, input_shape=(1, *shape), as_string=False)[0] (flops)",
    summary="2 FLOPs per MAC plus conv bias, ReLU 1/element, batch norm 2/element, pools and "
    "softmax 1/input element; adds, concat, sigmoid, tanh 0",
    fallback=_UNPATCHED,
    rules={
        "input": Rule("0", zero, "a graph input"),
        "conv": Rule(
            "2·C_out·H_out·W_out·(C_in/groups)·k_h·k_w + C_out·H_out·W_out (bias)",
            _conv,
            "patched F.conv2d: _conv_flops_compute",
        ),
        "linear": Rule(
            "2·in·out (bias ignored)", times(2, registry_macs("linear")), "patched F.linear"
        ),
        "batchnorm": Rule(
            "2·n (eval mode, affine)", times(2, out_elements), "patched F.batch_norm"
        ),
        "lrn": Rule(
            "3·n + (C + size − 1)·H·W",
            lrn_functionals,
            "inside F.local_response_norm: patched Tensor.mul (x·x, ·alpha), Tensor.add (+k) "
            "and F.avg_pool3d",
        ),
        "relu": Rule("n", in_elements, "patched F.relu"),
        "relu6": Rule("0", zero, "nn.ReLU6 calls F.hardtanh, which is not patched"),
        "hardswish": Rule("0", zero, "F.hardswish is not patched"),
        "sigmoid": _UNPATCHED,
        "tanh": _UNPATCHED,
        "softmax": Rule("n", in_elements, "patched F.softmax"),
        "maxpool": _POOL,
        "avgpool": _POOL,
        "global_avgpool": _POOL,
        "matmul": Rule(
            "2·batch·n·k·m", times(2, registry_macs("matmul")), "patched torch.matmul and @"
        ),
        "attention": Rule(
            "2·(T·D·3D + 2·T²·D + T·D²) (bias ignored)",
            times(2, registry_macs("attention")),
            "patched F.linear and torch.matmul (the @ operator)",
        ),
        "window_attention": Rule(
            "2·windows·(T·C·3C + 2·T²·C + T·C²) (bias ignored)",
            times(2, registry_macs("window_attention")),
            "patched F.linear and torch.matmul (the @ operator)",
        ),
        "adaptive_avgpool": _POOL,
        "flatten": _UNPATCHED,
        "dropout": Rule("0", zero, "F.dropout is not patched"),
        "identity": _UNPATCHED,
        "concat": Rule("0", zero, "torch.cat is not patched"),
        "add": Rule("0", zero, "x + y (Tensor.__add__) is not patched"),
        "mul": Rule("0", zero, "x * y (Tensor.__mul__) is not patched"),
        "silu": Rule("n", in_elements, "patched F.silu"),
        "hardsigmoid": Rule("0", zero, "F.hardsigmoid is not patched"),
        "gelu": Rule("n", in_elements, "patched F.gelu"),
        "leaky_relu": Rule("n", in_elements, "patched F.leaky_relu"),
        "elu": Rule("n", in_elements, "patched F.elu"),
        "mish": Rule("0", zero, "F.mish is not patched"),
        "prelu": Rule("n", in_elements, "patched F.prelu"),
        "conv_transpose": Rule(
            "2·C_in·H_in·W_in·(C_out/groups)·k_h·k_w + C_out·H_out·W_out (bias)",
            plus(times(2, registry_macs("conv_transpose")), bias_elements),
            "patched F.conv_transpose2d: _conv_trans_flops_compute",
        ),
        "upsample": Rule(
            "H_out·W_out with a size (channels left out), C·H_in·W_in·scale² with a scale",
            _upsample,
            "patched F.interpolate: _upsample_flops_compute",
        ),
        "pad": Rule("0", zero, "F.pad is not patched"),
        "channel_shuffle": _UNPATCHED,
        "groupnorm": _NORM,
        "instancenorm": _NORM,
        "layernorm": _NORM,
        "layer_scale": Rule("0", zero, "x * scale (Tensor.__mul__) is not patched"),
        "stochastic_depth": _UNPATCHED,
        "adaptive_maxpool": _POOL,
    },
    treats={
        "bias": "conv bias 1 FLOP per output element; linear bias not counted",
        "batchnorm": "2 per element in eval mode (5 in training mode)",
        "activations": "ReLU 1 per element; ReLU6 (F.hardtanh), sigmoid, tanh 0; softmax 1 per element",
        "pools": "1 per input element",
        "adds": "0 for x + y; torch.add/Tensor.add would count 1 per element",
        "attention": "F.scaled_dot_product_attention and matmuls: 2 FLOPs per MAC",
    },
)
