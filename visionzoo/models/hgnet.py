"""PP-HGNet and PP-HGNetV2: GPU-oriented convnets of stages of "HG blocks", each a chain of convs
whose outputs (with the block input) are concatenated and aggregated by 1x1 convs, with an
effective-SE gate (V1) or a squeeze / excite pair (V2). V2 adds a two-branch stem, light
(1x1 + depthwise) layers in the later stages and, in its small models, a learnable affine
``scale * x + bias`` after each activation.

Reference: PaddleClas, https://github.com/PaddlePaddle/PaddleClas (PP-HGNet, PP-HGNetV2); the SSLD
weights: `Beyond Self-Supervision: A Simple Yet Effective Network Distillation Alternative to
Improve Backbones` - https://arxiv.org/abs/2103.05959

:func:`visionzoo.reparameterize` and :func:`visionzoo.optimize_for_inference` fold each conv's
batch norm, and a positive learnable-affine scale (it commutes with the ReLU before it), into the
conv. Weights: Baidu's Paddle models (Apache-2.0); module names follow timm's ``HighPerfGpuNet``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, SelectAdaptivePool2d, calculate_drop_path_rates, create_conv2d
from ..layers.branch_fusion import branch_kernel_bias, conv_like
from ..layers.classifier import check_num_classes
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "ConvBNAct",
    "HighPerfGpuBlock",
    "HighPerfGpuNet",
    "HighPerfGpuStage",
    "LearnableAffineBlock",
    "default_cfgs",
]


class LearnableAffineBlock(nn.Module):
    """``scale * x + bias`` with one learnt scalar each: cheap extra capacity after an activation."""

    def __init__(self, scale_value: float = 1.0, bias_value: float = 0.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([scale_value]))
        self.bias = nn.Parameter(torch.tensor([bias_value]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x + self.bias


class _Shift(nn.Module):
    """A learnable-affine block whose scale went into the conv before it: ``x + bias``."""

    def __init__(self, bias: torch.Tensor) -> None:
        super().__init__()
        self.bias = nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


class ConvBNAct(nn.Module):
    """Bias-free conv, batch norm, optional ReLU, and with ``use_lab`` (and the ReLU) a
    learnable affine after it."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        *,
        use_act: bool = True,
        use_lab: bool = False,
    ) -> None:
        super().__init__()
        self.conv = create_conv2d(in_chs, out_chs, kernel_size, stride=stride, groups=groups)
        self.bn: nn.Module = nn.BatchNorm2d(out_chs)
        self.act = nn.ReLU() if use_act else nn.Identity()
        self.lab: nn.Module = LearnableAffineBlock() if use_act and use_lab else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lab(self.act(self.bn(self.conv(x))))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the norm (eval statistics) into a biased conv, and a positive learnable-affine
        scale too (``s * relu(z) == relu(s * z)`` for ``s > 0``), leaving its bias as a shift."""
        if isinstance(self.bn, nn.Identity):
            return
        conv = cast(nn.Conv2d, self.conv)
        kernel, bias = branch_kernel_bias(conv, self.bn, conv.weight)
        if isinstance(self.lab, LearnableAffineBlock) and float(self.lab.scale) > 0:
            scale = self.lab.scale.double()
            kernel, bias = kernel * scale, bias * scale
            self.lab = _Shift(self.lab.bias)
        self.conv = conv_like(conv, kernel, bias)
        self.bn = nn.Identity()

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.reparameterize()


class LightConvBNAct(nn.Module):
    """A 1x1 conv + norm (no activation), then a depthwise ``kernel_size`` conv + norm + act."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, *, use_lab: bool = False) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(in_chs, out_chs, 1, use_act=False, use_lab=use_lab)
        self.conv2 = ConvBNAct(out_chs, out_chs, kernel_size, groups=out_chs, use_lab=use_lab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class EseModule(nn.Module):
    """Effective SE: the channels gated by ``sigmoid(conv(spatial mean))``, one full-width 1x1."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(chs, chs, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.conv(x.mean((2, 3), keepdim=True)))


class StemV1(nn.Module):
    """PP-HGNet's stem: 3x3 conv-norm-acts through ``stem_chs`` (the first strided), a max pool."""

    def __init__(self, stem_chs: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            *[
                ConvBNAct(stem_chs[i], stem_chs[i + 1], 3, stride=2 if i == 0 else 1)
                for i in range(len(stem_chs) - 1)
            ]
        )
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stem(x))


class StemV2(nn.Module):
    """PP-HGNetV2's stem: a strided 3x3, then two branches concatenated (a 2x2 max pool; two 2x2
    convs), a strided 3x3 and a 1x1. The 2x2 windows read one padded row and column."""

    def __init__(self, in_chs: int, mid_chs: int, out_chs: int, *, use_lab: bool = False) -> None:
        super().__init__()
        self.stem1 = ConvBNAct(in_chs, mid_chs, 3, stride=2, use_lab=use_lab)
        self.stem2a = ConvBNAct(mid_chs, mid_chs // 2, 2, use_lab=use_lab)
        self.stem2b = ConvBNAct(mid_chs // 2, mid_chs, 2, use_lab=use_lab)
        self.stem3 = ConvBNAct(mid_chs * 2, mid_chs, 3, stride=2, use_lab=use_lab)
        self.stem4 = ConvBNAct(mid_chs, out_chs, 1, use_lab=use_lab)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=1, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(self.stem1(x), (0, 1, 0, 1))
        convs = self.stem2b(F.pad(self.stem2a(x), (0, 1, 0, 1)))
        x = torch.cat([self.pool(x), convs], dim=1)
        return self.stem4(self.stem3(x))


class HighPerfGpuBlock(nn.Module):
    """``layer_num`` chained layers (conv-norm-acts, or light ones); the block input and every
    layer's output are concatenated and aggregated to ``out_chs`` by a 1x1 conv and an ESE gate
    (``agg='ese'``) or a 1x1 squeeze to half and excite back (``'se'``); residual with ``residual``."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        layer_num: int,
        kernel_size: int = 3,
        *,
        residual: bool = False,
        light_block: bool = False,
        use_lab: bool = False,
        agg: str = "ese",
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if agg not in ("ese", "se"):
            raise ValueError(f"agg must be 'ese' or 'se', got {agg!r}")
        self.residual = residual
        self.layers = nn.ModuleList(
            [
                LightConvBNAct(in_chs if i == 0 else mid_chs, mid_chs, kernel_size, use_lab=use_lab)
                if light_block
                else ConvBNAct(in_chs if i == 0 else mid_chs, mid_chs, kernel_size, use_lab=use_lab)
                for i in range(layer_num)
            ]
        )
        total_chs = in_chs + layer_num * mid_chs
        if agg == "se":
            self.aggregation = nn.Sequential(
                ConvBNAct(total_chs, out_chs // 2, 1, use_lab=use_lab),
                ConvBNAct(out_chs // 2, out_chs, 1, use_lab=use_lab),
            )
        else:
            self.aggregation = nn.Sequential(
                ConvBNAct(total_chs, out_chs, 1, use_lab=use_lab), EseModule(out_chs)
            )
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        outputs = [x]
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        x = self.aggregation(torch.cat(outputs, dim=1))
        return self.drop_path(x) + identity if self.residual else x


class HighPerfGpuStage(nn.Module):
    """An optional strided depthwise conv + norm (``downsample``), then HG blocks (the first
    widening to ``out_chs``, the rest residual)."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        block_num: int,
        layer_num: int,
        *,
        downsample: bool = True,
        light_block: bool = False,
        kernel_size: int = 3,
        use_lab: bool = False,
        agg: str = "ese",
        drop_path: list[float] | None = None,
    ) -> None:
        super().__init__()
        rates = drop_path or [0.0] * block_num
        self.downsample = (
            ConvBNAct(in_chs, in_chs, 3, stride=2, groups=in_chs, use_act=False, use_lab=use_lab)
            if downsample
            else nn.Identity()
        )
        self.blocks = nn.Sequential(
            *[
                HighPerfGpuBlock(
                    in_chs if i == 0 else out_chs,
                    mid_chs,
                    out_chs,
                    layer_num,
                    kernel_size,
                    residual=i > 0,
                    light_block=light_block,
                    use_lab=use_lab,
                    agg=agg,
                    drop_path=rates[i],
                )
                for i in range(block_num)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class HGNetHead(nn.Module):
    """Pool, an optional 1x1 conv to ``hidden_size`` (ReLU, learnable affine with ``use_lab``),
    dropout, flatten, classifier: timm's HGNet ``ClassifierHead`` (keys ``head.last_conv.*``,
    ``head.fc.*``). Its conv is sized for the pooled width: widening pools are refused."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        pool_type: str = "avg",
        drop_rate: float = 0.0,
        hidden_size: int | None = 2048,
        use_lab: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = self.num_features = in_features
        self.global_pool = self._pool(pool_type, num_classes)
        self.last_conv: nn.Module = nn.Identity()
        if hidden_size is not None:
            self.num_features = hidden_size
            conv = nn.Conv2d(in_features, hidden_size, 1, bias=False)
            labs = [LearnableAffineBlock()] if use_lab else []
            self.last_conv = nn.Sequential(conv, nn.ReLU(), *labs)
        self.dropout = nn.Dropout(drop_rate)
        self.flatten: nn.Module = nn.Flatten(1) if pool_type else nn.Identity()
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    @staticmethod
    def _pool(pool_type: str, num_classes: int) -> SelectAdaptivePool2d:
        if not pool_type and num_classes:
            raise ValueError(f"an unpooled head has no classifier: num_classes must be 0, got {num_classes}")
        pool = SelectAdaptivePool2d(pool_type=pool_type)
        if pool.feat_mult() != 1:
            raise ValueError(f"HGNet's head takes the pooled width: pool {pool_type!r} changes it")
        return pool

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        """A new classifier (and pool, if given); ``reset_other`` drops the head conv;
        ``in_features`` a new input width (only without the head conv)."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        if pool_type is not None:
            self.global_pool = self._pool(pool_type, num_classes).train(self.training)
            self.flatten = (nn.Flatten(1) if pool_type else nn.Identity()).train(self.training)
        if reset_other:
            self.last_conv = nn.Identity()
            self.num_features = self.in_features
        if in_features is not None and in_features != self.in_features:
            if not isinstance(self.last_conv, nn.Identity):
                raise ValueError("the head's input width can change only without its head conv")
            self.in_features = self.num_features = in_features
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        with torch.device(device or "cpu"):
            fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if ref is not None:
            fc.to(dtype=ref.dtype)
        self.fc = fc.train(self.training)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.dropout(self.last_conv(self.global_pool(x))))
        return x if pre_logits else self.fc(x)


# per stage: in_chs, mid_chs, out_chs, blocks, downsample, light_block, kernel_size, layer_num
StageCfg = tuple[int, int, int, int, bool, bool, int, int]


class HighPerfGpuNet(VisionModel):
    """PP-HGNet (``stem_type='v1'``: the plain stem, ESE aggregation) and PP-HGNetV2 (``'v2'``:
    the two-branch stem, squeeze/excite aggregation), four stages (stride 4 to 32), then a head
    with a 1x1 conv to ``head_hidden_size`` after the pool.

    Args:
        stem_chs: V1: the stem convs' widths; V2: its mid and out widths.
        stages: one :data:`StageCfg` per stage.
        use_lab: a learnable affine after every activation.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",), blocks=("downsample", "blocks.*"), checkpoint="block")
    classifier_name = "head.fc"
    head_names = ("head",)

    def __init__(
        self,
        stem_type: str = "v2",
        stem_chs: tuple[int, ...] = (16, 16),
        stages: tuple[StageCfg, ...] = (),
        *,
        head_hidden_size: int | None = 2048,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        use_lab: bool = False,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if stem_type not in ("v1", "v2"):
            raise ValueError(f"stem_type must be 'v1' or 'v2', got {stem_type!r}")
        if not stages:
            raise ValueError("stages must list at least one StageCfg")
        check_num_classes(num_classes)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.use_lab = use_lab
        if stem_type == "v2":
            self.stem: nn.Module = StemV2(in_chans, stem_chs[0], stem_chs[1], use_lab=use_lab)
        else:
            self.stem = StemV1((in_chans, *stem_chs))
        dpr = cast(
            "list[list[float]]",
            calculate_drop_path_rates(drop_path_rate, [s[3] for s in stages], stagewise=True),
        )
        stride, blocks = 4, []
        self.feature_info = []
        for i, (in_chs, mid_chs, out_chs, block_num, downsample, light, kernel, layer_num) in enumerate(
            stages
        ):
            blocks.append(
                HighPerfGpuStage(
                    in_chs,
                    mid_chs,
                    out_chs,
                    block_num,
                    layer_num,
                    downsample=downsample,
                    light_block=light,
                    kernel_size=kernel,
                    use_lab=use_lab,
                    agg="ese" if stem_type == "v1" else "se",
                    drop_path=dpr[i],
                )
            )
            stride *= 2 if downsample else 1
            self.feature_info.append(dict(num_chs=out_chs, reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*blocks)
        self.num_features = stages[-1][2]
        self.head = HGNetHead(
            self.num_features,
            num_classes,
            pool_type=global_pool,
            drop_rate=drop_rate,
            hidden_size=head_hidden_size,
            use_lab=use_lab,
        )
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)],
        )

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier of ``num_classes`` outputs (0 removes it) behind the head conv."""
        self.head.reset(num_classes, global_pool, in_features=self.num_features)
        self.num_classes = num_classes
        self.head_hidden_size = self.head.num_features

    def _prune_head(self) -> None:
        """The head conv goes with the classifier; the pool stays (as timm's)."""
        self.head.reset(0, "avg", reset_other=True, in_features=self.num_features)
        self.num_classes = 0
        self.head_hidden_size = self.head.num_features


HGNetArgs = model_args_type(HighPerfGpuNet)
_V1, _V2 = dict(stem_type="v1"), dict(stem_type="v2")
_F, _T = False, True

VARIANTS = {
    "hgnet_tiny": HGNetArgs(**_V1, stem_chs=(48, 48, 96), stages=(
        (96, 96, 224, 1, _F, _F, 3, 5), (224, 128, 448, 1, _T, _F, 3, 5),
        (448, 160, 512, 2, _T, _F, 3, 5), (512, 192, 768, 1, _T, _F, 3, 5),
    )),
    "hgnet_small": HGNetArgs(**_V1, stem_chs=(64, 64, 128), stages=(
        (128, 128, 256, 1, _F, _F, 3, 6), (256, 160, 512, 1, _T, _F, 3, 6),
        (512, 192, 768, 2, _T, _F, 3, 6), (768, 224, 1024, 1, _T, _F, 3, 6),
    )),
    "hgnet_base": HGNetArgs(**_V1, stem_chs=(96, 96, 160), stages=(
        (160, 192, 320, 1, _F, _F, 3, 7), (320, 224, 640, 2, _T, _F, 3, 7),
        (640, 256, 960, 3, _T, _F, 3, 7), (960, 288, 1280, 2, _T, _F, 3, 7),
    )),
    "hgnetv2_b0": HGNetArgs(**_V2, stem_chs=(16, 16), use_lab=True, stages=(
        (16, 16, 64, 1, _F, _F, 3, 3), (64, 32, 256, 1, _T, _F, 3, 3),
        (256, 64, 512, 2, _T, _T, 5, 3), (512, 128, 1024, 1, _T, _T, 5, 3),
    )),
    "hgnetv2_b1": HGNetArgs(**_V2, stem_chs=(24, 32), use_lab=True, stages=(
        (32, 32, 64, 1, _F, _F, 3, 3), (64, 48, 256, 1, _T, _F, 3, 3),
        (256, 96, 512, 2, _T, _T, 5, 3), (512, 192, 1024, 1, _T, _T, 5, 3),
    )),
    "hgnetv2_b2": HGNetArgs(**_V2, stem_chs=(24, 32), use_lab=True, stages=(
        (32, 32, 96, 1, _F, _F, 3, 4), (96, 64, 384, 1, _T, _F, 3, 4),
        (384, 128, 768, 3, _T, _T, 5, 4), (768, 256, 1536, 1, _T, _T, 5, 4),
    )),
    "hgnetv2_b3": HGNetArgs(**_V2, stem_chs=(24, 32), use_lab=True, stages=(
        (32, 32, 128, 1, _F, _F, 3, 5), (128, 64, 512, 1, _T, _F, 3, 5),
        (512, 128, 1024, 3, _T, _T, 5, 5), (1024, 256, 2048, 1, _T, _T, 5, 5),
    )),
    "hgnetv2_b4": HGNetArgs(**_V2, stem_chs=(32, 48), stages=(
        (48, 48, 128, 1, _F, _F, 3, 6), (128, 96, 512, 1, _T, _F, 3, 6),
        (512, 192, 1024, 3, _T, _T, 5, 6), (1024, 384, 2048, 1, _T, _T, 5, 6),
    )),
    "hgnetv2_b5": HGNetArgs(**_V2, stem_chs=(32, 64), stages=(
        (64, 64, 128, 1, _F, _F, 3, 6), (128, 128, 512, 2, _T, _F, 3, 6),
        (512, 256, 1024, 5, _T, _T, 5, 6), (1024, 512, 2048, 2, _T, _T, 5, 6),
    )),
    "hgnetv2_b6": HGNetArgs(**_V2, stem_chs=(48, 96), stages=(
        (96, 96, 192, 2, _F, _F, 3, 6), (192, 192, 512, 3, _T, _F, 3, 6),
        (512, 384, 1024, 6, _T, _T, 5, 6), (1024, 768, 2048, 3, _T, _T, 5, 6),
    )),
}  # fmt: skip

_V1_STEM = dict(first_conv="stem.stem.0.conv")
WEIGHTS = {
    "hgnet_tiny.paddle_in1k": weight(_V1_STEM, default=True),
    "hgnet_tiny.ssld_in1k": weight(_V1_STEM),
    "hgnet_small.paddle_in1k": weight(_V1_STEM, default=True),
    "hgnet_small.ssld_in1k": weight(_V1_STEM),
    "hgnet_base.ssld_in1k": weight(_V1_STEM, default=True),
    **{
        entry: field
        for b in range(7)
        for entry, field in (
            (f"hgnetv2_b{b}.ssld_stage2_ft_in1k", weight(default=True)),
            (f"hgnetv2_b{b}.ssld_stage1_in22k_in1k", weight()),
        )
    },
}

default_cfgs = register_family(
    __name__,
    model_cls=HighPerfGpuNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.965,
        interpolation="bicubic",
        classifier="head.fc",
        first_conv="stem.stem1.conv",
        test_crop_pct=1.0,
        test_input_size=(3, 288, 288),
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. hgnetv2_b0
    return family_entrypoint(__name__, name)
