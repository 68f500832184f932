"""ResNeSt's own parts: the split-attention layer (SplitAttn, RadixSoftmax) against a direct
computation of the paper's formula; the block's stochastic-depth placement; options outside the
family sample against timm. (The registered names' structure, configs and outputs: test_parity.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from helpers import bn_eval
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

from visionzoo.layers import DropPath
from visionzoo.layers.split_attn import RadixSoftmax, SplitAttn
from visionzoo.models.resnest import ResNestBottleneck

pytestmark = pytest.mark.family

# what the shared compile / export suites build ResNeSt with (sampling.family_kwargs): the same
# blocks, one per stage
SHARED_KWARGS: dict[str, Any] = {"layers": (1, 1, 1, 1)}


def _direct_split_attn(m: SplitAttn, x: torch.Tensor, *, radix: int, groups: int) -> torch.Tensor:
    """The paper's split attention, one split and one cardinal group at a time: U_r (the conv's
    r-th block of channels), s = mean_hw(sum_r U_r), z = relu(bn(fc1(s))), a = softmax over r of
    fc2(z) within each group (sigmoid with one split), out = sum_r a_r * U_r."""
    c = m.conv
    u = F.relu(bn_eval(F.conv2d(x, c.weight, None, c.stride, c.padding, c.dilation, c.groups), m.bn0))
    out_chs = u.shape[1] // radix
    splits = [u[:, r * out_chs : (r + 1) * out_chs] for r in range(radix)]
    s = sum(splits).mean((2, 3), keepdim=True)
    z = F.relu(bn_eval(F.conv2d(s, m.fc1.weight, m.fc1.bias, groups=groups), m.bn1))
    logits = F.conv2d(z, m.fc2.weight, m.fc2.bias, groups=groups).flatten(1)  # (B, groups*radix*cg)
    cg = out_chs // groups
    out = torch.zeros_like(splits[0])
    for g in range(groups):
        # fc2's group g holds radix blocks of cg logits, one per split, for channels g*cg..(g+1)*cg
        lg = logits[:, g * radix * cg : (g + 1) * radix * cg].reshape(-1, radix, cg)
        a = torch.sigmoid(lg) if radix == 1 else torch.softmax(lg, dim=1)
        for r in range(radix):
            out[:, g * cg : (g + 1) * cg] += a[:, r, :, None, None] * splits[r][:, g * cg : (g + 1) * cg]
    return out


@pytest.mark.parametrize(("radix", "groups"), [(2, 1), (4, 2), (1, 4)])
def test_split_attn_is_the_papers_formula(radix: int, groups: int) -> None:
    layer = SplitAttn(16, 24, stride=2, groups=groups, radix=radix, rd_channels=8, norm_layer=nn.BatchNorm2d)
    m = materialize_random(layer.to("meta"))
    x = torch.randn(2, 16, 11, 11, generator=torch.Generator().manual_seed(radix))
    with torch.no_grad():
        assert rel_err(m(x), _direct_split_attn(m, x, radix=radix, groups=groups)) < 1e-5


def test_split_attn_widths() -> None:
    # the attention's width: in_channels * radix * rd_ratio rounded to rd_divisor, at least 32;
    # or rd_channels per split
    assert SplitAttn(64, radix=2).fc1.out_channels == 32
    assert SplitAttn(256, radix=2).fc1.out_channels == 128
    assert SplitAttn(64, radix=2, rd_channels=20).fc1.out_channels == 40
    assert SplitAttn(60, 48, radix=3, groups=2).conv.groups == 6


def test_radix_softmax_normalises_each_groups_splits() -> None:
    logits = torch.randn(3, 2 * 4 * 5, generator=torch.Generator().manual_seed(0))  # groups 2, radix 4
    a = RadixSoftmax(4, 2)(logits).view(3, 4, 2, 5)  # radix-major out
    assert torch.allclose(a.sum(1), torch.ones(3, 2, 5))
    assert torch.allclose(a[:, 1, 0], torch.softmax(logits.view(3, 2, 4, 5)[:, 0], dim=1)[:, 1])
    assert torch.equal(RadixSoftmax(1, 2)(logits), torch.sigmoid(logits))


def _block(*args: Any, **kwargs: Any) -> ResNestBottleneck:
    return materialize_random(ResNestBottleneck(*args, **kwargs).to("meta")).eval()


def test_stochastic_depth_drops_only_a_projection_shortcuts_input() -> None:
    # as in timm: drop_path acts on the block input before the projection, not on the branch, so
    # an identity-shortcut block is unchanged and a projection block's shortcut becomes down(0)
    x = torch.randn(2, 32, 8, 8, generator=torch.Generator().manual_seed(1))
    plain = _block(32, 8, radix=2)
    dropped = _block(32, 8, radix=2, drop_path=DropPath(1.0))
    dropped.load_state_dict(plain.state_dict())
    dropped.drop_path.train()
    with torch.no_grad():
        assert torch.equal(dropped(x.clone()), plain(x.clone()))

    def proj_block(**kw: Any) -> ResNestBottleneck:
        down = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32))
        block = _block(16, 8, 1, down, radix=2, **kw)
        block.act3 = nn.Identity()  # expose the sum
        return block

    ref, dropped = proj_block(), proj_block(drop_path=DropPath(1.0))
    dropped.load_state_dict(ref.state_dict())
    dropped.drop_path.train()
    x = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        down = ref.downsample
        expected = ref(x.clone()) - down(x) + down(torch.zeros_like(x))
        assert rel_err(dropped(x.clone()), expected) < 1e-5


# options no registered name sets, at an odd input size (ceil-mode and padded pools)
OPTIONS = {
    "resnest14d": dict(output_stride=16, global_pool="avgmax", num_classes=5),  # dilated last stage
    "resnest50d_4s2x40d": dict(layers=(1, 1, 2, 1), output_stride=8),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_options_outside_the_sample_match_timm(name: str) -> None:
    ours, theirs = paired(name, **OPTIONS[name])
    x = torch.randn(2, 3, 67, 67, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
