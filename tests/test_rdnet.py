"""RDNet specifics the registry-wide suites do not reach: the dense stage's concatenation against
a direct computation, NAVER's original checkpoint layout, and options no registered name sets
(the overlapping stems, ``head_norm_first``, drop path, norm eps) against timm."""

from __future__ import annotations

import pytest
import torch
from timm_oracle import materialize_random, paired_classes, rel_err
from torch import nn

from visionzoo.models.rdnet import DenseStage, RDNet, checkpoint_filter_fn

pytestmark = pytest.mark.family

# a three-stage RDNet small enough to build twice in milliseconds
TINY = dict(
    growth_rates=(8, 16, 16),
    num_blocks_list=(2, 1, 2),
    block_type=("Block", "BlockESE", "BlockESE"),
    is_downsample_block=(None, True, False),
    num_init_features=16,
    num_classes=10,
)


def _x(size: int = 32, chans: int = 3, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(seed))


def test_dense_stage_concatenates_every_earlier_output() -> None:
    stage = DenseStage(
        3, 6, [0.0, 0.0, 0.0], 4, ls_init_value=0.5, norm_layer=nn.BatchNorm2d, act_layer=nn.GELU
    )
    materialize_random(stage.to("meta"))
    x = _x(9, 6)
    with torch.no_grad():
        feats = [x]
        for block in stage:
            # block i sees the input and blocks 0..i-1, and scales its new channels by gamma
            y = block.layers.layers(torch.cat(feats, 1)) * block.gamma.view(1, -1, 1, 1)
            feats.append(y)
        expected = torch.cat(feats, 1)
        out = stage(x)
    assert out.shape == (2, 6 + 3 * 4, 9, 9) and stage.num_out_features == 18
    assert rel_err(out, expected) < 1e-6


def test_nv_checkpoint_remap() -> None:
    model = RDNet(**TINY)
    ours = model.state_dict()
    original = {
        ("stem.stem." + k[len("stem.") :] if k.startswith("stem.") else k): v for k, v in ours.items()
    }
    assert "stem.stem.0.weight" in original and "stem.0.weight" not in original
    remapped = checkpoint_filter_fn({"model": original}, model)
    assert remapped.keys() == ours.keys()
    RDNet(**TINY).load_state_dict(remapped, strict=True)
    assert checkpoint_filter_fn(ours, model) is ours  # already in our layout


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(stem_type="overlap"),
        dict(stem_type="overlap_tiered", head_norm_first=True),
        dict(drop_path_rate=0.3, norm_eps=1e-5, ls_init_value=0.0),
        dict(patch_size=2, global_pool="max"),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    from timm.models.rdnet import RDNet as TimmRDNet

    ours, theirs = paired_classes(RDNet, TimmRDNet, **TINY, **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        for a, b in zip(
            ours.forward_intermediates(x, norm=True)[1], theirs.forward_intermediates(x, norm=True)[1]
        ):
            assert rel_err(a, b) < 1e-4
    assert [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")] == [
        m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")
    ]
    assert [(f["num_chs"], f["reduction"], f["module"]) for f in ours.feature_info] == [
        (f["num_chs"], f["reduction"], f["module"]) for f in theirs.feature_info
    ]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="stem_type"):
        RDNet(**TINY, stem_type="deep")
    with pytest.raises(ValueError, match="block type"):
        RDNet(**{**TINY, "block_type": ("Block", "Bottleneck", "Block")})
    with pytest.raises(ValueError, match="one entry per stage"):
        RDNet(**{**TINY, "growth_rates": (8, 16)})
