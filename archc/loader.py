"""Reading spec files and resolving ``include``s into one :class:`Program`.

Includes are relative to the including file.  A file reached twice (a diamond) is read once; a
file that includes itself, directly or not, is an error that shows the cycle.  Included files
contribute constants and blocks; the main file holds the one network.

A spec is untrusted input (docs/security.md), so an include may only name a regular file (not
``/dev/zero``, a FIFO or a directory) of at most ``include_bytes``, inside the main spec's
directory or a directory allowed with ``--include-path`` (:func:`use_include_paths`), at most
``include_depth`` includes deep.  Links are followed before the check, so a link cannot lead out.
"""

from __future__ import annotations

import contextvars
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from archc import nodes as n
from archc.errors import IncludeError, SourceError, SpecNameError, SpecSyntaxError
from archc.fileio import note_input
from archc.limits import current as current_limits
from archc.ops import lookup
from archc.source import Span, display_name
from archc.syntax import parse


@dataclass
class Program:
    """Everything elaboration needs: the network, and all constants and blocks in scope."""

    network: n.NetworkDef
    consts: list[n.ConstDef] = field(default_factory=list)
    blocks: dict[str, n.BlockDef] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file read, main first


_INCLUDE_PATHS: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "archc_include_paths", default=()
)


@contextmanager
def use_include_paths(paths: Iterable[str | Path]) -> Iterator[None]:
    """Allow includes from ``paths`` (directories) too, inside the ``with`` block."""
    token = _INCLUDE_PATHS.set(tuple(Path(p).resolve() for p in paths))
    try:
        yield
    finally:
        _INCLUDE_PATHS.reset(token)


def read_text(path: Path, span: Span | None = None, regular_only: bool = False) -> str:
    """A spec file's text, or a :class:`SourceError` that says why it cannot be one.

    At most ``include_bytes`` are read, so ``/dev/zero`` or an endless pipe stops there; with
    ``regular_only`` (an include), anything but a regular file is refused before it is read,
    and opening does not wait on a FIFO.
    """
    shown = display_name(path)
    if not path.exists():
        raise SourceError(f"no such file: {shown}", span)
    if path.is_dir():
        raise SourceError(f"{shown} is a directory, not a .arch file", span)
    limits = current_limits()
    try:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) if regular_only else os.O_RDONLY
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            if regular_only and not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise SourceError(
                    f"{shown} is not a regular file",
                    span,
                    ["an include names a .arch file, not a device, FIFO or socket"],
                )
            data = fh.read(limits.include_bytes + 1)
        note_input(path)  # archc will not write over a file it read in this run
    except OSError as exc:
        raise SourceError(f"cannot read {shown}: {exc.strerror or exc}", span) from None
    if len(data) > limits.include_bytes:
        raise SourceError(
            f"{shown} is larger than {limits.include_bytes:,} bytes",
            span,
            [limits.hint("include_bytes")],
        )
    if b"\0" in data:
        raise SourceError(f"{shown} is a binary file, not a .arch spec", span)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{shown} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", span
        ) from None


class Reader(Protocol):
    """Where spec text comes from: the working tree by default; ``archc diff --rev`` reads a git
    revision instead.  ``name`` is how a file is called in spans and messages."""

    def read(self, path: Path, span: Span | None) -> str: ...

    def name(self, path: Path) -> str: ...


class FileReader:
    """The default :class:`Reader`: files on disk, named relative to the working directory."""

    def read(self, path: Path, span: Span | None) -> str:
        # the main spec may be a pipe (archc analyze <(gen)); an include must be a regular file
        return read_text(path, span, regular_only=span is not None)

    def name(self, path: Path) -> str:
        return display_name(path)


def load_program(
    path: str | Path, text: str | None = None, reader: Reader | None = None
) -> Program:
    """Parse ``path`` (or ``text`` standing for it) and everything it includes.

    ``reader`` supplies file text and names (default: the file system, :class:`FileReader`).
    """
    reader = reader or FileReader()
    main_path = Path(path)
    main_name = reader.name(main_path)
    if text is None:
        text = reader.read(main_path, None)
    main = parse(text, main_name)
    consts: list[n.ConstDef] = []
    blocks: dict[str, n.BlockDef] = {}
    files = [main_name]
    seen: set[Path] = set()
    limits = current_limits()
    roots = (main_path.resolve().parent, *_INCLUDE_PATHS.get())

    def visit(module: n.Module, here: Path, stack: list[Path]) -> None:
        for inc in module.includes:
            try:
                target = (here.parent / inc.path).resolve()
            except (OSError, RuntimeError, ValueError) as exc:
                raise IncludeError(
                    f"cannot resolve include '{inc.path}': {exc}", inc.span
                ) from None
            if not any(target.is_relative_to(root) for root in roots):
                raise IncludeError(
                    f"include '{inc.path}' is outside the spec's directory "
                    f"{display_name(roots[0])}",
                    inc.span,
                    ["allow another directory with --include-path DIR (docs/security.md)"],
                )
            if len(stack) > limits.include_depth:
                raise IncludeError(
                    f"includes nested more than {limits.include_depth} deep",
                    inc.span,
                    [limits.hint("include_depth")],
                )
            if target in stack:
                chain = " -> ".join(reader.name(p) for p in [*stack, target])
                raise IncludeError(f"include cycle: {chain}", inc.span)
            if target in seen:
                continue
            seen.add(target)
            sub = parse(reader.read(target, inc.span), reader.name(target))
            files.append(reader.name(target))
            if sub.networks:
                raise IncludeError(
                    f"included file {reader.name(target)} defines a network",
                    inc.span,
                    ["included files hold constants and blocks only"],
                )
            visit(sub, target, [*stack, target])
            _merge(sub, consts, blocks)

    resolved = main_path.resolve()
    seen.add(resolved)
    visit(main, resolved, [resolved])
    _merge(main, consts, blocks)
    if not main.networks:
        raise SpecSyntaxError(
            "no network in this file",
            Span(main_name, 1, 1),
            ["a spec defines one network: network NAME { input x: 3x224x224 ... }"],
        )
    if len(main.networks) > 1:
        second = main.networks[1]
        raise SpecSyntaxError(
            f"a spec defines one network; '{second.name}' is a second one",
            second.span,
            [f"'{main.networks[0].name}' was defined first"],
        )
    return Program(main.networks[0], consts, blocks, files)


def _merge(module: n.Module, consts: list[n.ConstDef], blocks: dict[str, n.BlockDef]) -> None:
    names = {c.name: c for c in consts}
    for c in module.consts:
        if c.name in names:
            raise SpecNameError(
                f"constant '{c.name}' is defined twice",
                c.span,
                notes=[("first defined here", names[c.name].span)],
            )
        names[c.name] = c
        consts.append(c)
    for b in module.blocks:
        if lookup(b.name) is not None:
            raise SpecNameError(
                f"block '{b.name}' has the name of an op, so it could never be called",
                b.span,
                [f"rename the block, e.g. '{b.name}_block'", "archc ops lists the op names"],
            )
        if b.name in blocks:
            raise SpecNameError(
                f"block '{b.name}' is defined twice",
                b.span,
                notes=[("first defined here", blocks[b.name].span)],
            )
        blocks[b.name] = b
