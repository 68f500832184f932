"""SKNet's own parts: the selective kernel layer (SelectiveKernel, SelectiveKernelAttn) against a
direct computation of the paper's select step; options outside the family sample against timm.
(The registered names' structure, configs and outputs: test_parity.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from helpers import bn_eval
from timm_oracle import materialize_random, paired, rel_err

from visionzoo.layers import SelectiveKernel
from visionzoo.layers.selective_kernel import SelectiveKernelAttn

pytestmark = pytest.mark.family

# what the shared compile / export suites build SKNet with (sampling.family_kwargs): the same
# blocks, one per stage
SHARED_KWARGS: dict[str, Any] = {"layers": (1, 1, 1, 1)}


def _direct_attn(m: SelectiveKernelAttn, paths: list[torch.Tensor]) -> list[torch.Tensor]:
    """Fuse (U = sum of paths), squeeze (s = mean_hw U), z = relu(bn(W_reduce s)), then per path p
    a_p = exp(A_p z) / sum_q exp(A_q z), A_p being the p-th block of W_select's rows."""
    s = sum(paths).mean((2, 3))  # (B, C)
    z = F.relu(bn_eval((s @ m.fc_reduce.weight.flatten(1).T)[:, :, None, None], m.bn)).flatten(1)
    c = paths[0].shape[1]
    logits = [z @ m.fc_select.weight.flatten(1)[p * c : (p + 1) * c].T for p in range(len(paths))]
    total = sum(torch.exp(lg) for lg in logits)
    return [(torch.exp(lg) / total)[:, :, None, None] for lg in logits]


def test_selective_kernel_attn_is_a_softmax_over_paths() -> None:
    m = materialize_random(SelectiveKernelAttn(12, 3, 8).to("meta"))
    gen = torch.Generator().manual_seed(0)
    paths = [torch.randn(2, 12, 5, 5, generator=gen) for _ in range(3)]
    with torch.no_grad():
        got = m(torch.stack(paths, 1))
        expected = torch.stack(_direct_attn(m, paths), 1)
    assert got.shape == (2, 3, 12, 1, 1)
    assert rel_err(got, expected) < 1e-5


@pytest.mark.parametrize("split_input", [True, False])
def test_selective_kernel_is_the_papers_select(split_input: bool) -> None:
    # paths of 3x3 and 5x5, the 5x5 as a 3x3 at dilation 2 (keep_3x3); each path conv+bn+relu;
    # out = sum_p a_p * U_p
    m = materialize_random(
        SelectiveKernel(8, 12, [3, 5], stride=2, groups=2, rd_channels=8, split_input=split_input).to("meta")
    )
    x = torch.randn(2, 8, 11, 11, generator=torch.Generator().manual_seed(1))
    inputs = list(x.split(4, 1)) if split_input else [x, x]
    paths = []
    for dilation, inp, path in zip((1, 2), inputs, m.paths):
        u = F.conv2d(inp, path.conv.weight, None, 2, dilation, dilation, 2)
        paths.append(F.relu(bn_eval(u, path.bn)))
    with torch.no_grad():
        weights = _direct_attn(m.attn, paths)
        expected = sum(a * u for a, u in zip(weights, paths))
        assert rel_err(m(x), expected) < 1e-5


def test_selective_kernel_options() -> None:
    dilations = [p.conv.dilation for p in SelectiveKernel(9, kernel_size=[3, 5, 7]).paths]
    assert dilations == [(1, 1), (2, 2), (3, 3)]
    assert [p.conv.kernel_size for p in SelectiveKernel(8, keep_3x3=False).paths] == [(3, 3), (5, 5)]
    assert SelectiveKernel(8, split_input=True).paths[0].conv.in_channels == 4
    # the attention width: out_channels * rd_ratio rounded to rd_divisor (at least the divisor)
    assert SelectiveKernel(64, 256, rd_ratio=1 / 8, rd_divisor=16).attn.fc_reduce.out_channels == 32
    with pytest.raises(ValueError, match="odd"):
        SelectiveKernel(8, kernel_size=[3, 4])


# options no registered name sets, at an odd input size
OPTIONS = {
    "skresnet18": dict(layers=(1, 1, 1, 1), output_stride=16),  # dilated selective kernels
    "skresnext50_32x4d": dict(layers=(1, 1, 2, 1), output_stride=8, global_pool="avgmax", num_classes=5),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_options_outside_the_sample_match_timm(name: str) -> None:
    ours, theirs = paired(name, **OPTIONS[name])
    x = torch.randn(2, 3, 67, 67, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
