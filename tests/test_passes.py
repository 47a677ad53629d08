"""The analysis passes: IR invariants after every pass, receptive fields, memory planning."""

from __future__ import annotations

import textwrap

import networkx as nx
import pytest

import archc
from archc.elaborate import elaborate
from archc.errors import IRError
from archc.ir import ANNOTATIONS, G_ORDER, LAYER, Layer, verify
from archc.loader import load_program
from archc.passes import PIPELINE
from archc.passes.memory import G_PEAK
from archc.source import Span
from tests.conftest import SPEC_PATHS, load_spec


def compile_text(text: str) -> archc.analysis.Network:
    return archc.load("inline.arch", text=textwrap.dedent(text))


@pytest.mark.parametrize("path", SPEC_PATHS, ids=[p.stem for p in SPEC_PATHS])
def test_verify_after_every_pass(path) -> None:
    graph = elaborate(load_program(path))
    verify(graph)
    done: list[str] = []
    for p, key in zip(PIPELINE, ANNOTATIONS, strict=True):
        p(graph)
        done.append(key)
        verify(graph, tuple(done))


def _graph() -> nx.DiGraph:
    return compile_text(
        "network n {\n input x: 3x8x8\n a = conv(4, 3)\n output y = relu\n}\n"
    ).graph.copy()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda g: g.add_edge("y", "a"), "cycle|comes before"),
        (lambda g: g.graph[G_ORDER].reverse(), "comes before"),
        (lambda g: g.graph[G_ORDER].pop(), "every node exactly once"),
        (
            lambda g: g.nodes["a"].__setitem__(
                LAYER, Layer("a", "warp", {}, ("x",), ("x",), Span("f", 1, 1))
            ),
            "unknown op",
        ),
        (
            lambda g: g.nodes["a"].__setitem__(
                LAYER, Layer("a", "conv", {"out": 4}, ("x",), ("x",), Span("f", 1, 1))
            ),
            "attributes",
        ),
        (lambda g: g.graph["outputs"].update(z="nowhere"), "missing node"),
    ],
)
def test_verify_catches_broken_graphs(breakage, message) -> None:
    g = _graph()
    breakage(g)
    with pytest.raises(IRError, match=message):
        verify(g)


def test_verify_requires_annotations() -> None:
    g = _graph()
    del g.nodes["a"]["rf"]
    with pytest.raises(IRError, match="lacks the 'rf' annotation"):
        verify(g, ANNOTATIONS)


# ------------------------------------------------------------------ receptive field


def test_vgg16_receptive_fields() -> None:
    """Published values (Araujo et al., "Computing Receptive Fields of CNNs", Distill 2019):
    VGG-16's pool5 sees 212×212 input pixels with a jump (effective stride) of 32."""
    net = load_spec("vgg16")
    assert net.rf("conv1_1.conv").size == (3, 3)
    assert net.rf("conv1_2.conv").size == (5, 5)
    assert net.rf("pool1").size == (6, 6) and net.rf("pool1").jump == (2, 2)
    assert net.rf("conv5_3.conv").size == (196, 196)
    assert net.rf("pool5").size == (212, 212) and net.rf("pool5").jump == (32, 32)


def test_receptive_field_asymmetric_dilated_and_merged() -> None:
    net = compile_text(
        """
        network n {
            input x: 1x64x64
            a = conv(1, (1, 7), pad=(0, 3))
            b = x -> conv(1, 3, dilation=2, pad=2) -> conv(1, 3, stride=2, pad=1)
            c = a -> conv(1, 3, pad=1)
            output y = concat(b, b) -> global_avgpool
        }
        """
    )
    assert net.rf("a").size == (1, 7)
    assert net.rf("b.conv").size == (5, 5)
    assert net.rf("b.conv_2").size == (7, 7) and net.rf("b.conv_2").jump == (2, 2)
    assert net.rf("c").size == (3, 9)
    # global pool over the 32×32 map: 7 + 31 * 2
    assert net.rf("y.global_avgpool").size == (69, 69)


# ------------------------------------------------------------------ memory


def test_memory_in_place_and_views_allocate_nothing() -> None:
    net = compile_text(
        """
        network n {
            input x: 2x4x4
            a = conv(8, 1) -> relu -> dropout -> flatten -> linear(10)
            output y = a
        }
        """
    )
    new = {node: net.memory(node).new_elements for node in net.order}
    assert new == {
        "x": 32,
        "a.conv": 128,
        "a.relu": 0,
        "a.dropout": 0,
        "a.flatten": 0,
        "a.linear": 10,
    }
    assert net.memory("a.flatten").buffer == "a.conv"


def test_no_in_place_on_a_tensor_with_other_readers() -> None:
    net = compile_text(
        """
        network n {
            input x: 2x4x4
            a = conv(2, 1)
            b = a -> relu
            output y = add(a, b)
        }
        """
    )
    assert net.memory("b").new_elements == 32  # a is read again by the add
    net = compile_text("network n {\n input x: 2x4x4\n output y = relu\n}\n")
    assert net.memory("y").new_elements == 32  # never overwrite a network input


def test_peak_live_memory_by_hand() -> None:
    # x(100) -> a(400) -> b(200) -> c(50): peak while b runs is a + b = 600 (x freed after a)
    net = compile_text(
        """
        network n {
            input x: 1x10x10
            a = conv(4, 1)
            b = conv(2, 1)
            output c = conv(1, 3, stride=1, pad=0) -> relu
        }
        """
    )
    assert [net.memory(node).new_elements for node in net.order] == [100, 400, 200, 64, 0]
    assert net.graph.graph[G_PEAK] == 600
    # a residual keeps its input alive across the branch
    net = compile_text(
        """
        network n {
            input x: 1x10x10
            a = conv(4, 1)
            b = conv(4, 1) -> relu
            c = conv(4, 1)
            output y = add(a, c)
        }
        """
    )
    # while c runs: a (400) + b (400) + c (400) live; x already freed
    assert net.graph.graph[G_PEAK] == 1200
    t = net.totals(batch=2, dtype="float16")
    assert t.peak_activation_bytes == 1200 * 2 * 2


def test_peak_bounds_on_every_spec(spec_name: str) -> None:
    """While a layer runs, its inputs' buffers and its own output are all live."""
    net = load_spec(spec_name)
    peak = net.graph.graph[G_PEAK]
    for node in net.order:
        buffers = {net.memory(src).buffer for src in net.layer(node).inputs}
        live = net.memory(node).new_elements + sum(
            net.memory(b).new_elements for b in buffers if b != net.memory(node).buffer
        )
        assert peak >= live, node
    assert peak <= sum(net.memory(n).new_elements for n in net.order)


def test_totals_scale_with_batch_and_dtype() -> None:
    net = load_spec("resnet50")
    one, eight = net.totals(), net.totals(batch=8, dtype="bfloat16")
    assert eight.macs == 8 * one.macs and eight.flops == 8 * one.flops
    assert eight.params == one.params
    assert eight.weight_bytes == one.weight_bytes // 2
    assert eight.activation_bytes == one.activation_bytes * 8 // 2


def test_order_is_topological_and_edges_are_inputs(spec_name: str) -> None:
    net = load_spec(spec_name)
    position = {node: i for i, node in enumerate(net.order)}
    assert len(position) == net.graph.number_of_nodes()
    for node in net.order:
        layer = net.layer(node)
        assert set(net.graph.predecessors(node)) == set(layer.inputs)
        assert all(position[src] < position[node] for src in layer.inputs)


def test_receptive_field_is_not_claimed_for_1d_and_3d_maps() -> None:
    """An audio or video network's layers say their field is not tracked (not 1/1)."""
    from archc.formats import rf_label

    net = load_spec("m5")
    rows = net.rows()
    assert all(not r.rf.known for r in rows)
    assert {rf_label(r) for r in rows} == {"—"}
    image = load_spec("resnet18")
    assert all(r.rf.known for r in image.rows())
