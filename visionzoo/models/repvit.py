"""RepViT: a MobileNetV3-like convnet rebuilt with ViT design choices (separate token and channel
mixers), whose depthwise token mixer is a RepVGG-style sum of branches fused at inference.

Paper: `RepViT: Revisiting Mobile CNN From ViT Perspective` - https://arxiv.org/abs/2307.09283

Weights: the authors' distilled ImageNet-1k models (Apache-2.0). Module names follow timm's
``RepVit`` (``stem.conv1.c``, ``stages.N.blocks.M.token_mixer``, ``head.head.l``...), so timm
checkpoints load unchanged. :func:`visionzoo.reparameterize` (and
:func:`visionzoo.optimize_for_inference`) fuse every conv + norm pair, each token mixer's
branches and the two distillation heads into plain convs and one linear layer, timm's ``fuse()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from ..layers import SqueezeExcite, get_act_layer, to_2tuple, trunc_normal_
from ..layers.activations import LayerType
from ..layers.branch_fusion import conv_like, norm_scale_shift
from ..layers.classifier import check_pool
from ..model import Trunk, VisionModel
from ..optimize.reparam import reparameterize
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["ConvNorm", "NormLinear", "RepVggDw", "RepVit", "RepVitClassifier", "default_cfgs"]


class ConvNorm(nn.Sequential):
    """Bias-free conv (``c``) then batch norm (``bn``); :meth:`fuse` returns the one conv."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        ks: int = 1,
        stride: int = 1,
        pad: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.add_module("c", nn.Conv2d(in_dim, out_dim, ks, stride, pad, dilation, groups, bias=False, **dd))
        bn = nn.BatchNorm2d(out_dim, **dd)
        self.add_module("bn", bn)
        nn.init.constant_(bn.weight, bn_weight_init)
        nn.init.constant_(bn.bias, 0)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """The conv with the norm's eval statistics folded in (already folded: the conv itself)."""
        conv, norm = cast(nn.Conv2d, self.c), self.bn
        if not isinstance(norm, nn.BatchNorm2d):  # optimize_for_inference folded it into ``c``
            return conv
        scale, shift = norm_scale_shift(norm)
        base = conv.bias * scale if conv.bias is not None else 0.0
        return conv_like(conv, conv.weight * scale.view(-1, 1, 1, 1), shift + base)


class NormLinear(nn.Sequential):
    """Batch norm (``bn``) then linear (``l``); :meth:`fuse` returns the one linear layer."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias: bool = True,
        std: float = 0.02,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.add_module("bn", nn.BatchNorm1d(in_dim, **dd))
        linear = nn.Linear(in_dim, out_dim, bias=bias, **dd)
        self.add_module("l", linear)
        trunc_normal_(linear.weight, std=std)
        if bias:
            nn.init.constant_(linear.bias, 0)

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        linear = cast(nn.Linear, self.l)
        scale, shift = norm_scale_shift(cast(nn.BatchNorm1d, self.bn))
        bias = linear.weight @ shift
        if linear.bias is not None:
            bias = bias + linear.bias
        fused = nn.Linear(linear.in_features, linear.out_features, device=bias.device, dtype=bias.dtype)
        assert fused.bias is not None
        fused.weight.copy_(linear.weight * scale.view(1, -1))
        fused.bias.copy_(bias)
        return fused


class RepVggDw(nn.Module):
    """Depthwise kxk conv + norm, depthwise 1x1 conv and identity, summed, then a norm; one
    depthwise kxk conv after :meth:`fuse`. ``legacy`` (the M1-M3 checkpoints): the 1x1 branch has
    its own norm and there is none after the sum."""

    def __init__(
        self,
        ed: int,
        kernel_size: int,
        legacy: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.conv = ConvNorm(ed, ed, kernel_size, 1, (kernel_size - 1) // 2, groups=ed, **dd)
        self.conv1: ConvNorm | nn.Conv2d
        self.bn: nn.Module
        if legacy:
            self.conv1 = ConvNorm(ed, ed, 1, 1, 0, groups=ed, **dd)
            self.bn = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(ed, ed, 1, 1, 0, groups=ed, **dd)
            self.bn = nn.BatchNorm2d(ed, **dd)
        self.dim = ed
        self.legacy = legacy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x) + self.conv1(x) + x)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """The three branches (and the norm after them) as one depthwise kxk conv."""
        conv = self.conv.fuse()
        conv1 = self.conv1.fuse() if isinstance(self.conv1, ConvNorm) else self.conv1
        pad = [(s - 1) // 2 for s in conv.kernel_size for _ in (0, 1)]
        weight = conv.weight + nn.functional.pad(conv1.weight, pad)
        centre = (conv.kernel_size[0] // 2, conv.kernel_size[1] // 2)
        weight[:, 0, centre[0], centre[1]] += 1.0  # the identity: each channel reads itself
        assert conv.bias is not None and conv1.bias is not None  # fused convs are biased
        bias = conv.bias + conv1.bias
        if isinstance(self.bn, nn.BatchNorm2d):
            scale, shift = norm_scale_shift(self.bn)
            weight, bias = weight * scale.view(-1, 1, 1, 1), bias * scale + shift
        return conv_like(conv, weight, bias)


class RepVitMlp(nn.Module):
    """1x1 expansion, activation, 1x1 projection (its norm zero-initialised)."""

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        act_layer: Callable[..., nn.Module],
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = ConvNorm(in_dim, hidden_dim, 1, 1, 0, device=device, dtype=dtype)
        self.act = act_layer()
        self.conv2 = ConvNorm(hidden_dim, in_dim, 1, 1, 0, bn_weight_init=0, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.conv1(x)))


class RepViTBlock(nn.Module):
    """Token mixer (re-parameterisable depthwise conv), optional SE, residual channel mixer."""

    def __init__(
        self,
        in_dim: int,
        mlp_ratio: float,
        kernel_size: int,
        use_se: bool,
        act_layer: Callable[..., nn.Module],
        legacy: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.token_mixer = RepVggDw(in_dim, kernel_size, legacy, **dd)
        self.se = SqueezeExcite(in_dim, 0.25, **dd) if use_se else nn.Identity()
        self.channel_mixer = RepVitMlp(in_dim, int(in_dim * mlp_ratio), act_layer, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.se(self.token_mixer(x))
        return x + self.channel_mixer(x)


class RepVitStem(nn.Module):
    """Two stride-2 3x3 conv + norm layers with an activation between them."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        act_layer: Callable[..., nn.Module],
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = ConvNorm(in_chs, out_chs // 2, 3, 2, 1, device=device, dtype=dtype)
        self.act1 = act_layer()
        self.conv2 = ConvNorm(out_chs // 2, out_chs, 3, 2, 1, device=device, dtype=dtype)
        self.stride = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act1(self.conv1(x)))


class RepVitDownsample(nn.Module):
    """A block at the input width, a stride-2 depthwise conv, a 1x1 widening, a residual MLP."""

    def __init__(
        self,
        in_dim: int,
        mlp_ratio: float,
        out_dim: int,
        kernel_size: int,
        act_layer: Callable[..., nn.Module],
        legacy: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.pre_block = RepViTBlock(in_dim, mlp_ratio, kernel_size, False, act_layer, legacy, **dd)
        self.spatial_downsample = ConvNorm(
            in_dim, in_dim, kernel_size, stride=2, pad=(kernel_size - 1) // 2, groups=in_dim, **dd
        )
        self.channel_downsample = ConvNorm(in_dim, out_dim, 1, 1, **dd)
        self.ffn = RepVitMlp(out_dim, int(out_dim * mlp_ratio), act_layer, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channel_downsample(self.spatial_downsample(self.pre_block(x)))
        return x + self.ffn(x)


class RepVitClassifier(nn.Module):
    """Norm + linear head, with a second (distillation) head averaged in unless distilled
    training asks for both; :meth:`fuse` folds both into one linear layer."""

    def __init__(
        self,
        dim: int,
        num_classes: int,
        distillation: bool = False,
        drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.head_drop = nn.Dropout(drop)

        def make_head() -> nn.Module:
            return NormLinear(dim, num_classes, **dd) if num_classes > 0 else nn.Identity()

        self.head = make_head()
        self.distillation = distillation
        self.distilled_training = False
        self.num_classes = num_classes
        # NOTE: an empty head_dist without distillation, so TorchScript compiles the distilled branch
        self.head_dist = make_head() if distillation else nn.Identity()

    # NOTE: annotated Tensor for TorchScript; eager distilled training returns (logits, dist logits)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head_drop(x)
        if not self.distillation:
            return self.head(x)
        x1, x2 = self.head(x), self.head_dist(x)
        if self.training and self.distilled_training and not torch.jit.is_scripting():
            return cast(torch.Tensor, (x1, x2))  # eager only: both logits, for a distillation loss
        return (x1 + x2) / 2

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        if self.num_classes <= 0:
            return nn.Identity()
        head = cast(NormLinear, self.head).fuse()  # classes: a NormLinear
        if self.distillation:  # the mean of two linear maps is one linear map
            dist = cast(NormLinear, self.head_dist).fuse()
            head.weight.copy_((head.weight + dist.weight) / 2)
            head.bias.copy_((head.bias + dist.bias) / 2)
        return head


class RepVitStage(nn.Module):
    """An optional downsample, then blocks alternating with and without SE (first with)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        depth: int,
        mlp_ratio: float,
        act_layer: Callable[..., nn.Module],
        kernel_size: int = 3,
        downsample: bool = True,
        legacy: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.downsample: nn.Module = (
            RepVitDownsample(in_dim, mlp_ratio, out_dim, kernel_size, act_layer, legacy, **dd)
            if downsample
            else nn.Identity()
        )
        self.blocks = nn.Sequential(
            *(
                RepViTBlock(out_dim, mlp_ratio, kernel_size, i % 2 == 0, act_layer, legacy, **dd)
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class RepVit(VisionModel):
    """Stem (stride 4), then stages of RepViT blocks, each after the first opening with a
    stride-2 downsample; mean pooling and a (distilled) norm + linear head."""

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.head.l"

    def __init__(
        self,
        in_chans: int = 3,
        img_size: int | tuple[int, int] = 224,
        embed_dim: tuple[int, ...] = (48,),
        depth: tuple[int, ...] = (2,),
        mlp_ratio: float = 2,
        global_pool: str = "avg",
        kernel_size: int = 3,
        num_classes: int = 1000,
        act_layer: LayerType = nn.GELU,
        distillation: bool = True,
        drop_rate: float = 0.0,
        legacy: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="RepViT")
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        act = get_act_layer(act_layer)
        assert act is not None
        self.img_size = to_2tuple(img_size)  # NOTE: unused by the convnet; timm's argument
        self.global_pool = global_pool  # type: ignore[assignment]  # NOTE: a pool type, not a module
        self.embed_dim = embed_dim
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.distillation = distillation

        self.stem = RepVitStem(in_chans, embed_dim[0], act, **dd)
        stride, in_dim = self.stem.stride, embed_dim[0]
        self.feature_info = []
        stages = []
        for i, (dim, d) in enumerate(zip(embed_dim, depth)):
            stage = RepVitStage(in_dim, dim, d, mlp_ratio, act, kernel_size, i > 0, legacy, **dd)
            stages.append(stage)
            stride *= 2 if i > 0 else 1
            self.feature_info.append(dict(num_chs=dim, reduction=stride, module=f"stages.{i}"))
            in_dim = dim
        self.stages = nn.Sequential(*stages)

        self.num_features = self.head_hidden_size = embed_dim[-1]
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = RepVitClassifier(embed_dim[-1], num_classes, distillation, **dd)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)],
        )

    def _classifier(self) -> nn.Module:
        """The class head's linear layer (timm's cfg names it), or what stands for it: the fused
        linear layer, or the identity without classes."""
        head = self.head.head if isinstance(self.head, RepVitClassifier) else self.head
        return getattr(head, "l", head)

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, distillation: bool = False
    ) -> None:
        """A fresh (distilled, with ``distillation``) head of ``num_classes`` outputs."""
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="RepViT")
            self.global_pool = global_pool  # type: ignore[assignment]
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.num_classes = num_classes
        self.distillation = distillation
        self.head = RepVitClassifier(self.num_features, num_classes, distillation, device=device, dtype=dtype)
        self.head.train(self.training)

    def set_distilled_training(self, enable: bool = True) -> None:
        """Return both heads' logits in training (for a distillation loss)."""
        if isinstance(self.head, RepVitClassifier):
            self.head.distilled_training = enable

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean((2, 3), keepdim=False)
        x = self.head_drop(x)
        if pre_logits:
            return x
        return self.head(x)

    @torch.no_grad()
    def fuse(self) -> RepVit:
        """timm's name: every conv + norm, token mixer and the head fused in place."""
        return reparameterize(self, inplace=True)  # type: ignore[return-value]

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.fuse()


RepVitArgs = model_args_type(RepVit)

_LEGACY = dict(legacy=True)  # the first release's checkpoints: 1x1 branch norm, no norm after the sum
VARIANTS = {
    "repvit_m1": RepVitArgs(embed_dim=(48, 96, 192, 384), depth=(2, 2, 14, 2), **_LEGACY),
    "repvit_m2": RepVitArgs(embed_dim=(64, 128, 256, 512), depth=(2, 2, 12, 2), **_LEGACY),
    "repvit_m3": RepVitArgs(embed_dim=(64, 128, 256, 512), depth=(4, 4, 18, 2), **_LEGACY),
    "repvit_m0_9": RepVitArgs(embed_dim=(48, 96, 192, 384), depth=(2, 2, 14, 2)),
    "repvit_m1_0": RepVitArgs(embed_dim=(56, 112, 224, 448), depth=(2, 2, 14, 2)),
    "repvit_m1_1": RepVitArgs(embed_dim=(64, 128, 256, 512), depth=(2, 2, 12, 2)),
    "repvit_m1_5": RepVitArgs(embed_dim=(64, 128, 256, 512), depth=(4, 4, 24, 4)),
    "repvit_m2_3": RepVitArgs(embed_dim=(80, 160, 320, 640), depth=(6, 6, 34, 2)),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"{name}.dist_in1k": weight(default=True) for name in ("repvit_m1", "repvit_m2", "repvit_m3")},
    **{
        f"{name}.dist_{epochs}e_in1k": weight(default=epochs == 300)
        for name in ("repvit_m0_9", "repvit_m1_0", "repvit_m1_1", "repvit_m1_5", "repvit_m2_3")
        for epochs in (300, 450)
    },
}

default_cfgs = register_family(
    __name__,
    model_cls=RepVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.95,
        interpolation="bicubic",
        first_conv="stem.conv1.c",
        classifier=("head.head.l", "head.head_dist.l"),
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3)),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. repvit_m1
    return family_entrypoint(__name__, name)
