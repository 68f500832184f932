"""PP-HGNet specifics the registry-wide suites do not reach: the learnable affine and the HG block
against direct computations, the folding of norms and positive affine scales (exact on
trained-looking norms, also through visionzoo.reparameterize on a whole model), and options no
registered name sets against timm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import with_trained_norms
from timm_oracle import paired, rel_err

import visionzoo
from visionzoo.models.hgnet import ConvBNAct, HighPerfGpuBlock, LearnableAffineBlock

pytestmark = pytest.mark.family


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def test_learnable_affine_formula() -> None:
    lab = LearnableAffineBlock(scale_value=1.5, bias_value=-0.25)
    x = _x(4, 5)
    assert torch.equal(lab(x), x * 1.5 - 0.25)
    assert [p.shape for p in lab.parameters()] == [torch.Size([1]), torch.Size([1])]


def test_hg_block_formula() -> None:
    """Chained layers, the input and each output concatenated, a squeeze/excite aggregation, and
    the residual."""
    block = with_trained_norms(
        HighPerfGpuBlock(6, 4, 6, 2, residual=True, use_lab=True, agg="se"), lambda s: _x(6, 7, 4, s)
    )
    x = _x(6, 7)
    with torch.no_grad():
        y1 = block.layers[0](x)
        y2 = block.layers[1](y1)
        squeeze, excite = block.aggregation
        expected = excite(squeeze(torch.cat([x, y1, y2], 1))) + x
        assert rel_err(block(x), expected) < 1e-6


@pytest.mark.parametrize("scale", [0.7, -0.7])
def test_conv_bn_act_reparameterize_is_exact(scale: float) -> None:
    layer = with_trained_norms(ConvBNAct(4, 6, 3, stride=2, use_lab=True), lambda s: _x(4, 9, 4, s))
    with torch.no_grad():
        layer.lab.scale.fill_(scale)
        layer.lab.bias.fill_(0.3)
        x = _x(4, 9)
        bn = layer.bn
        z = F.conv2d(x, layer.conv.weight, stride=2, padding=1)
        z = (z - bn.running_mean.view(1, -1, 1, 1)) / (bn.running_var.view(1, -1, 1, 1) + bn.eps).sqrt()
        expected = scale * F.relu(z * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)) + 0.3
        assert rel_err(layer(x), expected) < 1e-5
        layer.reparameterize()
        assert isinstance(layer.bn, torch.nn.Identity) and layer.conv.bias is not None
        # a positive scale goes into the conv (only the shift is left); a negative one cannot
        assert isinstance(layer.lab, LearnableAffineBlock) == (scale < 0)
        assert rel_err(layer(x), expected) < 1e-5


def test_model_reparameterize_is_exact() -> None:
    ours, _ = paired("hgnetv2_b0")
    x = _x()
    fused = visionzoo.reparameterize(ours)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():
        assert rel_err(fused(x), ours(x)) < 1e-4


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(head_hidden_size=None, global_pool="max"),
        dict(drop_path_rate=0.2, drop_rate=0.1, head_hidden_size=64),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("hgnetv2_b0", **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert ours.head_hidden_size == theirs.head_hidden_size
    assert [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")] == [
        m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")
    ]
    with pytest.raises(ValueError, match="pooled width"):
        ours.reset_classifier(5, "catavgmax")
    with pytest.raises(ValueError, match="unpooled head"):
        ours.reset_classifier(5, "")
