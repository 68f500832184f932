"""RDNet: DenseNet revisited with modern parts. Each dense block adds ``growth_rate`` new channels
(a depthwise 7x7 conv, a norm and an inverted-bottleneck MLP, layer-scaled) to the concatenation of
everything before it in its stage; a transition (norm + conv) between stages halves the width and,
where the stage downsamples, the resolution.

Paper: `DenseNets Reloaded: Paradigm Shift Beyond ResNets and ViTs` - https://arxiv.org/abs/2403.19588

Weights: NAVER's ImageNet-1k models (Apache-2.0), on the Hub under ``naver-ai/``; module names
follow timm's ``RDNet``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, EffectiveSEModule, calculate_drop_path_rates, make_divisible
from ..layers.activations import LayerType
from ..layers.classifier import ClassifierHead
from ..layers.create_act import get_act_layer
from ..layers.norm import get_norm_layer
from ..layers.norm_mlp_head import NormMlpClassifierHead
from ..model import NormHeadModel, Trunk
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["Block", "BlockESE", "DenseBlock", "DenseStage", "RDNet", "checkpoint_filter_fn", "default_cfgs"]

_STEM_TYPES = ("patch", "overlap", "overlap_tiered")


class Block(nn.Module):
    """Depthwise 7x7 conv, norm, 1x1 expansion to ``inter_chs``, activation, 1x1 projection to
    the block's ``out_chs`` new channels."""

    def __init__(
        self,
        in_chs: int,
        inter_chs: int,
        out_chs: int,
        *,
        norm_layer: Any,
        act_layer: Any,
        se: bool = False,
    ) -> None:
        super().__init__()
        layers = [
            nn.Conv2d(in_chs, in_chs, 7, padding=3, groups=in_chs),
            norm_layer(in_chs),
            nn.Conv2d(in_chs, inter_chs, 1),
            act_layer(),
            nn.Conv2d(inter_chs, out_chs, 1),
        ]
        if se:
            layers.append(EffectiveSEModule(out_chs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class BlockESE(Block):
    """:class:`Block` followed by an effective squeeze-excite gate on the new channels."""

    def __init__(self, in_chs: int, inter_chs: int, out_chs: int, *, norm_layer: Any, act_layer: Any) -> None:
        super().__init__(in_chs, inter_chs, out_chs, norm_layer=norm_layer, act_layer=act_layer, se=True)


_BLOCK_TYPES: dict[str, type[Block]] = {"block": Block, "blockese": BlockESE}


def _block_type(name: str) -> type[Block]:
    key = name.lower().strip()
    if key not in _BLOCK_TYPES:
        raise ValueError(f"unknown RDNet block type {name!r}; valid: 'Block', 'BlockESE'")
    return _BLOCK_TYPES[key]


class DenseBlock(nn.Module):
    """One dense layer: concatenates every earlier feature of its stage and computes
    ``growth_rate`` new channels (layer-scaled by ``gamma``, then drop path and dropout)."""

    def __init__(
        self,
        num_input_features: int,
        growth_rate: int,
        *,
        bottleneck_width_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
        block_type: str = "Block",
        ls_init_value: float = 1e-6,
        norm_layer: Any = nn.LayerNorm,
        act_layer: Any = nn.GELU,
    ) -> None:
        super().__init__()
        self.drop_rate = drop_rate
        self.growth_rate = growth_rate
        self.gamma = nn.Parameter(ls_init_value * torch.ones(growth_rate)) if ls_init_value > 0 else None
        # the bottleneck width is rounded down to a multiple of 8, as in the released models
        inter_chs = int(num_input_features * bottleneck_width_ratio / 8) * 8
        self.drop_path = DropPath(drop_path_rate)
        self.layers = _block_type(block_type)(
            num_input_features, inter_chs, growth_rate, norm_layer=norm_layer, act_layer=act_layer
        )

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        y = self.layers(torch.cat(x, 1))
        if self.gamma is not None:
            y = y * self.gamma.reshape(1, -1, 1, 1)
        y = self.drop_path(y)
        if self.drop_rate > 0:
            y = F.dropout(y, p=self.drop_rate, training=self.training)
        return y


class DenseStage(nn.Sequential):
    """``dense_block0..N-1``: each sees the stage input and all earlier blocks' outputs; the stage
    returns their concatenation (``num_input_features + N * growth_rate`` channels)."""

    def __init__(
        self,
        num_block: int,
        num_input_features: int,
        drop_path_rates: Sequence[float],
        growth_rate: int,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        chs = num_input_features
        for i in range(num_block):
            self.add_module(
                f"dense_block{i}", DenseBlock(chs, growth_rate, drop_path_rate=drop_path_rates[i], **kwargs)
            )
            chs += growth_rate
        self.num_out_features = chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for module in self:
            features.append(module(features))
        return torch.cat(features, 1)


class RDNet(NormHeadModel):
    """A stride-4 stem, then dense stages, each after the first behind a transition (norm + conv
    to ``transition_compression_ratio`` of the width, 2x2 stride 2 where ``is_downsample_block``);
    a feature level ends each run of stages at one resolution. The head pools, then norms
    (``NormMlpClassifierHead``), unless ``head_norm_first`` norms the map first (``norm_pre``).

    Args:
        growth_rates: new channels per dense block, per stage.
        num_blocks_list: dense blocks per stage.
        block_type: ``"Block"`` or ``"BlockESE"`` per stage.
        is_downsample_block: per stage, whether its transition halves the resolution (the first
            stage has none).
        bottleneck_width_ratio: a block's hidden width over its input width.
        transition_compression_ratio: a transition's output width over its input width.
        ls_init_value: layer-scale initial value (0: no layer scale).
        stem_type: ``"patch"`` (a ``patch_size`` conv + norm), ``"overlap"`` or
            ``"overlap_tiered"`` (two stride-2 3x3 convs, the tiered one half-width first).
        num_init_features: stem width.
        head_init_scale: scale of the classifier's initial weights.
        head_norm_first: norm before pooling and a plain classifier head.
        conv_bias: biases in the stem convs.
        norm_eps: epsilon of every norm (None: the norm's default).
        proj_drop_rate: dropout on each dense block's new channels.
    """

    trunk = Trunk(stem=("stem",), stages=("dense_stages.*",), post=("norm_pre",), norm_last=True)

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        norm_pre: nn.Module
        head: NormMlpClassifierHead | ClassifierHead

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        growth_rates: Sequence[int] = (64, 104, 128, 128, 128, 128, 224),
        num_blocks_list: Sequence[int] = (3, 3, 3, 3, 3, 3, 3),
        block_type: Sequence[str] = ("Block",) * 2 + ("BlockESE",) * 5,
        is_downsample_block: Sequence[bool | None] = (None, True, True, False, False, False, True),
        *,
        bottleneck_width_ratio: float = 4.0,
        transition_compression_ratio: float = 0.5,
        ls_init_value: float = 1e-6,
        stem_type: str = "patch",
        patch_size: int = 4,
        num_init_features: int = 64,
        head_init_scale: float = 1.0,
        head_norm_first: bool = False,
        conv_bias: bool = True,
        act_layer: LayerType = "gelu",
        norm_layer: LayerType = "layernorm2d",
        norm_eps: float | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not len(growth_rates) == len(num_blocks_list) == len(is_downsample_block) == len(block_type):
            raise ValueError(
                "growth_rates, num_blocks_list, is_downsample_block and block_type need one entry per "
                f"stage, got lengths {len(growth_rates)}, {len(num_blocks_list)}, "
                f"{len(is_downsample_block)}, {len(block_type)}"
            )
        if stem_type not in _STEM_TYPES:
            raise ValueError(f"stem_type={stem_type!r}; valid: {', '.join(map(repr, _STEM_TYPES))}")
        act = get_act_layer(act_layer)
        norm = get_norm_layer(norm_layer)
        if act is None or norm is None:
            raise ValueError(f"RDNet needs an act_layer and a norm_layer, got {act_layer!r}, {norm_layer!r}")
        if norm_eps is not None:
            norm = partial(norm, eps=norm_eps)
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.head_init_scale = head_init_scale

        if stem_type == "patch":  # a minimal ViT-style patch embedding
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, num_init_features, patch_size, stride=patch_size, bias=conv_bias),
                norm(num_init_features),
            )
            stride = patch_size
        else:
            mid = make_divisible(num_init_features // 2) if "tiered" in stem_type else num_init_features
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, mid, 3, stride=2, padding=1, bias=conv_bias),
                nn.Conv2d(mid, num_init_features, 3, stride=2, padding=1, bias=conv_bias),
                norm(num_init_features),
            )
            stride = 4

        dpr = cast(
            "list[list[float]]",
            calculate_drop_path_rates(drop_path_rate, list(num_blocks_list), stagewise=True),
        )
        chs = num_init_features
        num_stages = len(growth_rates)
        stages = []
        self.feature_info = []
        for i in range(num_stages):
            layers = []
            if i > 0:  # the transition
                out = int(chs * transition_compression_ratio / 8) * 8
                k = 2 if is_downsample_block[i] else 1
                stride *= k
                layers += [norm(chs), nn.Conv2d(chs, out, k, stride=k)]
                chs = out
            layers.append(
                DenseStage(
                    num_blocks_list[i],
                    chs,
                    dpr[i],
                    growth_rates[i],
                    bottleneck_width_ratio=bottleneck_width_ratio,
                    drop_rate=proj_drop_rate,
                    ls_init_value=ls_init_value,
                    block_type=block_type[i],
                    norm_layer=norm,
                    act_layer=act,
                )
            )
            chs += num_blocks_list[i] * growth_rates[i]
            if i + 1 == num_stages or is_downsample_block[i + 1]:  # the last stage at this resolution
                self.feature_info.append(
                    dict(
                        num_chs=chs, reduction=stride, module=f"dense_stages.{i}", growth_rate=growth_rates[i]
                    )
                )
            stages.append(nn.Sequential(*layers))
        self.dense_stages = nn.Sequential(*stages)
        self.num_features = chs

        if head_norm_first:
            self.norm_pre = norm(chs)
            self.head = ClassifierHead(chs, num_classes, global_pool, drop_rate)
        else:
            self.norm_pre = nn.Identity()
            self.head = NormMlpClassifierHead(
                chs, num_classes, pool_type=global_pool, drop_rate=drop_rate, norm_layer=norm
            )
        self.num_classes = num_classes
        self.head_hidden_size = int(self.head.num_features)
        self._initialize()

    def init_weights(self) -> None:
        """Kaiming-normal convs; linear biases zero, the head's linears scaled by
        ``head_init_scale``."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
                if name.startswith("head."):
                    m.weight.data.mul_(self.head_init_scale)
                    m.bias.data.mul_(self.head_init_scale)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^dense_stages\.(\d+)")


_NV_STEM = re.compile(r"^stem\.stem\.")


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """NAVER's original checkpoints: weights under ``model``, the stem one level deeper
    (``stem.stem.*``)."""
    if "stem.0.weight" in state_dict:
        return state_dict
    state_dict = state_dict.get("model", state_dict)
    return {_NV_STEM.sub("stem.", k): v for k, v in state_dict.items()}


RDNetArgs = model_args_type(RDNet)


def _rdnet(init: int, growth: tuple[int, ...], downsample_at: tuple[int, ...]) -> Any:
    """Every stage 3 blocks; the first two plain, the rest with ESE; downsampling transitions at
    ``downsample_at``."""
    n = len(growth)
    return RDNetArgs(
        num_init_features=init,
        growth_rates=growth,
        num_blocks_list=(3,) * n,
        is_downsample_block=(None, *(i in downsample_at for i in range(1, n))),
        transition_compression_ratio=0.5,
        block_type=("Block",) * 2 + ("BlockESE",) * (n - 2),
    )


VARIANTS = {
    "rdnet_tiny": _rdnet(64, (64, 104, 128, 128, 128, 128, 224), (1, 2, 6)),
    "rdnet_small": _rdnet(72, (64, 128, *(128,) * 7, 240, 240), (1, 2, 9)),
    "rdnet_base": _rdnet(120, (96, 128, *(168,) * 7, 336, 336), (1, 2, 9)),
    "rdnet_large": _rdnet(144, (128, 192, *(256,) * 8, 360, 360), (1, 2, 10)),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"rdnet_{size}.nv_in1k": weight(default=True) for size in ("tiny", "small", "base", "large")},
    "rdnet_large.nv_in1k_ft_in1k_384": weight(size=384, crop=1.0, pool_size=(12, 12)),
}

default_cfgs = register_family(
    __name__,
    model_cls=RDNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        hf_hub_id="naver-ai/",
        pool_size=(7, 7),
        crop_pct=0.9,
        first_conv="stem.0",
        classifier="head.fc",
        paper_ids="arXiv:2403.19588",
        paper_name="DenseNets Reloaded: Paradigm Shift Beyond ResNets and ViTs",
        origin_url="https://github.com/naver-ai/rdnet",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. rdnet_tiny
    return family_entrypoint(__name__, name)
