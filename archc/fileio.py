"""Writing output files atomically, with errors a user can act on.

Every emitter writes through :func:`write_atomic`: the bytes go to a temporary file in the target
directory, are flushed to disk, and only then renamed over the target.  A failure at any point
(unwritable directory, full disk, an exception while producing the bytes) leaves no partial file
and becomes an :class:`~archc.errors.EmitError` (exit code 2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from archc.errors import EmitError


def write_atomic(path: str | Path, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, text, or a function that writes to a binary file) to ``path``."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise EmitError(f"cannot write {target}: directory {directory} does not exist")
    if target.is_dir():
        raise EmitError(f"cannot write {target}: it is a directory")
    fd = -1
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        tmp = ""
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise EmitError(f"cannot write {target}: {reason}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target
