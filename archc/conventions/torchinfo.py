"""torchinfo's ``summary(model, input_size).total_mult_adds`` ("Total mult-adds").

torchinfo derives mult-adds from each leaf module's parameters: a module class whose name
contains "Conv" counts (weight + bias elements) × H_out·W_out; any other module with a
``weight`` or ``bias`` counts their elements once per sample (linear: in·out + out, batch norm:
2·C); a module without parameters counts 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.conventions.base import Convention, Rule, bias_elements, plus, registry_macs, zero
from archc.ops import Attrs, Shape


def _params(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    # batch norm's weight and bias: C each, once per sample
    return 2 * ins[0][0]


_NO_PARAMS = Rule("0", zero, "a module without parameters")

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
        "linear": Rule(
            "in·out + out (weight and bias elements)",
            plus(registry_macs("linear"), bias_elements),
            "LayerInfo.calculate_macs: output_size[0] × parameter elements",
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
    },
    treats={
        "bias": "counted: once per output position (conv), once per sample (linear)",
        "batchnorm": "2·C per sample (its parameters), not per element",
        "activations": "0",
        "pools": "0",
        "adds": "0",
        "attention": "nn.MultiheadAttention: its parameters × sequence positions",
    },
)
