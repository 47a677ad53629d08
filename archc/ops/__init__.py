"""The op registry: every op archc knows, one entry each.

Importing this package registers all ops.  ``REGISTRY`` maps canonical names to op objects,
``ALIASES`` maps alternative spellings (``bn``, ``fc``, ``conv2d``) to canonical names.
"""

from archc.ops import (  # noqa: F401  (registration)
    activation,
    conv,
    dense,
    elementwise,
    layout,
    merge,
    norm,
    normalization,
    pool,
    resample,
    slicing,
    tokens,
    windows,
)
from archc.ops.base import (
    ALIASES,
    INT_ARITHMETIC,
    REGISTRY,
    TRAITS,
    ArgProblem,
    Arithmetic,
    Attrs,
    AttrSpec,
    Example,
    Op,
    Shape,
    ShapeProblem,
    SymbolicShape,
    TensorSpec,
    Window,
    dims,
    elements,
    ops_with,
    symbolic_of,
)


def lookup(name: str) -> Op | None:
    """The op called ``name`` (or an alias of it), or None."""
    canonical = ALIASES.get(name, name)
    return REGISTRY.get(canonical)


def callable_names() -> list[str]:
    """Every name the language accepts as an op, aliases included."""
    return sorted([n for n, op in REGISTRY.items() if not op.internal] + list(ALIASES))


__all__ = [
    "ALIASES",
    "INT_ARITHMETIC",
    "REGISTRY",
    "TRAITS",
    "ArgProblem",
    "Arithmetic",
    "AttrSpec",
    "Attrs",
    "Example",
    "Op",
    "Shape",
    "ShapeProblem",
    "SymbolicShape",
    "TensorSpec",
    "Window",
    "callable_names",
    "dims",
    "elements",
    "lookup",
    "ops_with",
    "symbolic_of",
]
