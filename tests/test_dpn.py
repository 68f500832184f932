"""DPN specifics: the dual path block's split of one tensor into a residual and a dense path, the
final norm + act that sits inside ``features`` (``norm=True``, ``prune_norm``), the 1x1 conv
classifier (logits per position without pooling) and which activations ``act_layer`` reaches."""

from __future__ import annotations

import pytest
import torch
from timm_oracle import assert_pair_matches, materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import dpn

pytestmark = pytest.mark.family


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def _block(**kwargs: object) -> dpn.DualPathBlock:
    torch.manual_seed(0)
    block = dpn.DualPathBlock(**kwargs).eval()  # type: ignore[arg-type]
    for m in block.modules():  # non-trivial norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return block


def test_normal_block_adds_to_the_residual_path_and_appends_to_the_dense_path() -> None:
    c, inc = 8, 3
    block = _block(in_chs=c + 5, num_1x1_a=6, num_3x3_b=6, num_1x1_c=c, inc=inc, groups=2)
    x = torch.randn(2, c + 5, 5, 5)
    with torch.no_grad():
        y = block.c1x1_c(block.c3x3_b(block.c1x1_a(x)))  # (c + inc) channels
        got = block(x)
    want = torch.cat([x[:, :c] + y[:, :c], x[:, c:], y[:, c:]], dim=1)
    assert got.shape == (2, c + 5 + inc, 5, 5)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("b", [False, True])
def test_down_block_projects_the_input_into_both_paths(b: bool) -> None:
    c, inc = 8, 3
    block = _block(in_chs=4, num_1x1_a=6, num_3x3_b=6, num_1x1_c=c, inc=inc, groups=2, block_type="down", b=b)
    assert block.c1x1_w_s1 is None and block.c1x1_w_s2 is not None
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        proj = block.c1x1_w_s2(x)  # strided: residual c + dense 2 * inc channels
        mid = block.c1x1_c(block.c3x3_b(block.c1x1_a(x)))
        res, dense = (block.c1x1_c1(mid), block.c1x1_c2(mid)) if b else (mid[:, :c], mid[:, c:])
        got = block(x)
    assert proj.shape == (2, c + 2 * inc, 3, 3)
    torch.testing.assert_close(got, torch.cat([proj[:, :c] + res, proj[:, c:], dense], dim=1))
    assert got.shape == (2, c + 3 * inc, 3, 3)


def test_bad_block_type() -> None:
    with pytest.raises(ValueError, match="block_type"):
        dpn.DualPathBlock(8, 4, 4, 8, 2, 2, block_type="up")


def test_final_norm_and_conv_classifier_match_timm() -> None:
    """``norm=True`` applies the final norm + act to the last level; without pooling the 1x1 conv
    classifier gives logits per position."""
    ours, theirs = paired("dpn48b", global_pool="", num_classes=5)
    assert_pair_matches(ours, theirs, _x())
    with torch.no_grad():
        assert ours(_x()).shape == (2, 5, 2, 2)
        for stop_early in (False, True):
            a = ours.forward_intermediates(_x(), indices=(0, 4), norm=True, stop_early=stop_early)
            b = theirs.forward_intermediates(_x(), indices=(0, 4), norm=True, stop_early=stop_early)
            assert rel_err(a[0], b[0]) < 1e-5
            assert all(rel_err(p, q) < 1e-5 for p, q in zip(a[1], b[1]))
        last = ours.forward_intermediates(_x(), indices=1, intermediates_only=True)[0]
        normed = ours.forward_intermediates(_x(), indices=1, norm=True, intermediates_only=True)[0]
        assert torch.equal(ours.features.conv5_bn_ac(last), normed)
        assert not torch.equal(last, normed)


def test_prune_norm_matches_timm() -> None:
    ours, theirs = paired("dpn48b")
    for model in (ours, theirs):
        model.prune_intermediate_layers(4, prune_norm=True, prune_head=False)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert not any("conv5_bn_ac" in k for k in ours.state_dict())
    assert ours.num_classes == 1000
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5


def test_reset_classifier_keeps_the_conv_head() -> None:
    model = materialize_random(visionzoo.create_model("dpn48b", device="meta")).eval()
    model.reset_classifier(3, "max")
    assert isinstance(model.classifier, nn.Conv2d) and model.classifier.out_channels == 3
    with torch.no_grad():
        feats = model.forward_features(_x())
        want = model.classifier(feats.amax((2, 3), keepdim=True)).flatten(1)
        torch.testing.assert_close(model(_x()), want)
        assert model.forward_head(feats, pre_logits=True).shape == (2, model.num_features)


def test_act_layer_reaches_the_stem_and_final_norm_only() -> None:
    """As timm's: the blocks keep ReLU; the final norm takes ``act_layer`` (``fc_act_layer`` is
    overridden by the activation already bound to the norm), not in place."""
    for name, act in (("dpn48b", nn.SiLU), ("dpn68", nn.ReLU)):
        model = visionzoo.create_model(name, device="meta", fc_act_layer="elu")
        assert isinstance(model.features.conv1_1.bn.act, act)
        assert isinstance(model.features.conv2_1.c1x1_a.bn.act, nn.ReLU)
        final = model.features.conv5_bn_ac.bn.act
        assert isinstance(final, act) and not final.inplace


def test_output_stride_other_than_32_is_refused() -> None:
    with pytest.raises(ValueError, match="output_stride=32 only"):
        visionzoo.create_model("dpn68", output_stride=16, device="meta")
