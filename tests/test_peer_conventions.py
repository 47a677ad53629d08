"""Every counting convention against the tool it reproduces, run on archc's emitted module.

For each peer (fvcore, ptflops with both backends, thop, torchinfo, DeepSpeed) the test runs
the tool itself on ``archc.load(spec).to_torch(seed=0)`` and asserts that archc's
``--convention`` total equals the tool's own number exactly: on a one-layer network around every
example of every registered op, and on every shipped spec.  The registry × conventions walk
needs no torch and makes a new op without a row in some table fail here.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

import archc
from archc import conventions
from archc.analysis import Network
from archc.conventions.base import ASPECTS
from archc.errors import ArchError
from archc.ops import REGISTRY
from tests.conftest import SPEC_IDS, SPECS_DIR, load_spec

SPECS = SPECS_DIR

Measure = Callable[[Any, tuple[int, ...]], int]


# ---------------------------------------------------------------------------- the tables
@pytest.mark.parametrize("name", conventions.NAMES)
@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_every_op_has_a_rule_in_every_convention(name: str, op: str) -> None:
    # its table's row, or the convention's fallback (what the tool does with an op it has no
    # handler for); test_op_examples_match_the_tool runs every op's examples through the tool
    # itself, so an op whose fallback is wrong fails there by name and gets a row
    conv = conventions.get(name)
    assert conv.rule(op).formula
    assert REGISTRY[op].internal or REGISTRY[op].examples


@pytest.mark.parametrize("name", conventions.NAMES)
def test_conventions_say_how_they_treat_each_aspect(name: str) -> None:
    conv = conventions.get(name)
    assert set(conv.treats) == set(ASPECTS)
    assert set(conv.rules) <= set(REGISTRY), "a rule for an op the registry does not know"
    assert conv.unit in ("MACs", "FLOPs")


def test_archc_convention_is_archc_macs(spec_name: str) -> None:
    net = load_spec(spec_name)
    assert conventions.total(net, "archc", batch=3) == net.totals(batch=3).macs


def test_explain_accounts_for_the_whole_difference() -> None:
    net = load_spec("resnet50")
    rows, a, b = conventions.explain(net, "fvcore", "thop")
    assert a == conventions.total(net, "fvcore") and b == conventions.total(net, "thop")
    assert sum(r.delta for r in rows) == b - a
    text = conventions.render_explain(net, "fvcore", "thop")
    assert "batchnorm: +" in text and "count_normalization" in text


# ---------------------------------------------------------------------------- the tools
def _quiet(fn: Callable[[], Any]) -> Any:
    logging.disable(logging.WARNING)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            return fn()
    finally:
        logging.disable(logging.NOTSET)


def _fvcore(model: Any, shape: tuple[int, ...]) -> int:
    import torch
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, torch.zeros(1, *shape))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def _ptflops(backend: str) -> Measure:
    def measure(model: Any, shape: tuple[int, ...]) -> int:
        from ptflops import get_model_complexity_info

        macs, _ = get_model_complexity_info(
            model, shape, as_strings=False, print_per_layer_stat=False, backend=backend
        )
        return int(macs)

    return measure


def _thop(model: Any, shape: tuple[int, ...]) -> int:
    import thop
    import torch

    x = torch.zeros(1, *shape, device=_device(model))
    macs, _ = thop.profile(model, inputs=(x,), verbose=False)
    return int(macs)


def _torchinfo(model: Any, shape: tuple[int, ...]) -> int:
    import torchinfo

    stats = torchinfo.summary(model, input_size=(1, *shape), verbose=0, device=_device(model))
    return int(stats.total_mult_adds)


def _device(model: Any) -> Any:
    """Where the model's weights are (meta or CPU); a model without weights runs on the CPU."""
    weights = [*model.parameters(), *model.buffers()]
    return weights[0].device if weights else "cpu"


def _deepspeed(model: Any, shape: tuple[int, ...]) -> int:
    from deepspeed.profiling.flops_profiler import get_model_profile

    flops, _, _ = get_model_profile(
        model, input_shape=(1, *shape), print_profile=False, as_string=False, warm_up=0
    )
    return int(flops)


#: convention name -> (module the tool ships as, how to get the tool's number)
PEERS: dict[str, tuple[str, Measure]] = {
    "fvcore": ("fvcore", _fvcore),
    "ptflops": ("ptflops", _ptflops("pytorch")),
    "ptflops-aten": ("ptflops", _ptflops("aten")),
    "thop": ("thop", _thop),
    "torchinfo": ("torchinfo", _torchinfo),
    "deepspeed": ("deepspeed", _deepspeed),
}


def test_every_peer_convention_has_a_measurement() -> None:
    assert set(PEERS) == set(conventions.NAMES) - {"archc"} == {*SHAPE_ONLY, *EXECUTING}


def _peer(name: str) -> Measure:
    pytest.importorskip("torch")
    module, measure = PEERS[name]
    pytest.importorskip(module)
    return measure


def _measure(name: str, net: Network, model: Any | None = None) -> int:
    """The tool's own number for ``net``'s emitted module (built here unless given)."""
    import torch

    measure = _peer(name)
    (shape,) = net.inputs.values()
    model = (model if model is not None else net.to_torch(seed=0)).eval()
    with torch.no_grad():
        return int(_quiet(lambda: measure(model, shape)))


#: tools that count from shapes alone (module hooks, parameter sizes, ATen dispatch): they give
#: the same number on the meta device, where nothing is computed.  fvcore must trace a real run,
#: and ptflops' pytorch backend and DeepSpeed patch Python functionals that the meta device's
#: linear also calls, so those three run on the CPU.
SHAPE_ONLY = ("thop", "ptflops-aten", "torchinfo")
EXECUTING = ("fvcore", "ptflops", "deepspeed")


def _smallest_same_module(net: Network) -> Network:
    """The network at the smallest input size whose emitted module is the spec's own (the same
    PyTorch source), so the tools that execute the model run it on a small image.  A network
    whose classifier depends on the input size (VGG's flatten) keeps its input."""
    from archc.emit.pytorch import module_source

    ((name, shape),) = net.inputs.items()
    if len(shape) != 3:
        return net
    source = module_source(net)
    for side in (32, 64, 96, 128):
        if side >= min(shape[1:]):
            break
        try:
            small = archc.load(net.file, inputs={name: (shape[0], side, side)})
        except ArchError:
            continue  # too small for the network's windows
        if module_source(small) == source:
            return small
    return net


def _cpu_model(net: Network) -> Any:
    """The emitted module on the CPU with zero weights: the counts depend on shapes only, and
    zero-filling is much faster than the default initialisation of 138M VGG weights."""
    import torch

    from archc.emit.pytorch import to_torch

    model = to_torch(net, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model


@cache
def _example_networks() -> list[tuple[str, Network]]:
    nets = []
    for name, op in REGISTRY.items():
        for i, example in enumerate(getattr(op, "examples", ())):
            if len(example.inputs) != 1:
                continue  # the tools feed the model one input tensor
            nets.append((f"{name}-{i}", archc.load(f"<{name}-{i}>", text=example.spec())))
    return nets


def _example_ids() -> list[str]:
    return [key for key, _ in _example_networks()]


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_op_examples_match_the_tool(peer: str) -> None:
    mismatches = []
    for key, net in _example_networks():
        ours = conventions.total(net, peer)
        theirs = _measure(peer, net)
        if ours != theirs:
            mismatches.append(f"{key}: archc {ours:,}, {peer} {theirs:,}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPEC_IDS)
def test_shipped_specs_match_every_tool(spec: str) -> None:
    pytest.importorskip("torch")
    from archc.emit.pytorch import to_torch

    net = load_spec(spec)
    if len(net.inputs) != 1:
        pytest.skip("the tools feed the model one input tensor")
    results = {}
    meta = to_torch(net, device="meta")
    for peer in SHAPE_ONLY:
        results[peer] = (conventions.total(net, peer), _measure(peer, net, meta))
    small = _smallest_same_module(net)
    cpu = _cpu_model(small)
    for peer in EXECUTING:
        results[peer] = (conventions.total(small, peer), _measure(peer, small, cpu))
    wrong = {p: r for p, r in results.items() if r[0] != r[1]}
    assert not wrong, f"{spec}: (archc, tool) {wrong}"


# ---------------------------------------------------------------------------- the command line
def _schema() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("archc").joinpath("schema/analysis-v2.json").read_text()
    return json.loads(text)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from archc.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_convention_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    spec = str(SPECS / "resnet50.arch")
    code, out, _ = _run(capsys, "analyze", spec, "--convention", "thop", "--depth", "1")
    assert code == 0
    assert "MACs (thop)" in out.splitlines()[0]
    assert "thop        4,133,742,592 MACs (4.13G), as thop 0.1.1.post2209072238" in out
    code, out, _ = _run(capsys, "analyze", spec, "--convention", "deepspeed", "--format", "json")
    doc = json.loads(out)
    jsonschema.validate(doc, _schema())
    assert doc["schema"] == "archc.analysis/2"
    assert doc["convention"]["unit"] == "FLOPs"
    assert doc["convention"]["total"] == sum(r["convention_count"] for r in doc["layers"])
    assert doc["totals"]["macs"] == 4_089_184_256  # archc's own MACs stay in place
    conv1 = next(r for r in doc["layers"] if r["name"] == "stem.conv1")
    moved = (3 * 224 * 224 + 64 * 112 * 112) * 4 + 64 * 3 * 7 * 7 * 4
    assert conv1["bytes_moved"] == moved
    assert conv1["arithmetic_intensity"] == pytest.approx(conv1["macs"] / moved)


def test_analyze_explain(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS / "resnet50.arch")
    code, out, _ = _run(capsys, "analyze", spec, "--explain", "fvcore", "ptflops")
    assert code == 0
    # ptflops 4,132,436,968 − fvcore 4,111,512,576, the tools' own numbers on ResNet-50
    assert any(line.startswith("total") and "+20,924,392" in line for line in out.splitlines())
    assert "relu: +19,217,408" in out and "patched F.relu" in out
    code, _, err = _run(capsys, "analyze", spec, "--explain", "fvcore", "nope")
    assert code == 2 and "unknown convention 'nope'" in err


def test_budget_metric_with_a_convention() -> None:
    from archc.budget import METRICS, BudgetResolver, Selection

    net = load_spec("resnet50")
    sel = Selection("", tuple(net.order), None)
    resolver = BudgetResolver(net)
    value = resolver.value(METRICS["macs"], sel, None, 2, None, {"convention": "ptflops"})
    assert value == 2 * conventions.total(net, "ptflops")


def test_report_shows_the_convention(capsys: pytest.CaptureFixture[str]) -> None:
    from archc.report import ReportOptions, render_markdown

    net = load_spec("resnet50")
    text = render_markdown(net, ReportOptions(depth=1, convention="ptflops"))
    assert (
        "| convention | ptflops | 4,132,436,968 MACs (4.13G), as ptflops 0.7.5 reports it |" in text
    )
    assert "| block | op | output | params | % params | MACs (ptflops) | % MACs |" in text
    code, out, err = _run(
        capsys, "report", str(SPECS / "lenet5.arch"), "--format", "markdown", "--convention", "thop"
    )
    assert code == 0, err
    assert "| convention | thop |" in out


def test_diff_with_a_convention(capsys: pytest.CaptureFixture[str]) -> None:
    old, new = str(SPECS / "resnet50.arch"), str(SPECS / "resnet101.arch")
    code, out, err = _run(capsys, "diff", old, new, "--convention", "thop", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["convention"] == "thop"
    peer = next(t for t in doc["totals"] if t["metric"] == "macs (thop)")
    assert (peer["old"], peer["new"]) == (
        conventions.total(load_spec("resnet50"), "thop"),
        conventions.total(load_spec("resnet101"), "thop"),
    )
    code, out, _ = _run(capsys, "diff", old, new, "--convention", "deepspeed")
    assert "layer MACs as deepspeed counts them" in out.splitlines()[0]
    assert any(line.startswith("flops (deepspeed)") for line in out.splitlines())


def test_docs_tables_are_the_conventions() -> None:
    text = (SPECS.parent / "docs" / "conventions.md").read_text(encoding="utf-8")
    assert conventions.markdown_tables() in text, (
        "docs/conventions.md is out of date: paste archc.conventions.markdown_tables()"
    )


def test_conventions_and_training_never_import_torch() -> None:
    """Conventions and training memory are arithmetic over the IR: analyze stays light."""
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib\n"
        "from archc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    for argv in (['--convention', 'thop', '--train', '--format', 'json'],\n"
        "                 ['--explain', 'fvcore', 'deepspeed']):\n"
        "        assert main(['analyze', 'specs/resnet50.arch', *argv]) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'onnx', 'onnxruntime', 'graphviz')))\n"
    )
    root = SPECS.parent
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
