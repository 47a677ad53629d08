"""The op registry: every entry complete, and its shape and count rules checked against PyTorch.

PyTorch is the outside reference here: for random configurations (hypothesis), the output shape
archc's rule predicts must equal what ``torch.nn`` computes, and the parameter count must equal
the module's.  Without torch installed these comparisons are skipped; the registry checks run.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archc
import archc.errors
from archc.ops import (
    INT_ARITHMETIC,
    REGISTRY,
    TRAITS,
    ShapeProblem,
    SymbolicShape,
    ops_with,
    symbolic_of,
)
from archc.ops.attrs import bind, signature
from archc.ops.base import ArgProblem
from archc.ops.spatial import window_out


def _torch():
    return pytest.importorskip("torch")


_KINDS = {
    "count",
    "nonneg",
    "axis",
    "dims",
    "order",
    "pair",
    "pad",
    "sides",
    "float",
    "positive",
    "prob",
    "bool",
    "choice",
}


def test_every_op_is_complete() -> None:
    for name, op in REGISTRY.items():
        assert op.name == name
        assert op.doc and op.doc.endswith((".", ")")), name
        assert signature(op).startswith(name)
        for spec in op.attrs:
            assert spec.kind in _KINDS, (name, spec.name, spec.kind)
            assert bool(spec.choices) == (spec.kind == "choice"), (name, spec.name)
            if spec.kind == "choice" and not spec.required:
                assert spec.default in spec.choices, (name, spec.name)


def test_traits_are_sets_not_name_checks() -> None:
    # spot checks: a new op is not listed here (its traits are its entry's business)
    assert {"concat", "add"} <= ops_with("merge")
    assert {"relu", "relu6", "dropout", "identity"} <= ops_with("inplace")
    assert "flatten" in ops_with("view")
    assert {"conv", "linear", "batchnorm"} <= ops_with("weights")
    assert ops_with("weights") == {n for n, op in REGISTRY.items() if "weights" in op.traits}


def test_traits_are_known_and_merges_follow_from_one() -> None:
    for name, op in REGISTRY.items():
        assert op.traits <= TRAITS, f"{name}: unknown traits {set(op.traits - TRAITS)}"
        assert op.is_merge == ("merge" in op.traits) == (op.arity is None), name
        assert op.is_inplace == (name in ops_with("inplace"))


def test_every_callable_op_has_examples_that_compile() -> None:
    for name, op in REGISTRY.items():
        assert bool(op.examples) != op.internal, f"{name}: a callable op needs an example"
        for example in op.examples:
            assert example.call.startswith(name), (name, example.call)
            net = archc.load(f"{name}.arch", text=example.spec())
            assert [net.layer(n).op for n in net.order][len(example.inputs) :] == [name]


def _example_cases() -> list[tuple[str, int]]:
    return [(n, i) for n, op in sorted(REGISTRY.items()) for i in range(len(op.examples))]


@pytest.mark.parametrize(("name", "index"), _example_cases())
def test_symbolic_shape_agrees_with_the_shape_rule(name: str, index: int) -> None:
    """With integers for symbols, symbolic_shape answers what shape() does, where it answers."""
    op = REGISTRY[name]
    net = archc.load("s.arch", text=op.examples[index].spec())
    node = net.order[-1]
    layer = net.layer(node)
    ins = [symbolic_of(net.shape(src)) for src in layer.inputs]
    got = op.symbolic_shape(layer.attrs, ins, INT_ARITHMETIC)
    out = net.shape(node)
    # channels last (tokens): the features are the last axis, the rest come before them
    features, rest = (out[-1], out[:-1]) if got.last else (out[0], out[1:])
    assert (got.rank, got.channels) == (len(out), features)
    assert got.spatial in (None, rest)  # None: only the concrete rule can tell (windows)


def test_symbolic_shape_without_spatial_sizes() -> None:
    at = INT_ARITHMETIC
    flat_unknown = REGISTRY["flatten"].symbolic_shape({}, [SymbolicShape(8, 3)], at)
    assert flat_unknown == SymbolicShape(None, 1)
    concat = REGISTRY["concat"].symbolic_shape(
        {"axis": 0}, [SymbolicShape(3, 3), SymbolicShape(5, 3)], at
    )
    assert concat == SymbolicShape(8, 3)
    conv = bind(REGISTRY["conv"], [16, 3], {})
    assert REGISTRY["conv"].symbolic_shape(conv, [SymbolicShape(3, 3)], at) == SymbolicShape(16, 3)


def test_ops_page_is_in_step_with_the_registry() -> None:
    """docs/ops.md is generated from the registry: run python scripts/ops_table.py."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).parent.parent
    spec = importlib.util.spec_from_file_location("ops_table", root / "scripts" / "ops_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (root / "docs" / "ops.md").read_text(encoding="utf-8")
    assert page == module.render(), "docs/ops.md is stale: run python scripts/ops_table.py"
    for name, op in REGISTRY.items():
        assert (f"| `{name}`" in page) != op.internal, name


def test_bind_validates_and_fills_defaults() -> None:
    conv = REGISTRY["conv"]
    a = bind(conv, [64, 3], {"stride": 2})
    assert a == {
        "out": 64,
        "kernel": (3, 3),
        "stride": (2, 2),
        "pad": (0, 0),
        "dilation": (1, 1),
        "groups": 1,
        "bias": True,
    }
    assert bind(REGISTRY["maxpool"], [3], {})["stride"] == (3, 3)
    with pytest.raises(ArgProblem, match="needs 'kernel'"):
        bind(conv, [64], {})
    with pytest.raises(ArgProblem, match="'bias' must be true or false"):
        bind(conv, [64, 3], {"bias": 1})
    with pytest.raises(ArgProblem, match='pad="same" needs stride 1'):
        bind(conv, [64, 3], {"stride": 2, "pad": "same"})
    with pytest.raises(ArgProblem, match="at most half the kernel"):
        bind(REGISTRY["maxpool"], [3], {"pad": 2})


def test_window_out_matches_the_definition() -> None:
    # floor mode: the number of window starts that fit
    for size in range(1, 30):
        for k in range(1, 6):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    if size + 2 * p < k:
                        with pytest.raises(ShapeProblem):
                            window_out(size, k, s, p)
                        continue
                    starts = [
                        i for i in range(-p, size + p) if i + k <= size + p and (i + p) % s == 0
                    ]
                    assert window_out(size, k, s, p) == len(starts)


conv_configs = st.fixed_dictionaries(
    {
        "cin_groups": st.integers(1, 4),
        "groups": st.integers(1, 3),
        "cout_groups": st.integers(1, 3),
        "kh": st.integers(1, 5),
        "kw": st.integers(1, 5),
        "sh": st.integers(1, 3),
        "sw": st.integers(1, 3),
        "ph": st.integers(0, 3),
        "pw": st.integers(0, 3),
        "dh": st.integers(1, 2),
        "dw": st.integers(1, 2),
        "h": st.integers(1, 20),
        "w": st.integers(1, 20),
        "bias": st.booleans(),
    }
)


def _spec(body: str, shape: str) -> str:
    return textwrap.dedent(
        f"""
        network n {{
            input x: {shape}
            output y = {body}
        }}
        """
    )


@settings(max_examples=60, deadline=None)
@given(conv_configs)
def test_conv_shape_and_params_match_torch(c: dict) -> None:
    torch = _torch()
    cin, cout = c["cin_groups"] * c["groups"], c["cout_groups"] * c["groups"]
    module = torch.nn.Conv2d(
        cin,
        cout,
        (c["kh"], c["kw"]),
        (c["sh"], c["sw"]),
        (c["ph"], c["pw"]),
        (c["dh"], c["dw"]),
        c["groups"],
        c["bias"],
    )
    body = (
        f"conv({cout}, ({c['kh']}, {c['kw']}), stride=({c['sh']}, {c['sw']}), "
        f"pad=({c['ph']}, {c['pw']}), dilation=({c['dh']}, {c['dw']}), groups={c['groups']}, "
        f"bias={'true' if c['bias'] else 'false'})"
    )
    text = _spec(body, f"{cin}x{c['h']}x{c['w']}")
    try:
        out = module(torch.zeros(1, cin, c["h"], c["w"])).shape[1:]
    except RuntimeError:
        with pytest.raises(archc.errors.SpecShapeError):
            archc.load("h.arch", text=text)
        return
    net = archc.load("h.arch", text=text)
    assert net.outputs["y"] == tuple(out)
    assert net.totals().params == sum(p.numel() for p in module.parameters())
    # MACs by definition: every output element does Cin/groups * kh * kw multiply-adds
    assert net.totals().macs == out.numel() * (cin // c["groups"]) * c["kh"] * c["kw"]


pool_configs = st.fixed_dictionaries(
    {
        "k": st.integers(1, 6),
        "s": st.integers(1, 4),
        "p": st.integers(0, 3),
        "h": st.integers(1, 24),
        "w": st.integers(1, 24),
        "ceil": st.booleans(),
        "kind": st.sampled_from(["maxpool", "avgpool"]),
    }
)


@settings(max_examples=80, deadline=None)
@given(pool_configs)
def test_pool_shape_matches_torch_including_ceil_mode(c: dict) -> None:
    torch = _torch()
    if c["p"] > c["k"] // 2:
        return  # torch refuses these, and so does archc's validation (tested above)
    cls = torch.nn.MaxPool2d if c["kind"] == "maxpool" else torch.nn.AvgPool2d
    module = cls(c["k"], c["s"], c["p"], ceil_mode=c["ceil"])
    body = f"{c['kind']}({c['k']}, stride={c['s']}, pad={c['p']}, ceil={'true' if c['ceil'] else 'false'})"
    text = _spec(body, f"2x{c['h']}x{c['w']}")
    try:
        out = tuple(module(torch.zeros(1, 2, c["h"], c["w"])).shape[1:])
    except RuntimeError:
        with pytest.raises(archc.errors.SpecShapeError):
            archc.load("h.arch", text=text)
        return
    if 0 in out:
        return  # torch returns an empty tensor where archc reports that the window does not fit
    assert archc.load("h.arch", text=text).outputs["y"] == out


@pytest.mark.parametrize("size", [(1, 1), (6, 6), (5, 7), (3, 1)])
@pytest.mark.parametrize("hw", [(13, 13), (7, 9), (6, 6)])
def test_adaptive_pool_and_global_pool_shapes(size, hw) -> None:
    torch = _torch()
    text = _spec(f"adaptive_avgpool({size})", f"4x{hw[0]}x{hw[1]}")
    out = torch.nn.AdaptiveAvgPool2d(size)(torch.zeros(1, 4, *hw)).shape[1:]
    assert archc.load("h.arch", text=text).outputs["y"] == tuple(out)
    assert archc.load("h.arch", text=_spec("global_avgpool", f"4x{hw[0]}x{hw[1]}")).outputs[
        "y"
    ] == (4, 1, 1)


def test_linear_and_batchnorm_counts_match_torch() -> None:
    torch = _torch()
    net = archc.load(
        "h.arch",
        text=_spec("bn -> flatten -> linear(10) -> bn -> linear(3, bias=false)", "5x4x4"),
    )
    modules = [
        torch.nn.BatchNorm2d(5),
        torch.nn.Linear(80, 10),
        torch.nn.BatchNorm1d(10),
        torch.nn.Linear(10, 3, bias=False),
    ]
    params = sum(p.numel() for m in modules for p in m.parameters())
    buffers = sum(
        b.numel() for m in modules for n, b in m.named_buffers() if n != "num_batches_tracked"
    )
    assert (net.totals().params, net.totals().buffers) == (params, buffers)


def test_same_padding_matches_torch() -> None:
    torch = _torch()
    for k, d in [(3, 1), (4, 1), (5, 2), (1, 1), (2, 3)]:
        conv = torch.nn.Conv2d(2, 3, k, padding="same", dilation=d)
        out = conv(torch.zeros(1, 2, 11, 9)).shape[1:]
        net = archc.load("h.arch", text=_spec(f'conv(3, {k}, pad="same", dilation={d})', "2x11x9"))
        assert net.outputs["y"] == tuple(out)


def test_symbolic_shape_with_expressions() -> None:
    """The same rules answer for a block's parameters: what __init__ code needs, no sizes."""
    from archc.emit import pyexpr as px

    ar = px.EXPR_ARITHMETIC
    width, c = px.Var("width"), px.Var("c")
    x = SymbolicShape(c, 3)  # channels known as an expression, height and width unknown
    out = px.binop("*", width, px.lit(4))
    conv = REGISTRY["conv"].symbolic_shape({"out": out}, [x], ar)
    assert conv == SymbolicShape(out, 3)
    both = REGISTRY["concat"].symbolic_shape({"axis": px.lit(0)}, [x, SymbolicShape(width, 3)], ar)
    assert px.render(both.channels) == "c + width"  # type: ignore[arg-type]
    pooled = REGISTRY["global_avgpool"].symbolic_shape({}, [x], ar)
    assert pooled == SymbolicShape(c, 3, (px.lit(1), px.lit(1)))
    flat = REGISTRY["flatten"].symbolic_shape({}, [pooled], ar)
    assert flat == SymbolicShape(c, 1)
    assert REGISTRY["flatten"].symbolic_shape({}, [x], ar) == SymbolicShape(None, 1)
    sized = REGISTRY["adaptive_avgpool"].symbolic_shape({"size": px.lit((5, 3))}, [x], ar)
    assert sized.spatial == (px.lit(5), px.lit(3))
    assert REGISTRY["relu"].symbolic_shape({}, [x], ar) is x


def test_new_kinds_bind_and_explain_themselves() -> None:
    pad = REGISTRY["pad"]
    assert bind(pad, [1], {})["amount"] == (1, 1, 1, 1)
    assert bind(pad, [(2, 3)], {})["amount"] == (3, 3, 2, 2)  # (h, w) -> left, right, top, bottom
    assert bind(pad, [(0, 1, 2, 3)], {})["amount"] == (0, 1, 2, 3)
    with pytest.raises(ArgProblem, match='\'mode\' must be "zero" or "reflect" or'):
        bind(pad, [1], {"mode": "circular"})
    with pytest.raises(ArgProblem, match='needs mode="zero"'):
        bind(pad, [1], {"mode": "reflect", "value": 1.0})
    upsample = REGISTRY["upsample"]
    assert bind(upsample, [2], {})["size"] is None
    with pytest.raises(ArgProblem, match="exactly one of 'scale' and 'size'"):
        bind(upsample, [], {})
    with pytest.raises(ArgProblem, match="'scale' must be a number > 0"):
        bind(upsample, [0], {})
    assert signature(upsample).startswith('upsample(scale=unset, size=unset, mode="nearest"')
    with pytest.raises(ArgProblem, match="smaller than the stride or the dilation"):
        bind(REGISTRY["conv_transpose"], [4, 3], {"stride": 2, "output_padding": 2})


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [
        ("4x8x8", "4x1x1", (4, 8, 8)),
        ("1x5x6", "3x5x1", (3, 5, 6)),
        ("4x1x1", "4x8x8", (4, 8, 8)),
        ("(6,)", "(1,)", (6,)),
    ],
)
def test_elementwise_merges_broadcast(a: str, b: str, out: tuple[int, ...]) -> None:
    for op in ("add", "mul"):
        text = f"network n {{\n    input a: {a}\n    input b: {b}\n    output y = {op}(a, b)\n}}\n"
        assert archc.load("b.arch", text=text).outputs["y"] == out


@pytest.mark.parametrize(("a", "b"), [("4x8x8", "3x1x1"), ("4x8x8", "(4,)"), ("4x8x8", "4x8x7")])
def test_elementwise_merges_refuse_what_does_not_broadcast(a: str, b: str) -> None:
    text = f"network n {{\n    input a: {a}\n    input b: {b}\n    output y = mul(a, b)\n}}\n"
    with pytest.raises(archc.errors.SpecShapeError, match="mul inputs differ"):
        archc.load("b.arch", text=text)


@pytest.mark.parametrize("size", [(3, 4), (5, 7), (1, 1), (4, 3)])
@pytest.mark.parametrize("hw", [(10, 9), (7, 7)])
def test_adaptive_bins_are_pytorchs(size, hw) -> None:
    """The bins the ONNX lowering pools and the FLOPs count are the ones PyTorch pools."""
    torch = _torch()
    from archc.ops.pool import adaptive_bins

    x = torch.randn(1, 2, *hw)
    want = torch.nn.AdaptiveMaxPool2d(size)(x)
    rows, cols = adaptive_bins(hw[0], size[0]), adaptive_bins(hw[1], size[1])
    got = torch.stack(
        [
            torch.stack([x[0, :, r0:r1, c0:c1].amax(dim=(1, 2)) for c0, c1 in cols], -1)
            for r0, r1 in rows
        ],
        -2,
    )
    assert torch.equal(got, want[0])


@settings(max_examples=40, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "k": st.integers(1, 4),
            "s": st.integers(1, 3),
            "p": st.integers(0, 2),
            "op": st.integers(0, 2),
            "d": st.integers(1, 2),
            "h": st.integers(1, 9),
        }
    )
)
def test_conv_transpose_shape_matches_torch(c: dict) -> None:
    torch = _torch()
    body = (
        f"conv_transpose(3, {c['k']}, stride={c['s']}, pad={c['p']}, "
        f"output_padding={c['op']}, dilation={c['d']})"
    )
    text = _spec(body, f"2x{c['h']}x{c['h']}")
    try:
        module = torch.nn.ConvTranspose2d(2, 3, c["k"], c["s"], c["p"], c["op"], dilation=c["d"])
        out = tuple(module(torch.zeros(1, 2, c["h"], c["h"])).shape[1:])
    except (RuntimeError, ValueError):
        with pytest.raises((archc.errors.SpecShapeError, archc.errors.SpecArgumentError)):
            archc.load("h.arch", text=text)
        return
    if 0 in out:  # torch returns an empty tensor where archc reports that nothing is left
        with pytest.raises(archc.errors.SpecShapeError, match="removes the whole"):
            archc.load("h.arch", text=text)
        return
    assert archc.load("h.arch", text=text).outputs["y"] == out


def test_adaptive_bin_widths_in_closed_form() -> None:
    """The closed forms behind adaptive pooling's window and FLOPs equal the bins themselves,
    so a huge output size costs no loop (docs/security.md)."""
    from archc.ops.pool import _bin_total, _widest_bin, adaptive_bins

    for size in range(1, 70):
        for out in range(1, 75):
            widths = [end - start for start, end in adaptive_bins(size, out)]
            assert _widest_bin(size, out) == max(widths), (size, out)
            assert _bin_total(size, out) == sum(widths), (size, out)
    assert _widest_bin(30000, 29999) == 2  # immediate, where there are 29,999 bins


def test_lrn_needs_channels_and_positions() -> None:
    with pytest.raises(archc.errors.SpecShapeError, match="lrn needs channels and positions"):
        archc.load("l.arch", text=_spec("lrn(3)", "(8,)"))
