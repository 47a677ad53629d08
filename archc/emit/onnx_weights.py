"""Where the ONNX emitter's weight values come from: seeded random init, zeros, or given arrays.

Each source answers one question, "the float32 array for canonical tensor ``name``", one tensor
at a time, so the writer can stream a 550 MB model while holding a single tensor in memory.
Names and shapes always come from :meth:`archc.analysis.Network.weights`.

Random init follows PyTorch's defaults, per op (the op's entry in the ONNX lowering table names
its initialiser): conv and linear draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))
(``kaiming_uniform_(a=sqrt(5))`` and the matching bias rule); batch norm starts at weight 1,
bias 0, running mean 0, running variance 1.  Tensor ``name`` is drawn from its own generator,
``PCG64(SeedSequence([seed mod 2**64, crc32(name)]))``, so a tensor's values depend only on the
seed and its name, never on the order of generation or on the other layers.

numpy is imported inside functions: ``archc analyze`` imports the emit targets to build its
command line and must stay light.
"""

from __future__ import annotations

import math
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archc.errors import EmitError, did_you_mean
from archc.ops import TensorSpec

if TYPE_CHECKING:
    import numpy as np

    from archc.analysis import Network

#: ``init(rng, spec, siblings) -> array``: the siblings are the layer's tensors, in order.
Initialiser = Callable[["np.random.Generator", TensorSpec, Sequence[TensorSpec]], "np.ndarray"]

#: one weight tensor of the network: canonical name, owning layer, spec
WeightEntry = tuple[str, str, TensorSpec]

_CHUNK = 1 << 18  # elements per chunk of random draws (even, so draws pair up as numpy's do)


def fan_in_uniform(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """PyTorch's conv/linear default: U(-b, b), b = 1/sqrt(fan_in) for weight and bias alike.

    ``fan_in`` is the product of the layer's ``weight`` shape after the output dimension
    (input channels per group × kernel area, or input features).
    """
    weight = next(t for t in siblings if t.role == "weight")
    fan_in = math.prod(weight.shape[1:])
    return uniform(rng, spec.shape, 1.0 / math.sqrt(fan_in))


def uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """U(-bound, bound) as float32: ``rng.random(shape, dtype=float32) * 2*bound - bound``.

    The same values, bit for bit, as that expression; made in cache-sized chunks from the bit
    generator's raw 64-bit output (two 32-bit draws each, as numpy's float32 path consumes
    them), which is 2-3x faster and never allocates more than the result.
    """
    import numpy as np

    out = np.empty(shape, dtype="<f4")
    flat = out.reshape(-1)
    scale, shift = np.float32(2.0 * bound), np.float32(bound)
    if sys.byteorder != "little":  # pragma: no cover - the raw view below assumes little-endian
        flat[:] = rng.random(flat.size, dtype=np.float32)
        flat *= scale
        flat -= shift
        return out
    for start in range(0, flat.size, _CHUNK):
        part = flat[start : start + _CHUNK]
        draws = rng.bit_generator.random_raw((part.size + 1) // 2).view(np.uint32)[: part.size]
        np.right_shift(draws, 8, out=draws)  # numpy's float32: (next_uint32 >> 8) * 2**-24
        np.multiply(draws, np.float32(2.0**-24), out=part, casting="unsafe")
        part *= scale
        part -= shift
    return out


_BATCHNORM_START = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0}


def batchnorm_init(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """PyTorch's BatchNorm start: weight 1, bias 0, running mean 0, running variance 1."""
    import numpy as np

    return np.full(spec.shape, _BATCHNORM_START[spec.role], dtype=np.float32)


def constant_init(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """A tensor PyTorch starts at a constant (``TensorSpec.init``: PReLU's slope, a norm's
    weight 1 and bias 0, a layer scale's value)."""
    import numpy as np

    if spec.init is None:  # pragma: no cover - a registry bug: the op's tensors name no value
        raise ValueError(f"{spec.role} has no constant initial value")
    return np.full(spec.shape, spec.init, dtype=np.float32)


def tensor_rng(seed: int, name: str) -> np.random.Generator:
    """The generator for canonical tensor ``name`` under ``seed`` (independent of order)."""
    import numpy as np

    sequence = np.random.SeedSequence([seed % 2**64, zlib.crc32(name.encode("utf-8"))])
    return np.random.Generator(np.random.PCG64(sequence))


class WeightSource:
    """Produces the float32, C-contiguous, little-endian array of one canonical tensor."""

    description = ""

    def array(self, entry: WeightEntry) -> np.ndarray:
        raise NotImplementedError


class RandomWeights(WeightSource):
    """Seeded PyTorch-like initial values; ``initialisers`` maps op name -> :data:`Initialiser`."""

    def __init__(
        self, network: Network, seed: int, initialisers: Mapping[str, Initialiser | None]
    ) -> None:
        self.seed = seed
        self.description = f"random (seed {seed})"
        self._network = network
        self._initialisers = initialisers
        self._siblings: dict[str, list[TensorSpec]] = {}
        for _, layer, spec in network.weights():
            self._siblings.setdefault(layer, []).append(spec)

    def array(self, entry: WeightEntry) -> np.ndarray:
        name, layer, spec = entry
        op = self._network.layer(layer).op
        init = self._initialisers.get(op)
        if init is None:
            raise EmitError(
                f"no initial values are defined for {op} tensors ({name})",
                self._network.layer(layer).span,
                hints=["emit with --weights zeros or --weights none"],
            )
        return _little_endian(init(tensor_rng(self.seed, name), spec, self._siblings[layer]))


class ZeroWeights(WeightSource):
    """Every tensor all zeros (structure-sized file; the values mean nothing)."""

    description = "zeros"

    def array(self, entry: WeightEntry) -> np.ndarray:
        import numpy as np

        return np.zeros(entry[2].shape, dtype="<f4")


class GivenWeights(WeightSource):
    """Arrays supplied by the caller (e.g. a PyTorch ``state_dict`` converted to numpy).

    The mapping must name exactly the network's canonical tensors with their shapes; values are
    converted to float32.
    """

    description = "given"

    def __init__(self, network: Network, weights: Mapping[str, Any]) -> None:
        self._weights = weights
        expected = {name: spec.shape for name, _, spec in network.weights()}
        missing = [name for name in expected if name not in weights]
        extra = sorted(name for name in weights if name not in expected)
        if extra:
            raise EmitError(
                f"weights name a tensor the network does not have: {extra[0]!r}"
                + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
                hints=[did_you_mean(extra[0], expected), "names are '<layer path>.<role>'"],
            )
        if missing:
            raise EmitError(
                f"weights are missing {len(missing)} of the network's {len(expected)} tensors, "
                f"first {missing[0]!r}",
            )
        for name, shape in expected.items():
            got = tuple(getattr(weights[name], "shape", ()))
            if got != shape:
                raise EmitError(
                    f"weight {name!r} has shape {got}, the network needs {shape}",
                )

    def array(self, entry: WeightEntry) -> np.ndarray:
        import numpy as np

        value = np.asarray(self._weights[entry[0]])
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
            raise EmitError(f"weight {entry[0]!r} has dtype {value.dtype}, not a number")
        return _little_endian(value)


def _little_endian(values: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.ascontiguousarray(values, dtype="<f4")  # no copy when it already is
