"""Training memory: weights, gradients, optimizer state and what autograd saves for backward.

Nobody else computes this without running the model.  From the IR alone this module gives, per
layer and in total:

- **weights** (params + buffers), **gradients** (one per parameter) and **optimizer state** as
  ``torch.optim`` keeps it (``sgd``: none; ``sgd-momentum``: one momentum buffer per parameter;
  ``adam``/``adamw``: ``exp_avg`` and ``exp_avg_sq`` per parameter plus a float32 ``step``
  scalar per parameter tensor), with a float32 master copy and float32 optimizer state when
  ``master_weights`` is set (mixed precision);
- **saved activations**: the tensors PyTorch's autograd keeps for the backward pass of archc's
  emitted module in training mode (:data:`SAVES`, one rule per op: conv saves its input, ReLU
  its output, batch norm its input and two statistics per channel, max pooling its input
  and int64 indices ...), with shared storage counted once (an in-place ReLU's output *is* the
  batch norm output it overwrote);
- **peak during backward**: a model (not a measurement) of the most memory alive while the
  backward pass runs;
- what activation checkpointing of some scopes would change (``checkpoint``).

tests/test_training_memory.py checks the saved bytes against ``saved_tensors_hooks`` on the
emitted module and the optimizer state against a real ``torch.optim`` step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from archc.analysis import Network
from archc.errors import UsageError
from archc.ops import REGISTRY, Attrs, Shape, elements
from archc.ops.windows import window_tokens
from archc.source import markdown_text
from archc.units import DTYPE_BYTES, human_bytes


# ---------------------------------------------------------------------------- optimizers
@dataclass(frozen=True)
class Optimizer:
    """What a ``torch.optim`` optimizer keeps per parameter after its first step."""

    name: str
    torch: str  # how to build the same optimizer
    states: int  # state tensors shaped like each parameter
    step_scalar: bool  # a 0-dim float32 ``step`` tensor per parameter tensor


OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (
        Optimizer("sgd", "torch.optim.SGD(params, lr)", 0, False),
        Optimizer("sgd-momentum", "torch.optim.SGD(params, lr, momentum=0.9)", 1, False),
        Optimizer("adam", "torch.optim.Adam(params)", 2, True),
        Optimizer("adamw", "torch.optim.AdamW(params)", 2, True),
    )
}
STEP_BYTES = 4  # torch.optim's step counters are float32 scalars


# ---------------------------------------------------------------------------- saved tensors
@dataclass(frozen=True)
class Saved:
    """One tensor an op's backward keeps: an input's or the output's storage, or a new tensor.

    ``kind`` is ``"input"`` (of ``index``), ``"output"``, or ``"new"`` with ``elements`` per
    sample of ``dtype``: ``"act"`` (the activation dtype), ``"int64"`` or ``"float32"``.  A new
    tensor of ``per_sample=False`` (batch norm statistics) does not scale with the batch.
    """

    kind: str
    index: int = 0
    elements: int = 0
    dtype: str = "act"
    per_sample: bool = True


SavesFn = Callable[[Attrs, Sequence[Shape], Shape, bool], list[Saved]]


@dataclass(frozen=True)
class SaveRule:
    """What one op keeps for backward in training mode (``inplace``: it overwrote its input).

    ``fresh`` says the op's output is a new tensor its own backward does not keep, so a
    following activation may overwrite it in place (archc's PyTorch emitter then writes
    ``inplace=True``); ``alias`` says the output *is* the input tensor (a view or a pass-through).
    """

    doc: str
    saves: SavesFn
    fresh: bool = False
    alias: bool = False


def _nothing(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    return []


def _input(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    return [Saved("input")]


def _output(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    return [Saved("output")]


def _input_or_copy(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # hardtanh_/hardswish_ keep a copy of the input they are about to overwrite
    return [Saved("new", elements=elements(out))] if inplace else [Saved("input")]


def _conv(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    if a["pad"] == "same":
        extra = [d * (k - 1) % 2 for k, d in zip(a["kernel"], a["dilation"], strict=True)]
        if any(extra):  # asymmetric "same": PyTorch convolves a zero-padded copy
            padded = [size + e for size, e in zip(ins[0][1:], extra, strict=True)]
            return [Saved("new", elements=ins[0][0] * elements(tuple(padded)))]
    return [Saved("input")]


def _batchnorm(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    c = ins[0][0]
    stat = Saved("new", elements=c, per_sample=False)  # in the activation dtype
    return [Saved("input"), stat, stat]


def _maxpool(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    return [Saved("input"), Saved("new", elements=elements(out), dtype="int64")]


def _adaptive(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # an output of 1×1 (1, 1×1×1) is computed as a mean, whose backward keeps no tensor
    return [] if all(v == 1 for v in out[1:]) else [Saved("input")]


def _lrn(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # F.local_response_norm: x·x keeps x, the average pool its channel-padded input,
    # pow its base, the division x and the denominator
    x = ins[0]
    padded = (x[0] + a["size"] - 1) * elements(x[1:])
    n = elements(x)
    return [
        Saved("input"),
        Saved("new", elements=padded),
        Saved("new", elements=n),
        Saved("new", elements=n),
    ]


def _dropout(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # CPU dropout multiplies by a scaled noise tensor of the activation dtype, and keeps it
    return [Saved("new", elements=elements(out))]


def _output_if_inplace(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # leaky_relu_/elu_ keep their result (the tensor they overwrote), out of place their input
    return [Saved("output")] if inplace else [Saved("input")]


def _inputs(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    return [Saved("input", index=i) for i in range(len(ins))]


def _mul(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # a * b * c: each product keeps both factors, so the partial products too
    saved = _inputs(a, ins, out, inplace)
    partial = ins[0]
    for x in ins[1:-1]:
        partial = tuple(max(p, q) for p, q in zip(partial, x, strict=True))
        saved.append(Saved("new", elements=elements(partial)))
    return saved


def _groupnorm(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    stat = Saved("new", elements=a["groups"])  # mean and rstd per sample and group
    return [Saved("input"), stat, stat]


def _instancenorm(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # F.instance_norm is a batch norm over a 1×(N·C)×H×W view: its input, the batch mean and
    # inverse std (N·C, as batch norm's), and the weight and running statistics repeated N times
    c = ins[0][0]
    stat = Saved("new", elements=c)
    repeats = int(a["affine"]) + 2 * int(a["track_running_stats"])
    return [Saved("input"), stat, stat] + [Saved("new", elements=c)] * repeats


def _layernorm(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # mean and rstd per position (C×H×W), per token (T×D), or one (F)
    stat = Saved("new", elements=elements(out) // (out[-1] if len(out) == 2 else out[0]))
    return [Saved("input"), stat, stat]


def _stochastic_depth(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # x * noise keeps the noise: one value per sample ("row") or one for the batch
    return [Saved("new", elements=1, per_sample=a["mode"] == "row")]


def _pad(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    return [] if a["mode"] == "zero" else [Saved("input")]


def _attention(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # archc's SelfAttention: the projection keeps its input, Q·Kᵀ the joint q, k, v (one
    # storage), softmax its output (h·T·T, the score matrix per head), the product with V the
    # weights, and the output projection the merged context.  Dropout on the weights keeps
    # its noise, and the product then keeps the dropped weights instead.
    t, d = out
    scores = a["heads"] * t * t
    saved = [Saved("input"), Saved("new", elements=3 * t * d), Saved("new", elements=scores)]
    if a["dropout"] > 0:
        saved += [Saved("new", elements=scores), Saved("new", elements=scores)]
    return [*saved, Saved("new", elements=t * d)]


def _window_attention(a: Attrs, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
    # archc's WindowAttention, on every window of the padded map: qkv keeps the windows'
    # tokens (a copy, rearranged), Q·Kᵀ the scaled q and a contiguous copy of k, softmax its
    # output, the product with V the weights and a copy of v, proj the merged context.
    # Dropout on the weights keeps its noise and the product the dropped weights; dropout
    # after proj keeps its noise and proj's output.
    tokens = window_tokens(a, ins) * ins[0][0]
    scores = a["heads"] * window_tokens(a, ins) * a["window"] ** 2
    saved = [Saved("new", elements=4 * tokens), Saved("new", elements=scores)]
    if a["dropout"] > 0:
        saved += [Saved("new", elements=scores), Saved("new", elements=scores)]
    saved.append(Saved("new", elements=tokens))
    if a["proj_dropout"] > 0:
        saved += [Saved("new", elements=tokens), Saved("new", elements=tokens)]
    return saved


#: per op, what autograd keeps for the backward pass of the emitted module (torch 2.13 CPU)
SAVES: dict[str, SaveRule] = {
    "input": SaveRule("nothing (a network input)", _nothing),
    "conv": SaveRule(
        'its input (a zero-padded copy for an asymmetric pad="same"); weights are not activations',
        _conv,
        fresh=True,
    ),
    "linear": SaveRule("its input", _input, fresh=True),
    "flatten": SaveRule("nothing (a view)", _nothing, alias=True),
    "relu": SaveRule("its output (in place: the tensor it overwrote)", _output),
    "relu6": SaveRule("its input; in place, a copy of the input it overwrites", _input_or_copy),
    "hardswish": SaveRule("its input; in place, a copy of the input it overwrites", _input_or_copy),
    "sigmoid": SaveRule("its output", _output),
    "tanh": SaveRule("its output", _output),
    "softmax": SaveRule("its output", _output),
    "dropout": SaveRule("the scaled noise tensor (activation dtype)", _dropout),
    "identity": SaveRule("nothing (returns its input)", _nothing, alias=True),
    "concat": SaveRule("nothing", _nothing, fresh=True),
    "add": SaveRule("nothing", _nothing, fresh=True),
    "batchnorm": SaveRule(
        "its input and the batch mean and inverse std (per channel)",
        _batchnorm,
        fresh=True,
    ),
    "lrn": SaveRule(
        "its input, the channel-padded squares, the base and the result of the power",
        _lrn,
        fresh=True,
    ),
    "maxpool": SaveRule(
        "its input and int64 indices (one per output element)", _maxpool, fresh=True
    ),
    "avgpool": SaveRule("its input", _input, fresh=True),
    "global_avgpool": SaveRule("nothing (a mean)", _adaptive, fresh=True),
    "adaptive_avgpool": SaveRule(
        "its input (nothing for a 1×1 output: a mean)", _adaptive, fresh=True
    ),
    # issue 11's ops
    "mul": SaveRule("every input, and the partial products of three or more", _mul, fresh=True),
    # issue 12's ops
    "class_token": SaveRule("nothing (a concatenation)", _nothing, fresh=True),
    "param": SaveRule("nothing (its weight repeated for the batch)", _nothing, fresh=True),
    "pos_embed": SaveRule("nothing (an addition)", _nothing, fresh=True),
    "split_heads": SaveRule("nothing (a view)", _nothing, alias=True),
    "merge_heads": SaveRule("nothing (a copy of a transposed view)", _nothing, fresh=True),
    "matmul": SaveRule("both inputs", _inputs, fresh=True),
    "rescale": SaveRule("nothing (a product with a constant)", _nothing, fresh=True),
    "attention": SaveRule(
        "its input, q, k and v (3·T·D), the attention weights (heads·T·T) and the context "
        "(T·D); with dropout the noise and the dropped weights too",
        _attention,
        fresh=True,
    ),
    "window_attention": SaveRule(
        "per window: the tokens (a copy), the scaled q and copies of k and v (4·T·C), the "
        "attention weights (heads·T·T) and the merged context (T·C); each dropout its noise "
        "and the tensor it scaled",
        _window_attention,
        fresh=True,
    ),
    "patch_merge": SaveRule("nothing (slices and a concatenation)", _nothing, fresh=True),
    "silu": SaveRule("its input; in place, a copy of the input it overwrites", _input_or_copy),
    "hardsigmoid": SaveRule(
        "its input; in place, a copy of the input it overwrites", _input_or_copy
    ),
    "mish": SaveRule("its input; in place, a copy of the input it overwrites", _input_or_copy),
    "gelu": SaveRule("its input", _input),
    "leaky_relu": SaveRule(
        "its input; in place, its output (the tensor it overwrote)", _output_if_inplace
    ),
    "elu": SaveRule(
        "its input; in place, its output (the tensor it overwrote)", _output_if_inplace
    ),
    "prelu": SaveRule("its input", _input, fresh=True),
    "conv_transpose": SaveRule("its input", _input, fresh=True),
    "upsample": SaveRule("nothing (nearest and bilinear need only sizes)", _nothing, fresh=True),
    "pad": SaveRule(
        "nothing for zero padding; its input for reflect and replicate", _pad, fresh=True
    ),
    "channel_shuffle": SaveRule("nothing (a reshape and a copy)", _nothing),
    "groupnorm": SaveRule(
        "its input, and mean and inverse std per sample and group", _groupnorm, fresh=True
    ),
    "instancenorm": SaveRule(
        "its input, the batch mean and inverse std (C per sample), the weight and "
        "running statistics repeated per sample",
        _instancenorm,
        fresh=True,
    ),
    "layernorm": SaveRule(
        "its input, and mean and inverse std per position", _layernorm, fresh=True
    ),
    "layer_scale": SaveRule("its input", _input),
    "stochastic_depth": SaveRule(
        "the noise: one value per sample (row), one per batch (batch)", _stochastic_depth
    ),
    "adaptive_maxpool": SaveRule(
        "its input and int64 indices (one per output element)", _maxpool, fresh=True
    ),
}
#: a new op without a row saves its inputs: a safe over-estimate rather than a silent zero
FALLBACK = SaveRule("its inputs (no rule for this op yet)", _input)


#: what an op saves when its table has no row, by trait: a view or a merge needs no tensor for
#: its backward (a view aliases its input's storage); tests/test_training_memory.py checks every
#: op's examples against autograd, so a wrong default fails there by name
BY_TRAIT: dict[str, SaveRule] = {
    "view": SaveRule("nothing (a view)", _nothing, alias=True),
}


def save_rule(op: str) -> SaveRule:
    """The op's row, else its family's (``conv3d`` saves what ``conv`` does), else its traits'
    default, else :data:`FALLBACK` (its inputs)."""
    entry = REGISTRY.get(op)
    found = SAVES.get(op) or (SAVES.get(entry.family or "") if entry is not None else None)
    if found is not None:
        return found
    for trait in sorted(entry.traits) if entry is not None else ():
        if trait in BY_TRAIT:
            return BY_TRAIT[trait]
    return FALLBACK


# ---------------------------------------------------------------------------- the estimate
@dataclass(frozen=True)
class TrainOptions:
    """How the network is trained: optimizer, batch, dtype, mixed precision, checkpointing."""

    optimizer: str = "adam"
    batch: int = 1
    dtype: str = "float32"
    master_weights: bool = False  # a float32 copy of the weights and float32 optimizer state
    checkpoint: tuple[str, ...] = ()  # scopes recomputed in backward instead of kept
    inputs_require_grad: bool = False


@dataclass(frozen=True)
class LayerTraining:
    """One layer's share of training memory, in bytes (saved storage counted at its first saver)."""

    name: str
    op: str
    weight_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    saved_bytes: int
    inplace: bool
    checkpointed: bool


@dataclass(frozen=True)
class TrainingMemory:
    """Training memory of one step, in bytes; ``layers`` in evaluation order."""

    optimizer: str
    batch: int
    dtype: str
    master_weights: bool
    checkpoint: tuple[str, ...]
    weight_bytes: int
    gradient_bytes: int
    optimizer_bytes: int  # optimizer state, master weights included
    master_weight_bytes: int
    saved_activation_bytes: int
    peak_backward_bytes: int
    layers: list[LayerTraining] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Weights, gradients, optimizer state and saved activations together."""
        return (
            self.weight_bytes
            + self.gradient_bytes
            + self.optimizer_bytes
            + self.saved_activation_bytes
        )


def inplace_nodes(network: Network) -> set[str]:
    """Layers the emitted PyTorch module runs in place: an in-place activation overwriting a
    fresh tensor (the emitter writes ``inplace=True`` exactly there)."""
    out = set()
    for node in network.order:
        layer = network.layer(node)
        op = REGISTRY[layer.op]
        if not ({"inplace", "activation"} <= op.traits) or network.memory(node).buffer == node:
            continue
        if save_rule(network.layer(layer.inputs[0]).op).fresh:
            out.add(node)
    return out


def _check_scopes(network: Network, scopes: Sequence[str]) -> None:
    for scope in scopes:
        if scope not in network.scopes and scope not in network.graph.nodes:
            known = sorted(s for s in network.scopes if "." not in s)
            raise UsageError(
                f"no scope {scope!r} to checkpoint in network {network.name}"
                + (f"; top-level scopes: {', '.join(known[:12])}" if known else "")
            )


def _inside(node: str, scopes: Sequence[str]) -> bool:
    return any(node == s or node.startswith(s + ".") for s in scopes)


def training_memory(network: Network, options: TrainOptions | None = None) -> TrainingMemory:
    """The training memory of ``network`` under ``options`` (see the module docstring)."""
    o = options or TrainOptions()
    if o.optimizer not in OPTIMIZERS:
        raise UsageError(
            f"unknown optimizer {o.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
        )
    if o.dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype {o.dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
    _check_scopes(network, o.checkpoint)
    opt = OPTIMIZERS[o.optimizer]
    nbytes = DTYPE_BYTES[o.dtype]
    state_bytes = 4 if o.master_weights else nbytes
    elem_bytes = {"act": nbytes, "int64": 8, "float32": 4}

    inplace = inplace_nodes(network)
    storage: dict[str, str] = {}  # node -> the node whose output storage it lives in
    needs_grad: dict[str, bool] = {}
    #: storage key -> bytes, and the index of the first and every layer that saves it
    sizes: dict[str, int] = {}
    savers: dict[str, list[int]] = {}
    owner_of: dict[str, str] = {}
    inner: dict[str, set[str]] = {s: set() for s in o.checkpoint}  # recomputed per scope
    layers: list[LayerTraining] = []
    grads_per_layer: list[int] = []
    total_params = 0

    for i, node in enumerate(network.order):
        layer = network.layer(node)
        op = REGISTRY[layer.op]
        rule = save_rule(layer.op)
        ins = [network.shape(src) for src in layer.inputs]
        out = network.shape(node)
        specs = op.tensors(layer.attrs, ins, out)
        params = sum(elements(t.shape) for t in specs if t.trainable)
        tensors = sum(1 for t in specs if t.trainable)
        total_params += params
        is_inplace = node in inplace
        storage[node] = storage[layer.inputs[0]] if (rule.alias or is_inplace) else node
        if not layer.inputs:
            needs_grad[node] = o.inputs_require_grad
        else:
            needs_grad[node] = params > 0 or any(needs_grad[s] for s in layer.inputs)

        keys: list[str] = []
        if needs_grad[node]:
            for j, item in enumerate(rule.saves(layer.attrs, ins, out, is_inplace)):
                if item.kind == "input":
                    key = storage[layer.inputs[item.index]]
                    size = elements(network.shape(key)) * o.batch * nbytes
                elif item.kind == "output":
                    key = storage[node]
                    size = elements(network.shape(key)) * o.batch * nbytes
                else:
                    key = f"{node}#{j}"
                    size = item.elements * elem_bytes[item.dtype]
                    size *= o.batch if item.per_sample else 1
                sizes[key] = size
                keys.append(key)
        scope = next((s for s in o.checkpoint if _inside(node, [s])), None)
        if scope is not None:
            inner[scope].update(keys)
            # torch.utils.checkpoint keeps only the tensors that enter the scope
            keys = [storage[src] for src in layer.inputs if not _inside(src, [scope])]
            for key in keys:
                sizes.setdefault(key, elements(network.shape(key)) * o.batch * nbytes)
        new_keys = [k for k in dict.fromkeys(keys) if k not in owner_of]
        for key in dict.fromkeys(keys):
            savers.setdefault(key, []).append(i)
            owner_of.setdefault(key, node)
        grad = params * nbytes
        grads_per_layer.append(grad)
        layers.append(
            LayerTraining(
                name=node,
                op=layer.op,
                weight_bytes=network.cost(node).weight_bytes(nbytes),
                gradient_bytes=grad,
                optimizer_bytes=params * opt.states * state_bytes
                + (tensors * STEP_BYTES if opt.step_scalar else 0)
                + (params * 4 if o.master_weights else 0),
                saved_bytes=sum(sizes[k] for k in new_keys),
                inplace=is_inplace,
                checkpointed=scope is not None,
            )
        )

    weights = sum(x.weight_bytes for x in layers)
    grads = sum(x.gradient_bytes for x in layers)
    optimizer = sum(x.optimizer_bytes for x in layers)
    master = total_params * 4 if o.master_weights else 0
    saved = sum(sizes[k] for k in owner_of)
    peak = _peak_backward(network, o, sizes, savers, grads_per_layer, inner, nbytes)
    return TrainingMemory(
        optimizer=o.optimizer,
        batch=o.batch,
        dtype=o.dtype,
        master_weights=o.master_weights,
        checkpoint=tuple(o.checkpoint),
        weight_bytes=weights,
        gradient_bytes=grads,
        optimizer_bytes=optimizer,
        master_weight_bytes=master,
        saved_activation_bytes=saved,
        peak_backward_bytes=weights + optimizer + peak,
        layers=layers,
    )


def _peak_backward(
    network: Network,
    o: TrainOptions,
    sizes: dict[str, int],
    savers: dict[str, list[int]],
    grads: list[int],
    inner: dict[str, set[str]],
    nbytes: int,
) -> int:
    """The most saved activations + gradients alive while backward runs, layer by layer.

    Backward visits layers in reverse; a saved tensor is freed once the earliest layer that
    saved it has run its backward; parameter gradients accumulate; while a layer runs, the
    gradient of its output and of its inputs are alive too; a checkpointed scope re-creates
    what its layers would have saved while its backward runs.
    """
    order = network.order
    first = {key: min(at) for key, at in savers.items()}
    by_first: dict[int, int] = {}
    for key, at in first.items():
        by_first[at] = by_first.get(at, 0) + sizes[key]
    alive = sum(by_first.values())
    recompute = {s: sum(sizes[k] for k in keys) for s, keys in inner.items()}
    accumulated = peak = 0
    for i in range(len(order) - 1, -1, -1):
        node = order[i]
        layer = network.layer(node)
        accumulated += grads[i]
        flowing = elements(network.shape(node)) + sum(
            elements(network.shape(s)) for s in layer.inputs
        )
        extra = max((recompute[s] for s in o.checkpoint if _inside(node, [s])), default=0)
        peak = max(peak, alive + extra + accumulated + flowing * o.batch * nbytes)
        alive -= by_first.get(i, 0)
    return peak


# ---------------------------------------------------------------------------- output
@dataclass(frozen=True)
class TrainingRow:
    """Training memory of one analysis row (a layer, or a scope collapsed at ``--depth``)."""

    name: str
    weight_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    saved_bytes: int
    layers: int


def training_rows(memory: TrainingMemory, depth: int | None = None) -> list[TrainingRow]:
    """Per-row sums, grouped like :meth:`archc.analysis.Network.rows` groups layers."""
    groups: dict[str, list[LayerTraining]] = {}
    for x in memory.layers:
        key = x.name if depth is None else ".".join(x.name.split(".")[:depth])
        groups.setdefault(key, []).append(x)
    return [
        TrainingRow(
            name=key,
            weight_bytes=sum(x.weight_bytes for x in members),
            gradient_bytes=sum(x.gradient_bytes for x in members),
            optimizer_bytes=sum(x.optimizer_bytes for x in members),
            saved_bytes=sum(x.saved_bytes for x in members),
            layers=len(members),
        )
        for key, members in groups.items()
    ]


def training_document(memory: TrainingMemory, depth: int | None = None) -> dict[str, object]:
    """The ``training`` object of the analysis JSON (archc/schema/analysis-v2.json)."""
    return {
        "optimizer": memory.optimizer,
        "batch": memory.batch,
        "dtype": memory.dtype,
        "master_weights": memory.master_weights,
        "checkpoint": list(memory.checkpoint),
        "weight_bytes": memory.weight_bytes,
        "gradient_bytes": memory.gradient_bytes,
        "optimizer_bytes": memory.optimizer_bytes,
        "master_weight_bytes": memory.master_weight_bytes,
        "saved_activation_bytes": memory.saved_activation_bytes,
        "peak_backward_bytes": memory.peak_backward_bytes,
        "total_bytes": memory.total_bytes,
        "layers": [
            {
                "name": r.name,
                "weight_bytes": r.weight_bytes,
                "gradient_bytes": r.gradient_bytes,
                "optimizer_bytes": r.optimizer_bytes,
                "saved_bytes": r.saved_bytes,
                "layers": r.layers,
            }
            for r in training_rows(memory, depth)
        ],
    }


def summary_lines(memory: TrainingMemory) -> list[str]:
    """The training totals, one figure a line."""
    setup = f"{memory.optimizer}, batch {memory.batch}, {memory.dtype}"
    if memory.master_weights:
        setup += ", float32 master weights"
    if memory.checkpoint:
        setup += f", checkpointing {', '.join(memory.checkpoint)}"
    return [
        f"training    {setup}",
        f"weights     {human_bytes(memory.weight_bytes)}",
        f"gradients   {human_bytes(memory.gradient_bytes)}",
        f"optimizer   {human_bytes(memory.optimizer_bytes)}"
        + (
            f" (master weights {human_bytes(memory.master_weight_bytes)})"
            if memory.master_weights
            else ""
        ),
        f"saved       {human_bytes(memory.saved_activation_bytes)} of activations for backward",
        f"total       {human_bytes(memory.total_bytes)}; "
        f"peak during backward {human_bytes(memory.peak_backward_bytes)}",
    ]


def render_training(memory: TrainingMemory, depth: int | None = None, fmt: str = "table") -> str:
    """The ``--train`` section for the table, Markdown and CSV formats."""
    rows = training_rows(memory, depth)
    head = ["layer", "weights", "gradients", "optimizer", "saved for backward"]
    if fmt == "csv":
        lines = ["layer,weight_bytes,gradient_bytes,optimizer_bytes,saved_bytes"]
        lines += [
            f"{r.name},{r.weight_bytes},{r.gradient_bytes},{r.optimizer_bytes},{r.saved_bytes}"
            for r in rows
        ]
        return "\n".join(lines) + "\n"
    cells = [head] + [
        [
            r.name,
            human_bytes(r.weight_bytes),
            human_bytes(r.gradient_bytes),
            human_bytes(r.optimizer_bytes),
            human_bytes(r.saved_bytes),
        ]
        for r in rows
    ]
    if fmt == "markdown":
        out = ["#### training memory", "", "| " + " | ".join(head) + " |"]
        out.append("| --- | ---: | ---: | ---: | ---: |")
        out += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in cells[1:]]
        out.append("")
        out += [f"- {markdown_text(line)}" for line in summary_lines(memory)]
        return "\n".join(out) + "\n"
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]

    def line(c: list[str]) -> str:
        return "  ".join(
            c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(c))
        ).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells[1:]]
    out.append("")
    out += summary_lines(memory)
    return "\n".join(out) + "\n"
