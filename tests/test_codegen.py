"""Code-generation helpers: the identifier namespace, literals, layout, Python expressions."""

from __future__ import annotations

import ast
import keyword

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archc.emit import pyexpr as px
from archc.emit.codegen import (
    Call,
    Namespace,
    format_call,
    py_literal,
    python_identifier,
    safe_comment,
)
from archc.errors import EmitError


# ---------------------------------------------------------------------------------- namespace
def test_namespace_sanitises_reserves_and_deduplicates() -> None:
    ns = Namespace(reserved={"torch", "self"})
    assert ns.name("conv") == "conv"
    assert ns.name("conv") == "conv"  # same key, same name
    assert ns.name(("other", "conv"), "conv") == "conv_2"
    assert ns.name("class") == "class_"
    assert ns.name("torch") == "torch_"
    assert ns.name("self") == "self_"
    assert ns.name("class_") == "class_2"  # 'class' took class_
    assert ns.name("3x3") == "_3x3"
    assert ns.name("__import__") == "_import__"
    assert ns.name("__mangled") == "_mangled"
    assert ns.name("a-b c") == "a_b_c"
    assert ns.name("") == "_"
    assert ns.identifiers() == [
        "conv", "conv_2", "class_", "torch_", "self_", "class_2", "_3x3", "_import__",
        "_mangled", "a_b_c", "_",
    ]  # fmt: skip
    assert "torch" in ns and "conv_2" in ns and "nothing" not in ns


@given(st.lists(st.text(max_size=12), max_size=30))
def test_namespace_always_gives_distinct_safe_identifiers(raws: list[str]) -> None:
    ns = Namespace(reserved={"torch", "nn"})
    names = [ns.name(("k", i), raw) for i, raw in enumerate(raws)]
    assert len(set(names)) == len(names)
    for name in names:
        assert name.isidentifier() and name.isascii()
        assert not keyword.iskeyword(name) and name not in {"torch", "nn"}
        assert not name.startswith("__")


def test_python_identifier_is_stable_for_plain_names() -> None:
    for name in ("conv1", "inception_3a", "Mixed_5b", "_private", "x"):
        assert python_identifier(name) == name


# ---------------------------------------------------------------------------------- literals
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "True"),
        (3, "3"),
        (-2, "-2"),
        (1e-05, "1e-05"),
        (0.75, "0.75"),
        ("same", '"same"'),
        ("it's", '"it\'s"'),
        ('say "hi"', "'say \"hi\"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("line\nbreak", "'line\\nbreak'"),
        ((1, 7), "(1, 7)"),
        ((4,), "(4,)"),
        ((1, ("a", False)), '(1, ("a", False))'),
    ],
)
def test_literals(value: object, text: str) -> None:
    assert py_literal(value) == text
    assert ast.literal_eval(text) == value


@pytest.mark.parametrize("value", [float("inf"), float("nan"), None, [1], {"a": 1}, object()])
def test_only_allowed_literals(value: object) -> None:
    with pytest.raises(EmitError):
        py_literal(value)


@given(st.text())
def test_safe_comment_keeps_one_line(text: str) -> None:
    comment = "# " + safe_comment(text)
    tree = ast.parse(comment + "\nx = 1\n")
    assert len(tree.body) == 1
    assert comment.isprintable()


# ---------------------------------------------------------------------------------- layout
def test_calls_are_laid_out_as_ruff_formats_them() -> None:
    short = Call("nn.Conv2d", ("3", "64"), (("kernel_size", "7"),))
    assert format_call("self.conv = ", short, 8) == [
        "        self.conv = nn.Conv2d(3, 64, kernel_size=7)"
    ]
    args = tuple(f"argument_{i}" for i in range(7))
    lines = format_call("a_rather_long_target_name = ", Call("f", args), 4)
    assert lines == ["    a_rather_long_target_name = f(", "        " + ", ".join(args), "    )"]
    nested = Call("Chain", (), tuple((f"layer_{i}", Call("nn.Identity")) for i in range(9)))
    lines = format_call("self.body = ", nested, 8)
    assert lines[0] == "        self.body = Chain("
    assert lines[1] == "            layer_0=nn.Identity(),"
    assert lines[-1] == "        )"
    signature = Call("def __init__", ("self", "in_channels: int"), closing=" -> None")
    assert format_call("", signature, 4, ":") == [
        "    def __init__(self, in_channels: int) -> None:"
    ]


# ---------------------------------------------------------------------------------- expressions
def v(name: str) -> px.Var:
    return px.Var(name)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (px.binop("*", px.binop("+", v("a"), v("b")), v("c")), "(a + b) * c"),
        (px.binop("+", v("a"), px.binop("*", v("b"), v("c"))), "a + b * c"),
        (px.binop("-", v("a"), px.binop("-", v("b"), v("c"))), "a - (b - c)"),
        (px.binop("-", px.binop("-", v("a"), v("b")), v("c")), "a - b - c"),
        (px.binop("<", px.binop("<", v("a"), v("b")), v("c")), "(a < b) < c"),
        (px.unary("not", px.binop("==", v("i"), px.lit(0))), "not i == 0"),
        (px.ifelse(px.binop("==", v("i"), px.lit(0)), px.lit(2), px.lit(1)), "2 if i == 0 else 1"),
        (
            px.binop("*", px.ifelse(v("p"), px.lit(2), px.lit(1)), v("w")),
            "(2 if p else 1) * w",
        ),
        (px.unary("-", px.binop("+", v("a"), px.lit(1))), "-(a + 1)"),
        (px.binop("-", v("a"), px.lit(-3)), "a - -3"),
        (px.tuple_of((v("k"), px.lit(1))), "(k, 1)"),
        (px.binop("or", px.binop("and", v("a"), v("b")), v("c")), "a and b or c"),
        (px.binop("and", px.binop("or", v("a"), v("b")), v("c")), "(a or b) and c"),
    ],
)
def test_rendering_keeps_the_meaning(expr: px.PyExpr, text: str) -> None:
    assert px.render(expr) == text


def test_folding() -> None:
    assert px.binop("*", px.lit(6), px.lit(7)) == px.lit(42)
    assert px.binop("/", px.lit(1), px.lit(0)) == px.BinOp("/", px.lit(1), px.lit(0))
    assert px.binop("and", px.lit(False), v("x")) == px.lit(False)
    assert px.binop("or", px.lit(0), v("x")) == v("x")
    assert px.ifelse(px.lit(True), v("a"), v("b")) == v("a")
    assert px.ifelse(v("t"), v("a"), v("a")) == v("a")
    assert px.product([px.lit(1), v("c"), px.lit(1)]) == v("c")
    assert px.total([v("a"), px.lit(2), v("b"), px.lit(3)]) == px.binop(
        "+", px.binop("+", v("a"), v("b")), px.lit(5)
    )


def test_substitution_expands_locals_and_folds() -> None:
    mid = px.Var("mid", px.binop("//", v("width"), px.lit(2)))
    size = px.binop("*", mid, px.lit(4))
    assert px.render(size) == "mid * 4"
    assert px.substitute(size, {"width": px.lit(64)}) == px.lit(128)
    with pytest.raises(px.Unresolved):
        px.substitute(px.binop("+", v("loop_value"), px.lit(1)), {}, strict=True)
    assert px.substitute(px.Raw("self.x"), {}) == px.Raw("self.x")
    with pytest.raises(px.Unresolved):
        px.substitute(px.Raw("self.x"), {}, strict=True)


def test_a_loop_result_is_known_once_its_count_and_start_are() -> None:
    grown = px.Recur(
        start=v("in_channels"),
        step=px.binop("+", v("channels"), v("growth")),
        count=v("layers"),
        carried="channels",
        index="_",
    )
    size = px.Var("channels", grown)
    mapping = {"in_channels": px.lit(64), "growth": px.lit(32), "layers": px.lit(6)}
    assert px.substitute(size, mapping, strict=True) == px.lit(64 + 6 * 32)
    with pytest.raises(px.Unresolved):
        px.substitute(size, {**mapping, "layers": v("n")}, strict=True)
    assert px.free_vars(grown) == {"in_channels", "growth", "layers"}


@given(
    st.recursive(
        st.integers(-5, 5).map(px.lit) | st.sampled_from(["a", "b", "c"]).map(px.Var),
        lambda inner: (
            st.tuples(st.sampled_from(["+", "-", "*", "//", "%"]), inner, inner).map(
                lambda t: px.BinOp(*t)
            )
            | st.tuples(inner, inner, inner).map(lambda t: px.IfElse(*t))
            | inner.map(lambda e: px.Unary("-", e))
        ),
        max_leaves=8,
    )
)
def test_rendered_python_evaluates_like_the_tree(expr: px.PyExpr) -> None:
    env = {"a": 3, "b": -2, "c": 7}

    def value(e: px.PyExpr) -> object:
        match e:
            case px.Lit(value=x):
                return x
            case px.Var(name=name):
                return env[name]
            case px.Unary(operand=o):
                return -value(o)  # type: ignore[operator]
            case px.IfElse(test=t, then=a, orelse=b):
                return value(a) if value(t) else value(b)
            case px.BinOp(op=op, left=left, right=right):
                return eval(f"x {op} y", {}, {"x": value(left), "y": value(right)})
        raise AssertionError(e)

    try:
        expected = value(expr)
    except ZeroDivisionError:
        return
    assert eval(px.render(expr), {}, env) == expected
