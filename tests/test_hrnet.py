"""HRNet specifics the registry-wide suites do not reach.

The fusion of parallel branches against its formula; the ``features_only`` backbone at both of
timm's feature locations and a few ``out_indices`` against timm's own backbone class (keys and
maps); the feature location of the classifier model; the stage config checks.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import materialize_random, rel_err, timm_model
from torch import nn

import visionzoo
from visionzoo.builder import load_state_dict_into
from visionzoo.models import hrnet

pytestmark = pytest.mark.family

NAME = "hrnet_w18_small"  # the smallest: 1 module per stage, 2 blocks per branch


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(11))


def _bn(t: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    return F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


# --- the fusion: every output is the ReLU'd sum of every branch brought to its resolution -------
def test_fusion_follows_its_formula() -> None:
    stage = hrnet.HRStage(1, 3, "BASIC", (1, 1, 1), (4, 8, 16))
    module = materialize_random(hrnet.HighResolutionModule(stage, [4, 8, 16])).eval()
    xs = [torch.randn(1, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate((4, 8, 16))]
    with torch.no_grad():
        ys = [branch(t) for branch, t in zip(module.branches, xs)]
        got = module([t.clone() for t in xs])

        def down(src: int, dst: int) -> torch.Tensor:  # strided 3x3 convs, ReLU between them
            t = ys[src]
            for k, step in enumerate(module.fuse_layers[dst][src]):
                t = _bn(F.conv2d(t, step[0].weight, stride=2, padding=1), step[1])
                t = F.relu(t) if k < dst - src - 1 else t
            return t

        def up(src: int, dst: int) -> torch.Tensor:  # 1x1 conv to the width, nearest upsampling
            conv, bn = module.fuse_layers[dst][src][0], module.fuse_layers[dst][src][1]
            return F.interpolate(_bn(F.conv2d(ys[src], conv.weight), bn), scale_factor=2 ** (src - dst))

        for dst in range(3):
            terms = [ys[dst] if src == dst else (up if src > dst else down)(src, dst) for src in range(3)]
            want = F.relu(sum(terms))
            assert got[dst].shape == (1, (4, 8, 16)[dst], 16 // 2**dst, 16 // 2**dst)
            torch.testing.assert_close(got[dst], want, rtol=1e-5, atol=1e-6)


# --- features_only: timm's HighResolutionNetFeatures -------------------------------------------
@pytest.mark.parametrize("feature_location", ["incre", ""])
@pytest.mark.parametrize("out_indices", [(0, 1, 2, 3, 4), (1, 3), (0,), (4,)])
def test_backbone_matches_timms_backbone_class(feature_location: str, out_indices: tuple[int, ...]) -> None:
    kwargs = dict(features_only=True, feature_location=feature_location, out_indices=out_indices)
    theirs = timm_model(NAME, **kwargs).eval()
    ours = visionzoo.create_model(NAME, device="meta", **kwargs)
    assert type(ours).__name__ == type(theirs).__name__ == "HighResolutionNetFeatures"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    assert ours.feature_info.get_dicts() == theirs.feature_info.get_dicts()
    x = _x()
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert len(a) == len(b) == len(out_indices)
    assert all(p.shape == q.shape and rel_err(p, q) < 1e-5 for p, q in zip(a, b))


@pytest.mark.parametrize("feature_location", ["incre", ""])
def test_backbone_takes_a_full_checkpoint(feature_location: str) -> None:
    """A classifier's weights fill the backbone (the head's aggregation is left out)."""
    full = materialize_random(visionzoo.create_model(NAME, device="meta")).eval()
    backbone = visionzoo.create_model(NAME, features_only=True, feature_location=feature_location)
    keys = list(backbone.state_dict())
    load_state_dict_into(backbone, {k: v for k, v in full.state_dict().items() if k in keys}, strict=True)
    assert not any(k.startswith(("downsamp_modules", "final_layer", "classifier")) for k in keys)
    assert any(k.startswith("incre_modules") for k in keys) == (feature_location == "incre")
    x = _x()
    with torch.no_grad():
        levels = backbone.eval()(x)
        if feature_location == "incre":  # the classifier's levels are read after the widening
            want = full.forward_intermediates(x, intermediates_only=True)
            assert all(torch.equal(a, b) for a, b in zip(levels, want))
        assert torch.equal(levels[0], full.forward_intermediates(x, indices=(0,), intermediates_only=True)[0])


def test_classifier_reads_the_branches_where_told() -> None:
    """``feature_location=''``: levels 1-4 are the last stage's branches, with their widths, and the
    classifier's output does not change (the head still widens them itself)."""
    widened = materialize_random(visionzoo.create_model(NAME, device="meta")).eval()
    plain = visionzoo.create_model(NAME, feature_location="")
    plain.load_state_dict(widened.state_dict())
    plain.eval()
    assert [f["num_chs"] for f in plain.feature_info] == [64, 16, 32, 64, 128]
    assert [f["num_chs"] for f in widened.feature_info] == [64, 128, 256, 512, 1024]
    x = _x()
    with torch.no_grad():
        assert torch.equal(plain(x), widened(x))
        levels = plain.forward_intermediates(x, intermediates_only=True)
        branches = widened.forward_intermediates(x, intermediates_only=True)
        for i in range(1, 5):  # the widening bottleneck of branch i takes level i
            assert torch.equal(widened.incre_modules[i - 1](levels[i]), branches[i])


# --- configs --------------------------------------------------------------------------------------
def test_stage_configs_are_checked() -> None:
    with pytest.raises(ValueError, match="block_type"):
        hrnet.HighResolutionNet(
            stage2=dict(
                num_modules=1, num_branches=2, block_type="X", num_blocks=(4, 4), num_channels=(18, 36)
            )
        )
    with pytest.raises(ValueError, match="num_branches"):
        hrnet.HighResolutionNet(stage2=hrnet.HRStage(1, 2, "BASIC", (4,), (18, 36)))
    with pytest.raises(ValueError, match="feature_location"):
        visionzoo.create_model(NAME, feature_location="stage", device="meta")


def test_timm_stage_dicts_build_the_same_model() -> None:
    """Stages given as timm's cfg dicts (its keys, lists for tuples) build the variant."""
    from timm.models.hrnet import cfg_cls

    cfg = cfg_cls[NAME]
    with torch.device("meta"):
        model = hrnet.HighResolutionNet(cfg["stem_width"], *(cfg[f"stage{i}"] for i in range(1, 5)))
    want = visionzoo.create_model(NAME, device="meta")
    shapes = {k: v.shape for k, v in want.state_dict().items()}
    assert {k: v.shape for k, v in model.state_dict().items()} == shapes
