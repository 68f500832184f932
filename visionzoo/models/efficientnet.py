"""EfficientNet and the networks built from the same blocks and block strings.

* EfficientNet B0-B8, L2 - `EfficientNet: Rethinking Model Scaling for Convolutional Neural
  Networks` - https://arxiv.org/abs/1905.11946 (with the AdvProp https://arxiv.org/abs/1911.09665
  and Noisy Student https://arxiv.org/abs/1911.04252 weight ports)
* EfficientNetV2 - https://arxiv.org/abs/2104.00298; EfficientNet-EdgeTPU / -Lite; EfficientNet-X
  https://arxiv.org/abs/2102.05610; CondConv - https://arxiv.org/abs/1904.04971
* MixNet - https://arxiv.org/abs/1907.09595; MNASNet - https://arxiv.org/abs/1807.11626;
  MobileNetV1 - https://arxiv.org/abs/1704.04861; MobileNetV2 - https://arxiv.org/abs/1801.04381;
  MobileNet-EdgeTPU-V2 - https://arxiv.org/abs/2204.14007; FBNet-C - https://arxiv.org/abs/1812.03443;
  Single-Path NAS - https://arxiv.org/abs/1904.02877; TinyNet - https://arxiv.org/abs/2010.14819

The ``tf_`` variants run the TensorFlow ports: "same" padding and BN epsilon 1e-3. Weights:
Apache-2.0 (the TensorFlow and timm-trained weights).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import create_conv2d, get_act_layer, get_norm_act_layer
from ..layers.activations import LayerType
from ..model import VisionModel
from ._efficientnet_blocks import SqueezeExcite
from ._efficientnet_builder import (
    ArchDef,
    BlockArgs,
    EfficientNetBuilder,
    decode_arch_def,
    efficientnet_init_weights,
    resolve_block_args,
    resolve_norm_layer,
    round_channels,
)

__all__ = ["EfficientNet", "decode_arch_def", "round_channels"]


def _run_stages(
    model: nn.Module, x: torch.Tensor, take: list[int], *, stop_early: bool
) -> tuple[torch.Tensor, list[torch.Tensor], bool]:
    """Stem then stages, collecting the outputs at stage ends ``take`` (0 is the stem).

    Returns ``(x, intermediates, ran every stage)``.
    """
    intermediates = []
    x = model.bn1(model.conv_stem(x))
    if 0 in take:
        intermediates.append(x)
    last = max(take) if stop_early else len(model.blocks)
    use_ckpt = model.grad_checkpointing and model.training and torch.is_grad_enabled()
    for i, stage in enumerate(model.blocks, start=1):
        if i > last:
            return x, intermediates, False
        x = checkpoint(stage, x, use_reentrant=False) if use_ckpt else stage(x)
        if i in take:
            intermediates.append(x)
    return x, intermediates, True


class EfficientNet(VisionModel):
    """Stem conv, stages of blocks from block strings, 1x1 head conv, pooling, classifier.

    Args:
        block_args: stages of block strings (decoded here with the depth options below) or of
            already decoded block kwargs (``decode_arch_def``).
        num_features: width of the head conv (0: no head conv).
        stem_size: stem width (scaled by the channel multiplier unless ``fix_stem``).
        output_stride: 32, 16 or 8 (later strides become dilation).
        pad_type: ``''`` or ``'same'`` (TensorFlow padding, for the ``tf_`` weights).
        act_layer / norm_layer / aa_layer / se_layer: layers of the stem, blocks and head.
        round_chs_fn: channel scaling; by default ``round_channels`` with ``channel_multiplier``,
            ``channel_divisor`` and ``round_limit``.
        depth_multiplier, depth_trunc, fix_first_last, experts_multiplier, group_size: decoding
            options for block strings (see ``decode_arch_def``).
        bn_eps, bn_momentum: BatchNorm settings (1e-3 for the TensorFlow ports).
        feature_location: ``'bottleneck'`` (stage outputs) or ``'expansion'`` feature taps.
    """

    classifier_name = "classifier"

    def __init__(
        self,
        block_args: ArchDef | BlockArgs,
        num_classes: int = 1000,
        num_features: int = 1280,
        in_chans: int = 3,
        stem_size: int = 32,
        stem_kernel_size: int = 3,
        fix_stem: bool = False,
        output_stride: int = 32,
        pad_type: str = "",
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        round_chs_fn: Callable[[int], int] | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        global_pool: str = "avg",
        *,
        channel_multiplier: float = 1.0,
        channel_divisor: int = 8,
        round_limit: float = 0.9,
        depth_multiplier: float | Sequence[float] = 1.0,
        depth_trunc: str = "ceil",
        fix_first_last: bool = False,
        experts_multiplier: int = 1,
        group_size: int | None = None,
        bn_eps: float | None = None,
        bn_momentum: float | None = None,
        feature_location: str = "bottleneck",
    ) -> None:
        super().__init__()
        act = get_act_layer(act_layer or nn.ReLU)
        norm = resolve_norm_layer(norm_layer, bn_eps, bn_momentum)
        norm_act = get_norm_act_layer(norm, act)
        assert norm_act is not None
        round_fn = round_chs_fn or partial(
            round_channels, multiplier=channel_multiplier, divisor=channel_divisor, round_limit=round_limit
        )
        stages = resolve_block_args(
            block_args,
            depth_multiplier=depth_multiplier,
            depth_trunc=depth_trunc,
            experts_multiplier=experts_multiplier,
            fix_first_last=fix_first_last,
            group_size=group_size,
        )
        self.in_chans = in_chans
        self.drop_rate = drop_rate

        if not fix_stem:
            stem_size = round_fn(stem_size)
        self.conv_stem = create_conv2d(in_chans, stem_size, stem_kernel_size, stride=2, padding=pad_type)
        self.bn1 = norm_act(stem_size, inplace=True)
        builder = EfficientNetBuilder(
            output_stride=output_stride,
            pad_type=pad_type,
            round_chs_fn=round_fn,
            act_layer=act,
            norm_layer=norm,
            aa_layer=aa_layer,
            se_layer=se_layer or SqueezeExcite,
            drop_path_rate=drop_path_rate,
            feature_location=feature_location,
        )
        self.blocks = nn.Sequential(*builder(stem_size, stages))
        self.feature_info = builder.features
        self.stage_ends = [f["stage"] for f in self.feature_info]
        head_chs = builder.in_chs
        self.conv_head: nn.Module = nn.Identity()
        self.bn2: nn.Module = nn.Identity()
        if num_features > 0:
            self.conv_head = create_conv2d(head_chs, num_features, 1, padding=pad_type)
            self.bn2 = norm_act(num_features, inplace=True)
        self._init_head(num_features if num_features > 0 else head_chs, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        efficientnet_init_weights(self)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^conv_stem|bn1",
            blocks=[
                (r"^blocks\.(\d+)" if coarse else r"^blocks\.(\d+)\.(\d+)", None),
                (r"conv_head|bn2", (99999,)),
            ],
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv_stem(x))
        if self.grad_checkpointing and self.training and not torch.jit.is_scripting():
            for stage in self.blocks:
                for block in stage:
                    x = checkpoint(block, x, use_reentrant=False)
        else:
            x = self.blocks(x)
        return self.bn2(self.conv_head(x))

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if any("hook_type" in f for f in self.feature_info):  # expansion taps sit inside blocks
            return super()._intermediates(x, take, stop_early=stop_early)
        x, intermediates, complete = _run_stages(
            self, x, [self.stage_ends[i] for i in take], stop_early=stop_early
        )
        if complete:
            x = self.bn2(self.conv_head(x))
        return x, intermediates

    def _prune_trunk(self, max_index: int, *, prune_head: bool) -> None:
        end = self.stage_ends[max_index]
        truncated = end < len(self.blocks)
        self.blocks = self.blocks[:end]
        if prune_head or truncated:  # the head conv follows the last stage: it goes with it
            self.conv_head = nn.Identity()
            self.bn2 = nn.Identity()
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
