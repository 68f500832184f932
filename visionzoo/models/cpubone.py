"""CPUBone: a backbone for devices that run few operations in parallel (CPUs), where FLOPs
matter less than the number of small kernels launched: (fused) MBConv stages with grouped
expansions and 2x2 kernels, then stages that add a convolutional attention over a strided,
depthwise-projected map, upsampled back.

Paper: `CPUBone: Efficient Vision Backbone Design for Devices with Low Parallelization
Capabilities` - https://arxiv.org/abs/2603.26425

Weights: the authors' ImageNet-1k models and timm's two ``dwnorm`` retrainings; module names
follow timm's ``CPUBone``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from ..layers import GroupNorm1, calculate_drop_path_rates
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes, check_pool
from ..layers.create_act import get_act_layer
from ..layers.mbconv_mit import ConvLayer, FusedMBConv, MBConv, ResidualBlock
from ..layers.norm import get_norm_layer
from ..layers.strided_conv_attn import UPSAMPLE_MODES, ConvAttention
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "CPUBone",
    "CPUBoneBlock",
    "ClsHead",
    "ConvAttention",
    "ConvLayer",
    "FusedMBConv",
    "MBConv",
    "checkpoint_filter_fn",
    "default_cfgs",
]

Layer = Callable[..., nn.Module]

# the local MBConv of an attention block: which of (expand, depthwise, project) get a norm
_LOCAL_NORMS = {"proj": (False, False, True), "depth_proj": (False, True, True), "all": (True, True, True)}


def _check_local_norm(local_mbconv_norm: str) -> None:
    if local_mbconv_norm not in _LOCAL_NORMS:
        raise ValueError(
            f"local_mbconv_norm={local_mbconv_norm!r}; valid: {', '.join(map(repr, _LOCAL_NORMS))}"
        )


class LinearLayer(nn.Module):
    """Optional dropout, a linear layer, an optional norm and activation."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        dropout: nn.Module | None
        norm: nn.Module | None
        act: nn.Module | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        use_bias: bool = True,
        dropout: float = 0.0,
        norm_layer: Layer | None = None,
        act_layer: Layer | None = None,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.linear = nn.Linear(in_features, out_features, use_bias)
        self.norm = norm_layer(out_features) if norm_layer is not None else None
        self.act = act_layer() if act_layer is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            x = self.dropout(x)
        x = self.linear(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class CPUBoneBlock(nn.Module):
    """Attention, a 1x1-conv MLP and a local (fused) MBConv, each a pre-norm (group norm with
    one group for the first two) residual branch. ``total`` is ``((attention, mlp), local)``."""

    def __init__(
        self,
        in_channels: int,
        expand_ratio: float = 4,
        norm_layer: Layer = nn.BatchNorm2d,
        act_layer: Layer = nn.Hardswish,
        fused_conv: bool = False,
        expand_groups: int = 1,
        att_stride: int = 1,
        mlp_ratio: int = 4,
        small_kernels: bool = False,
        attn_upsample: str = "transpose",
        proj_drop: float = 0.1,
        drop_path: float = 0.0,
        local_mbconv_norm: str = "proj",
    ) -> None:
        super().__init__()
        _check_local_norm(local_mbconv_norm)
        attn = ConvAttention(
            in_channels,
            head_dim_mul=0.5,
            att_stride=att_stride,
            att_kernel=5 if att_stride > 1 else 3,
            fuse_out_proj=fused_conv,
            small_kernels=small_kernels,
            upsample_mode=attn_upsample,
        )
        mlp = nn.Sequential(
            GroupNorm1(in_channels),
            nn.Conv2d(in_channels, in_channels * mlp_ratio, 1),
            nn.GELU(),
            nn.Conv2d(in_channels * mlp_ratio, in_channels, 1),
            nn.Dropout(proj_drop),
        )
        kernel = 2 if small_kernels else 3
        local: nn.Module
        if fused_conv and in_channels < 256:  # wider blocks stay unfused
            local = FusedMBConv(
                in_channels,
                in_channels,
                kernel,
                expand_ratio=expand_ratio,
                expand_groups=expand_groups,
                use_bias=(True, False),
                norm_layer=(norm_layer, norm_layer),
                act_layer=(act_layer, None),
            )
        else:
            normed = _LOCAL_NORMS[local_mbconv_norm]
            local = MBConv(
                in_channels,
                in_channels,
                kernel,
                expand_ratio=expand_ratio,
                expand_groups=expand_groups,
                use_bias=tuple(not n for n in normed),  # a bias only where no norm follows
                norm_layer=tuple(norm_layer if n else None for n in normed),
                act_layer=(act_layer, act_layer, None),
            )
        self.total = nn.Sequential(
            nn.Sequential(
                ResidualBlock(nn.Sequential(GroupNorm1(in_channels), attn), nn.Identity(), drop_path),
                ResidualBlock(mlp, nn.Identity(), drop_path),
            ),
            ResidualBlock(local, nn.Identity(), drop_path),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.total(x)


class ClsHead(nn.Module):
    """1x1 conv + norm + act to ``widths[0]``, average pool, linear + LayerNorm + act to
    ``widths[1]``, classifier. Without pooling (``''``) the linear layers run per position and
    the head returns a map."""

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        num_classes: int = 1000,
        global_pool: str = "avg",
        dropout: float = 0.0,
        norm_layer: Layer = nn.BatchNorm2d,
        act_layer: Layer = nn.Hardswish,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="CPUBone")
        self.in_features = in_channels
        self.num_features = widths[-1]
        self.dropout = dropout
        self.pool_type = global_pool
        self.in_conv: nn.Module = ConvLayer(
            in_channels, widths[0], 1, norm_layer=norm_layer, act_layer=act_layer
        )
        self.global_pool: nn.Module = nn.AdaptiveAvgPool2d(1) if global_pool else nn.Identity()
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()
        self.pre_classifier: nn.Module = LinearLayer(
            widths[0], widths[1], False, norm_layer=nn.LayerNorm, act_layer=act_layer
        )
        self.classifier: nn.Module = (
            LinearLayer(widths[1], num_classes, True, dropout) if num_classes > 0 else nn.Identity()
        )

    def reset(
        self,
        num_classes: int,
        global_pool: str | None = None,
        *,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        """A new classifier (0: none); ``reset_other`` drops the pre-logits conv and MLP, leaving
        pool -> classifier on ``in_features`` (a backbone whose features no longer fit them)."""
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="CPUBone")
            self.pool_type = global_pool
            self.global_pool = (nn.AdaptiveAvgPool2d(1) if global_pool else nn.Identity()).train(
                self.training
            )
            self.flatten = (nn.Flatten(1) if global_pool else nn.Identity()).train(self.training)
        if reset_other:
            self.in_conv = nn.Identity()
            self.pre_classifier = nn.Identity()
            self.num_features = self.in_features
        if in_features is not None and in_features != self.in_features:
            if not isinstance(self.in_conv, nn.Identity):
                raise ValueError(
                    f"the head's in_conv takes {self.in_features} channels, not {in_features}; "
                    "pass reset_other=True to drop it"
                )
            self.in_features = self.num_features = in_features
        classifier = (
            LinearLayer(self.num_features, num_classes, True, self.dropout)
            if num_classes > 0
            else nn.Identity()
        )
        self.classifier = classifier.train(self.training)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.global_pool(self.in_conv(x)))
        if not self.pool_type:  # the linear layers' weights apply per position
            x = x.permute(0, 2, 3, 1)
        x = self.pre_classifier(x)
        if not pre_logits:
            x = self.classifier(x)
        if not self.pool_type:
            x = x.permute(0, 3, 1, 2).contiguous()
        return x


class CPUBone(VisionModel):
    """A stride-2 conv stem with optional (fused) MBConv blocks, two stride-2 conv stages, two
    attention stages (a stride-2 downsampling block, then :class:`CPUBoneBlock`; the first
    attends at stride 2, the second at full resolution), and :class:`ClsHead`.

    Args:
        width_list: widths of the stem and the four stages.
        depth_list: blocks in the stem and the four stages.
        head_widths: the head's conv and hidden widths.
        drop_rate: dropout before the classifier.
        proj_drop_rate: dropout at the end of the attention blocks' MLPs.
        drop_path_rate: stochastic depth, rising linearly over all blocks (the downsampling
            blocks have no shortcut and drop nothing).
        expand_ratio: the (fused) MBConv expansion.
        fused_conv: FusedMBConv for the stem, conv stages and local branches (below 256
            channels), and the attention's output projection folded into its upsampling.
        fused_downsample: FusedMBConv for the attention stages' downsampling blocks.
        attn_mlp_ratio: the attention blocks' MLP expansion.
        stem_expand_ratio: the stem blocks' expansion.
        downsample_expand_ratios: the four stride-2 blocks' expansions (None: ``expand_ratio``).
        expand_groups: groups of the expansion convs.
        small_kernels: 2x2 kernels in the attention stages (projection and local branch).
        attn_upsample: ``"transpose"`` (learned) or ``"nearest"``.
        local_mbconv_norm: where an unfused local MBConv has norms: ``"proj"``,
            ``"depth_proj"`` or ``"all"``.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.classifier.linear"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: ClsHead

    def __init__(
        self,
        width_list: Sequence[int] = (16, 32, 64, 128, 256),
        depth_list: Sequence[int] = (0, 1, 1, 3, 4),
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        *,
        head_widths: tuple[int, int] = (1536, 1600),
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.1,
        drop_path_rate: float = 0.0,
        expand_ratio: float = 4,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.Hardswish,
        fused_conv: bool = False,
        fused_downsample: bool = False,
        attn_mlp_ratio: int = 2,
        stem_expand_ratio: float = 2,
        downsample_expand_ratios: Sequence[float] | None = None,
        expand_groups: int = 1,
        small_kernels: bool = False,
        attn_upsample: str = "transpose",
        local_mbconv_norm: str = "proj",
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="CPUBone")
        _check_local_norm(local_mbconv_norm)
        if attn_upsample not in UPSAMPLE_MODES:
            raise ValueError(
                f"attn_upsample={attn_upsample!r}; valid: {', '.join(map(repr, UPSAMPLE_MODES))}"
            )
        if len(width_list) != 5 or len(depth_list) != 5:
            raise ValueError(
                f"width_list and depth_list need 5 entries (stem + 4 stages), got {width_list}, {depth_list}"
            )
        down_ratios = tuple(downsample_expand_ratios or (expand_ratio,) * 4)
        if len(down_ratios) != 4:
            raise ValueError(f"downsample_expand_ratios needs 4 entries, got {down_ratios}")
        norm, act = get_norm_layer(norm_layer), get_act_layer(act_layer)
        if norm is None or act is None:
            raise ValueError(
                f"CPUBone needs a norm_layer and an act_layer, got {norm_layer!r}, {act_layer!r}"
            )
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.local_mbconv_norm = local_mbconv_norm  # read by the checkpoint remap

        def local_block(c_in: int, c_out: int, stride: int, ratio: float, fused: bool) -> nn.Module:
            if fused:
                return FusedMBConv(
                    c_in,
                    c_out,
                    3,
                    stride,
                    ratio,
                    expand_groups,
                    norm_layer=(norm, norm),
                    act_layer=(act, None),
                )
            return MBConv(
                c_in,
                c_out,
                3,
                stride,
                ratio,
                expand_groups,
                norm_layer=(None, None, norm),
                act_layer=(act, act, None),
            )

        dpr = cast("list[float]", calculate_drop_path_rates(drop_path_rate, sum(depth_list)))
        chs = width_list[0]
        stem: list[nn.Module] = [ConvLayer(in_chans, chs, 3, 2, norm_layer=norm, act_layer=act)]
        for i in range(depth_list[0]):
            stem.append(
                ResidualBlock(local_block(chs, chs, 1, stem_expand_ratio, fused_conv), nn.Identity(), dpr[i])
            )
        self.stem = nn.Sequential(*stem)

        stages: list[nn.Module] = []
        self.feature_info = []
        cur = depth_list[0]
        for s, (width, depth) in enumerate(zip(width_list[1:], depth_list[1:]), start=1):
            rates = dpr[cur : cur + depth]
            cur += depth
            blocks: list[nn.Module] = []
            if s < 3:  # conv stages: the first block downsamples (and has no shortcut)
                for i in range(depth):
                    stride = 2 if i == 0 else 1
                    ratio = down_ratios[s - 1] if stride == 2 else expand_ratio
                    body = local_block(chs, width, stride, ratio, fused_conv)
                    blocks.append(ResidualBlock(body, nn.Identity() if stride == 1 else None, rates[i]))
                    chs = width
            else:  # attention stages
                blocks.append(ResidualBlock(local_block(chs, width, 2, down_ratios[s - 1], fused_downsample)))
                chs = width
                blocks += [
                    CPUBoneBlock(
                        chs,
                        expand_ratio=expand_ratio,
                        norm_layer=norm,
                        act_layer=act,
                        fused_conv=fused_conv,
                        expand_groups=expand_groups,
                        att_stride=2 if s == 3 else 1,
                        mlp_ratio=attn_mlp_ratio,
                        small_kernels=small_kernels,
                        attn_upsample=attn_upsample,
                        proj_drop=proj_drop_rate,
                        drop_path=rates[i],
                        local_mbconv_norm=local_mbconv_norm,
                    )
                    for i in range(depth)
                ]
            stages.append(nn.Sequential(*blocks))
            self.feature_info.append(dict(num_chs=chs, reduction=2 ** (s + 1), module=f"stages.{s - 1}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = width_list[-1]
        self.num_classes = num_classes
        self.head = ClsHead(width_list[-1], head_widths, num_classes, global_pool, drop_rate, norm, act)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)")

    def _classifier(self) -> nn.Module:
        classifier = self.head.classifier
        return classifier.linear if isinstance(classifier, LinearLayer) else classifier

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """The final linear layer (its path with ``name_only``; an identity without classes)."""
        if name_only:
            return (
                self.classifier_name if isinstance(self.head.classifier, LinearLayer) else "head.classifier"
            )
        return self._classifier()

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it); ``global_pool`` ``'avg'`` or
        ``''``; ``reset_other`` also drops the head's pre-logits conv and MLP."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            self.head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
        if ref is not None:
            self.head.to(dtype=ref.dtype)
        self.num_classes = num_classes
        self.head_hidden_size = self.head.num_features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The head's conv and MLP go too: they were sized for the final features."""
        self.reset_classifier(0, reset_other=True)


# --- checkpoint remap -----------------------------------------------------------------------------
_LEGACY_RENAMES = (
    # the original wraps convs in one- or two-item sequences and every sequence in ``op_list``
    (".conv_proj.0.", ".conv_proj.conv."),
    (".conv_proj.1.", ".conv_proj.norm."),
    (".pwise.0.", ".pwise."),
    ("head.op_list.0.", "head.in_conv."),
    ("head.op_list.2.", "head.pre_classifier."),
    ("head.op_list.3.", "head.classifier."),
    ("backbone.input_stem.", "stem."),
    ("backbone.stages.", "stages."),
    (".op_list.", "."),
)
_FOLDED_BIASES = (
    ".inverted_conv.conv.bias",
    ".depth_conv.conv.bias",
    ".inverted_conv.conv.1.bias",
    ".depth_conv.conv.1.bias",
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' checkpoints: ``backbone.input_stem`` / ``backbone.stages``, ``op_list``
    sequences, convs wrapped in sequences. Their ``all``-norm local MBConvs also keep conv
    biases before a norm, which a norm in eval mode absorbs: ``norm(conv(x) + b)`` equals
    ``norm(conv(x))`` with ``running_mean - b``."""
    if "stem.0.conv.weight" in state_dict:
        return state_dict
    out = {}
    for key, value in state_dict.items():
        for old, new in _LEGACY_RENAMES:
            key = key.replace(old, new)
        out[key] = value
    if getattr(model, "local_mbconv_norm", None) == "all":
        for key in [k for k in out if k.endswith(_FOLDED_BIASES)]:
            mean = key.replace(".conv.1.bias", ".norm.running_mean").replace(
                ".conv.bias", ".norm.running_mean"
            )
            bias = out.pop(key)
            if mean in out:
                out[mean] = out[mean] - bias
    return out


CPUBoneArgs = model_args_type(CPUBone)

# every release: fused convs and downsampling, MLP ratio 4, expansion groups of 2, 2x2 kernels
# in the attention stages, nearest-neighbour upsampling
_RELEASED = dict(
    fused_conv=True,
    fused_downsample=True,
    attn_mlp_ratio=4,
    expand_groups=2,
    small_kernels=True,
    attn_upsample="nearest",
)
_BIG = dict(_RELEASED, downsample_expand_ratios=(6, 6, 6, 6))
_WIDE_HEAD = (2304, 2560)

VARIANTS = {
    "cpubone_nano": CPUBoneArgs(width_list=(12, 24, 48, 96, 192), depth_list=(0, 1, 1, 1, 2), **_RELEASED),
    "cpubone_t0": CPUBoneArgs(width_list=(12, 24, 48, 96, 192), depth_list=(0, 1, 1, 2, 3), **_RELEASED),
    "cpubone_s0": CPUBoneArgs(width_list=(14, 28, 56, 112, 224), depth_list=(0, 1, 1, 2, 3), **_RELEASED),
    "cpubone_b0_bfrobust": CPUBoneArgs(
        width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 3, 4), local_mbconv_norm="all", **_RELEASED
    ),
    "cpubone_b1_bfrobust": CPUBoneArgs(
        width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 5, 5), local_mbconv_norm="all", **_BIG
    ),
    "cpubone_b1_dwnorm": CPUBoneArgs(
        width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 5, 5), local_mbconv_norm="depth_proj", **_BIG
    ),
    "cpubone_b2_bfrobust": CPUBoneArgs(
        width_list=(20, 40, 80, 160, 320),
        depth_list=(0, 1, 1, 6, 6),
        head_widths=_WIDE_HEAD,
        drop_path_rate=0.1,
        local_mbconv_norm="all",
        **_BIG,
    ),
    "cpubone_b2pt5_dwnorm": CPUBoneArgs(
        width_list=(24, 48, 96, 192, 384),
        depth_list=(0, 1, 1, 6, 6),
        head_widths=_WIDE_HEAD,
        local_mbconv_norm="depth_proj",
        **_BIG,
    ),
    "cpubone_b3": CPUBoneArgs(
        width_list=(32, 64, 128, 256, 512), depth_list=(1, 2, 3, 6, 6), stem_expand_ratio=4, **_BIG
    ),
}

_R256 = dict(input_size=(3, 256, 256), pool_size=(8, 8))
WEIGHTS: dict[str, dict[str, Any]] = {
    **{
        f"{arch}.r224_in1k": weight(default=True)
        for arch in (
            *("cpubone_nano", "cpubone_t0", "cpubone_s0", "cpubone_b3"),
            *("cpubone_b0_bfrobust", "cpubone_b1_bfrobust", "cpubone_b2_bfrobust"),
        )
    },
    "cpubone_b1_dwnorm.timm_r256_in1k": weight(_R256, default=True),
    "cpubone_b2pt5_dwnorm.timm_r256_in1k": weight(_R256, default=True),
}

default_cfgs = register_family(
    __name__,
    model_cls=CPUBone,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.95,
        first_conv="stem.0.conv",
        classifier="head.classifier.linear",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. cpubone_nano
    return family_entrypoint(__name__, name)
