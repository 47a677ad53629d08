"""Writes the test prototxts of this directory, in the layout of the published Caffe models.

The files are committed; this script says how they were made (``python
tests/data/caffe/generate.py``).  Layer names, layer types and hyper-parameters follow the
published deploy files: BVLC GoogLeNet (no auxiliary classifiers) and AlexNet (groups 2),
DeepScale's SqueezeNet 1.0 and 1.1, Kaiming He's ResNet-50 (BatchNorm + Scale, the stride on
the first 1×1 of a projecting unit; conv1 with a bias, every other convolution without, as in
``prototxt/ResNet-50-deploy.prototxt`` of KaimingHe/deep-residual-networks: 25,557,096 params,
torchvision's 25,557,032 and conv1's 64 biases), shicai's MobileNet v1 (BatchNorm + Scale, the classifier a 1×1 convolution).
resnet50_train_val.prototxt is the same network with Data and loss layers.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


class Net:
    def __init__(self, name: str) -> None:
        self.lines = [f'name: "{name}"']

    def deploy_input(self, shape: tuple[int, ...]) -> None:
        self.lines += ['input: "data"', "input_shape {"]
        self.lines += [f"  dim: {d}" for d in shape]
        self.lines += ["}"]

    def layer(
        self, name: str, kind: str, bottoms: list[str], tops: list[str], **params: dict
    ) -> None:
        out = ["layer {", f'  name: "{name}"', f'  type: "{kind}"']
        out += [f'  bottom: "{b}"' for b in bottoms]
        out += [f'  top: "{t}"' for t in tops]
        for key, fields in params.items():
            out.append(f"  {key} {{")
            for k, v in fields.items():
                if isinstance(v, dict):
                    out.append(f"    {k} {{")
                    out += [f"      {a}: {_v(b)}" for a, b in v.items()]
                    out.append("    }")
                else:
                    out.append(f"    {k}: {_v(v)}")
            out.append("  }")
        out.append("}")
        self.lines += out

    def conv(self, name: str, bottom: str, out: int, k: int, s: int = 1, p: int = 0,
             group: int = 1, bias: bool = True, top: str | None = None) -> str:  # fmt: skip
        fields: dict = {"num_output": out}
        if not bias:
            fields["bias_term"] = False
        if p:
            fields["pad"] = p
        fields["kernel_size"] = k
        if group > 1:
            fields["group"] = group
        if s > 1:
            fields["stride"] = s
        fields["weight_filler"] = {"type": "xavier"}
        if bias:
            fields["bias_filler"] = {"type": "constant", "value": 0.2}
        self.lines.append("")
        self.layer(name, "Convolution", [bottom], [top or name], convolution_param=fields)
        return top or name

    def relu(self, name: str, blob: str) -> str:
        self.layer(name, "ReLU", [blob], [blob])
        return blob

    def pool(self, name: str, bottom: str, kind: str, k: int = 0, s: int = 1, p: int = 0,
             glob: bool = False) -> str:  # fmt: skip
        fields: dict = {"pool": kind}
        if glob:
            fields["global_pooling"] = True
        else:
            fields["kernel_size"] = k
            fields["stride"] = s
            if p:
                fields["pad"] = p
        self.layer(name, "Pooling", [bottom], [name], pooling_param=fields)
        return name

    def lrn(self, name: str, bottom: str) -> str:
        fields = {"local_size": 5, "alpha": 0.0001, "beta": 0.75}
        self.layer(name, "LRN", [bottom], [name], lrn_param=fields)
        return name

    def fc(self, name: str, bottom: str, out: int) -> str:
        fields = {"num_output": out, "weight_filler": {"type": "xavier"}}
        self.layer(name, "InnerProduct", [bottom], [name], inner_product_param=fields)
        return name

    def dropout(self, name: str, blob: str, ratio: float) -> str:
        self.layer(name, "Dropout", [blob], [blob], dropout_param={"dropout_ratio": ratio})
        return blob

    def concat(self, name: str, bottoms: list[str]) -> str:
        self.layer(name, "Concat", bottoms, [name])
        return name

    def bn_scale(self, bn: str, scale: str, blob: str) -> str:
        self.layer(bn, "BatchNorm", [blob], [blob], batch_norm_param={"use_global_stats": True})
        self.layer(scale, "Scale", [blob], [blob], scale_param={"bias_term": True})
        return blob

    def write(self, file: str) -> None:
        (HERE / file).write_text("\n".join(self.lines) + "\n")


def _v(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v.isupper() else f'"{v}"'
    return str(v)


def googlenet() -> None:
    n = Net("GoogleNet")
    n.deploy_input((10, 3, 224, 224))
    x = n.relu("conv1/relu_7x7", n.conv("conv1/7x7_s2", "data", 64, 7, 2, 3))
    x = n.lrn("pool1/norm1", n.pool("pool1/3x3_s2", x, "MAX", 3, 2))
    x = n.relu("conv2/relu_3x3_reduce", n.conv("conv2/3x3_reduce", x, 64, 1))
    x = n.relu("conv2/relu_3x3", n.conv("conv2/3x3", x, 192, 3, 1, 1))
    x = n.pool("pool2/3x3_s2", n.lrn("conv2/norm2", x), "MAX", 3, 2)
    rows = {
        "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "pool3": (),
        "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
        "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
        "4e": (256, 160, 320, 32, 128, 128), "pool4": (),
        "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
    }  # fmt: skip
    for key, row in rows.items():
        if not row:
            x = n.pool(f"{key}/3x3_s2", x, "MAX", 3, 2)
            continue
        p = f"inception_{key}"
        c1, r3, c3, r5, c5, pp = row
        b1 = n.relu(f"{p}/relu_1x1", n.conv(f"{p}/1x1", x, c1, 1))
        b2 = n.relu(f"{p}/relu_3x3_reduce", n.conv(f"{p}/3x3_reduce", x, r3, 1))
        b2 = n.relu(f"{p}/relu_3x3", n.conv(f"{p}/3x3", b2, c3, 3, 1, 1))
        b3 = n.relu(f"{p}/relu_5x5_reduce", n.conv(f"{p}/5x5_reduce", x, r5, 1))
        b3 = n.relu(f"{p}/relu_5x5", n.conv(f"{p}/5x5", b3, c5, 5, 1, 2))
        b4 = n.pool(f"{p}/pool", x, "MAX", 3, 1, 1)
        b4 = n.relu(f"{p}/relu_pool_proj", n.conv(f"{p}/pool_proj", b4, pp, 1))
        x = n.concat(f"{p}/output", [b1, b2, b3, b4])
    x = n.dropout("pool5/drop_7x7_s1", n.pool("pool5/7x7_s1", x, "AVE", 7, 1), 0.4)
    x = n.fc("loss3/classifier", x, 1000)
    n.layer("prob", "Softmax", [x], ["prob"])
    n.write("googlenet_deploy.prototxt")


def alexnet() -> None:
    n = Net("AlexNet")
    n.deploy_input((10, 3, 227, 227))
    x = n.relu("relu1", n.conv("conv1", "data", 96, 11, 4))
    x = n.pool("pool1", n.lrn("norm1", x), "MAX", 3, 2)
    x = n.relu("relu2", n.conv("conv2", x, 256, 5, 1, 2, group=2))
    x = n.pool("pool2", n.lrn("norm2", x), "MAX", 3, 2)
    x = n.relu("relu3", n.conv("conv3", x, 384, 3, 1, 1))
    x = n.relu("relu4", n.conv("conv4", x, 384, 3, 1, 1, group=2))
    x = n.relu("relu5", n.conv("conv5", x, 256, 3, 1, 1, group=2))
    x = n.pool("pool5", x, "MAX", 3, 2)
    x = n.dropout("drop6", n.relu("relu6", n.fc("fc6", x, 4096)), 0.5)
    x = n.dropout("drop7", n.relu("relu7", n.fc("fc7", x, 4096)), 0.5)
    x = n.fc("fc8", x, 1000)
    n.layer("prob", "Softmax", [x], ["prob"])
    n.write("alexnet_deploy.prototxt")


def _fire(n: Net, name: str, x: str, s: int, e: int) -> str:
    sq = n.relu(f"{name}/relu_squeeze1x1", n.conv(f"{name}/squeeze1x1", x, s, 1))
    e1 = n.relu(f"{name}/relu_expand1x1", n.conv(f"{name}/expand1x1", sq, e, 1))
    e3 = n.relu(f"{name}/relu_expand3x3", n.conv(f"{name}/expand3x3", sq, e, 3, 1, 1))
    return n.concat(f"{name}/concat", [e1, e3])


def squeezenet(version: str) -> None:
    n = Net(f"SqueezeNet_v{version}")
    n.deploy_input((10, 3, 227, 227))
    if version == "1.0":
        x = n.pool("pool1", n.relu("relu_conv1", n.conv("conv1", "data", 96, 7, 2)), "MAX", 3, 2)
        plan = [("fire2", 16, 64), ("fire3", 16, 64), ("fire4", 32, 128), ("pool4",),
                ("fire5", 32, 128), ("fire6", 48, 192), ("fire7", 48, 192), ("fire8", 64, 256),
                ("pool8",), ("fire9", 64, 256)]  # fmt: skip
    else:
        x = n.pool("pool1", n.relu("relu_conv1", n.conv("conv1", "data", 64, 3, 2)), "MAX", 3, 2)
        plan = [("fire2", 16, 64), ("fire3", 16, 64), ("pool3",), ("fire4", 32, 128),
                ("fire5", 32, 128), ("pool5",), ("fire6", 48, 192), ("fire7", 48, 192),
                ("fire8", 64, 256), ("fire9", 64, 256)]  # fmt: skip
    for step in plan:
        if len(step) == 1:
            x = n.pool(step[0], x, "MAX", 3, 2)
        else:
            x = _fire(n, step[0], x, step[1], step[2])
    x = n.dropout("drop9", x, 0.5)
    x = n.relu("relu_conv10", n.conv("conv10", x, 1000, 1))
    x = n.pool("pool10", x, "AVE", glob=True)
    n.layer("prob", "Softmax", [x], ["prob"])
    n.write(f"squeezenet{version.replace('.', '_')}_deploy.prototxt")


def resnet50(train: bool) -> None:
    n = Net("ResNet-50")
    if train:
        for phase in ("TRAIN", "TEST"):
            n.lines += [
                "layer {", '  name: "data"', '  type: "Data"', '  top: "data"', '  top: "label"',
                f"  include {{ phase: {phase} }}",
                "  transform_param { mirror: " + ("true" if phase == "TRAIN" else "false"),
                "    crop_size: 224", '    mean_file: "imagenet_mean.binaryproto" }',
                f'  data_param {{ source: "ilsvrc12_{phase.lower()}_lmdb" batch_size: 32'
                " backend: LMDB }", "}",
            ]  # fmt: skip
    else:
        n.deploy_input((1, 3, 224, 224))
    # Kaiming He's deploy file gives conv1 (alone) a bias: no bias_term, so Caffe's default true
    x = n.conv("conv1", "data", 64, 7, 2, 3)
    x = n.relu("conv1_relu", n.bn_scale("bn_conv1", "scale_conv1", x))
    x = n.pool("pool1", x, "MAX", 3, 2)
    stages = [(2, 64, 3), (3, 128, 4), (4, 256, 6), (5, 512, 3)]
    for stage, width, count in stages:
        for k in range(count):
            u = f"{stage}{chr(ord('a') + k)}"
            stride = 2 if k == 0 and stage > 2 else 1
            if k == 0:
                short = n.conv(f"res{u}_branch1", x, width * 4, 1, stride, bias=False)
                short = n.bn_scale(f"bn{u}_branch1", f"scale{u}_branch1", short)
            else:
                short = x
            y = n.conv(f"res{u}_branch2a", x, width, 1, stride, bias=False)
            y = n.relu(
                f"res{u}_branch2a_relu", n.bn_scale(f"bn{u}_branch2a", f"scale{u}_branch2a", y)
            )
            y = n.conv(f"res{u}_branch2b", y, width, 3, 1, 1, bias=False)
            y = n.relu(
                f"res{u}_branch2b_relu", n.bn_scale(f"bn{u}_branch2b", f"scale{u}_branch2b", y)
            )
            y = n.conv(f"res{u}_branch2c", y, width * 4, 1, bias=False)
            y = n.bn_scale(f"bn{u}_branch2c", f"scale{u}_branch2c", y)
            n.layer(f"res{u}", "Eltwise", [short, y], [f"res{u}"])
            x = n.relu(f"res{u}_relu", f"res{u}")
    x = n.fc("fc1000", n.pool("pool5", x, "AVE", 7, 1), 1000)
    if train:
        n.layer("loss", "SoftmaxWithLoss", [x, "label"], ["loss"])
        n.lines += ["layer {", '  name: "accuracy"', '  type: "Accuracy"', '  bottom: "fc1000"',
                    '  bottom: "label"', '  top: "accuracy"', "  include { phase: TEST }", "}"]  # fmt: skip
        n.write("resnet50_train_val.prototxt")
    else:
        n.layer("prob", "Softmax", [x], ["prob"])
        n.write("resnet50_deploy.prototxt")


def mobilenet() -> None:
    n = Net("MOBILENET")
    n.deploy_input((1, 3, 224, 224))
    x = n.conv("conv1", "data", 32, 3, 2, 1, bias=False)
    x = n.relu("relu1", n.bn_scale("conv1/bn", "conv1/scale", x))
    plan = [("2_1", 32, 64, 1), ("2_2", 64, 128, 2), ("3_1", 128, 128, 1), ("3_2", 128, 256, 2),
            ("4_1", 256, 256, 1), ("4_2", 256, 512, 2), ("5_1", 512, 512, 1),
            ("5_2", 512, 512, 1), ("5_3", 512, 512, 1), ("5_4", 512, 512, 1),
            ("5_5", 512, 512, 1), ("5_6", 512, 1024, 2), ("6", 1024, 1024, 1)]  # fmt: skip
    for key, cin, cout, stride in plan:
        x = n.conv(f"conv{key}/dw", x, cin, 3, stride, 1, group=cin, bias=False)
        x = n.relu(f"relu{key}/dw", n.bn_scale(f"conv{key}/dw/bn", f"conv{key}/dw/scale", x))
        x = n.conv(f"conv{key}/sep", x, cout, 1, bias=False)
        x = n.relu(f"relu{key}/sep", n.bn_scale(f"conv{key}/sep/bn", f"conv{key}/sep/scale", x))
    x = n.pool("pool6", x, "AVE", glob=True)
    x = n.conv("fc7", x, 1000, 1)
    n.layer("prob", "Softmax", [x], ["prob"])
    n.write("mobilenet_v1_deploy.prototxt")


if __name__ == "__main__":
    googlenet()
    alexnet()
    squeezenet("1.0")
    squeezenet("1.1")
    resnet50(train=False)
    resnet50(train=True)
    mobilenet()
