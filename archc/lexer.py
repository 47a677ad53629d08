"""A fast tokenizer for the ``.arch`` grammar, plugged into lark as a custom lexer.

Lark's general-purpose lexer costs about a third of parse time on large specs; this one scans
with a single compiled regular expression.  It is still driven by the grammar: keyword and
punctuation token types come from the string terminals lark derived from ``grammar.lark``, and
the regex terminals (``NUMBER``, ``NAME``, ``STRING``, ``COMMENT``, ``_NL``, ``COMP_OP``) are
re-read from the grammar too, so the two cannot drift apart silently: a test compares this
lexer's tokens with lark's own basic lexer on every shipped spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer

# regex terminals, in match order; whitespace and comments are skipped
_REGEX_ORDER = ("_NL", "NUMBER", "NAME", "STRING", "COMMENT", "COMP_OP")
_SKIP = frozenset({"COMMENT", "WS"})


class ArchLexer(Lexer):
    """Single-regex scanner producing lark tokens with line and column positions."""

    __future_interface__ = 1

    def __init__(self, lexer_conf: Any) -> None:
        literals: dict[str, str] = {}
        patterns: dict[str, str] = {}
        for term in lexer_conf.terminals:
            if term.pattern.type == "str":
                literals[term.pattern.value] = term.name
            else:
                patterns[term.name] = term.pattern.to_regexp()
        self.keywords = {v: k for v, k in literals.items() if v.isidentifier()}
        symbols = sorted((v for v in literals if not v.isidentifier()), key=len, reverse=True)
        self.symbols = {v: literals[v] for v in symbols}
        parts = [f"(?P<{name}>{patterns[name]})" for name in _REGEX_ORDER if name in patterns]
        parts.insert(1, r"(?P<WS>[\t \f]+)")
        parts.append("(?P<SYM>" + "|".join(re.escape(s) for s in symbols) + ")")
        # ASCII: only 0-9 are digits (\d would take '৪' for a number)
        self.scanner = re.compile("|".join(parts), re.ASCII)

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:
        text = lexer_state.text
        if not isinstance(text, str):
            text = text.text
        match = self.scanner.match
        keywords, symbols = self.keywords, self.symbols
        pos, end = 0, len(text)
        line, line_start = 1, 0
        while pos < end:
            m = match(text, pos)
            if m is None:
                raise UnexpectedCharacters(  # type: ignore[no-untyped-call]
                    text, pos, line, pos - line_start + 1
                )
            kind = m.lastgroup or ""
            value = m.group()
            stop = m.end()
            column = pos - line_start + 1
            if kind == "_NL":
                newlines = value.count("\n")
                end_line = line + newlines
                end_column = len(value) - value.rfind("\n")
                yield Token("_NL", value, pos, line, column, end_line, end_column, stop)
                line, line_start = end_line, pos + value.rfind("\n") + 1
            elif kind not in _SKIP:
                if kind == "NAME":
                    kind = keywords.get(value, "NAME")
                elif kind == "SYM":
                    kind = symbols[value]
                yield Token(kind, value, pos, line, column, line, column + stop - pos, stop)
            pos = stop
