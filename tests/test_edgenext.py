"""EdgeNeXt specifics the registry-wide suites do not reach: the split depthwise hierarchy of the
transpose-attention block against a direct computation, the remap of the authors' training
checkpoints, and options no registered name sets (head norm first, position encodings, channel
groups), against timm."""

from __future__ import annotations

import re

import pytest
import torch
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.edgenext import EdgeNeXt, SplitTransposeBlock, checkpoint_filter_fn

pytestmark = pytest.mark.family

_TINY = dict(
    dims=(16, 32, 48, 64),
    depths=(1, 2, 2, 2),
    heads=(2, 2, 4, 4),
    global_block_counts=(0, 1, 1, 1),
    num_classes=7,
)


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def test_split_hierarchy_is_res2net_like() -> None:
    """With the attention and MLP branches scaled to zero the block is the identity, and the
    attention branch's input is the split hierarchy: y1 = conv1(x1), y2 = conv2(y1 + x2),
    then x3 untouched (3 scales; the last chunk takes the remainder)."""
    block = SplitTransposeBlock(10, num_scales=3, num_heads=2, use_pos_emb=False).eval()
    x = _x(10, 5)
    seen: list[torch.Tensor] = []
    block.norm_xca.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    with torch.no_grad():
        block.gamma.zero_()
        block.gamma_xca.zero_()
        assert torch.equal(block(x), x)
        x1, x2, x3 = x[:, :4], x[:, 4:8], x[:, 8:]
        y1 = torch.nn.functional.conv2d(x1, block.convs[0].weight, block.convs[0].bias, padding=1, groups=4)
        y2 = torch.nn.functional.conv2d(
            y1 + x2, block.convs[1].weight, block.convs[1].bias, padding=1, groups=4
        )
        want = torch.cat((y1, y2, x3), 1).flatten(2).transpose(1, 2)
    assert rel_err(seen[0], want) < 1e-6


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(head_norm_first=True, global_pool="max"),
        dict(use_pos_emb=(True, True, True, True), d2_scales=(2, 3, 2, 4), kernel_sizes=(3, 3, 5, 5)),
        dict(
            downsample_block=True,
            conv_bias=False,
            stem_type="overlap",
            expand_ratio=2,
            dims=(16, 32, 64, 128),
        ),
    ],
    ids=["head_norm_first", "pos_emb_scales", "downsample_block_overlap"],
)
def test_options_match_timm(kwargs: dict) -> None:
    from timm.models.edgenext import EdgeNeXt as TimmEdgeNeXt

    ours, theirs = paired_classes(EdgeNeXt, TimmEdgeNeXt, **{**_TINY, **kwargs})
    assert_pair_matches(ours, theirs, _x())


@pytest.mark.parametrize("head_norm_first", [False, True])
def test_pruned_like_timm(head_norm_first: bool) -> None:
    from timm.models.edgenext import EdgeNeXt as TimmEdgeNeXt

    ours, theirs = paired_classes(EdgeNeXt, TimmEdgeNeXt, **_TINY, head_norm_first=head_norm_first)
    x = _x()
    assert theirs.prune_intermediate_layers([2]) == ours.prune_intermediate_layers([2])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-5
        assert rel_err(ours(x), theirs(x)) < 1e-5


_TO_AUTHORS = (  # ours -> the authors' names (the inverse of the remap, written out here)
    (r"^stem\.", "downsample_layers.0."),
    (r"^stages\.(\d+)\.downsample\.", r"downsample_layers.\1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"conv_dw", "dwconv"),
    (r"mlp\.fc", "pwconv"),
    (r"^head\.norm\.", "norm."),
    (r"^head\.fc\.", "head."),
)


@pytest.mark.parametrize("wrapper", ["model_ema", "model", "state_dict"])
def test_authors_checkpoint_remap(wrapper: str) -> None:
    model = EdgeNeXt(**_TINY)
    ours = model.state_dict()
    theirs = {}
    for key, value in ours.items():
        for pattern, repl in _TO_AUTHORS:
            key = re.sub(pattern, repl, key)
        theirs[key] = value
    assert "downsample_layers.2.1.weight" in theirs and "stages.1.1.pwconv2.weight" in theirs  # sanity
    other = {"model": {}, "optimizer": {}} if wrapper == "model_ema" else {}
    remapped = checkpoint_filter_fn({**other, wrapper: theirs}, model)
    assert sorted(remapped) == sorted(ours)
    assert all(torch.equal(v, ours[k]) for k, v in remapped.items())
    assert checkpoint_filter_fn(ours, model) is ours  # timm's layout passes through


def test_bad_stem_is_refused() -> None:
    with pytest.raises(ValueError, match="stem_type"):
        EdgeNeXt(stem_type="conv")
