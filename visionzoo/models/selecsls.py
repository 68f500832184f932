"""SelecSLS: selective long and short range skip connections (the XNect pose backbone).

Paper: `XNect: Real-time Multi-Person 3D Motion Capture with a Single RGB Camera`
- https://arxiv.org/abs/1907.00837

Weights: the SelecSLS authors' (CC-BY-4.0), re-hosted by timm. Module names follow timm's SelecSls
(``stem``, ``features.N``, ``head.N``, ``fc``), so timm checkpoints load unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import torch
from torch import nn

from ..layers import create_classifier
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["SelecSls", "SelecSlsBlock", "SelectSeq", "SequentialList", "default_cfgs"]


def conv_bn(in_chs: int, out_chs: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Conv (no bias), BatchNorm, ReLU as a plain ``nn.Sequential`` (keys ``N.0``, ``N.1``)."""
    padding = ((stride - 1) + dilation * (k - 1)) // 2
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, k, stride, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_chs),
        nn.ReLU(inplace=True),
    )


class SelecSlsBlock(nn.Module):
    """Three 3x3 convs in a chain (with 1x1 convs between), their outputs concatenated with the
    stage's skip and fused by a 1x1 conv. A block takes and returns ``[x, skip]``: the first block
    of a stage (``is_first``) makes its output the skip the later blocks of the stage all reuse
    (the long-range connection)."""

    def __init__(
        self,
        in_chs: int,
        skip_chs: int,
        mid_chs: int,
        out_chs: int,
        is_first: bool,
        stride: int,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"SelecSlsBlock stride must be 1 or 2, got {stride!r}")
        self.stride = stride
        self.is_first = is_first
        self.conv1 = conv_bn(in_chs, mid_chs, 3, stride, dilation=dilation)
        self.conv2 = conv_bn(mid_chs, mid_chs, 1)
        self.conv3 = conv_bn(mid_chs, mid_chs // 2, 3)
        self.conv4 = conv_bn(mid_chs // 2, mid_chs, 1)
        self.conv5 = conv_bn(mid_chs, mid_chs // 2, 3)
        self.conv6 = conv_bn(2 * mid_chs + (0 if is_first else skip_chs), out_chs, 1)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        if not isinstance(x, list):  # the trunk walk hands the first block a map (a Proxy under FX)
            x = [x]
        d1 = self.conv1(x[0])
        d2 = self.conv3(self.conv2(d1))
        d3 = self.conv5(self.conv4(d2))
        if self.is_first:
            out = self.conv6(torch.cat([d1, d2, d3], 1))
            return [out, out]
        return [self.conv6(torch.cat([d1, d2, d3, x[1]], 1)), x[1]]


class SequentialList(nn.Sequential):
    """The blocks, run on ``[x]``: returns the last block's ``[x, skip]`` (``[x]`` when empty)."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        xs = [x]
        for module in self:
            xs = module(xs)
        return xs


class SelectSeq(nn.Module):
    """``[x, skip]`` -> ``x`` (``mode='index'``), or the list concatenated."""

    def __init__(self, mode: str = "index", index: int = 0) -> None:
        super().__init__()
        self.mode = mode
        self.index = index

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        if not isinstance(x, list):  # the trunk walk after every block was pruned away
            return x
        if self.mode == "index":
            return x[self.index]
        return torch.cat(x, dim=1)


class SelecSls(VisionModel):
    """SelecSLS: a stride-2 stem, SelecSLS blocks (three stride-2 stages), a head of plain convs
    (two more stride-2 convs), pool and classifier.

    Args:
        blocks: per block ``(in_chs, skip_chs, mid_chs, out_chs, is_first, stride)``.
        head: per head conv ``(in_chs, out_chs, kernel_size, stride)``.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        drop_rate: dropout before the classifier.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
    """

    # the blocks pass [x, skip] lists (a level is read at the first); the head convs are trunk,
    # not classifier: the head modules are pool, dropout and fc
    trunk = Trunk(stem=("stem",), stages=("features.*", "from_seq", "head.*"))
    head_names: ClassVar[tuple[str, ...]] = ("global_pool", "head_drop", "fc")

    def __init__(
        self,
        blocks: tuple[tuple[int, int, int, int, bool, int], ...],
        head: tuple[tuple[int, int, int, int], ...],
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if len(head) != 4:
            raise ValueError(f"SelecSls needs 4 head convs, got {len(head)}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.stem = conv_bn(in_chans, 32, stride=2)
        self.features = SequentialList(*[SelecSlsBlock(*args) for args in blocks])
        self.from_seq = SelectSeq()
        self.head = nn.Sequential(*[conv_bn(*args) for args in head])
        # levels: the stem, the last block before each new stage and the last block, then the
        # two stride-2 stages of the head (each after its second conv)
        self.feature_info = [dict(num_chs=32, reduction=2, module="stem.2")]
        reduction = 2
        for i, b in enumerate(blocks):
            reduction *= b[5]
            if i == len(blocks) - 1 or blocks[i + 1][4]:
                self.feature_info.append(dict(num_chs=b[3], reduction=reduction, module=f"features.{i}"))
        for i in (1, 3):
            reduction *= head[i - 1][3] * head[i][3]
            self.feature_info.append(dict(num_chs=head[i][1], reduction=reduction, module=f"head.{i}"))
        # trunk position of each level: -1 the stem, then block indices, then head convs after them
        self._feature_ends: list[int] = []
        for f in self.feature_info:
            name, idx = f["module"].split(".")
            offset = {"stem": None, "features": 0, "head": len(blocks)}[name]
            self._feature_ends.append(-1 if offset is None else offset + int(idx))
        self.num_features = head[-1][1]
        self.global_pool, self.head_drop, self.fc = create_classifier(
            self.num_features, num_classes, global_pool, drop_rate=drop_rate
        )
        self.head_hidden_size = self.num_features * self.global_pool.feat_mult()
        self._initialize()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^features\.(\d+)", blocks_head=r"^head")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # the units change type (a list between the blocks)
            return self.head(self.from_seq(self.features(self.stem(x))))
        return super().forward_features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.global_pool(x))
        return x if pre_logits else self.fc(x)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The walk, its output unpacked when it stopped early at a block (``[x, skip]``)."""
        x, found = super()._intermediates(x, take, stop_early=stop_early, norm=norm)
        return self.from_seq(x) if isinstance(x, list) else x, found

    def _prune_trunk(self, max_index: int) -> None:
        """Blocks and head convs run as one sequence: keep it up to the level's position."""
        end = self._feature_ends[max_index]
        self.head = self.head[: max(0, end - len(self.features) + 1)]
        self.features = cast(SequentialList, self.features[: end + 1])  # a slice keeps the class


# --- variants -------------------------------------------------------------------------------------
SelecSlsArgs = model_args_type(SelecSls)


def _stage(in_chs: int, width: int, out_chs: int, depth: int) -> list[tuple]:
    """A stride-2 first block of ``width``, then ``depth - 1`` blocks that reuse its output as
    their skip; the last widens to ``out_chs``."""
    rows = [(in_chs, 0, width, width, True, 2)]
    for i in range(1, depth):
        rows.append((width, width, width, out_chs if i == depth - 1 else width, False, 1))
    return rows


def _blocks(*stages: list[tuple]) -> tuple[tuple, ...]:
    return tuple(row for stage in stages for row in stage)


_B42 = _blocks(_stage(32, 64, 128, 2), _stage(128, 144, 288, 2), _stage(288, 304, 480, 2))
_B60 = _blocks(_stage(32, 64, 128, 2), _stage(128, 128, 288, 3), _stage(288, 288, 416, 4))
_B84 = _blocks(_stage(32, 64, 144, 2), _stage(144, 144, 304, 5), _stage(304, 304, 512, 6))


def _head(in_chs: int, mid: int, b: bool) -> tuple[tuple[int, int, int, int], ...]:
    """Two stride-2 stages of plain convs; the ``b`` variants end 1280 -> 1024 instead of
    1024 -> 1280."""
    last = ((1024, 1280, 3, 2), (1280, 1024, 1, 1)) if b else ((1024, 1024, 3, 2), (1024, 1280, 1, 1))
    return ((in_chs, mid, 3, 2), (mid, 1024, 3, 1), *last)


VARIANTS: dict[str, Any] = {
    "selecsls42": SelecSlsArgs(blocks=_B42, head=_head(480, 960, b=False)),
    "selecsls42b": SelecSlsArgs(blocks=_B42, head=_head(480, 960, b=True)),
    "selecsls60": SelecSlsArgs(blocks=_B60, head=_head(416, 756, b=False)),
    "selecsls60b": SelecSlsArgs(blocks=_B60, head=_head(416, 756, b=True)),
    "selecsls84": SelecSlsArgs(
        blocks=_B84, head=((512, 960, 3, 2), (960, 1024, 3, 1), (1024, 1024, 3, 2), (1024, 1280, 3, 1))
    ),
}

# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "selecsls42.untrained": weight(NO_WEIGHTS),
    "selecsls42b.in1k": weight(),
    "selecsls60.in1k": weight(),
    "selecsls60b.in1k": weight(),
    "selecsls84.untrained": weight(NO_WEIGHTS),
}

default_cfgs = register_family(
    __name__,
    model_cls=SelecSls,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(4, 4),
        interpolation="bicubic",
        first_conv="stem.0",
        classifier="fc",
        license="cc-by-4.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3, 4), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. selecsls42b
    return family_entrypoint(__name__, name)
