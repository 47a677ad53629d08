"""Every number that docs/conventions.md states, checked against archc."""

from __future__ import annotations

import archc
from archc.ops import REGISTRY
from tests.conftest import load_spec


def _layer(spec: str, node: str) -> tuple[int, int, int]:
    """(params, MACs, FLOPs) of one layer."""
    c = load_spec(spec).cost(node)
    return c.params, c.macs, c.flops


def test_mac_examples() -> None:
    assert _layer("vgg16", "conv1_1.conv")[1] == 64 * 224 * 224 * 3 * 3 * 3 == 86_704_128
    assert _layer("vgg16", "fc6.linear")[1] == 25_088 * 4_096 == 102_760_448
    assert load_spec("vgg16").totals().macs == 15_470_264_320
    grouped = _layer("alexnet_grouped", "conv2.conv")[1]
    assert grouped == 256 * 27 * 27 * (96 // 2) * 5 * 5 == 223_948_800
    assert _layer("alexnet", "conv2.conv")[1] == 2 * grouped == 447_897_600
    assert _layer("mobilenet_v1", "block1.dw.conv")[1] == 32 * 112 * 112 * 3 * 3 == 3_612_672
    assert _layer("mobilenet_v1", "block1.pw.conv")[1] == 64 * 112 * 112 * 32 == 25_690_112
    assert load_spec("resnet50").totals().macs == 4_089_184_256


def test_only_conv_and_linear_have_macs() -> None:
    for spec in ("resnet50", "inception_v3", "googlenet", "mobilenet_v1", "squeezenet1_0"):
        net = load_spec(spec)
        for node in net.order:
            if net.cost(node).macs:
                assert net.layer(node).op in {"conv", "linear"}, node


def test_lenet5_flops_worked_example() -> None:
    net = load_spec("lenet5")
    flops = {node: net.cost(node).flops for node in net.order}
    assert flops["c1.conv"] == 2 * 117_600 + 4_704 == 239_904
    assert flops["c1.tanh"] == flops["s2"] == 4_704
    assert flops["c3.conv"] == 2 * 240_000 + 1_600 == 481_600
    assert flops["c3.tanh"] == flops["s4"] == 1_600
    assert flops["c5.conv"] == 2 * 48_000 + 120 == 96_120
    assert flops["c5.tanh"] == 120
    assert flops["f6.linear"] == 2 * 10_080 + 84 == 20_244
    assert flops["f6.tanh"] == 84
    assert flops["logits"] == 2 * 840 + 10 == 1_690
    assert flops["f6.flatten"] == flops["image"] == 0
    assert net.totals().flops == 852_370


def test_flops_table_rules() -> None:
    """The per-op rules of the FLOPs table, on one small network."""
    net = archc.load(
        "inline.arch",
        text="""network t {
    input x: 8x10x10
    a = conv(4, 3, pad=1, bias=false)
    b = x -> conv(4, 3, pad=1) -> bn -> relu
    c = add(a, b, a) -> lrn(5) -> maxpool(3, stride=1, pad=1) -> avgpool(2)
    d = c -> softmax -> sigmoid -> relu6 -> identity -> dropout
    e = concat(c, d) -> global_avgpool
    f = c -> adaptive_avgpool(1) -> flatten -> linear(3)
    output e
    output f
}
""",
    )
    got = {node: (net.layer(node).op, net.cost(node)) for node in net.order}
    n = 4 * 10 * 10
    assert got["a"][1].flops == 2 * got["a"][1].macs  # no bias
    assert got["b.conv"][1].flops == 2 * got["b.conv"][1].macs + n
    assert got["b.batchnorm"][1].flops == 2 * n
    assert got["b.relu"][1].flops == n
    assert got["c.add"][1].flops == 2 * n  # three inputs: two adds per element
    assert got["c.lrn"][1].flops == (2 * 5 + 3) * n
    assert got["c.maxpool"][1].flops == (9 - 1) * n
    assert got["c.avgpool"][1].flops == 4 * (4 * 5 * 5)
    m = 4 * 5 * 5
    assert got["d.softmax"][1].flops == 3 * m
    assert got["d.sigmoid"][1].flops == got["d.relu6"][1].flops == m
    assert got["d.identity"][1].flops == got["d.dropout"][1].flops == 0
    assert got["e.concat"][1].flops == 0
    assert got["e.global_avgpool"][1].flops == 8 * 5 * 5  # one per input element
    assert got["f.adaptive_avgpool"][1].flops == m
    assert got["f.flatten"][1].flops == 0
    assert got["f.linear"][1].flops == 2 * 4 * 3 + 3


def test_params_and_buffers() -> None:
    bn = load_spec("vgg16_bn")
    channels = sum(bn.shape(n)[0] for n in bn.order if bn.layer(n).op == "batchnorm")
    assert channels == 4_224
    assert bn.totals().params == 138_357_544 + 2 * channels == 138_365_992
    assert bn.totals().buffers == 2 * channels == 8_448
    net = load_spec("resnet50")
    t = net.totals()
    batchnorms = [n for n in net.order if net.layer(n).op == "batchnorm"]
    assert len(batchnorms) == 53
    assert t.buffers == 53_120  # + 53 num_batches_tracked scalars in PyTorch's buffers
    # Keras: buffers are "non-trainable params"
    assert t.params + t.buffers == 25_610_152
    # keras.applications.ResNet50 keeps a bias on every conv: one per output channel
    conv_biases = sum(net.layer(n).attrs["out"] for n in net.order if net.layer(n).op == "conv")
    assert conv_biases == 26_560
    assert t.params + conv_biases == 25_583_592
    assert t.params + conv_biases + t.buffers == 25_636_712


def test_weight_memory() -> None:
    net = load_spec("resnet50")
    assert net.totals().weight_bytes == 25_610_152 * 4 == 102_440_608
    assert net.totals(dtype="int8").weight_bytes == 25_610_152
    assert net.totals(batch=8, dtype="int8").weight_bytes == 25_610_152
    assert load_spec("vgg16").totals().weight_bytes == 553_430_176


def test_activation_memory_rules() -> None:
    net = load_spec("vgg16")
    # in-place: every conv's relu, the dropouts; view: flatten
    for node in net.order:
        op = REGISTRY[net.layer(node).op]
        allocates = net.memory(node).new_elements > 0
        assert allocates == ("inplace" not in op.traits and "view" not in op.traits), node
    # tanh is not in place: LeNet-5's tanh layers allocate
    lenet = load_spec("lenet5")
    assert lenet.memory("c1.tanh").new_elements == 6 * 28 * 28
    # an in-place op whose input has another reader, or is an input or output, allocates
    shared = archc.load(
        "inline.arch",
        text="""network t {
    input x: 4x8x8
    r0 = relu
    a = x -> conv(4, 1)
    r1 = a -> relu
    b = a -> conv(4, 1)
    r2 = b -> relu -> dropout
    output y = concat(r0, r1, r2)
}
""",
    )
    assert shared.memory("r0").new_elements == 4 * 8 * 8  # its input is the network input
    assert shared.memory("r1").new_elements == 4 * 8 * 8  # `a` is also read by conv b
    assert shared.memory("r2.relu").new_elements == 0  # `b` has one reader
    assert shared.memory("r2.dropout").new_elements == 0  # a chain shares one buffer


def test_peak_live_memory() -> None:
    t = load_spec("vgg16").totals()
    assert t.peak_activation_bytes == 2 * 224 * 224 * 64 * 4 == 25_690_112
    assert t.activation_bytes == 15_237_608 * 4 == 60_950_432


def test_receptive_field_examples() -> None:
    net = load_spec("vgg16")
    rf = {r.name: (r.rf.size[0], r.rf.jump[0]) for r in net.rows(depth=1)}
    assert rf["conv1_1"] == (3, 1)
    assert rf["conv1_2"] == (5, 1)
    assert rf["pool1"] == (6, 2)
    assert rf["conv2_1"] == (10, 2)
    assert rf["conv5_3"] == (196, 16)
    assert rf["pool5"] == (212, 32)


def test_batch_and_dtype_scaling() -> None:
    net = load_spec("resnet50")
    one, four = net.totals(), net.totals(batch=4, dtype="int8")
    assert four.macs == 4 * one.macs == 16_356_737_024
    assert four.flops == 4 * one.flops
    assert (four.params, four.buffers) == (one.params, one.buffers)
    assert four.activation_bytes == 4 * one.activation_bytes // 4 == 112_406_432
    assert net.totals(dtype="float16").activation_bytes == one.activation_bytes // 2
    assert net.totals(dtype="bfloat16").weight_bytes == 2 * 25_610_152
