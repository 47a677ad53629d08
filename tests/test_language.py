"""The language as docs/language.md describes it: syntax, naming rules, blocks, repeat, if."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import archc
from archc.errors import ArchError, SpecNameError, SpecSyntaxError
from archc.ir import G_SCOPES, verify
from archc.syntax import parse


def compile_text(text: str, name: str = "inline.arch") -> archc.analysis.Network:
    return archc.load(name, text=textwrap.dedent(text))


def layer_names(text: str) -> list[str]:
    return [n for n in compile_text(text).order]


# ------------------------------------------------------------------ lexical structure


def test_newline_rules_let_chains_and_arguments_span_lines() -> None:
    net = compile_text(
        """
        # comment at the top
        network n {   # trailing comment
            input x: 3x32x32

            y = x -> conv(16, 3,
                          pad=1)   # inside parentheses
                  -> relu          # a line starting with ->
                  ->
                  maxpool(2)       # after ->
            output z = y
        }
        """
    )
    assert net.order == ["x", "y.conv", "y.relu", "y.maxpool"]
    assert net.outputs == {"z": (16, 16, 16)}


def test_statements_need_separators() -> None:
    with pytest.raises(SpecSyntaxError, match="unexpected 'relu'"):
        compile_text("network n {\n input x: 3x8x8\n y = conv(4, 3) relu\n output y\n}\n")


def test_one_line_body() -> None:
    net = compile_text("network n { input x: 3x8x8\n output y = conv(4, 3) }\n")
    assert net.outputs == {"y": (4, 6, 6)}


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("64", 64),
        ("0.75", 0.75),
        ("1e-4", 1e-4),
        ("3x224x224", (3, 224, 224)),
        ("1×7", (1, 7)),
        ("7M", 7_000_000),
        ("1.6G", 1_600_000_000),
        ("200MB", 200_000_000),
        ("4MiB", 4 * 2**20),
        ("2Ki", 2048),
    ],
)
def test_number_literals(literal: str, value: object) -> None:
    net = compile_text(
        f"""
        const v = {literal}
        network n {{
            input x: 3x8x8
            assert v == v
            output y = conv(4, 3)
        }}
        """
    )
    (assertion,) = net.graph.graph["asserts"]
    assert assertion.env["v"] == value


def test_expressions_follow_python() -> None:
    net = compile_text(
        """
        const w = 64
        const a = w * 2 + 1
        const b = w // 3
        const c = w / 4
        const d = -w % 5
        const e = 2 if w > 32 and not (w == 48) else 3
        const f = (1, 7)
        network n {
            input x: 3x8x8
            assert true
            output y = conv(4, 3)
        }
        """
    )
    env = net.graph.graph["asserts"][0].env
    assert (env["a"], env["b"], env["c"], env["d"], env["e"], env["f"]) == (
        129,
        21,
        16.0,
        1,
        2,
        (1, 7),
    )


# ------------------------------------------------------------------ naming rules (docs/language.md)


def test_single_layer_chain_takes_the_assigned_name() -> None:
    assert layer_names("network n {\n input x: 3x8x8\n pool1 = maxpool(2)\n output pool1\n}\n") == [
        "x",
        "pool1",
    ]


def test_longer_chain_is_a_scope_with_numbered_op_names() -> None:
    names = layer_names(
        """
        network n {
            input x: 3x8x8
            b2 = x -> conv(4, 1) -> relu -> conv(8, 3, pad=1) -> relu
            output b2
        }
        """
    )
    assert names == ["x", "b2.conv", "b2.relu", "b2.conv_2", "b2.relu_2"]


def test_as_names_a_layer() -> None:
    names = layer_names(
        """
        network n {
            input x: 3x8x8
            b2 = conv(4, 1) as reduce -> relu
            output b2
        }
        """
    )
    assert names == ["x", "b2.reduce", "b2.relu"]


def test_unnamed_chain_layers_live_in_the_enclosing_scope() -> None:
    names = layer_names(
        """
        network n {
            input x: 3x8x8
            conv(4, 3, pad=1) -> relu
            conv(4, 3, pad=1) -> relu
            output y = identity
        }
        """
    )
    assert names == ["x", "conv", "relu", "conv_2", "relu_2", "y"]


def test_block_instances_and_repeat_iterations_are_scopes() -> None:
    net = compile_text(
        """
        block unit(width, stride=1) {
            y = in -> conv(width, 3, stride=stride, pad=1) -> relu
            out = y
        }
        network n {
            input x: 3x16x16
            stage = repeat 2 as i { unit(8, stride=2 if i == 0 else 1) }
            deep = repeat 2 {
                a = conv(8, 1)
                b = relu
            }
            output y = stage
        }
        """
    )
    assert net.order == [
        "x",
        "stage.0.y.conv",
        "stage.0.y.relu",
        "stage.1.y.conv",
        "stage.1.y.relu",
        "deep.0.a",
        "deep.0.b",
        "deep.1.a",
        "deep.1.b",
    ]
    scopes = net.graph.graph[G_SCOPES]
    assert scopes["stage.0"].kind == "block"
    assert scopes["stage.0"].args == (("width", 8), ("stride", 2))
    assert scopes["stage.1"].args == (("width", 8), ("stride", 1))
    assert scopes["deep.1"].kind == "iteration"
    assert net.shape("stage.0.y.conv") == (8, 8, 8)
    assert net.outputs == {"y": (8, 8, 8)}


def test_block_output_defaults_to_last_statement() -> None:
    net = compile_text(
        """
        block twice(c) {
            conv(c, 3, pad=1)
            conv(c, 1)
        }
        network n {
            input x: 3x8x8
            output y = twice(5)
        }
        """
    )
    assert net.outputs == {"y": (5, 8, 8)}
    assert net.order[-1] == "y.conv_2"


def test_if_else_chooses_statements_and_tensors_escape() -> None:
    text = """
        block res(c, project=false) {
            y = in -> conv(c, 3, pad=1, bias=false) -> bn
            if project {
                shortcut = in -> conv(c, 1, bias=false) -> bn
            } else if c > 100 {
                shortcut = in -> identity
            } else {
                shortcut = in
            }
            out = add(y, shortcut) -> relu
        }
        network n {
            input x: 8x8x8
            a = res(8)
            b = res(16, project=true)
            output y = b
        }
    """
    net = compile_text(text)
    assert "a.shortcut.conv" not in net.order
    assert "b.shortcut.conv" in net.order
    assert net.layer("a.out.add").inputs == ("a.y.batchnorm", "x")


def test_include_relative_to_including_file(tmp_path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.arch").write_text(
        'include "more.arch"\nblock unit(c) {\n    out = conv(c, k, pad=1) -> relu\n}\n'
    )
    (tmp_path / "lib" / "more.arch").write_text("const k = 3\n")
    spec = tmp_path / "net.arch"
    spec.write_text(
        'include "lib/blocks.arch"\nnetwork n {\n input x: 3x8x8\n output y = unit(4)\n}\n'
    )
    net = archc.load(spec)
    assert net.outputs == {"y": (4, 8, 8)}
    assert net.layer("y.out.conv").attrs["kernel"] == (3, 3)


def test_diamond_include_is_read_once(tmp_path) -> None:
    (tmp_path / "base.arch").write_text("const k = 3\n")
    (tmp_path / "a.arch").write_text('include "base.arch"\n')
    (tmp_path / "b.arch").write_text('include "base.arch"\n')
    spec = tmp_path / "net.arch"
    spec.write_text(
        'include "a.arch"\ninclude "b.arch"\n'
        "network n {\n input x: 3x8x8\n output y = conv(4, k)\n}\n"
    )
    assert archc.load(spec).outputs == {"y": (4, 6, 6)}


def test_aliases_and_tensor_alias() -> None:
    net = compile_text(
        """
        network n {
            input x: 3x8x8
            a = conv2d(4, 3) -> bn
            b = a
            output y = b -> flatten -> fc(10)
        }
        """
    )
    assert net.layer("a.conv").op == "conv"
    assert net.layer("a.batchnorm").op == "batchnorm"
    assert net.layer("y.linear").op == "linear"


def test_multiple_inputs_and_outputs() -> None:
    net = compile_text(
        """
        network two_tower {
            input rgb: 3x32x32
            input depth: 1x32x32
            a = rgb -> conv(8, 3, pad=1)
            b = depth -> conv(8, 3, pad=1)
            output fused = concat(a, b) -> global_avgpool -> flatten
            output aux = b -> flatten
        }
        """
    )
    assert net.inputs == {"rgb": (3, 32, 32), "depth": (1, 32, 32)}
    assert net.outputs == {"fused": (16,), "aux": (8 * 32 * 32,)}


def test_input_override() -> None:
    net = archc.load(
        "x.arch",
        text="network n {\n input image: 3x8x8\n output y = conv(4, 3)\n}\n",
        inputs={"image": (3, 20, 20)},
    )
    assert net.outputs == {"y": (4, 18, 18)}
    with pytest.raises(SpecNameError, match="not an input"):
        archc.load(
            "x.arch",
            text="network n {\n input image: 3x8x8\n output y = conv(4, 3)\n}\n",
            inputs={"img": (3, 8, 8)},
        )


@pytest.mark.parametrize(
    "body",
    [
        "input x: 3x8x8\n y = x -> x\n output y",
        "input x: 3x8x8\n output y = conv(4, 3) -> x",
        "input x: 0x8x8\n output y = conv(4, 3)",
        "input x: 3x8\n output y = conv(4, 3)",
        "input x: 3x8x8\n y = repeat -1 { relu }\n output y",
        "input x: 3x8x8\n y = for (a, b) in [(1, 2), (3,)] { relu }\n output y",
        "input x: 3x8x8\n output y = concat(x, conv(4, 1))",
        "input x: 3x8x8\n output y = in -> relu",
    ],
)
def test_malformed_programs_are_located_errors(body: str) -> None:
    with pytest.raises(ArchError) as exc:
        compile_text("network n {\n " + body + "\n}\n")
    assert exc.value.span is not None
    assert str(exc.value).startswith("inline.arch:")


def test_ast_has_positions() -> None:
    module = parse("network n {\n    input x: 3x8x8\n    output y = conv(4, 3)\n}\n", "p.arch")
    out = module.networks[0].body[1]
    link = out.chain.links[0]
    assert (link.span.line, link.span.column) == (3, 16)
    assert (link.args[1].span.line, link.args[1].span.column) == (3, 24)


def test_verify_holds_for_inline_programs() -> None:
    net = compile_text(
        "network n {\n input x: 3x8x8\n a = conv(4, 3, pad=1)\n output y = add(a, a)\n}\n"
    )
    verify(net.graph)
    assert net.layer("y").inputs == ("a", "a")


# ------------------------------------------------------------------ expressions against Python

_leaves = st.one_of(st.integers(-50, 50), st.sampled_from(["True", "False"]))


@st.composite
def _expressions(draw, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        leaf = draw(_leaves)
        return f"({leaf})" if isinstance(leaf, int) and leaf < 0 else str(leaf)
    kind = draw(st.sampled_from(["bin", "bin", "bin", "not", "neg", "cond", "paren"]))
    if kind == "bin":
        op = draw(st.sampled_from(["+", "-", "*", "//", "%", "==", "!=", "<", ">=", "and", "or"]))
        return f"{draw(_expressions(depth + 1))} {op} {draw(_expressions(depth + 1))}"
    if kind == "not":
        return f"not {draw(_expressions(depth + 1))}"
    if kind == "neg":
        return f"-({draw(_expressions(depth + 1))})"
    if kind == "cond":
        a, b, c = (draw(_expressions(depth + 1)) for _ in range(3))
        return f"({a} if {b} else {c})"
    return f"({draw(_expressions(depth + 1))})"


@settings(max_examples=300, deadline=None)
@given(_expressions())
def test_expressions_evaluate_as_python_does(source: str) -> None:
    """The language claims Python's precedence and semantics: check against eval()."""
    arch = source.replace("True", "true").replace("False", "false")
    text = f"const v = {arch}\nnetwork n {{\n input x: 1x4x4\n assert true\n output y = relu\n}}\n"
    try:
        expected = eval(source, {"__builtins__": {}})
    except SyntaxError:  # e.g. "0 + not 0": archc rejects it too
        with pytest.raises(
            archc.errors.SpecSyntaxError, match=r"'not' needs parentheses|chained comparisons"
        ):
            archc.load("expr.arch", text=text)
        return
    except ZeroDivisionError:
        expected = ZeroDivisionError
    try:
        net = archc.load("expr.arch", text=text)
    except archc.errors.SpecValueError as exc:
        # archc refuses what Python raises on, and arithmetic on booleans, which Python allows
        # (booleans come from literals or comparisons; archc keeps them out of arithmetic)
        assert expected is ZeroDivisionError or "boolean" in str(exc), str(exc)
        return
    except archc.errors.SpecSyntaxError as exc:
        # Python chains "a < b < c"; archc asks for an explicit "and"
        assert "chained comparisons" in str(exc)
        return
    assert expected is not ZeroDivisionError
    assert net.graph.graph["asserts"][0].env["v"] == expected


def test_fast_lexer_agrees_with_larks_own(spec_name: str) -> None:
    """archc.lexer.ArchLexer must produce exactly the tokens lark's basic lexer would."""
    from importlib import resources
    from types import SimpleNamespace

    from lark import Lark

    from archc.lexer import ArchLexer
    from tests.conftest import SPECS_DIR

    grammar = resources.files("archc").joinpath("grammar.lark").read_text()
    reference = Lark(grammar, parser="lalr", lexer="basic")
    fast = ArchLexer(reference.lexer_conf)
    text = (SPECS_DIR / f"{spec_name}.arch").read_text()
    text += "\n# all operators: + - * / // % == != < <= > >= -> . : , = { } ( ) not and or\n"
    text += "x = -1.5e-3 + 2x3x3 * 7MiB // (a.b) % 3 != 4 <= 5 >= 6 < 7 > 8 == 9\n"
    ours = [
        (t.type, str(t), t.line, t.column, t.end_line, t.end_column)
        for t in fast.lex(SimpleNamespace(text=text), None)
    ]
    theirs = [
        (t.type, str(t), t.line, t.column, t.end_line, t.end_column) for t in reference.lex(text)
    ]
    assert ours == theirs
