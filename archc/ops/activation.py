"""The activations of modern CNNs (2016–2024): SiLU, hard sigmoid, GELU, the leaky family, Mish.

Each keeps its input's shape and counts one FLOP per output element, like ``relu`` (archc
counts an activation once per element however it is computed; docs/conventions.md).  Those
PyTorch can run in place (``inplace=True``) have the ``inplace`` trait, so the memory plan and
the PyTorch emitter treat them as they treat ``relu``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from archc.ops.base import (
    ArgProblem,
    Attrs,
    AttrSpec,
    Example,
    Shape,
    TensorSpec,
    register,
)
from archc.ops.elementwise import _PerElement

_INPLACE = frozenset({"elementwise", "activation", "inplace"})
_OUT_OF_PLACE = frozenset({"elementwise", "activation"})


@register
class SiLU(_PerElement):
    name = "silu"
    aliases = ("swish",)
    doc = "x · sigmoid(x) (EfficientNet's swish); in place like relu."
    traits = _INPLACE
    examples = (Example("silu"), Example("silu", ((10,),)))


@register
class HardSigmoid(_PerElement):
    name = "hardsigmoid"
    doc = "relu6(x + 3) / 6 (MobileNetV3's squeeze-excitation gate); in place like relu."
    traits = _INPLACE
    examples = (Example("hardsigmoid"), Example("hardsigmoid", ((10,),)))


@register
class GELU(_PerElement):
    name = "gelu"
    doc = 'x · Φ(x), Φ the normal CDF; approximate="tanh" uses the tanh formula (ConvNeXt).'
    traits = _OUT_OF_PLACE
    attrs = (
        AttrSpec(
            "approximate",
            "choice",
            "none",
            'exact ("none") or the tanh approximation ("tanh"), as nn.GELU',
            ("none", "tanh"),
        ),
    )
    examples = (Example("gelu"), Example('gelu(approximate="tanh")', ((10,),)))

    def summary(self, a: Attrs) -> str:
        return "gelu" if a["approximate"] == "none" else "gelu (tanh)"


@register
class LeakyReLU(_PerElement):
    name = "leaky_relu"
    doc = "x for x ≥ 0, slope · x below; in place like relu."
    traits = _INPLACE
    attrs = (AttrSpec("slope", "float", 0.01, "negative slope (nn.LeakyReLU's negative_slope)"),)
    examples = (Example("leaky_relu"), Example("leaky_relu(0.2)", ((10,),)))

    def check(self, a: Attrs) -> None:
        if not math.isfinite(a["slope"]):
            raise ArgProblem(f"slope must be finite, got {a['slope']!r}", "slope")

    def summary(self, a: Attrs) -> str:
        return f"leaky_relu {a['slope']:g}"


@register
class ELU(_PerElement):
    name = "elu"
    doc = "x for x > 0, alpha · (e^x − 1) below; in place like relu."
    traits = _INPLACE
    attrs = (AttrSpec("alpha", "float", 1.0),)
    examples = (Example("elu"), Example("elu(0.5)", ((10,),)))

    def check(self, a: Attrs) -> None:
        if not math.isfinite(a["alpha"]):
            raise ArgProblem(f"alpha must be finite, got {a['alpha']!r}", "alpha")


@register
class Mish(_PerElement):
    name = "mish"
    doc = "x · tanh(softplus(x)) (YOLOv4); in place like relu."
    traits = _INPLACE
    examples = (Example("mish"),)


@register
class PReLU(_PerElement):
    name = "prelu"
    doc = (
        "Leaky ReLU with a learned slope: one per channel (feature), or one for all with "
        "shared=true (nn.PReLU(C) / nn.PReLU())."
    )
    traits = frozenset({"elementwise", "activation", "weights"})
    attrs = (
        AttrSpec("shared", "bool", False, "one slope for every channel (num_parameters=1)"),
        AttrSpec("init", "float", 0.25, "the slopes' initial value"),
    )
    shape_doc = "unchanged; the slopes: C (features when flat), or 1 with shared=true"
    examples = (
        Example("prelu"),
        Example("prelu(shared=true)"),
        Example("prelu(init=0.1)", ((10,),)),
    )

    def check(self, a: Attrs) -> None:
        if not math.isfinite(a["init"]):
            raise ArgProblem(f"init must be finite, got {a['init']!r}", "init")

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        count = 1 if a["shared"] else ins[0][0]
        return [TensorSpec("weight", (count,), init=a["init"])]

    def summary(self, a: Attrs) -> str:
        return "prelu (shared)" if a["shared"] else "prelu"
