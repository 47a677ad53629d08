"""The op × emitter matrix, driven by the registry: every example of every op, through every target.

For each op and each of its declared examples (``Op.examples``) a one-layer network is built
around the example, analysed, emitted as PyTorch (``to_torch``) and as ONNX, and checked
against the outside world:

- PyTorch's module: its parameter and buffer counts and weight shapes equal the analyzer's, a
  forward pass of the declared input shape gives the analyzer's output shape, and
  ``torch.utils.flop_counter`` counts twice the analyzer's MACs (torch counts a multiply-add as
  two FLOPs, and only conv and matmul, which is archc's MAC convention);
- ONNX Runtime: the ONNX emission, given the PyTorch module's weights, computes the same output
  within 1e-4 of the largest output magnitude.

So an op whose PyTorch row or ONNX lowering is missing or wrong fails here by name
(``test_example[conv-2]``), with no test file to edit when an op is added.
"""

from __future__ import annotations

import numpy as np
import pytest

import archc
from archc.analysis import Network
from archc.ir import G_OUTPUTS
from archc.ops import REGISTRY

torch = pytest.importorskip("torch")

TOLERANCE = 1e-4  # relative to the output's largest magnitude

CASES = [(name, i) for name, op in sorted(REGISTRY.items()) for i in range(len(op.examples))]


def _network(name: str, index: int) -> Network:
    example = REGISTRY[name].examples[index]
    return archc.load(f"{name}_{index}.arch", text=example.spec(f"{name}_{index}"))


def _module(net: Network) -> torch.nn.Module:
    """The emitted module in eval mode, with 1-D tensors perturbed (biases, batch-norm
    statistics) so that batch norm is not the identity."""
    module = net.to_torch(seed=0).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, tensor in module.state_dict().items():
            if tensor.is_floating_point() and tensor.dim() == 1:
                noise = torch.rand(tensor.shape, generator=generator)
                positive = key.endswith(("running_var", "weight"))
                tensor.copy_(noise + 0.5 if positive else noise - 0.5)
    return module


def _feeds(net: Network, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    # scaled so that relu6's upper clip and the saturating activations are exercised
    return {
        name: 3 * rng.standard_normal((batch, *shape), dtype=np.float32)
        for name, shape in net.inputs.items()
    }


def _forward(module: torch.nn.Module, net: Network, feeds: dict[str, np.ndarray]) -> torch.Tensor:
    with torch.no_grad():
        result = module(*(torch.from_numpy(feeds[name]) for name in net.inputs))
    if isinstance(result, dict):
        result = result["y"]
    elif isinstance(result, tuple):
        (result,) = result
    return result


def test_every_callable_op_has_an_example() -> None:
    missing = [n for n, op in REGISTRY.items() if not op.internal and not op.examples]
    assert not missing, f"ops without examples (Op.examples): {missing}"


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize(("op", "index"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_example(op: str, index: int) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from archc.emit.pytorch import state_dict_to_weights

    net = _network(op, index)
    node = net.graph.graph[G_OUTPUTS]["y"]
    assert net.layer(node).op == op
    cost = net.cost(node)
    module = _module(net)

    # counts and weight shapes: PyTorch's module against the analyzer
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(
        b.numel() for key, b in module.named_buffers() if not key.endswith("num_batches_tracked")
    )
    assert (params, buffers) == (cost.params, cost.buffers), f"{op}: params, buffers"
    weights = state_dict_to_weights(net, module.state_dict())
    assert {key: tuple(np.shape(w)) for key, w in weights.items()} == {
        key: spec.shape for key, _, spec in net.weights()
    }

    # the output shape of a forward pass, and MACs as torch counts them
    feeds = _feeds(net, 2)
    want = _forward(module, net, feeds)
    assert tuple(want.shape) == (2, *net.shape(node)), f"{op}: output shape"
    with FlopCounterMode(display=False) as counter:
        _forward(module, net, _feeds(net, 1))
    assert counter.get_total_flops() == 2 * cost.macs, f"{op}: MACs"

    # ONNX Runtime computes what PyTorch computes, with the same weights
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = net.to_onnx(weights=weights)
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (got,) = session.run(["y"], feeds)
    expected = want.numpy()
    assert got.shape == expected.shape, f"{op}: ONNX output shape"
    scale = float(np.abs(expected).max()) or 1.0
    error = float(np.abs(got - expected).max())
    assert error <= TOLERANCE * scale, f"{op}: ONNX differs from PyTorch by {error:.3g}"
