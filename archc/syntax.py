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
import stat
import sys
from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from archc import nodes as n
from archc.ast_builder import AstBuilder, token_position
from archc.errors import ArchError, SpecSyntaxError
from archc.lexer import ArchLexer
from archc.source import Span, register_source, split_lines

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
        i = bisect_left(self.tokens, (line, column), key=token_position)
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
def _parser() -> tuple[Lark, _Postlex, AstBuilder]:
    """The parser, built once.  It runs the AST builder inline (no parse tree): this halves
    parse time on large specs.  Parsing is therefore not re-entrant; archc parses one file at a
    time."""
    grammar = resources.files("archc").joinpath("grammar.lark").read_text(encoding="utf-8")
    postlex = _Postlex()
    builder = AstBuilder(postlex)
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
