"""What a counting convention is: one rule per op, and the arithmetic the rules share.

A :class:`Convention` reproduces one peer tool's headline number (fvcore's ``total()``, thop's
MACs, ptflops' MACs, torchinfo's "Total mult-adds", DeepSpeed's FLOPs) from the IR alone: each
rule is pure arithmetic over an op's attributes and its per-sample input and output shapes, so
``archc analyze --convention thop`` never imports torch.  Rules are per sample; a network total
scales with the batch like archc's own MACs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from archc.ops import REGISTRY, Attrs, Shape, elements

#: a rule's arithmetic: (attributes, input shapes, output shape) -> count per sample
CountFn = Callable[[Attrs, Sequence[Shape], Shape], int]

#: what every convention must say in words (docs/conventions.md prints them as a table)
ASPECTS = ("bias", "batchnorm", "activations", "pools", "adds", "attention")


@dataclass(frozen=True)
class Rule:
    """How one tool counts one op: a formula in words, its arithmetic, and why the tool does it.

    ``formula`` is what ``--explain`` prints (``"C_out·H·W·C_in/g·k_h·k_w + C_out·H·W (bias)"``);
    ``mechanism`` names the tool's code path that produces the number (a module hook, a patched
    functional, an ATen op handler) or says why nothing counts.
    """

    formula: str
    count: CountFn
    mechanism: str = ""


@dataclass(frozen=True)
class Convention:
    """One tool's counting convention: a table of rules keyed by registry op name.

    ``rules`` lists every registered op (a test walks ``REGISTRY × CONVENTIONS``); ``fallback``
    is what an op the table does not list counts: the rule the tool applies to a module or
    operator it has no handler for.  ``reports`` says which of the tool's numbers the total is.
    """

    name: str
    tool: str
    version: str
    unit: str  # "MACs" or "FLOPs": what the tool calls its number
    reports: str
    summary: str
    fallback: Rule
    rules: Mapping[str, Rule]
    treats: Mapping[str, str] = field(default_factory=dict)

    def rule(self, op: str) -> Rule:
        """The rule for ``op``: its table entry, else its family's (``conv3d`` counts as
        ``conv``: tools see one more convolution), else the fallback."""
        found = self.rules.get(op)
        if found is None:
            entry = REGISTRY.get(op)
            family = entry.family if entry is not None else None
            found = self.rules.get(family, self.fallback) if family else self.fallback
        return found

    def count(self, op: str, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """This convention's count for one layer, per sample."""
        return self.rule(op).count(a, ins, out)


# ---------------------------------------------------------------------------- shared arithmetic
def zero(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return 0


def out_elements(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return elements(out)


def in_elements(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    return elements(ins[0])


def registry_macs(op: str) -> CountFn:
    """The op's own MAC count (``Op.macs``): archc's and fvcore's convention for conv/linear."""
    entry = REGISTRY[op]

    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return entry.macs(a, ins, out)

    return count


def bias_elements(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """One addition per output element when the layer has a bias (conv: C·H·W, linear: F)."""
    return elements(out) if a["bias"] else 0


def plus(*fns: CountFn) -> CountFn:
    """The sum of several counts (a module hook plus a patched functional, MACs plus bias)."""

    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return sum(fn(a, ins, out) for fn in fns)

    return count


def times(k: int, fn: CountFn) -> CountFn:
    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return k * fn(a, ins, out)

    return count


def norm_elements(affine: int, plain: int) -> CountFn:
    """A norm's count: ``affine`` per output element with a weight and bias, ``plain`` without."""

    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return (affine if a["affine"] else plain) * elements(out)

    return count


def except_maps(fn: CountFn) -> CountFn:
    """``fn`` on a flat input or on tokens, 0 on a C×H×W map (``layernorm`` is ``nn.LayerNorm``
    there; on a map it is a ``LayerNorm2d`` subclass, which tools that match exact module types
    do not see)."""

    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return fn(a, ins, out) if len(out) != 3 else 0

    return count


def maps_only(fn: CountFn) -> CountFn:
    """``fn`` on a C×H×W map, 0 on other ranks (a tool that handles the 2-D form of an op only:
    fvcore's ``adaptive_avg_pool2d``)."""

    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return fn(a, ins, out) if len(out) == 3 else 0

    return count


def registry_params(op: str) -> CountFn:
    """The op's parameter elements (``Op.params``): torchinfo's rule for a module that is not a
    convolution, at batch 1."""
    entry = REGISTRY[op]

    def count(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return entry.params(a, ins, out)

    return count


def conv_transpose_over_output(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """C_out·H_out·W_out·(C_in/groups)·k_h·k_w: a transposed convolution counted as if it were
    a convolution producing its output (thop's count_convNd)."""
    kh, kw = a["kernel"]
    return elements(out) * (ins[0][0] // a["groups"]) * kh * kw


def lrn_functionals(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """What patching ``Tensor.mul``/``Tensor.add`` and ``F.avg_pool3d`` sees inside
    ``F.local_response_norm`` on a C×H×W map: ``x·x``, ``·alpha`` and ``+k`` (n each), and the
    average pool over the channel-padded squares ((C + size − 1)·H·W input elements)."""
    x = ins[0]
    return 3 * elements(x) + (x[0] + a["size"] - 1) * elements(x[1:])


def attention_bias_adds(a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
    """The additions of attention's projection biases: 3·D (q, k, v) and D (output) per token."""
    return 4 * elements(out) if a["bias"] else 0
