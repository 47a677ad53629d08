"""Numbers with units: quantity suffixes, dtypes, and human-readable formatting.

One strict parser serves both the language (``assert params < 7M``) and the command line
(``--max-params 7M``), so a limit means the same thing wherever it is written.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Count suffixes are SI (K = 1000); "Ki" style are binary.  Byte suffixes likewise: KB = 1000 B,
# KiB = 1024 B.  Case matters: "m" is not "M", "kb" is not "KB".
COUNT_SUFFIXES: dict[str, int] = {
    "": 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
BYTE_SUFFIXES: dict[str, int] = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}

DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}

_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)([A-Za-z]*)$", re.ASCII)


# a quantity is a count or a size: 40 digits is far beyond both, and well inside Python's
# 4,300-digit limit on int() of a string
_MAX_DIGITS = 40


class QuantityError(ValueError):
    """A malformed quantity; the message says what is accepted."""


def parse_quantity(text: str) -> tuple[int | float, bool]:
    """Parse ``"7M"``, ``"1.6G"``, ``"200MB"``, ``"4MiB"``, ``"1000"`` into (value, is_bytes).

    The value is an int whenever the scaled number is whole.  Anything else (negative numbers,
    unknown or lower-case suffixes, spaces, exponents) raises :class:`QuantityError`.
    """
    m = _QUANTITY.match(text) if text == text.strip() else None
    if not m:
        raise QuantityError(
            f"malformed quantity {text!r}: expected a number with an optional suffix "
            "(K, M, G, T, Ki, Mi, Gi; B, KB, MB, GB, KiB, MiB, GiB), e.g. 7M or 200MB"
        )
    number, suffix = m.groups()
    if len(number) > _MAX_DIGITS:
        raise QuantityError(f"number too long in quantity: {len(number)} digits")
    if suffix in COUNT_SUFFIXES:
        scale, is_bytes = COUNT_SUFFIXES[suffix], False
    elif suffix in BYTE_SUFFIXES:
        scale, is_bytes = BYTE_SUFFIXES[suffix], True
    else:
        known = ", ".join([s for s in COUNT_SUFFIXES if s] + list(BYTE_SUFFIXES))
        raise QuantityError(f"unknown suffix {suffix!r} in {text!r}: expected one of {known}")
    try:
        value = Decimal(number) * scale
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise QuantityError(f"malformed quantity {text!r}") from exc
    if value == value.to_integral_value():
        return int(value), is_bytes
    return float(value), is_bytes


def human_count(n: float, precision: int = 2) -> str:
    """``138357544`` -> ``"138.36M"``: SI prefixes for parameter and MAC counts."""
    for scale, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.{precision}f}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def human_bytes(n: float) -> str:
    """``553430176`` -> ``"527.79 MiB"``: binary prefixes for memory."""
    for scale, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{int(n)} B"


def grouped(n: int) -> str:
    """``138357544`` -> ``"138,357,544"``."""
    return f"{n:,}"
