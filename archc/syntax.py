"""Text -> AST: the lark parser, its newline rules, and friendly syntax errors.

The grammar lives in ``grammar.lark`` (package data).  A small post-lexer decides where a newline
ends a statement, so a long chain can be broken after ``->`` or before a line that starts with
``->`` and argument lists can span lines.  Lark's exceptions never escape: they become
:class:`~archc.errors.SpecSyntaxError` with the position, the source line, a caret, and what was
expected, in the language's own words.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import sys
from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from archc import nodes as n
from archc.errors import ArchError, SpecNameError, SpecSyntaxError, SpecValueError
from archc.evaluate import check_number
from archc.lexer import ArchLexer
from archc.limits import current as current_limits
from archc.source import Span, register_source, split_lines
from archc.units import QuantityError, parse_quantity

# How terminals are called in "expected ..." messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "_NL": "end of line",
    "$END": "end of file",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "_ARROW": "'->'",
    "COMP_OP": "a comparison",
    "DOT": "'.'",
}

_BRACKETS_OPEN = {"LPAR", "LBRACE"}
_BRACKETS_CLOSE = {"RPAR", "RBRACE"}


_NUMBER = re.compile(
    r"^(?P<num>\d+\.\d*|\.\d+|\d+)(?P<exp>[eE][+-]?\d+)?(?P<dims>(?:[x×]\d+)*)(?P<suffix>[A-Za-z]*)$",
    re.ASCII,
)


def _at(tok: Token) -> tuple[int, int]:
    """A token's (line, column); archc's scanner sets both on every token it makes."""
    return tok.line or 1, tok.column or 1


def _token_span(file: str, tok: Token) -> Span:
    line, column = _at(tok)
    return Span(file, line, column, tok.end_line or line, tok.end_column or column)


class _ToAST(Transformer[Token, Any]):
    """Lark rules -> :mod:`archc.nodes`, run inside the parser as each rule is reduced.

    A node's span runs from its first token to the last token the parser consumed for it; rules
    that begin with a keyword (``input``, ``const``, ...) start at that keyword.
    """

    def __init__(self, positions: _Postlex) -> None:
        super().__init__()
        self.positions = positions
        self.file = "<spec>"
        # nesting depth of expressions and statement bodies built so far, by id (leaves: absent)
        self.depth: dict[int, int] = {}
        self.limits = current_limits()

    def reset(self, file: str) -> None:
        self.file = file
        self.depth = {}
        self.limits = current_limits()

    def _deep(self, node: Any, children: Any, what: str = "expression") -> Any:
        """Record ``node``'s depth (one more than its deepest child); too deep is an error, so
        no later recursive walk (evaluation, code generation) can exhaust Python's stack."""
        depth = self.depth
        d = 1 + max((depth.get(id(c), 1) for c in children), default=1)
        limit = self.limits.expression_depth if what == "expression" else self.limits.nesting
        if d > limit:
            name = "expression_depth" if what == "expression" else "nesting"
            raise SpecValueError(
                f"{what} nested too deeply: more than {limit} levels",
                node.span,
                [self.limits.hint(name)],
            )
        depth[id(node)] = d
        return node

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _first(children: Any) -> tuple[int, int] | None:
        for child in children:
            if isinstance(child, Token):
                return _at(child)
            span = getattr(child, "span", None)
            if span is not None:
                return span.line, span.column
            if isinstance(child, tuple):
                found = _ToAST._first(child)
                if found:
                    return found
        return None

    def _span(self, children: Any, keyword: bool = False) -> Span:
        end = self.positions.last_token()
        first = self._first(children)
        if first is None:
            line, column = _at(end)
        elif keyword:
            line, column = _at(self.positions.token_before(*first))
        else:
            line, column = first
        return Span(self.file, line, column, end.end_line or line, end.end_column or column)

    def _tok_span(self, tok: Token) -> Span:
        return _token_span(self.file, tok)

    # ---------------------------------------------------------------- top level
    def _append(self, c: list[Any]) -> list[Any]:
        if len(c) == 1:
            return list(c[0]) if isinstance(c[0], tuple) else [c[0]]
        if isinstance(c[1], tuple):  # a statement that stands for several (split_assign)
            c[0].extend(c[1])
        else:
            c[0].append(c[1])
        return c[0]

    tops = _append
    stmts = _append

    def start(self, c: list[Any]) -> n.Module:
        module = n.Module(self.file)
        for item in c[0] or ():
            if isinstance(item, n.Include):
                module.includes.append(item)
            elif isinstance(item, n.ConstDef):
                module.consts.append(item)
            elif isinstance(item, n.BlockDef):
                module.blocks.append(item)
            elif isinstance(item, n.NetworkDef):
                module.networks.append(item)
        return module

    def include(self, c: list[Any]) -> n.Include:
        return n.Include(c[0][1:-1], self._span(c, keyword=True))

    def const_def(self, c: list[Any]) -> n.ConstDef:
        return n.ConstDef(self._span(c, keyword=True), str(c[0]), c[1])

    def block_def(self, c: list[Any]) -> n.BlockDef:
        name, *params, body = c
        params = [p for p in params if p is not None]
        seen: dict[str, n.Param] = {}
        for p in params:
            if p.name in seen:
                raise SpecNameError(
                    f"block '{name}' has two parameters named '{p.name}'",
                    p.span,
                    ["each parameter needs its own name"],
                    notes=[("first declared here", seen[p.name].span)],
                )
            seen[p.name] = p
        return n.BlockDef(str(name), tuple(params), body, self._span(c, keyword=True), self.file)

    def param(self, c: list[Any]) -> n.Param:
        return n.Param(str(c[0]), c[1], self._span(c))

    def network_def(self, c: list[Any]) -> n.NetworkDef:
        return n.NetworkDef(str(c[0]), c[1], self._span(c, keyword=True))

    def body(self, c: list[Any]) -> tuple[n.Stmt, ...]:
        return tuple(c[0] or ())

    # ---------------------------------------------------------------- statements
    def input_decl(self, c: list[Any]) -> n.InputDecl:
        return n.InputDecl(self._span(c, keyword=True), str(c[0]), c[1])

    def output_stmt(self, c: list[Any]) -> n.Output:
        return n.Output(self._span(c, keyword=True), str(c[0]), c[1])

    def assign(self, c: list[Any]) -> n.Assign:
        return n.Assign(self._span(c), str(c[0]), c[1])

    def split_assign(self, c: list[Any]) -> tuple[n.Assign, ...]:
        """``a, b = x -> chunk(2)`` / ``a, b = x -> split((58, 58))``: one ``slice`` of ``x``'s
        channels per name, so each name is one layer with one output.  ``chunk(n)`` cuts
        ``x.channels`` into equal parts (it must divide); ``split(sizes)`` into the given ones
        (they must add up: the slice after the last would not fit)."""
        *targets, source, func, args = c
        span = self._span(c)
        names = [str(t) for t in targets]
        how = str(func)
        args = tuple(args or ())
        src = n.Name(self._tok_span(source), str(source))
        if how not in ("chunk", "split") or len(args) != 1 or args[0].name is not None:
            raise SpecSyntaxError(
                f"'{', '.join(names)} = {source} -> ...' takes chunk(n) or split((sizes...)), "
                f"not {how}",
                self._tok_span(func),
                ["left, right = x -> chunk(2)", "a, b, c = x -> split((16, 32, 16))"],
            )
        arg = args[0].value
        at = arg.span
        k = len(names)

        def num(v: int) -> n.Number:
            return n.Number(at, v)

        def add(a: n.Expr, b: n.Expr) -> n.Expr:
            return n.BinOp(at, "+", a, b)

        channels = n.Attr(at, src, "channels")
        checks: list[n.Stmt] = []
        if how == "chunk":
            # torch.chunk: parts of ceil(C / n) channels, the last one what is left
            size = n.Call(at, "ceil", (n.Arg(n.BinOp(at, "/", channels, arg), None, at),))
            ends = [
                n.Call(
                    at,
                    "min",
                    (
                        n.Arg(n.BinOp(at, "*", size, num(i + 1)), None, at),
                        n.Arg(channels, None, at),
                    ),
                )
                for i in range(k)
            ]
            starts: list[n.Expr] = [num(0), *[n.BinOp(at, "*", size, num(i)) for i in range(1, k)]]
            checks.append(
                n.Require(
                    span,
                    n.Compare(at, "==", arg, num(k)),
                    f"chunk gives its count of parts: {k} names need chunk({k})",
                )
            )
        else:
            starts, ends = [], []
            start: n.Expr = num(0)
            for i in range(k):
                end = add(start, n.Index(at, arg, num(i)))
                starts.append(start)
                ends.append(end)
                start = end
            checks.append(
                n.Require(
                    span,
                    n.Compare(at, "==", n.Call(at, "len", (n.Arg(arg, None, at),)), num(k)),
                    f"split needs one size per name: {k} sizes for {k} names",
                )
            )
            checks.append(
                n.Require(
                    span,
                    n.Compare(at, "==", start, channels),
                    f"the sizes of split must add up to the channels of '{src.name}'",
                )
            )
        statements: list[n.Stmt] = list(checks)
        for name, lo, hi in zip(names, starts, ends, strict=True):
            link = n.Link(
                "slice",
                (n.Arg(lo, None, at), n.Arg(hi, None, at)),
                None,
                span,
                self._tok_span(func),
            )
            first = n.Link(src.name, None, None, src.span, src.span)
            statements.append(n.Assign(span, name, n.Chain((first, link), span)))
        return tuple(statements)

    def chain_stmt(self, c: list[Any]) -> n.ChainStmt:
        return n.ChainStmt(self._span(c), c[0])

    def fn_def(self, c: list[Any]) -> n.ConstDef:
        name, *params, (consts, result) = c
        params = [p for p in params if p is not None]
        seen: dict[str, n.Param] = {}
        for p in params:
            if p.name in seen:
                raise SpecNameError(
                    f"function '{name}' has two parameters named '{p.name}'",
                    p.span,
                    ["each parameter needs its own name"],
                    notes=[("first declared here", seen[p.name].span)],
                )
            seen[p.name] = p
        span = self._span(c, keyword=True)
        function = n.Function(span, str(name), tuple(params), consts, result)
        return n.ConstDef(span, str(name), self._deep(function, (result,)))

    def fn_body(self, c: list[Any]) -> tuple[tuple[n.ConstDef, ...], n.Expr]:
        consts, result = c
        return tuple(consts or ()), result

    def fn_consts(self, c: list[Any]) -> list[n.ConstDef]:
        if len(c) == 1:
            return [c[0]]
        c[0].append(c[1])
        return c[0]

    def for_target(self, c: list[Any]) -> tuple[tuple[str, ...], bool]:
        return (str(c[0]),), False

    def for_unpack(self, c: list[Any]) -> tuple[tuple[str, ...], bool]:
        return tuple(str(x) for x in c if x is not None), True

    def for_stmt(self, c: list[Any]) -> n.Repeat:
        name, (targets, unpack), word, over, body = c
        if str(word) != "in":
            raise SpecSyntaxError(
                f"expected 'in' after the loop's names, got '{word}'",
                self._tok_span(word),
                ["for (t, c, n, s) in rows { ... }"],
            )
        span = self._span(c)
        count = n.Call(over.span, "len", (n.Arg(over, None, over.span),))
        node = n.Repeat(span, str(name), count, None, body, over, targets, unpack)
        return self._deep(node, body, "statement")

    def repeat_stmt(self, c: list[Any]) -> n.Repeat:
        name, count, index, body = c
        node = n.Repeat(self._span(c), str(name), count, str(index) if index else None, body)
        return self._deep(node, body, "statement")

    def if_stmt(self, c: list[Any]) -> n.If:
        test, then, orelse = c
        if isinstance(orelse, n.If):
            orelse = (orelse,)
        node = n.If(self._span(c, keyword=True), test, then, orelse or ())
        return self._deep(node, (*then, *(orelse or ())), "statement")

    def assert_stmt(self, c: list[Any]) -> n.Assert:
        return n.Assert(self._span(c, keyword=True), c[0], c[1][1:-1] if c[1] else None)

    def chain(self, c: list[Any]) -> n.Chain:
        return n.Chain(tuple(c), self._span(c))

    def link(self, c: list[Any]) -> n.Link:
        name, args, alias = c
        return n.Link(
            str(name),
            args,
            str(alias) if alias else None,
            self._span(c),
            self._tok_span(name),
        )

    def call_args(self, c: list[Any]) -> tuple[n.Arg, ...]:
        args = []
        for a in c:
            if a is None:
                continue
            if isinstance(a, n.Arg):
                args.append(a)
            else:
                args.append(n.Arg(a, None, a.span))
        return tuple(args)

    def named_arg(self, c: list[Any]) -> n.Arg:
        return n.Arg(c[1], str(c[0]), self._span(c))

    # ---------------------------------------------------------------- expressions
    def number(self, c: list[Any]) -> n.Expr:
        tok: Token = c[0]
        span = self._tok_span(tok)
        m = _NUMBER.match(str(tok))
        if not m:
            raise SpecSyntaxError(f"malformed number {str(tok)!r}", span)
        if m["dims"]:
            if m["exp"] or m["suffix"] or not m["num"].isdigit():
                raise SpecSyntaxError(
                    f"malformed shape {str(tok)!r}",
                    span,
                    ["a shape is whole numbers joined by 'x', e.g. 3x224x224"],
                )
            parts = re.split("[x×]", str(tok))
            return n.Dims(span, tuple(_whole(p, span) for p in parts))
        if m["suffix"]:
            if m["exp"]:
                raise SpecSyntaxError(f"malformed number {str(tok)!r}", span)
            try:
                value, is_bytes = parse_quantity(m["num"] + m["suffix"])
            except QuantityError as exc:
                raise SpecSyntaxError(str(exc), span) from None
            return n.Quantity(span, check_number(value, span), str(tok), is_bytes)
        text = m["num"] + (m["exp"] or "")
        if m["num"].isdigit() and not m["exp"]:
            return n.Number(span, _whole(text, span))
        return n.Number(span, check_number(float(text), span))

    def string(self, c: list[Any]) -> n.String:
        return n.String(self._span(c), str(c[0])[1:-1])

    def true(self, c: list[Any]) -> n.Bool:
        return n.Bool(self._tok_span(c[0]), True)

    def false(self, c: list[Any]) -> n.Bool:
        return n.Bool(self._tok_span(c[0]), False)

    def name(self, c: list[Any]) -> n.Name:
        return n.Name(self._span(c), str(c[0]))

    def tuple(self, c: list[Any]) -> n.Tuple:
        items = tuple(x for x in c if x is not None)
        return self._deep(n.Tuple(self._span(c, keyword=True), items), items)

    def flat(self, c: list[Any]) -> n.Expr:
        """Operands and operators in a row (``a + b * c``): arrange them by precedence."""
        return _Climber(self, c).parse()

    def neg(self, c: list[Any]) -> n.UnaryOp:
        return self._deep(n.UnaryOp(self._span(c), "-", c[1]), (c[1],))

    def cond(self, c: list[Any]) -> n.Cond:
        return self._deep(n.Cond(self._span(c), c[1], c[0], c[2]), c)

    def list_literal(self, c: list[Any]) -> n.Tuple:
        items = tuple(x for x in c if x is not None)
        return self._deep(n.Tuple(self._span(c, keyword=True), items), items)

    def index(self, c: list[Any]) -> n.Index:
        return self._deep(n.Index(self._span(c), c[0], c[1]), (c[0], c[1]))

    def attr(self, c: list[Any]) -> n.Attr:
        return self._deep(n.Attr(self._span(c), c[0], str(c[1])), (c[0],))

    def fcall(self, c: list[Any]) -> n.Call:
        args = c[1] or ()
        return self._deep(n.Call(self._span(c), str(c[0]), c[1]), [a.value for a in args])


def _whole(digits: str, span: Span) -> int:
    """A whole-number literal within the integer limit; long ones are refused before ``int()``
    (which would raise for more than 4,300 digits, and is slow well before that)."""
    if len(digits) > 1300:  # 4096 bits, the most int_bits allows, is 1,234 digits
        check_number(10 ** (current_limits().int_bits), span)
    return int(check_number(int(digits), span))


class _Postlex:
    """Drops the newlines that do not end a statement, and remembers token positions.

    A newline is insignificant inside parentheses, after ``->``, ``,``, ``=`` or ``(``, and before a
    line that starts with ``->`` or ``else``.  Runs of newlines collapse into one; the statement
    before a closing ``}`` and at the end of the file gets a newline of its own.

    The tokens handed to the parser are recorded, so the AST builder (which runs inside the LALR
    parser, without a parse tree) can tell where the rule it is building starts and ends.
    """

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.tokens: list[Token] = []
        self.done = False

    def reset(self) -> None:
        self.tokens = []
        self.done = False

    def last_token(self) -> Token:
        """The last token of the rule being reduced (the one before the parser's lookahead)."""
        if self.done or len(self.tokens) < 2:
            return self.tokens[-1]
        return self.tokens[-2]

    def token_before(self, line: int, column: int) -> Token:
        """The token just before the one at (line, column): a rule's leading keyword."""
        i = bisect_left(self.tokens, (line, column), key=_at)
        return self.tokens[max(0, i - 1)]

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        parens = 0
        last: str | None = None
        pending: Token | None = None
        tok: Token | None = None
        emit = self.tokens.append
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if parens > 0 or last in (None, "_NL", "LBRACE", "_ARROW", "COMMA", "EQUAL"):
                    continue
                if pending is None:
                    pending = tok
                continue
            if pending is not None:
                if kind not in ("_ARROW", "ELSE"):
                    emit(pending)
                    yield pending
                    last = "_NL"
                pending = None
            if kind == "RBRACE" and last not in ("_NL", "LBRACE"):
                # "{ x = 1 }": the statement before a closing brace ends there.
                nl = Token.new_borrow_pos("_NL", "", tok)
                emit(nl)
                yield nl
            if kind in ("LPAR", "LSQB"):
                parens += 1
            elif kind in ("RPAR", "RSQB"):
                parens = max(0, parens - 1)
            emit(tok)
            yield tok
            last = kind
        if pending is not None:
            emit(pending)
            yield pending
        elif tok is not None and last not in (None, "_NL"):
            nl = Token.new_borrow_pos("_NL", "", tok)
            emit(nl)
            yield nl
        self.done = True


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Postlex, _ToAST]:
    """The parser, built once.  It runs the AST builder inline (no parse tree): this halves
    parse time on large specs.  Parsing is therefore not re-entrant; archc parses one file at a
    time."""
    grammar = resources.files("archc").joinpath("grammar.lark").read_text(encoding="utf-8")
    postlex = _Postlex()
    builder = _ToAST(postlex)
    cache = table_cache(grammar)
    lark = Lark(
        grammar,
        parser="lalr",
        lexer=ArchLexer,  # one-regex scanner; the post-lexer looks ahead, so not contextual
        postlex=postlex,
        transformer=builder,
        maybe_placeholders=True,
        # the LALR tables, pickled in a private per-user directory (never the shared temp
        # folder: lark unpickles whatever file it finds there); no cache if none is safe
        cache=str(cache) if cache else False,
    )
    if cache:
        _seal(cache)
    return lark, postlex, builder


def cache_dir() -> Path | None:
    """The per-user directory for the parser tables, created ``0700``; ``None`` when there is no
    safe one (``ARCHC_CACHE_DIR=`` empty, no home, someone else owns it, others may write it)."""
    if not hasattr(os, "geteuid"):
        return None
    configured = os.environ.get("ARCHC_CACHE_DIR")
    if configured is not None:
        if not configured:
            return None
        base = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        try:
            base = Path(xdg if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "archc"
        except (RuntimeError, KeyError):
            return None
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(base)
    except OSError:
        return None
    if not _private(info, directory=True):
        return None
    return base


def _private(info: os.stat_result, directory: bool) -> bool:
    kind = stat.S_ISDIR if directory else stat.S_ISREG
    return kind(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def table_cache(grammar: str) -> Path | None:
    """The file lark may load the tables from, or ``None`` when no safe one exists.

    The file is trusted only when it is a regular file (not a link) that this user owns, that
    nobody else may read or write, and whose SHA-256 matches the digest recorded beside it when
    it was written (a half-written or altered file is deleted and rebuilt).
    """
    base = cache_dir()
    if base is None:
        return None
    key = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:32]
    path = base / f"tables-{key}-py{sys.version_info[0]}{sys.version_info[1]}.lark"
    digest = path.with_suffix(".sha256")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError:
        return None
    try:
        recorded = digest.read_text(encoding="ascii").strip()
        sound = _private(info, directory=False) and recorded == _digest(path)
    except (OSError, UnicodeDecodeError):
        sound = False
    if not sound:
        for stale in (path, digest):
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                return None
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seal(path: Path) -> None:
    """After lark wrote (or read) the tables: make them private and record their digest."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return
        os.chmod(path, 0o600)
        value = _digest(path)
        digest = path.with_suffix(".sha256")
        if digest.exists() and digest.read_text(encoding="ascii").strip() == value:
            return
        tmp = digest.with_name(f"{digest.name}.{os.getpid()}.tmp")
        tmp.write_text(value + "\n", encoding="ascii")
        os.chmod(tmp, 0o600)
        os.replace(tmp, digest)
    except (OSError, UnicodeDecodeError):
        pass


# Terminals that only continue an expression; listed together as "an operator".
_OPERATORS = {
    "PLUS",
    "MINUS",
    "STAR",
    "SLASH",
    "PERCENT",
    "COMP_OP",
    "AND",
    "OR",
    "IF",
    "DOT",
    "DSLASH",
    "LSQB",  # indexing, t[i], continues an expression like an operator
    "RSQB",
}


# Binary operator precedence, as in Python.  ``not`` (a prefix) sits between "and" and the
# comparisons: its operand takes everything that binds tighter than _NOT_PREC.
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "//": 6,
    "%": 6,
}
_NOT_PREC = 3


class _Climber:
    """Precedence climbing over one flat run of operands, operators and ``not`` prefixes."""

    def __init__(self, builder: _ToAST, items: list[Any]) -> None:
        self.file = builder.file
        self.deep = builder._deep
        self.items = items
        self.pos = 0
        self.nots = 0  # 'not's nested at this point: each is one level of recursion here
        self.max_nots = builder.limits.expression_depth

    def parse(self) -> n.Expr:
        expr = self._expr(0)
        assert self.pos == len(self.items)
        return expr

    def _join(self, left: n.Expr, right: n.Expr) -> Span:
        a, b = left.span, right.span
        return Span(self.file, a.line, a.column, b.end_line, b.end_column)

    def _expr(self, min_prec: int, after_not: bool = False) -> n.Expr:
        item = self.items[self.pos]
        self.pos += 1
        left: n.Expr
        if isinstance(item, Token) and item.type == "NOT":
            if min_prec > _NOT_PREC and not after_not:
                raise SpecSyntaxError(
                    "'not' needs parentheses here",
                    _token_span(self.file, item),
                )
            self.nots += 1
            if self.nots > self.max_nots:
                raise SpecValueError(
                    f"expression nested too deeply: more than {self.max_nots} levels",
                    _token_span(self.file, item),
                    [current_limits().hint("expression_depth")],
                )
            operand = self._expr(_NOT_PREC + 1, after_not=True)
            self.nots -= 1
            start = Span(self.file, *_at(item))
            left = n.UnaryOp(
                Span(
                    self.file,
                    start.line,
                    start.column,
                    operand.span.end_line,
                    operand.span.end_column,
                ),
                "not",
                operand,
            )
            self.deep(left, (operand,))
        else:
            left = item
        compared = False
        while self.pos < len(self.items):
            op = str(self.items[self.pos])
            prec = _PRECEDENCE[op]
            if prec < min_prec:
                break
            tok = self.items[self.pos]
            if prec == _PRECEDENCE["=="]:
                if compared:
                    raise SpecSyntaxError(
                        "chained comparisons are not supported; join them with 'and'",
                        Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column),
                    )
                compared = True
            self.pos += 1
            right = self._expr(prec + 1)
            span = self._join(left, right)
            kids = (left, right)
            if prec == _PRECEDENCE["=="]:
                left = self.deep(n.Compare(span, op, left, right), kids)
            else:
                left = self.deep(n.BinOp(span, op, left, right), kids)
        return left


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    operators = bool(names & _OPERATORS) or any(t.startswith("__") for t in names)
    names -= _OPERATORS
    words = sorted({_TERMINAL_WORDS.get(t, _keyword(t)) for t in names if not t.startswith("__")})
    if operators and words:
        words.append("an operator")
    if not words:
        return ""
    if len(words) > 8:
        words = [*words[:8], "..."]
    return "expected " + (
        ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
    )


def _keyword(terminal: str) -> str:
    return f"'{terminal.lower()}'" if terminal.isalpha() else terminal


def _describe_token(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of file"
    return f"{str(tok)!r}"


def parse(text: str, file: str) -> n.Module:
    """Parse one file's text into an AST :class:`~archc.nodes.Module`."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark, as some editors write
    register_source(file, text)
    if not text.strip():
        raise SpecSyntaxError(
            "empty spec", Span(file, 1, 1), ["a spec defines a network: network NAME { ... }"]
        )
    lark, positions, builder = _parser()
    positions.reset()
    builder.reset(file)
    try:
        module = lark.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file) from None
    except VisitError as exc:  # an ArchError raised while building the AST
        if isinstance(exc.orig_exc, ArchError):
            raise exc.orig_exc from None
        raise
    assert isinstance(module, n.Module)
    return module


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> SpecSyntaxError:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    if not isinstance(line, int) or line < 1:
        lines = split_lines(text) or [""]
        line, column = len(lines), len(lines[-1]) + 1
    span = Span(file, line, column or 1)
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        return SpecSyntaxError(
            f"unexpected character {ch!r}",
            span,
            [
                "names are letters, digits and '_'; layers are joined with '->'; '#' starts a comment"
            ],
        )
    if isinstance(exc, UnexpectedEOF):
        return SpecSyntaxError(
            "unexpected end of file", span, [_describe_expected(set(exc.expected)), _unclosed(text)]
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    if tok.type == "$END":
        return SpecSyntaxError(
            "unexpected end of file", span, [_describe_expected(exc.expected), _unclosed(text)]
        )
    if tok.line and tok.end_column:
        span = Span(file, tok.line, tok.column, tok.end_line, tok.end_column)
    hints = [_describe_expected(exc.expected)]
    if tok.type == "NAME" and "_ARROW" in exc.expected:
        hints.append("layers in a chain are joined with '->'")
    if "RPAR" in exc.expected:
        hints.append(_unclosed_paren(text, tok.line or 1, tok.column or 1))
    return SpecSyntaxError(f"unexpected {_describe_token(tok)}", span, hints)


def _unclosed_paren(text: str, line: int, column: int) -> str:
    """Where the innermost '(' still open at (line, column) was opened."""
    lines = split_lines(text)
    stack: list[tuple[int, int]] = []
    for i, row in enumerate(lines[:line], start=1):
        row = row.split("#", 1)[0]
        limit = column - 1 if i == line else len(row)
        for j, ch in enumerate(row[:limit], start=1):
            if ch == "(":
                stack.append((i, j))
            elif ch == ")" and stack:
                stack.pop()
    if not stack:
        return ""
    at_line, at_col = stack[-1]
    return f"the '(' at line {at_line}, column {at_col} is not closed"


def _unclosed(text: str) -> str:
    depth = text.count("{") - text.count("}")
    if depth > 0:
        return f"{depth} '{{' not closed"
    return ""
