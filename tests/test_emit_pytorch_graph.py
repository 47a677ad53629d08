"""The emitted modules are ordinary PyTorch: ``torch.export`` and ``torch.compile`` take them.

Users deploy through ``torch.export`` (ExecuTorch, AOTInductor) and speed up training with
``torch.compile``; both trace ``forward``, so control flow on tensors, data-dependent shapes or
Python a tracer cannot follow would break them.  Every shipped spec and every language-feature
spec of ``test_emit_pytorch`` is exported and compiled with ``fullgraph=True`` (one graph, no
break), and the traced program computes what the eager module computes.  The compile test uses
the ``eager`` backend: it checks what archc controls (Dynamo captures the whole ``forward``),
not Inductor's code generation.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tests.test_emit_pytorch import ALL_IDS, network, outputs, random_inputs  # noqa: E402


@pytest.mark.parametrize("name", ALL_IDS)
def test_torch_export_captures_every_module(name: str) -> None:
    net = network(name)
    module = net.to_torch(seed=0).eval()
    inputs = tuple(random_inputs(net))
    program = torch.export.export(module, inputs)
    with torch.no_grad():
        want = outputs(module(*inputs))
        got = outputs(program.module()(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_IDS)
def test_torch_compile_takes_every_module_as_one_graph(name: str) -> None:
    net = network(name)
    module = net.to_torch(seed=0).eval()
    inputs = random_inputs(net)
    torch._dynamo.reset()
    compiled = torch.compile(module, backend="eager", fullgraph=True)
    with torch.no_grad():
        want = outputs(module(*inputs))
        got = outputs(compiled(*inputs))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)
