"""The configuration language of modern CNNs: builtins, spec functions, tuples and stage
tables, ``for``, ``repeat 0``, and tensors read from expressions (``in.channels``).

Outside references: Python's own builtins (hypothesis compares archc's evaluation with them),
torchvision's ``_make_divisible`` (its published definition, written out below, since importing
torchvision's package here fails on its compiled ops), and the layer counts a stage table
implies.  The emitted PyTorch for a spec using all of these is checked by the per-spec matrix
of ``tests/test_emit_pytorch.py`` (spec ``config``).
"""

from __future__ import annotations

import math
import textwrap

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archc
from archc.errors import ArchError, SpecArgumentError, SpecNameError, SpecValueError
from archc.fmt import format_source


def net(body: str, prelude: str = "") -> archc.analysis.Network:
    text = textwrap.dedent(prelude) + "network n {\n" + textwrap.dedent(body) + "\n}\n"
    return archc.load("config.arch", text=text)


def _evaluate(expr: str, prelude: str = "") -> object:
    from archc.evaluate import evaluate
    from archc.syntax import parse

    module = parse(textwrap.dedent(prelude) + f"const __probe = {expr}\n", "probe.arch")
    env: dict[str, object] = {}
    for const in module.consts:
        env[const.name] = evaluate(const.value, env)
    return env["__probe"]


# --------------------------------------------------------------------------- builtins
@settings(max_examples=60, deadline=None)
@given(
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
def test_builtins_agree_with_python(a: int, b: int, x: float) -> None:
    assert _evaluate(f"min({a}, {b})") == min(a, b)
    assert _evaluate(f"max({a}, {b}, 7)") == max(a, b, 7)
    assert _evaluate(f"abs({a})") == abs(a)
    text = repr(x)
    assert _evaluate(f"int({text})") == int(x)
    assert _evaluate(f"round({text})") == round(x)
    assert _evaluate(f"floor({text})") == math.floor(x)
    assert _evaluate(f"ceil({text})") == math.ceil(x)
    assert _evaluate(f"len(({a}, {b}, {text}))") == 3


@pytest.mark.parametrize(
    ("expr", "error", "text"),
    [
        ("max(1)", SpecArgumentError, "give two or more"),
        ("abs(1, 2)", SpecArgumentError, "takes 1 argument"),
        ("int(true)", SpecArgumentError, "takes numbers"),
        ('floor("3")', SpecArgumentError, "takes numbers"),
        ("len(5)", SpecArgumentError, "takes a tuple"),
        ("round(2.5, digits=1)", SpecArgumentError, "no named arguments"),
        ("nosuch(1)", SpecValueError, "is not a value here"),
    ],
)
def test_builtin_misuse_is_a_located_error(expr: str, error: type, text: str) -> None:
    with pytest.raises(error, match=text) as exc:
        net(f"input x: 1x4x4\nconst v = {expr}\noutput y = relu")
    assert exc.value.span is not None and exc.value.span.line == 3


# --------------------------------------------------------------------------- functions
MAKE_DIVISIBLE = """
fn make_divisible(v, divisor = 8, min_value = divisor) {
    const new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    new_v + divisor if new_v < 0.9 * v else new_v
}
"""


def torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, as published (torchvision 0.2x)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 2048),
    st.sampled_from([0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4, 2.0]),
    st.sampled_from([4, 8, 16]),
)
def test_a_spec_function_writes_torchvisions_make_divisible(c: int, width: float, d: int) -> None:
    got = _evaluate(f"make_divisible({c} * {width}, {d})", MAKE_DIVISIBLE)
    assert got == torchvision_make_divisible(c * width, d)


def test_function_errors_are_located() -> None:
    with pytest.raises(SpecArgumentError, match="needs 'v'"):
        _evaluate("make_divisible()", MAKE_DIVISIBLE)
    with pytest.raises(SpecArgumentError, match="no parameter 'width'"):
        _evaluate("make_divisible(3, width=2)", MAKE_DIVISIBLE)
    with pytest.raises(SpecValueError, match="calls itself"):
        _evaluate("f(1)", "fn f(x) {\n    f(x)\n}\n")
    with pytest.raises(SpecNameError, match="two parameters named 'a'"):
        _evaluate("f(1)", "fn f(a, a) {\n    a\n}\n")
    with pytest.raises(SpecNameError, match="unknown name 'width'"):
        _evaluate("f(1)", "fn f(a) {\n    a * width\n}\n")


# --------------------------------------------------------------------------- tuples and for
def test_tuples_index_and_lists_span_lines() -> None:
    prelude = "const rows = [\n    (1, 16),\n    (6, 24),  # a comment\n]\n"
    assert _evaluate("rows[1][1]", prelude) == 24
    assert _evaluate("rows[-1][0]", prelude) == 6
    assert _evaluate("len(rows)", prelude) == 2
    with pytest.raises(SpecValueError, match="out of range: the tuple has 2 items"):
        _evaluate("rows[2]", prelude)
    with pytest.raises(SpecValueError, match="only a tuple can be indexed"):
        _evaluate("rows[0][0][0]", prelude)


def test_a_stage_table_unrolls_one_iteration_per_row() -> None:
    network = net(
        """
        input x: 3x32x32
        stages = for (c, n, s) in STAGES {
            blocks = repeat n as i { conv(c, 3, stride=s if i == 0 else 1, pad=1) -> relu }
        }
        output y = global_avgpool
        """,
        "const STAGES = [(8, 1, 1), (16, 2, 2), (32, 3, 2)]\n",
    )
    convs = [name for name in network.order if network.layer(name).op == "conv"]
    assert convs == [
        "stages.0.blocks.0.conv",
        "stages.1.blocks.0.conv",
        "stages.1.blocks.1.conv",
        "stages.2.blocks.0.conv",
        "stages.2.blocks.1.conv",
        "stages.2.blocks.2.conv",
    ]
    assert network.shape("stages.2.blocks.2.relu") == (32, 8, 8)


def test_for_with_one_name_binds_the_row() -> None:
    network = net("input x: 3x8x8\nt = for w in [4, 8] { conv(w, 1) }\noutput y = t")
    assert [network.shape(n) for n in network.order[1:]] == [(4, 8, 8), (8, 8, 8)]


def test_repeat_zero_passes_its_input_through() -> None:
    network = net("input x: 3x8x8\nskip = repeat 0 { conv(4, 1) }\noutput y = skip -> relu")
    assert network.order == ["x", "y"]
    assert network.shape("y") == (3, 8, 8)


def test_in_inside_a_repeat_is_the_previous_iterations_output() -> None:
    network = net(
        "input x: 3x8x8\ngrow = repeat 3 { in -> conv(in.channels * 2, 1) }\noutput y = grow"
    )
    assert [network.shape(n)[0] for n in network.order[1:]] == [6, 12, 24]


# --------------------------------------------------------------------------- in.channels
def test_a_block_reads_its_input_and_needs_no_in_ch() -> None:
    network = net(
        """
        input x: 5x8x8
        a = expand(4)
        b = expand(2)
        output y = b
        """,
        "block expand(factor, hidden = in.channels * factor) {\n"
        "    out = conv(hidden, 1) -> conv(in.channels, 3, pad=1)\n}\n",
    )
    assert network.shape("a.out.conv") == (20, 8, 8)
    assert network.shape("b.out.conv") == (10, 8, 8)
    assert network.outputs["y"] == (5, 8, 8)


def test_tensor_attributes() -> None:
    network = net(
        """
        input x: 3x12x10
        h = conv(x.height + x.width + x.rank, 1)
        output y = conv(len(h.shape), 1)
        """
    )
    assert network.shape("h") == (25, 12, 10)
    assert network.shape("y") == (3, 12, 10)
    with pytest.raises(SpecNameError, match=r"has no '\.channel'"):
        net("input x: 3x8x8\noutput y = conv(x.channel, 1)")
    with pytest.raises(ArchError, match="has no height"):
        net("input x: (8,)\noutput y = linear(x.height)")


# --------------------------------------------------------------------------- ops as values
def test_an_op_or_block_passed_to_a_block_is_called_there() -> None:
    network = net(
        """
        input x: 3x8x8
        a = unit(4)
        b = unit(4, activation=hardswish)
        c = unit(4, activation=twice)
        output y = c
        """,
        "block twice() {\n    out = conv(4, 1) -> conv(4, 1)\n}\n"
        "block unit(w, activation = relu) {\n"
        "    out = conv(w, 1) -> activation\n"
        "    const kind = 1 if activation == relu else 2\n"
        "}\n",
    )
    ops = {name: network.layer(name).op for name in network.order}
    assert ops["a.out.relu"] == "relu"
    assert ops["b.out.hardswish"] == "hardswish"
    assert ops["c.out.twice.out.conv_2"] == "conv"


def test_a_for_loop_names_its_row_index() -> None:
    text = (
        "const STAGES = [(8, 1), (16, 2)]\n\n"
        "network t {\n    input x: 3x8x8\n"
        "    stages = for (c, n) in STAGES as i {\n"
        "        if i > 0 {\n            down = conv(c, 2, stride=2)\n        }\n"
        "        blocks = repeat n { conv(c, 3, pad=1) }\n    }\n"
        "    output y = stages\n}\n"
    )
    network = archc.load("t.arch", text=text)
    assert [n for n in network.order if network.layer(n).op == "conv"] == [
        "stages.0.blocks.0",
        "stages.1.down",
        "stages.1.blocks.0",
        "stages.1.blocks.1",
    ]
    assert network.outputs["y"] == (16, 4, 4)
    assert network.to_torch()(torch.randn(1, 3, 8, 8)).shape == (1, 16, 4, 4)
    assert format_source(text) == text  # the formatter keeps "as i"


def test_a_table_row_carries_an_op() -> None:
    """Constants hold ops too: a stage table's nonlinearity column, called from a for body,
    in the analysis and in the emitted module."""
    network = archc.load(
        "t.arch",
        text="const HS = hardswish\n"
        "const ROWS = [(4, relu), (6, HS)]\n"
        "network t {\n    input x: 3x8x8\n"
        "    s = for (c, act) in ROWS { conv(c, 1) -> act }\n"
        "    output y = s\n}\n",
    )
    ops = [network.layer(name).op for name in network.order]
    assert ops == ["input", "conv", "relu", "conv", "hardswish"]
    kinds = [type(m).__name__ for m in network.to_torch().modules()]
    assert [k for k in kinds if k in ("Conv2d", "ReLU", "Hardswish")] == [
        "Conv2d",
        "ReLU",
        "Conv2d",
        "Hardswish",
    ]


def test_an_op_is_not_a_number() -> None:
    with pytest.raises(ArchError, match="out"):
        net("input x: 3x8x8\noutput y = conv(relu, 3)")


# --------------------------------------------------------------------------- chunk and split
@pytest.mark.parametrize(("channels", "parts"), [(6, 2), (5, 2), (7, 3), (12, 4), (9, 3)])
def test_chunk_cuts_channels_as_torch_chunk_does(channels: int, parts: int) -> None:
    torch = pytest.importorskip("torch")
    names = [f"p{i}" for i in range(parts)]
    network = net(
        f"input x: {channels}x4x4\n{', '.join(names)} = x -> chunk({parts})\n"
        f"output y = concat({', '.join(names)})"
    )
    want = [t.shape[1] for t in torch.randn(1, channels, 4, 4).chunk(parts, dim=1)]
    assert [network.shape(name)[0] for name in names] == want


def test_split_takes_the_sizes_given() -> None:
    network = net("input x: 10x4x4\na, b, c = x -> split((2, 3, 5))\noutput y = concat(c, a, b)")
    layers = {name: network.layer(name).attrs for name in ("a", "b", "c")}
    assert [(a["start"], a["end"]) for a in layers.values()] == [(0, 2), (2, 5), (5, 10)]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("a, b = x -> chunk(3)", "2 names need chunk\\(2\\)"),
        ("a, b = x -> split((2, 3, 5))", "one size per name"),
        ("a, b = x -> split((2, 3))", "must add up to the channels of 'x'"),
        ("a, b = x -> conv(3, 1)", "takes chunk\\(n\\) or split"),
    ],
)
def test_chunk_and_split_misuse_is_located(statement: str, message: str) -> None:
    with pytest.raises(ArchError, match=message) as exc:
        net(f"input x: 10x4x4\n{statement}\noutput y = concat(a, b)")
    assert exc.value.span is not None and exc.value.span.line == 3
