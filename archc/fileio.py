"""Writing output files safely, with errors a user can act on.

Every file archc writes goes through :func:`write_atomic`, which treats the target by what it is:

* a regular file (or a new one): the bytes go to a temporary file in the target directory, are
  flushed to disk, and only then renamed over the target.  A failure at any point (unwritable
  directory, full disk, an exception while producing the bytes, Ctrl-C, SIGTERM) leaves no
  partial file.  The new file gets the existing file's permissions, or ``0666`` less the umask.
* a symbolic link: its target is written that way; the link itself survives.
* ``-``: standard output.  A character device (``/dev/null``, a terminal) or a FIFO: written
  through, streamed, never replaced by a regular file.
* an input of the same run (the spec, an included file): refused, so ``emit x.arch -o x.arch``
  cannot destroy the spec.
* ``dir/`` (a trailing slash): a directory, never a file named ``dir``.

Temporary files are named ``.<name>.archc-<pid>.tmp``; one left behind by a process that was
killed outright (SIGKILL) is removed by the next write to the same directory.  Every failure is
an :class:`~archc.errors.EmitError` (exit code 2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from archc.errors import EmitError
from archc.source import one_line

Data = bytes | str | Callable[[BinaryIO], None]

STDOUT = "-"
_TEMP = re.compile(r"^\..+\.archc-(\d+)\.[A-Za-z0-9_]+\.tmp$")

# (device, inode, modification time) of every file this run read as input: writing one of them
# is refused (the time keeps a later file that happens to reuse a deleted input's inode apart)
_INPUTS: set[tuple[int, int, int]] = set()


def note_input(path: str | Path) -> None:
    """Remember ``path`` as an input of this run (called by the loader for every file read)."""
    with contextlib.suppress(OSError):
        info = os.stat(path)
        if stat.S_ISREG(info.st_mode):
            _INPUTS.add((info.st_dev, info.st_ino, info.st_mtime_ns))


def forget_inputs() -> None:
    """Start a new run (tests, or a program that calls archc more than once)."""
    _INPUTS.clear()


def write_atomic(path: str | Path, data: Data) -> Path:
    """Write ``data`` (bytes, text, or a function that writes to a binary file) to ``path``."""
    raw = os.fspath(path)
    shown = one_line(raw)
    if raw == STDOUT:
        _write_stream_stdout(data)
        return Path(STDOUT)
    if raw.endswith(("/", os.sep)) and not os.path.isdir(raw):
        raise EmitError(f"cannot write {shown}: directory {shown} does not exist")
    target = Path(raw)
    if target.is_symlink():
        # write where the link points, so the link itself survives
        with contextlib.suppress(OSError, RuntimeError):
            target = Path(os.path.realpath(target))
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise EmitError(f"cannot write {shown}: {_reason(exc)}") from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise EmitError(f"cannot write {shown}: it is a directory")
        if (info.st_dev, info.st_ino, info.st_mtime_ns) in _INPUTS:
            raise EmitError(
                f"refusing to write {shown}: it is an input of this run",
                hints=["choose another output file"],
            )
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            _write_stream(target, data, shown)
            return target
        if not stat.S_ISREG(info.st_mode):
            raise EmitError(f"cannot write {shown}: not a regular file, device or FIFO")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise EmitError(
            f"cannot write {shown}: directory {one_line(str(directory))} does not exist"
        )
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    _remove_stale(directory, target.name)
    fd = -1
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.archc-{os.getpid()}.", suffix=".tmp", dir=directory
        )
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            _produce(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = ""
    except OSError as exc:
        raise EmitError(f"cannot write {shown}: {_reason(exc)}") from None
    finally:  # also on KeyboardInterrupt and SIGTERM (archc.cli turns it into SystemExit)
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def _produce(fh: BinaryIO, data: Data) -> None:
    if callable(data):
        data(fh)
    else:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def _write_stream(target: Path, data: Data, shown: str) -> None:
    """A device or FIFO: open it for writing (never create or replace it) and stream."""
    try:
        with open(target, "wb", buffering=0) as raw, os.fdopen(os.dup(raw.fileno()), "wb") as fh:
            _produce(fh, data)
            fh.flush()
    except OSError as exc:
        raise EmitError(f"cannot write {shown}: {_reason(exc)}") from None


def _write_stream_stdout(data: Data) -> None:
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stand-in (tests capture stdout as text)
        if callable(data):
            import io

            buf = io.BytesIO()
            data(buf)
            data = buf.getvalue()
        sys.stdout.write(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)
        sys.stdout.flush()
        return
    _produce(out, data)
    out.flush()


def _remove_stale(directory: Path, name: str) -> None:
    """Delete ``.<name>.archc-<pid>.*.tmp`` files whose process is gone (killed mid-write)."""
    prefix = f".{name}.archc-"
    try:
        entries = [e for e in os.scandir(directory) if e.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _reason(exc: OSError) -> str:
    return "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
