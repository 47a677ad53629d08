"""The spec formatter: a parsed ``.arch`` file written back as canonical text.

``archc fmt`` and the importers (``archc import``) write specs through :func:`format_source`.
The text is rebuilt from the AST, so spacing, operators, parentheses and argument lists are
canonical; what the AST does not hold is taken from the source: comments (kept on their line, or
at the end of the line of the statement they ended), one blank line where the source had one or
more, literals as written (``3×224×224``, ``1e-4``, ``7M``), ``[...]`` against ``(...)``, and where
a long chain was broken at ``->`` or a list was written one item per line.  Rows of a table (a
multi-line list of tuples) and runs of calls to one block (``inception_3a = inception(64, ...)``
line after line) are aligned as columns.  Formatting is idempotent and never changes what a spec
means: ``tests/test_fmt.py`` checks both on every shipped spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from archc import nodes as n
from archc.ast_builder import PRECEDENCE
from archc.source import split_lines
from archc.syntax import parse

WIDTH = 100  # a line longer than this is broken where the language allows (chains, lists)
INDENT = "    "

# Binding strength of each expression form, as the parser arranges them (Python's order).
_PREC = PRECEDENCE  # the parser's own table: formatting must parse back the same
_COND, _NOT, _COMPARE, _NEG, _ATOM = 0, 3, 4, 7, 8


@dataclass
class _Comment:
    line: int
    text: str
    own_line: bool  # nothing but the comment on its line


def _scan_comments(lines: Sequence[str]) -> dict[int, _Comment]:
    """Every comment by line: ``#`` outside a string (strings never span lines)."""
    found: dict[int, _Comment] = {}
    for number, line in enumerate(lines, start=1):
        quoted = False
        for col, ch in enumerate(line):
            if ch == '"':
                quoted = not quoted
            elif ch == "#" and not quoted:
                text = line[col:].rstrip()
                found[number] = _Comment(number, text, not line[:col].strip())
                break
    return found


def _widened(canonical: str, source: str) -> bool:
    """Whether ``source`` is ``canonical`` with some of its gaps widened (or spaces after an
    opening bracket): alignment, not a different spelling."""
    i = j = 0
    while i < len(canonical) and j < len(source):
        if canonical[i] == source[j]:
            i += 1
            j += 1
        elif source[j] == " " and j > 0 and (source[j - 1] in " ([" or canonical[i] == " "):
            j += 1
        else:
            return False
    return i == len(canonical) and j == len(source)


def _prec(expr: n.Expr) -> int:
    if isinstance(expr, n.Cond):
        return _COND
    if isinstance(expr, n.BinOp):
        return _PREC[expr.op]
    if isinstance(expr, n.Compare):
        return _COMPARE
    if isinstance(expr, n.UnaryOp):
        return _NOT if expr.op == "not" else _NEG
    return _ATOM


class _Writer:
    """Writes one module; holds the source for literals, comments and blank lines."""

    def __init__(self, text: str, keep_spacing: bool = True) -> None:
        self.keep_spacing = keep_spacing
        self.lines = split_lines(text)
        self.comments = _scan_comments(self.lines)
        self.blank = {i for i, line in enumerate(self.lines, start=1) if not line.strip()}
        self.out: list[str] = []
        self.cursor = 0  # the last source line written out (comments included)

    # ---------------------------------------------------------------- source helpers
    def _source(self, span: object) -> str | None:
        line, col = getattr(span, "line", 0), getattr(span, "column", 0)
        end_line, end_col = getattr(span, "end_line", None), getattr(span, "end_column", None)
        if not line or end_line != line or not end_col or line > len(self.lines):
            return None
        return self.lines[line - 1][col - 1 : end_col - 1]

    def _opens_with(self, expr: n.Expr) -> str:
        line, col = expr.span.line, expr.span.column
        if 1 <= line <= len(self.lines) and 1 <= col <= len(self.lines[line - 1]):
            return self.lines[line - 1][col - 1]
        return "("

    # ---------------------------------------------------------------- comments and spacing
    def _gap_since(self, line: int) -> bool:
        return any(i in self.blank for i in range(self.cursor + 1, line))

    def lead(self, line: int, indent: str, blank: bool | None = None) -> None:
        """Own-line comments before source line ``line``, and a blank line where there was one."""
        first = True
        for number in range(self.cursor + 1, line):
            comment = self.comments.get(number)
            if comment is None or not comment.own_line:
                continue
            self._blank_before(number, blank if first else None)
            first = False
            self.out.append(indent + comment.text)
            self.cursor = number
        self._blank_before(line, blank if first else None)

    def _blank_before(self, line: int, force: bool | None) -> None:
        want = self._gap_since(line) if force is None else force
        if want and self.out and self.out[-1] != "" and not self.out[-1].endswith("{"):
            self.out.append("")

    def emit(self, lines: list[str], first: int, last: int, indent: str) -> None:
        """Output lines for the source lines ``first``..``last``; their comments follow."""
        inner = [
            self.comments[i]
            for i in range(max(first, self.cursor + 1), last + 1)
            if i in self.comments
        ]
        for comment in inner:
            if comment.own_line and comment.line > first:
                self.out.append(indent + comment.text)
        if self.keep_spacing and len(lines) == 1 and first == last and first <= len(self.lines):
            lines = [self._authors_spacing(lines[0], first)]
        trailing = [c for c in inner if not c.own_line]
        if trailing:
            column = 0
            if self.keep_spacing and len(trailing) == 1:
                column = self.lines[trailing[0].line - 1].index(trailing[0].text)
            code = lines[-1]
            code = code + " " * max(2, column - len(code))
            lines = [*lines[:-1], code + " ".join(c.text for c in trailing)]
        self.out.extend(lines)
        self.cursor = max(self.cursor, last)

    def _authors_spacing(self, line: str, number: int) -> str:
        """``line`` as the source wrote it, when it differs from it only in spacing (columns
        aligned by hand: a table of block calls, padded repeat counts)."""
        source = self.lines[number - 1]
        comment = self.comments.get(number)
        if comment is not None:
            source = source[: source.index(comment.text)]
        source = source.rstrip()
        indent = line[: len(line) - len(line.lstrip())]
        if '"' not in line and _widened(line.strip(), source.strip()):
            return indent + source.strip()
        return line

    # ---------------------------------------------------------------- expressions
    def expr(self, e: n.Expr) -> str:
        if isinstance(e, n.Number):
            text = self._source(e.span)
            if text is not None and not text.startswith(("-", "(")):
                return text
            return repr(e.value)
        if isinstance(e, n.Quantity):
            return e.text
        if isinstance(e, n.Dims):
            return self._source(e.span) or "x".join(str(v) for v in e.values)
        if isinstance(e, n.String):
            return f'"{e.value}"'
        if isinstance(e, n.Bool):
            return "true" if e.value else "false"
        if isinstance(e, n.Name):
            return e.name
        if isinstance(e, n.Tuple):
            items = ", ".join(self.expr(x) for x in e.items)
            if self._opens_with(e) == "[":
                return f"[{items}]"
            return f"({items},)" if len(e.items) == 1 else f"({items})"
        if isinstance(e, n.Index):
            return f"{self._operand(e.value, _ATOM)}[{self.expr(e.index)}]"
        if isinstance(e, n.Attr):
            return f"{self._operand(e.value, _ATOM)}.{e.name}"
        if isinstance(e, n.Call):
            return f"{e.func}({self.args(e.args)})"
        if isinstance(e, n.UnaryOp):
            if e.op == "not":
                return f"not {self._operand(e.operand, _NOT)}"
            return f"-{self._operand(e.operand, _NEG)}"
        if isinstance(e, n.BinOp | n.Compare):
            p = _PREC[e.op]
            right_min = p + 1
            left_min = p + 1 if isinstance(e, n.Compare) else p
            return f"{self._operand(e.left, left_min)} {e.op} {self._operand(e.right, right_min)}"
        if isinstance(e, n.Cond):
            then = self._operand(e.then, _COND + 1)
            test = self._operand(e.test, _COND + 1)
            return f"{then} if {test} else {self.expr(e.orelse)}"
        raise TypeError(f"cannot format {type(e).__name__}")

    def _operand(self, e: n.Expr, least: int) -> str:
        text = self.expr(e)
        return f"({text})" if _prec(e) < least else text

    def args(self, args: Iterable[n.Arg]) -> str:
        return ", ".join(
            self.expr(a.value) if a.name is None else f"{a.name}={self.expr(a.value)}" for a in args
        )

    def link(self, link: n.Link) -> str:
        text = link.name if link.args is None else f"{link.name}({self.args(link.args)})"
        return f"{text} as {link.alias}" if link.alias else text

    def chain(self, chain: n.Chain, head: str, indent: str) -> list[str]:
        """``head`` + the chain; broken before ``->`` where the source broke it or the line is
        too long, continuation lines aligned under the first ``->``."""
        parts = [self.link(x) for x in chain.links]
        text = head + " -> ".join(parts)
        if len(chain.links) < 2:
            return [text] if len(text) <= WIDTH else self._wrap_args(chain.links[0], head)
        breaks = {
            i
            for i in range(1, len(chain.links))
            if chain.links[i].span.line > (chain.links[i - 1].span.end_line or 0)
        }
        if not breaks and len(text) <= WIDTH:
            return [text]
        lines = [head + parts[0]]
        if not head.strip():
            pad = indent + INDENT
        elif chain.links[0].args is None and len(chain.links[0].name) <= 8:
            pad = " " * (len(lines[0]) + 1)  # under the first '->': y = in -> ...
        else:
            pad = " " * len(head)  # under the first layer
        for i, part in enumerate(parts[1:], start=1):
            if i in breaks or len(lines[-1]) + 4 + len(part) > WIDTH:
                lines.append(f"{pad}-> {part}")
            else:
                lines[-1] += f" -> {part}"
        return lines

    def _wrap_args(self, link: n.Link, head: str) -> list[str]:
        """One call too long for a line: its arguments filled under the opening parenthesis."""
        if not link.args:
            return [head + self.link(link)]
        opening = f"{head}{link.name}("
        pieces = [
            self.expr(a.value) if a.name is None else f"{a.name}={self.expr(a.value)}"
            for a in link.args
        ]
        pieces[-1] += ")" + (f" as {link.alias}" if link.alias else "")
        lines = [opening + pieces[0]]
        pad = " " * len(opening)
        for piece in pieces[1:]:
            if len(lines[-1]) + 2 + len(piece) > WIDTH:
                lines[-1] += ","
                lines.append(pad + piece)
            else:
                lines[-1] += ", " + piece
        return lines

    # ---------------------------------------------------------------- statements
    def body(self, stmts: Sequence[n.Stmt], indent: str, end_line: int) -> None:
        i = 0
        while i < len(stmts):
            same = self._desugared(stmts, i)
            if same:
                self._verbatim(stmts[i].span, indent)
                i += same
                continue
            run = [] if self.keep_spacing else self._table_run(stmts, i)
            if len(run) > 1:
                self._aligned_calls(run, indent)
                i += len(run)
                continue
            self.stmt(stmts[i], indent)
            i += 1
        self._tail(end_line, indent)

    @staticmethod
    def _desugared(stmts: Sequence[n.Stmt], i: int) -> int:
        """How many statements from ``i`` the parser made of one written statement (``a, b = x
        -> chunk(2)`` is a check and an assignment per name, all with its span); 0 if one."""
        key = (stmts[i].span.line, stmts[i].span.column, stmts[i].span.end_line)
        k = i
        while (
            k < len(stmts)
            and (stmts[k].span.line, stmts[k].span.column, stmts[k].span.end_line) == key
        ):
            k += 1
        return k - i if k - i > 1 or isinstance(stmts[i], n.Require) else 0

    def _verbatim(self, span: object, indent: str) -> None:
        """A statement the AST no longer holds as written: its source text, re-indented."""
        first = getattr(span, "line", 1)
        last = getattr(span, "end_line", None) or first
        self.lead(first, indent)
        source = self.lines[first - 1 : last]
        comment = self.comments.get(last)
        if comment is not None and not comment.own_line:
            source[-1] = source[-1][: source[-1].index(comment.text)].rstrip()
        base = len(source[0]) - len(source[0].lstrip())
        lines = [indent + line[base:].rstrip() if line.strip() else "" for line in source]
        lines[0] = indent + source[0].strip()
        self.emit(lines, first, last, indent)

    def _tail(self, end_line: int, indent: str) -> None:
        """Own-line comments at the end of a body, before its ``}``."""
        for number in range(self.cursor + 1, end_line):
            comment = self.comments.get(number)
            if comment is not None and comment.own_line:
                self._blank_before(number, None)
                self.out.append(indent + comment.text)
                self.cursor = number

    def stmt(self, s: n.Stmt, indent: str) -> None:
        first, last = s.span.line, s.span.end_line or s.span.line
        self.lead(first, indent)
        if isinstance(s, n.InputDecl):
            self.emit([f"{indent}input {s.name}: {self.expr(s.shape)}"], first, last, indent)
        elif isinstance(s, n.Output):
            head = f"{indent}output {s.name}"
            lines = [head] if s.chain is None else self.chain(s.chain, head + " = ", indent)
            self.emit(lines, first, last, indent)
        elif isinstance(s, n.Assign):
            self.emit(self.chain(s.chain, f"{indent}{s.name} = ", indent), first, last, indent)
        elif isinstance(s, n.ChainStmt):
            self.emit(self.chain(s.chain, indent, indent), first, last, indent)
        elif isinstance(s, n.ConstDef):
            self.const(s, indent)
        elif isinstance(s, n.Repeat):
            self.repeat(s, indent)
        elif isinstance(s, n.If):
            self.if_(s, indent, indent + "if ")
        elif isinstance(s, n.Assert):
            message = f', "{s.message}"' if s.message is not None else ""
            self.emit([f"{indent}assert {self.expr(s.test)}{message}"], first, last, indent)
        else:  # pragma: no cover - the AST has no other statements
            raise TypeError(f"cannot format {type(s).__name__}")

    def const(self, s: n.ConstDef, indent: str) -> None:
        first, last = s.span.line, s.span.end_line or s.span.line
        value = s.value
        if isinstance(value, n.Function):
            params = self.params(value.params)
            self.emit([f"{indent}fn {s.name}({params}) {{"], first, first, indent)
            for c in value.consts:
                self.stmt(c, indent + INDENT)
            self.lead(value.result.span.line, indent + INDENT)
            line = value.result.span.end_line or value.result.span.line
            self.emit([indent + INDENT + self.expr(value.result)], line, line, indent + INDENT)
            self._tail(last, indent + INDENT)
            self.emit([f"{indent}}}"], last, last, indent)
            return
        head = f"{indent}const {s.name} = "
        if isinstance(value, n.Tuple) and self._one_per_line(value, len(head)):
            self.emit([head + ("[" if self._opens_with(value) == "[" else "(")], first, first, "")
            self.rows(value, indent + INDENT)
            self.lead(last, indent)
            close = "]" if self._opens_with(value) == "[" else ")"
            self.emit([indent + close], last, last, indent)
            return
        self.emit([head + self.expr(value)], first, last, indent)

    def _one_per_line(self, value: n.Tuple, start: int) -> bool:
        if not value.items:
            return False
        multi = value.items[0].span.line > value.span.line
        return multi or start + len(self.expr(value)) > WIDTH

    def rows(self, table: n.Tuple, indent: str) -> None:
        """A list one item per line; rows that are tuples of one length aligned as columns."""
        cells: list[list[str]] | None = None
        items = table.items
        if items and all(isinstance(x, n.Tuple) for x in items):
            tuples = [x for x in items if isinstance(x, n.Tuple)]
            if len({len(t.items) for t in tuples}) == 1:
                cells = [[self.expr(v) for v in t.items] for t in tuples]
        widths = [max(len(c) for c in col) for col in zip(*cells, strict=True)] if cells else []
        for k, item in enumerate(items):
            line = item.span.line
            self.lead(line, indent, blank=False)
            if cells is not None:
                row = cells[k]
                parts = [c.rjust(w) for c, w in zip(row, widths, strict=True)]
                open_, close = ("[", "]") if self._opens_with(item) == "[" else ("(", ")")
                comma = "," if len(row) == 1 and open_ == "(" else ""
                text = open_ + ", ".join(parts) + comma + close
            else:
                text = self.expr(item)
            end = item.span.end_line or line
            self.emit([f"{indent}{text},"], line, end, indent)

    def params(self, params: Iterable[n.Param]) -> str:
        return ", ".join(
            p.name if p.default is None else f"{p.name}={self.expr(p.default)}" for p in params
        )

    def repeat(self, s: n.Repeat, indent: str) -> None:
        first, last = s.span.line, s.span.end_line or s.span.line
        if s.over is None:
            head = f"{indent}{s.name} = repeat {self.expr(s.count)}"
            head += f" as {s.index}" if s.index else ""
        else:
            targets = f"({', '.join(s.targets)})" if s.unpack else s.targets[0]
            head = f"{indent}{s.name} = for {targets} in {self.expr(s.over)}"
            head += f" as {s.index}" if s.index else ""
        if len(s.body) == 1 and first == last and isinstance(s.body[0], n.Assign | n.ChainStmt):
            inner = s.body[0]
            start = f"{inner.name} = " if isinstance(inner, n.Assign) else ""
            lines = self.chain(inner.chain, start, "")
            if len(lines) == 1 and len(head) + len(lines[0]) + 6 <= WIDTH:
                self.emit([f"{head} {{ {lines[0]} }}"], first, last, indent)
                return
        self.emit([head + " {"], first, first, indent)
        self.body(s.body, indent + INDENT, last)
        self.emit([indent + "}"], last, last, indent)

    def if_(self, s: n.If, indent: str, head: str) -> None:
        first = s.span.line
        self.emit([f"{head}{self.expr(s.test)} {{"], first, first, indent)
        then_end = s.orelse[0].span.line if s.orelse else (s.span.end_line or first)
        self.body(s.then, indent + INDENT, then_end)
        if not s.orelse:
            last = s.span.end_line or first
            self.emit([indent + "}"], last, last, indent)
            return
        if len(s.orelse) == 1 and isinstance(s.orelse[0], n.If):
            self.if_(s.orelse[0], indent, f"{indent}}} else if ")
            return
        else_line = max(self.cursor, then_end - 1)
        self.out.append(indent + "} else {")
        self.cursor = max(self.cursor, else_line)
        last = s.span.end_line or first
        self.body(s.orelse, indent + INDENT, last)
        self.emit([indent + "}"], last, last, indent)

    # ---------------------------------------------------------------- aligned block calls
    def _table_run(self, stmts: Sequence[n.Stmt], i: int) -> list[n.Assign]:
        """Consecutive ``name = block(literal, ...)`` lines of one block and argument layout."""

        def key(s: n.Stmt) -> tuple[object, ...] | None:
            if not isinstance(s, n.Assign) or len(s.chain.links) != 1:
                return None
            link = s.chain.links[0]
            if link.args is None or link.alias or s.span.end_line != s.span.line:
                return None
            if not all(isinstance(a.value, n.Number | n.UnaryOp) for a in link.args):
                return None
            return (link.name, tuple(a.name for a in link.args))

        first = key(stmts[i])
        if first is None:
            return []
        run: list[n.Assign] = []
        for s in stmts[i:]:
            if key(s) != first or (run and self._interrupted(run[-1].span.line, s.span.line)):
                break
            assert isinstance(s, n.Assign)
            run.append(s)
        return run

    def _interrupted(self, before: int, line: int) -> bool:
        return any(i in self.blank or i in self.comments for i in range(before + 1, line))

    def _aligned_calls(self, run: list[n.Assign], indent: str) -> None:
        names = max(len(s.name) for s in run)
        cells = [
            [
                self.expr(a.value) if a.name is None else f"{a.name}={self.expr(a.value)}"
                for a in s.chain.links[0].args or ()
            ]
            for s in run
        ]
        widths = [max(len(c) for c in col) for col in zip(*cells, strict=True)]
        for s, row in zip(run, cells, strict=True):
            link = s.chain.links[0]
            parts = []
            for k, (a, cell) in enumerate(zip(link.args or (), row, strict=True)):
                if a.name is None:
                    parts.append(cell.rjust(widths[k]))
                else:
                    parts.append(cell if k == len(row) - 1 else cell.ljust(widths[k]))
            text = f"{indent}{s.name.ljust(names)} = {link.name}({', '.join(parts)})"
            self.lead(s.span.line, indent)
            self.emit([text], s.span.line, s.span.line, indent)

    # ---------------------------------------------------------------- top level
    def module(self, module: n.Module) -> str:
        items: list[n.Include | n.ConstDef | n.BlockDef | n.NetworkDef] = [
            *module.includes,
            *module.consts,
            *module.blocks,
            *module.networks,
        ]
        items.sort(key=lambda x: (x.span.line, x.span.column))
        previous: object = None
        for item in items:
            big = isinstance(item, n.BlockDef | n.NetworkDef) or (
                isinstance(item, n.ConstDef) and isinstance(item.value, n.Function)
            )
            prev_big = previous is not None and (
                isinstance(previous, n.BlockDef | n.NetworkDef)
                or (isinstance(previous, n.ConstDef) and isinstance(previous.value, n.Function))
            )
            kind_changed = previous is not None and type(previous) is not type(item)
            force = True if (big or prev_big or kind_changed) and previous is not None else None
            self.lead(item.span.line, "", blank=force)
            if isinstance(item, n.Include):
                self.emit([f'include "{item.path}"'], item.span.line, item.span.line, "")
            elif isinstance(item, n.ConstDef):
                self.const(item, "")
            elif isinstance(item, n.BlockDef):
                last = item.span.end_line or item.span.line
                header = f"block {item.name}({self.params(item.params)}) {{"
                self.emit([header], item.span.line, item.span.line, "")
                self.body(item.body, INDENT, last)
                self.emit(["}"], last, last, "")
            else:
                last = item.span.end_line or item.span.line
                self.emit([f"network {item.name} {{"], item.span.line, item.span.line, "")
                self.body(item.body, INDENT, last)
                self.emit(["}"], last, last, "")
            previous = item
        self._tail(len(self.lines) + 1, "")
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(line.rstrip() for line in self.out) + "\n"


def format_source(text: str, file: str = "<spec>", keep_spacing: bool = True) -> str:
    """``text`` (a whole ``.arch`` file) formatted canonically; raises the parser's
    :class:`~archc.errors.SpecSyntaxError` when it does not parse.

    ``keep_spacing`` keeps a line's spacing (and a trailing comment's column) where the line
    differs from the canonical one only in spaces: hand-aligned tables stay aligned.  The
    importers pass False: their text is canonical through and through."""
    text = text.removeprefix("\ufeff")
    module = parse(text, file)
    return _Writer(text, keep_spacing).module(module)


__all__ = ["WIDTH", "format_source"]
