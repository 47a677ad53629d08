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

from archc.conventions.base import (
    Convention,
    Rule,
    bias_elements,
    in_elements,
    lrn_functionals,
    out_elements,
    plus,
    registry_macs,
    times,
    zero,
)

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
    },
    treats={
        "bias": "counted: one per output element",
        "batchnorm": "2 per element (affine)",
        "activations": "ReLU 2 per element (hook + functional), ReLU6 1; sigmoid and tanh 0",
        "pools": "2 per input element (hook + functional)",
        "adds": "0 for x + y; torch.add/Tensor.add would count 1 per element",
        "attention": "nn.MultiheadAttention hook: projections, QK^T, softmax, AV",
    },
)
