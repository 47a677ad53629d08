"""``archc emit --target pytorch`` and ``Network.to_torch()``: the module is the analysed network.

For every spec in specs/ (and a few language-feature specs below): parameter and buffer counts
equal the analyzer's, every layer's output shape (forward hooks, through :func:`layer_paths`)
and the outputs' shapes equal the analyzer's, ``torch.fx.symbolic_trace`` works, eval-mode
forward is deterministic, the written file builds the same module as ``to_torch()``, and the
source imports only torch, passes ``ruff check`` and ``ruff format --check``, and is
byte-identical across runs.  Plus goldens (lenet5, googlenet, resnet18; regenerate with
``ARCHC_REGEN_GOLDEN=1``), hostile names, in-place safety, atomic writes, errors, and life
without torch.

Counting and tracing use ``device="meta"`` modules (no memory, no init): the parameter shapes
are the real ones.  Shape checks run a real batch-1 forward on initialised weights.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest

import archc
from archc.analysis import Network
from archc.cli import main as cli_main
from archc.emit import pytorch
from archc.errors import EmitError
from archc.ops import REGISTRY
from tests.conftest import ROOT, SPEC_IDS, load_spec

torch = pytest.importorskip("torch")
fx = pytest.importorskip("torch.fx")

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

GOLDEN_DIR = ROOT / "tests" / "golden" / "pytorch"
GOLDEN_SPECS = ("lenet5", "googlenet", "resnet18")
REGEN = os.environ.get("ARCHC_REGEN_GOLDEN") == "1"
RUFF = Path(sys.executable).with_name("ruff")

# ---------------------------------------------------------------------------------- specs
#: Language features the zoo does not use, each a whole network.
LANGUAGE_SPECS: dict[str, str] = {
    # a block's out set on one path of an if (the other path's output is its last tensor),
    # and in.channels tested inside a network-level for body (two bugs found with the zoo)
    # an op a table row picks, in a one-call body and in a multi-statement body
    "row_picks_op": """
        block unit(c, activation = relu) {
            out = conv(c, 1) -> activation
        }
        network row_picks_op {
            input x: 4x8x8
            stages = for (c, nl) in [(8, "HS"), (8, "RE"), (16, "HS")] {
                unit(c, activation=hardswish if nl == "HS" else relu)
            }
            more = for (c, nl) in [(16, "RE"), (8, "HS")] {
                a = unit(c, activation=hardswish if nl == "HS" else relu)
                b = relu
            }
            output y = more
        }
    """,
    "one_sided_out": """
        block res(c) {
            y = conv(c, 1)
            if in.channels == c {
                out = add(in, y)
            }
        }
        network one_sided_out {
            input x: 4x8x8
            r1 = res(8)
            stages = for c in [8, 16] {
                if in.channels != c {
                    down = conv(c, 1)
                }
                r = relu
            }
            output y = res(16)
        }
    """,
    # channel split (ShuffleNet): chunk and split into named tensors, literal slices inline in
    # forward, bounds known only in __init__ as Slice modules
    "split": """
        block unit(stride = 1) {
            if stride == 1 {
                left, right = in -> chunk(2)
                b2 = right -> conv(right.channels, 1) -> relu
                out = concat(left, b2) -> channel_shuffle(2)
            } else {
                out = in -> conv(in.channels * 2, 3, stride=2, pad=1)
            }
        }
        network split {
            input x: 24x16x16
            a, b, c = x -> split((4, 8, 12))
            y = concat(c, b, a) -> unit(1) -> unit(2) -> unit(1)
            p, q = y -> chunk(2)
            output z = concat(p, q) -> conv(8, 1) -> slice(2, 6)
        }
    """,
    # file constants that only the network body reads become constructor arguments
    "constants": """
        const num_classes = 1000
        const dropout = 0.2
        const deep = true
        const width = 16
        network constants {
            input image: 3x32x32
            stem = conv(width, 3, pad=1) -> batchnorm -> relu
            if deep {
                more = conv(width * 2, 3, stride=2, pad=1) -> relu
            }
            features = global_avgpool -> flatten
            output logits = dropout(dropout) -> linear(num_classes)
        }
    """,
    # ops and blocks as arguments: one class per choice (UnitHardswish, ...)
    "callees": """
        block unit(out, activation = relu, post = identity) {
            y = in -> conv(out, 3, pad=1) -> batchnorm -> activation
            out = y -> conv(out, 1) -> activation -> post
        }
        block twice(width = 16) {
            out = conv(width, 1) -> relu -> conv(width, 1)
        }
        network callees {
            input x: 3x16x16
            a = unit(8)
            b = unit(8, activation=hardswish)
            c = unit(16, relu6, post=twice)
            output y = unit(16, activation=sigmoid) -> global_avgpool -> flatten
        }
    """,
    # issue 11's configuration language: a spec function (torchvision's _make_divisible), a
    # stage table walked by for, builtins, in.channels in a body and in a default, repeat 0,
    # in inside a repeat body (the previous iteration's output)
    "config": """
        fn make_divisible(v, divisor = 8, least = divisor) {
            const n = max(least, int(v + divisor / 2) // divisor * divisor)
            n + divisor if n < 0.9 * v else n
        }
        const width = 0.75
        const STAGES = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
        ]
        block inverted(out, stride, expand, hidden = make_divisible(in.channels * expand)) {
            y = in -> conv(hidden, 1, bias=false) -> batchnorm -> relu6
                -> conv(hidden, 3, stride=stride, pad=1, groups=hidden, bias=false)
                -> batchnorm -> relu6 -> conv(out, 1, bias=false) -> batchnorm
            if stride == 1 and in.channels == out {
                out = add(in, y)
            } else {
                out = y
            }
        }
        network config {
            input image: 3x40x40
            stem = conv(make_divisible(32 * width), 3, stride=2, pad=1) -> relu6
            stages = for (t, c, n, s) in STAGES {
                blocks = repeat n as i {
                    inverted(make_divisible(c * width), s if i == 0 else 1, t)
                }
            }
            skipped = repeat 0 { relu }
            tail = repeat 2 { in -> conv(max(in.channels, 40), 1) -> relu }
            head = conv(ceil(1280 * width / 8) * 8, 1) -> global_avgpool -> flatten
            output logits = linear(abs(-10) + len(STAGES) - 3)
        }
    """,
    # symbolic if/else with constants, a default that reads another parameter, a loop whose
    # channel count grows each iteration (DenseNet), multi-statement repeat bodies inside a
    # block and at network level, "same" padding with an even kernel, a flat batch norm
    "dense": """
        const growth_default = 8

        block dense_layer(growth) {
            x = identity
            y = bn -> relu -> conv(growth, 3, pad=1, bias=false)
            concat(x, y)
        }

        block dense_block(layers, growth=growth_default) {
            out = repeat layers {
                dense_layer(growth)
            }
        }

        block transition(out_ch, pool=true) {
            t = bn -> relu -> conv(out_ch, 1, bias=false)
            if pool {
                p = avgpool(2)
            }
        }

        block twice(width, mid=width // 2) {
            const w2 = width * 2
            a = in -> conv(mid, 1) -> relu
            if width > 16 {
                const extra = 3
                b = a -> conv(w2, 3, pad=1)
            } else {
                const extra = 5
                b = a -> conv(width, 3, pad=1) -> relu
            }
            c = b -> conv(extra, 1)
            out = concat(c, a)
        }

        block looped(n, width) {
            stage = repeat n as i {
                r = conv(width * (i + 1), 3, pad=1) -> relu
                s = r -> relu6
                add(r, s)
            }
        }

        network dense {
            input img: 3x32x32
            stem = conv(16, 3, pad=1)
            d1 = dense_block(3)
            t1 = transition(24)
            d2 = dense_block(2, growth=4)
            t2 = transition(20, pool=false)
            tw = twice(32)
            tw2 = twice(8)
            lp = looped(3, 4)
            feats = repeat 2 as j {
                c = conv(8 + j, 3, pad="same") -> bn
                identity
            }
            conv(6, 4, pad="same", bias=false) -> relu
            if true {
                extra = relu
            }
            pool = global_avgpool
            output logits = flatten -> linear(10) -> bn -> softmax
            output feat_alias = pool
        }
    """,
    # sizes known only once a module is built: a loop over blocks whose own loop count varies
    "nested_loops": """
        block grow(k) {
            x = identity
            y = conv(k, 1)
            concat(x, y)
        }
        block grows(n, k) {
            out = repeat n { grow(k) }
        }
        block stages(m, n) {
            out = repeat m as i { grows(n + i, 2) }
        }
        block wrap(m) {
            s = stages(m, 1)
            out = s -> conv(4, 1)
        }
        network nested_loops {
            input x: 3x8x8
            a = stages(2, 2)
            b = wrap(2)
            output y = conv(5, 3, pad=1)
        }
    """,
    # a block that is only its input, blocks inside a named chain, an unnamed block call
    "misc": """
        block passthrough() {
            out = in
        }
        block pair(w) {
            a = conv(w, 1)
            b = in -> conv(w, 3, pad=1)
            out = add(a, b)
        }
        network misc {
            input x: 3x8x8
            p = passthrough()
            y = p -> pair(4) -> relu -> pair(4) as second
            pair(6)
            z = pair(6) -> passthrough()
            output out = z
        }
    """,
    # two flat inputs, a flat network, an output that is another name for a tensor
    "flat": """
        network flat {
            input a: 20
            input b: 20
            s = add(a, b) -> linear(16) -> bn -> relu -> dropout(0.2)
            output y = linear(4) -> softmax
            output z = s
        }
    """,
    # where archc's memory model allows in place but PyTorch must not: after tanh (autograd
    # keeps its output), after identity (its output *is* its input, read again later)
    "hazards": """
        network hazards {
            input x: 4x8x8
            a = conv(4, 3, pad=1)
            b = a -> tanh -> relu
            c = a -> identity
            d = c -> relu
            e = add(a, b, d) -> relu
            f = e -> sigmoid
            g = f -> relu6
            h = e -> maxpool(2) -> relu
            output y = concat(g, f) -> flatten -> relu
            output z = h
        }
    """,
    # names that are Python keywords, builtins, torch/nn/self, nn.Module attributes, dunders,
    # pycodestyle's ambiguous names, the helper classes' names, and collisions once sanitised
    "hostile": """
        const nn = 4
        const torch = 2

        block forward(self, super, class_, train=true) {
            torch = in -> conv(self, 1) as nn -> relu as forward
            __import__ = in -> conv(super, 3, pad=1) as __init__ -> bn as training
            if train {
                lambda = torch -> relu6 as eval
            } else {
                lambda = torch
            }
            out = concat(lambda, __import__) -> identity as __class__
        }

        block Chain(x) {
            def = conv(x, 1) as class -> relu as return
            _ = def -> conv(x, 1) as __dict__
            class_ = add(def, _)
            Add = class_ -> sigmoid as to
        }

        network torch {
            input self: 3x16x16
            input nn: 3x16x16
            print = add(self, nn) -> conv(8, 3, pad=1) as parameters -> relu as cuda
            layers = print -> forward(nn, torch, 1) as modules
            def = repeat 2 as channels {
                Chain(channels + 2) as state_dict
            }
            x = def -> forward(5, 6, 0, train=false)
            __init__ = repeat torch {
                in_ch = conv(8, 1) as half
                y = in_ch -> relu as l
                O = y -> relu6 as I
            }
            class = x -> conv(3, 1) as train
            class_ = class -> relu as super
            output return = __init__ -> flatten -> linear(10) as type
            output lambda = class_
        }
    """,
}
ALL_IDS = [*SPEC_IDS, *LANGUAGE_SPECS]


@cache
def network(name: str) -> Network:
    if name in LANGUAGE_SPECS:
        return archc.load(f"{name}.arch", text=textwrap.dedent(LANGUAGE_SPECS[name]))
    return load_spec(name)


@cache
def source(name: str) -> str:
    return pytorch.module_source(network(name))


@pytest.fixture(params=ALL_IDS)
def name(request: pytest.FixtureRequest) -> str:
    """Every shipped spec, then the language-feature specs above."""
    return request.param


def random_inputs(net: Network, batch: int = 1) -> list:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(batch, *shape, generator=generator) for shape in net.inputs.values()]


def outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


# ---------------------------------------------------------------------------------- the table
def test_table_rows_are_well_formed() -> None:
    # that every op has a row at all is tests/test_emitter_tables.py's one guard
    for op, rule in pytorch.TORCH_OPS.items():
        # a row builds a module, or writes the op inline in forward (merges), or neither (input)
        assert rule.module is not None or REGISTRY[op].internal or rule.inline is not None, op
        # a merge starts its chain, so it is only ever inline; another inline op (slice) needs a
        # module too, for when it follows a layer inside a chain
        assert rule.inline is None or REGISTRY[op].is_merge or rule.module is not None, op
        assert rule.helper is None or rule.helper in pytorch.HELPERS


def test_module_attribute_list_covers_torch() -> None:
    names = set(dir(torch.nn.Module())) | set(dir(torch.nn.Sequential()))
    missing = {n for n in names if not (n.startswith("__") and n.endswith("__"))}
    assert missing <= pytorch.MODULE_ATTRIBUTES


# ---------------------------------------------------------------------------------- every spec
def test_counts_equal_the_analyzer(name: str) -> None:
    net = network(name)
    module = pytorch.to_torch(net, device="meta")
    totals = net.totals()
    assert sum(p.numel() for p in module.parameters()) == totals.params
    buffers = sum(
        b.numel() for key, b in module.named_buffers() if not key.endswith("num_batches_tracked")
    )
    assert buffers == totals.buffers


def test_every_layer_shape_and_output_shape(name: str) -> None:
    net = network(name)
    module = net.to_torch(seed=0).eval()
    paths = pytorch.layer_paths(net)
    assert set(paths) == set(net.order)
    seen: dict[str, tuple[int, ...]] = {}

    def record(node: str):
        def hook(mod, args, out) -> None:
            assert node not in seen, f"{node} ran twice"
            seen[node] = tuple(out.shape[1:])

        return hook

    hooks = []
    for node, path in paths.items():
        if path is None:  # an input, or a merge written inline in forward (y + shortcut)
            op = net.layer(node).op
            assert op == "input" or pytorch.TORCH_OPS[op].inline is not None, node
        else:
            hooks.append(module.get_submodule(path).register_forward_hook(record(node)))
    inputs = random_inputs(net)
    with torch.no_grad():
        first = outputs(module(*inputs))
    for hook in hooks:
        hook.remove()
    for node, path in paths.items():
        if path is not None:
            assert seen.get(node) == net.shape(node), node
    assert [tuple(t.shape) for t in first] == [(1, *s) for s in net.outputs.values()]
    # deterministic in eval mode
    with torch.no_grad():
        again = outputs(module(*inputs))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def test_fx_symbolic_trace(name: str) -> None:
    net = network(name)
    module = pytorch.to_torch(net, device="meta")
    traced = fx.symbolic_trace(module)
    called = {n.target for n in traced.graph.nodes if n.op == "call_module"}
    layers = {p for p in pytorch.layer_paths(net).values() if p is not None}
    # torch.nn's modules stay calls; archc's helpers (Add, Concat, Chain) are traced through
    leaves = {p for p in layers if type(module.get_submodule(p)).__module__.startswith("torch.")}
    assert leaves <= called
    outputs_ = [n for n in traced.graph.nodes if n.op == "output"]
    assert len(outputs_) == 1


def test_weights_map_to_canonical_names(name: str) -> None:
    net = network(name)
    module = pytorch.to_torch(net, device="meta")
    paths = pytorch.layer_paths(net)
    keys = {f"{paths[layer]}.{spec.role}" for _, layer, spec in net.weights()}
    state = module.state_dict()
    assert keys == {k for k in state if not k.endswith("num_batches_tracked")}
    for _, layer, spec in net.weights():
        assert tuple(state[f"{paths[layer]}.{spec.role}"].shape) == spec.shape


@pytest.mark.parametrize("spec", ["lenet5", "googlenet", *LANGUAGE_SPECS])
def test_state_dict_to_weights(spec: str) -> None:
    net = network(spec)
    state = net.to_torch(seed=0).state_dict()
    weights = pytorch.state_dict_to_weights(net, state)
    assert list(weights) == [n for n, _, _ in net.weights()]
    for canonical, _, tensor in net.weights():
        assert weights[canonical].shape == tensor.shape
        assert str(weights[canonical].dtype) == "float32"


def test_source_is_safe_python_that_imports_only_torch(name: str) -> None:
    text = source(name)
    tree = ast.parse(text)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = [ast.unparse(n) for n in imports]
    assert modules[-2:] == ["import torch", "from torch import nn"]
    assert set(modules[:-2]) <= {"import math"}  # floor and ceil of the spec
    # module level: the imports, the spec's functions and classes; no call of anything outside
    # the allow-list (the builtins the language has, the spec's own functions)
    kinds = ast.Import | ast.ImportFrom | ast.ClassDef | ast.FunctionDef
    assert all(isinstance(n, kinds) for n in tree.body)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    allowed = {"super", "range", "min", "max", "abs", "int", "round", "len"} | functions
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id in allowed or node.func.id[:1].isupper(), ast.unparse(node)
    assert text.startswith(f"# Generated by archc {archc.__version__} from ")


def test_file_builds_the_same_module_as_to_torch(name: str, tmp_path: Path) -> None:
    net = network(name)
    target = tmp_path / f"{name}_net.py"
    target.write_text(pytorch.module_source(net))
    spec = importlib.util.spec_from_file_location(f"emitted_{name}", target)
    assert spec is not None and spec.loader is not None
    emitted = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emitted)
    with torch.device("meta"):
        from_file = getattr(emitted, pytorch.emission(net).class_name)()
    in_process = pytorch.to_torch(net, device="meta")
    assert repr(from_file) == repr(in_process)
    assert {k: v.shape for k, v in from_file.state_dict().items()} == {
        k: v.shape for k, v in in_process.state_dict().items()
    }


def test_emission_is_deterministic(name: str) -> None:
    net = network(name)
    fresh = (
        archc.load(f"{name}.arch", text=textwrap.dedent(LANGUAGE_SPECS[name]))
        if name in LANGUAGE_SPECS
        else archc.load(net.file)
    )
    assert pytorch.module_source(fresh) == source(name)


# ---------------------------------------------------------------------------------- whole-file checks
@pytest.fixture(scope="module")
def emitted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("emitted")
    for spec in ALL_IDS:
        (folder / f"{spec}.py").write_text(source(spec))
    return folder


def test_ruff_check_and_format(emitted_dir: Path) -> None:
    if not RUFF.exists():
        pytest.skip("ruff is not installed next to this Python")
    config = str(ROOT / "pyproject.toml")
    for command in (["check"], ["format", "--check"], ["check", "--isolated"]):
        extra = [] if "--isolated" in command else ["--config", config]
        result = subprocess.run(
            [str(RUFF), *command, *extra, "--no-cache", str(emitted_dir)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_bytes_identical_across_processes(tmp_path: Path) -> None:
    outputs_ = []
    for seed in ("1", "2"):
        out = tmp_path / f"googlenet_{seed}.py"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "archc",
                "emit",
                "specs/googlenet_aux.arch",
                "--target",
                "pytorch",
                "-o",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        outputs_.append(out.read_bytes())
    assert outputs_[0] == outputs_[1]


# ---------------------------------------------------------------------------------- goldens
@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_golden(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source of three specs, byte for byte.  After an intended change regenerate with
    ``ARCHC_REGEN_GOLDEN=1 pytest tests/test_emit_pytorch.py -k golden`` and review the diff."""
    monkeypatch.chdir(ROOT)
    text = pytorch.module_source(archc.load(f"specs/{spec}.arch"))
    golden = GOLDEN_DIR / f"{spec}.py"
    if REGEN:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}: run with ARCHC_REGEN_GOLDEN=1"
    assert text == golden.read_text()


def test_golden_googlenet_has_one_inception_class() -> None:
    text = (GOLDEN_DIR / "googlenet.py").read_text()
    assert text.count("class Inception(nn.Module)") == 1
    assert text.count("= Inception(") == 9


# ---------------------------------------------------------------------------------- structure
def test_readable_structure_of_resnet_blocks() -> None:
    text = source("resnet50")
    assert text.count("class Bottleneck(nn.Module)") == 1
    assert "shortcut = self.shortcut(x) if self.project else x" in text
    assert "self.layer1 = nn.Sequential(" in text
    net = network("resnet50")
    paths = pytorch.layer_paths(net)
    assert paths["layer1.0.y.conv1"] == "layer1.0.y.conv1"
    assert paths["layer2.0.shortcut.conv"] == "layer2.0.shortcut.conv"
    assert paths["image"] is None


def test_hostile_names_are_sanitised() -> None:
    net = network("hostile")
    text = source("hostile")
    paths = pytorch.layer_paths(net)
    assert paths["layers.modules.torch.nn"] == "layers.modules_.torch.nn_"
    assert paths["layers.modules.__import__.__init__"] == "layers.modules_._import__._init__"
    assert paths["return.type"] == "return_.type_"
    assert paths["class.train"] == "class_.train_"
    assert paths["class_.super"] == "class_2.super"  # after 'class' took class_
    assert paths["__init__.0.y.l"] == "_init__.0.y.l"
    assert "class Chain_2(nn.Module)" in text  # the block named Chain, beside the helper
    assert "def forward(self, self_: torch.Tensor, nn_: torch.Tensor)" in text
    module = pytorch.to_torch(net, device="meta")
    assert isinstance(module.train, type(module.eval))  # nn.Module's method, not a layer


def test_hostile_file_name_cannot_inject_code(tmp_path: Path) -> None:
    evil = tmp_path / "evil\n__import__('os').system('echo pwned') #\"'''.arch"
    evil.write_text("network evil {\n    input x: 1x4x4\n    output y = relu\n}\n")
    net = archc.load(evil)
    text = pytorch.module_source(net)
    tree = ast.parse(text)
    assert all(isinstance(n, ast.Import | ast.ImportFrom | ast.ClassDef) for n in tree.body)
    assert text.splitlines()[0].startswith("# Generated by archc")
    assert "\\n__import__" in text.splitlines()[0]
    pytorch.to_torch(net)


def test_string_constants_are_written_as_literals() -> None:
    value = "wide\\') or __import__('os') #"
    text = f"""
        block tagged(tag, size) {{
            if tag == "{value}" {{
                out = conv(size * 2, 1)
            }} else {{
                out = conv(size, 1)
            }}
        }}
        network strings {{
            input x: 2x4x4
            a = tagged("{value}", 3)
            output y = a -> tagged("narrow", 3)
        }}
    """
    net = archc.load("strings.arch", text=textwrap.dedent(text))
    tree = ast.parse(pytorch.module_source(net))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Tagged"
    ]
    assert [ast.literal_eval(c.args[1]) for c in calls] == [value, "narrow"]
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert [ast.literal_eval(c.comparators[0]) for c in compares] == [value]
    module = net.to_torch(seed=0)
    assert tuple(module(torch.zeros(1, 2, 4, 4)).shape) == (1, 3, 4, 4)


@pytest.mark.parametrize("spec", list(LANGUAGE_SPECS))
def test_language_specs_compute_what_the_onnx_emission_computes(spec: str) -> None:
    """The symbolic paths (if, loops, body classes) checked by value against an independent
    lowering of the IR: the ONNX emitter, run by ONNX Runtime on the module's weights."""
    onnx_emit = pytest.importorskip("archc.emit.onnx")
    ort = pytest.importorskip("onnxruntime")
    net = network(spec)
    module = net.to_torch(seed=1).eval()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():  # move batch norm away from the identity
        for key, tensor in module.state_dict().items():
            if tensor.is_floating_point() and tensor.dim() == 1:
                offset = 0.5 if key.endswith(("running_var", "weight")) else -0.5
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + offset)
    weights = pytorch.state_dict_to_weights(net, module.state_dict())
    model = onnx_emit.to_onnx(net, weights=weights)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])
    inputs = random_inputs(net, 2)
    got = session.run(None, {k: x.numpy() for k, x in zip(net.inputs, inputs, strict=True)})
    with torch.no_grad():
        want = outputs(module(*inputs))
    for name, a, b in zip(net.outputs, got, want, strict=True):
        scale = float(b.abs().max()) or 1.0
        assert float(abs(torch.from_numpy(a) - b).max()) <= 1e-4 * scale, name


# ---------------------------------------------------------------------------------- in place
def test_inplace_relu_only_where_pytorch_allows_it() -> None:
    net = network("hazards")
    module = net.to_torch(seed=0)
    flags = {p: m.inplace for p, m in module.named_modules() if hasattr(m, "inplace")}
    assert flags["b.relu"] is False  # after tanh
    assert flags["d"] is False  # after identity, whose input is read again
    assert flags["e.relu"] is True  # after add
    assert flags["h.relu"] is True  # after maxpool
    assert flags["y.relu"] is False  # after flatten, a view
    reference = net.to_torch(seed=0)
    for m in reference.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    x = random_inputs(net, 2)[0]
    got, want = outputs(module(x.clone())), outputs(reference(x.clone()))
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    sum(t.sum() for t in got).backward()  # autograd still has what it saved


def test_input_overrides_change_the_sizes_written() -> None:
    net = archc.load(ROOT / "specs" / "vgg11.arch", inputs={"image": (3, 64, 64)})
    text = pytorch.module_source(net)
    assert "nn.Linear(2048, 4096)" in text  # 512 × 2 × 2 features after five pools
    module = pytorch.to_torch(net, device="meta")
    assert sum(p.numel() for p in module.parameters()) == net.totals().params


def test_training_backward_on_a_residual_network() -> None:
    net = archc.load(ROOT / "specs" / "resnet18.arch", inputs={"image": (3, 64, 64)})
    module = net.to_torch(seed=0).train()
    module(torch.randn(2, 3, 64, 64)).sum().backward()
    assert all(p.grad is not None for p in module.parameters())


# ---------------------------------------------------------------------------------- seeds, weights
def test_seed_makes_weights_reproducible_and_leaves_the_global_rng_alone() -> None:
    net = network("lenet5")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = net.to_torch(seed=7).state_dict()
    assert torch.equal(torch.rand(3), expected)
    b = net.to_torch(seed=7).state_dict()
    c = net.to_torch(seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_initialisation_follows_pytorch_defaults() -> None:
    net = network("resnet18")
    module = net.to_torch(seed=0)
    bn = module.get_submodule("stem.bn1")
    assert torch.all(bn.weight == 1) and torch.all(bn.running_var == 1)
    assert torch.all(bn.bias == 0) and torch.all(bn.running_mean == 0)
    fc = module.get_submodule("logits.fc")
    bound = 1 / 512**0.5
    assert fc.weight.abs().max() <= bound and fc.weight.abs().max() > 0.9 * bound


def test_state_dict_to_weights_rejects_a_foreign_state_dict() -> None:
    net = network("lenet5")
    state = dict(net.to_torch(seed=0).state_dict())
    state["extra.weight"] = state["c1.conv.weight"]
    with pytest.raises(EmitError, match="does not declare"):
        pytorch.state_dict_to_weights(net, state)
    del state["extra.weight"], state["logits.bias"]
    with pytest.raises(EmitError, match=r"logits\.bias"):
        pytorch.state_dict_to_weights(net, state)


# ---------------------------------------------------------------------------------- errors
ERRORS = {
    "flatten_sizes": (
        """
        block head() {
            flatten -> linear(3)
        }
        network bad {
            input x: 2x4x4
            a = head()
            b = x -> maxpool(2) -> head()
            output y = add(a, b)
        }
        """,
        "bad.arch:2:5: emit error: the features of this flatten",
    ),
    "outer_tensor": (
        """
        network bad {
            input x: 2x4x4
            s = relu
            r = repeat 2 {
                t = conv(2, 1)
                add(t, s)
            }
            output y = r
        }
        """,
        "bad.arch:6:16: emit error: this repeat body reads 's'",
    ),
    "repeat_from_tensor": (
        """
        network bad {
            input x: 2x4x4
            r = repeat 2 { x -> relu }
            output y = r
        }
        """,
        "bad.arch:3:20: emit error: a repeat whose body starts from a named tensor",
    ),
    "branch_dependent_name": (
        """
        block b(p) {
            if p {
                relu
            }
            relu
        }
        network bad {
            input x: 2x4x4
            a = b(true)
            output y = a -> b(false)
        }
        """,
        "bad.arch:5:5: emit error: the layer here is called 'relu'",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_what_cannot_be_emitted_is_a_located_error(case: str) -> None:
    text, message = ERRORS[case]
    net = archc.load("bad.arch", text=textwrap.dedent(text).strip() + "\n")
    with pytest.raises(EmitError) as caught:
        pytorch.module_source(net)
    assert str(caught.value).startswith(message)
    assert "^" in str(caught.value)


# ---------------------------------------------------------------------------------- CLI, files
def test_cli_writes_stdout_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "lenet5.arch")
    assert cli_main(["emit", spec, "--target", "pytorch"]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "lenet5.py"
    assert cli_main(["emit", spec, "--target", "pytorch", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert out.read_text() == printed == pytorch.module_source(network("lenet5"))


def test_seed_adds_a_build_function_equal_to_to_torch(tmp_path: Path) -> None:
    spec = str(ROOT / "specs" / "resnet18.arch")
    out = tmp_path / "resnet18_seeded.py"
    assert cli_main(["emit", spec, "--target", "pytorch", "--seed", "5", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(pytorch.module_source(network("resnet18")))
    tree = ast.parse(text)
    assert [type(n).__name__ for n in tree.body][-1] == "FunctionDef"
    loader = importlib.util.spec_from_file_location("resnet18_seeded", out)
    assert loader is not None and loader.loader is not None
    emitted = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(emitted)
    from_file = emitted.build().state_dict()
    in_process = network("resnet18").to_torch(seed=5).state_dict()
    assert list(from_file) == list(in_process)
    assert all(torch.equal(from_file[k], in_process[k]) for k in from_file)


def test_output_is_written_atomically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text(textwrap.dedent(ERRORS["outer_tensor"][0]).strip() + "\n")
    target = tmp_path / "net.py"
    target.write_text("previous contents\n")
    assert cli_main(["emit", str(bad), "--target", "pytorch", "-o", str(target)]) == 2
    assert "emit error" in capsys.readouterr().err
    assert target.read_text() == "previous contents\n"
    missing = tmp_path / "no" / "such" / "dir.py"
    spec = str(ROOT / "specs" / "lenet5.arch")
    assert cli_main(["emit", spec, "--target", "pytorch", "-o", str(missing)]) == 2
    assert not missing.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.arch", "net.py"]


def test_without_torch(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None  # import torch now fails, as if it were not installed
        import archc
        from archc.cli import main
        from archc.emit import pytorch
        from archc.errors import MissingDependencyError

        net = archc.load("specs/googlenet.arch")
        assert "class Inception(nn.Module)" in pytorch.module_source(net)
        assert main(["emit", "specs/resnet18.arch", "--target", "pytorch", "-o", sys.argv[1]]) == 0
        try:
            net.to_torch()
        except MissingDependencyError as exc:
            print(exc)
        """
    )
    out = tmp_path / "resnet18.py"
    result = subprocess.run(
        [sys.executable, "-c", script, str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == "missing dependency: PyTorch is not installed: pip install 'archc[torch]'\n"
    )
    assert "class Resnet18(nn.Module)" in out.read_text()
    cli = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['torch'] = None\n"
            "from archc.cli import main; sys.exit(main(['analyze', 'specs/resnet18.arch']))",
        ],
        cwd=ROOT,
        capture_output=True,
    )
    assert cli.returncode == 0


def test_analyze_and_source_emission_never_import_torch() -> None:
    script = (
        "import sys, io, contextlib\n"
        "from archc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['analyze', 'specs/inception_v3.arch']) == 0\n"
        "    assert main(['emit', 'specs/inception_v3.arch', '--target', 'pytorch']) == 0\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout == "False\n"


def test_constants_become_constructor_arguments_that_mean_what_set_means() -> None:
    """``Constants(num_classes=10, width=8, deep=False)`` is the network ``--set`` describes."""
    text = textwrap.dedent(LANGUAGE_SPECS["constants"])
    cls = pytorch.network_class(network("constants"))
    assert "def __init__(\n        self,\n        num_classes: int = 1000," in source(
        "constants"
    ) or ("num_classes: int = 1000" in source("constants"))
    for consts in ({}, {"num_classes": 10}, {"width": 8, "deep": False}, {"dropout": 0.5}):
        net = archc.load("constants.arch", text=text, consts=consts)
        with torch.device("meta"):
            module = cls(**consts)
        assert sum(p.numel() for p in module.parameters()) == net.totals().params, consts
        assert (
            sum(
                b.numel()
                for k, b in module.named_buffers()
                if not k.endswith("num_batches_tracked")
            )
            == net.totals().buffers
        )


def test_network_level_sizes_after_a_block_are_known() -> None:
    """At network level a tensor made by a block (or a loop) has its analysed size, so
    upsample(size=(x.height, x.width)) can be emitted after it."""
    text = (
        "block down(c) {\n    out = conv(c, 3, stride=2, pad=1) -> relu\n}\n\n"
        "network t {\n    input image: 3x20x30\n    low = down(8)\n"
        "    deep = repeat 2 { down(8) }\n"
        '    up = deep -> upsample(size=(low.height, low.width), mode="bilinear")\n'
        "    output y = add(up, low)\n}\n"
    )
    net = archc.load("t.arch", text=text)
    assert net.outputs["y"] == (8, 10, 15)
    module = net.to_torch().eval()
    assert module(torch.randn(1, 3, 20, 30)).shape == (1, 8, 10, 15)
