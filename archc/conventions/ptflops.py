"""ptflops' default backend: ``get_model_complexity_info(model, res, backend="pytorch")``.

ptflops (pytorch backend) puts a forward hook on every module type it knows and, while the model
runs, also patches ``torch.nn.functional`` calls (``F.relu``, pools, ``F.softmax`` ...) and a few
tensor methods (``Tensor.add``, ``Tensor.mul``, matrix products).  An nn.Module whose
``forward`` calls a patched functional is therefore counted twice: nn.ReLU's hook counts its
output elements and the patched ``F.relu`` its input elements again; the pools likewise.
``x + y`` (``Tensor.__add__``) and ``torch.cat`` are not patched, so residual adds and
concatenations count 0, as do modules it has no hook for (sigmoid, tanh, flatten, dropout).
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.conventions.base import (
    Convention,
    Rule,
    bias_elements,
    except_maps,
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
from archc.ops.windows import window_bias_adds, window_projection_macs

_UNHOOKED = Rule("0", zero, "no module hook, no patched functional")
_POOL = Rule(
    "2·C·H_in·W_in (module hook + patched functional, 1 per input element each)",
    times(2, in_elements),
    "pool_flops_counter_hook and the patched F.*pool2d",
)
_RELU = Rule(
    "2·n (module hook on the output + patched F.relu on the input)",
    times(2, out_elements),
    "relu_flops_counter_hook and the patched F.relu/F.relu6",
)

_NORM = Rule(
    "2·n with an affine weight and bias, n without",
    norm_elements(2, 1),
    "bn_flops_counter_hook",
)


def _upsample(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    functional = elements(out) if a["scale"] is None else elements(ins[0]) * a["scale"] ** 2
    return int(elements(out) + functional)


CONVENTION = Convention(
    name="ptflops",
    tool="ptflops",
    version="0.7.5",
    unit="MACs",
    reports='get_model_complexity_info(model, res, backend="pytorch", as_strings=False)[0]',
    summary="conv and linear MACs with bias, batch norm 2/element, ReLU and pools counted "
    "twice (module hook and patched functional), LRN's tensor ops; adds and concat 0",
    fallback=_UNHOOKED,
    rules={
        "input": Rule("0", zero, "a graph input"),
        "conv": Rule(
            "C_out·H_out·W_out·(C_in/groups)·k_h·k_w + C_out·H_out·W_out (bias)",
            plus(registry_macs("conv"), bias_elements),
            "conv_flops_counter_hook",
        ),
        "linear": Rule(
            "in·out + out (bias)",
            plus(registry_macs("linear"), bias_elements),
            "linear_flops_counter_hook (F.linear is not patched)",
        ),
        "batchnorm": Rule("2·n (affine)", times(2, out_elements), "bn_flops_counter_hook"),
        "lrn": Rule(
            "3·n + (C + size − 1)·H·W",
            lrn_functionals,
            "no module hook; inside F.local_response_norm the patched Tensor.mul (x·x, ·alpha), "
            "Tensor.add (+k) and F.avg_pool3d count",
        ),
        "relu": _RELU,
        "relu6": Rule(
            "n (module hook; nn.ReLU6 calls F.hardtanh, which is not patched)",
            out_elements,
            "relu_flops_counter_hook",
        ),
        "hardswish": Rule("0", zero, "nn.Hardswish has no hook; F.hardswish is not patched"),
        "sigmoid": _UNHOOKED,
        "tanh": _UNHOOKED,
        "softmax": Rule(
            "n", out_elements, "no module hook; the patched F.softmax counts its input"
        ),
        "maxpool": _POOL,
        "avgpool": _POOL,
        "global_avgpool": _POOL,
        "adaptive_avgpool": _POOL,
        "flatten": _UNHOOKED,
        "dropout": _UNHOOKED,
        "identity": _UNHOOKED,
        "concat": Rule("0", zero, "torch.cat is not patched"),
        "add": Rule("0", zero, "x + y (Tensor.__add__) is not patched"),
        "mul": Rule("0", zero, "x * y (Tensor.__mul__) is not patched"),
        "silu": Rule("n", out_elements, "nn.SiLU has no hook; the patched F.silu counts its input"),
        "hardsigmoid": Rule("0", zero, "nn.Hardsigmoid has no hook; F.hardsigmoid is not patched"),
        "gelu": Rule(
            "2·n (module hook + patched F.gelu)",
            times(2, out_elements),
            "relu_flops_counter_hook for nn.GELU and the patched F.gelu",
        ),
        "leaky_relu": Rule(
            "n (module hook; F.leaky_relu is not patched)",
            out_elements,
            "relu_flops_counter_hook",
        ),
        "elu": Rule(
            "2·n (module hook + patched F.elu)",
            times(2, out_elements),
            "relu_flops_counter_hook and the patched F.elu",
        ),
        "mish": Rule("0", zero, "nn.Mish has no hook; F.mish is not patched"),
        "prelu": Rule(
            "2·n (module hook + patched F.prelu)",
            times(2, out_elements),
            "relu_flops_counter_hook and the patched F.prelu",
        ),
        "conv_transpose": Rule(
            "C_in·H_in·W_in·(C_out/groups)·k_h·k_w + C_out·H_out·W_out (bias)",
            plus(registry_macs("conv_transpose"), bias_elements),
            "conv_flops_counter_hook(transpose=True): per-position MACs over the input positions",
        ),
        "upsample": Rule(
            "n (module hook), + C·H_in·W_in·scale² (scale) or + n (size) from the patched "
            "F.interpolate",
            _upsample,
            "upsample_flops_counter_hook and _interpolate_functional_flops_hook",
        ),
        "pad": Rule("0", zero, "no hook for the padding modules; F.pad is not patched"),
        "channel_shuffle": _UNHOOKED,
        "groupnorm": _NORM,
        "instancenorm": _NORM,
        "layernorm": Rule(
            "n on a flat input or tokens (nn.LayerNorm); 0 on a map (LayerNorm2d)",
            except_maps(out_elements),
            "bn_flops_counter_hook, which doubles only for an `affine` attribute (LayerNorm "
            "has elementwise_affine); hooks match exact module types, so the LayerNorm2d "
            "subclass is not counted",
        ),
        "layer_scale": Rule("0", zero, "x * scale (Tensor.__mul__) is not patched"),
        "stochastic_depth": _UNHOOKED,
        "adaptive_maxpool": _POOL,
        "window_attention": Rule(
            "windows·T·(C·3C + 3C + C·C + C) (the qkv and proj nn.Linear hooks, bias per "
            "token; the products are not seen)",
            plus(window_projection_macs, window_bias_adds),
            "linear_flops_counter_hook on the qkv and proj children; the @ operator is not patched",
        ),
    },
    treats={
        "bias": "counted: one per output element",
        "batchnorm": "2 per element (affine)",
        "activations": "ReLU 2 per element (hook + functional), ReLU6 1; sigmoid and tanh 0",
        "pools": "2 per input element (hook + functional)",
        "adds": "0 for x + y; torch.add/Tensor.add would count 1 per element",
        "attention": "0 for archc's SelfAttention: the nn.MultiheadAttention hook matches the exact type",
    },
)
