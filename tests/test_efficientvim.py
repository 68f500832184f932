"""EfficientViM specifics the registry-wide suites do not reach: the HSM-SSD mixer against a
direct computation, the folded (reparameterised) model against the unfolded one, the head's
softmax-weighted fusion, the original release's checkpoint envelope and LayerNorm shapes."""

from __future__ import annotations

import pytest
import torch
from timm_oracle import rel_err
from torch import nn

import visionzoo
from visionzoo.builder import materialize_random
from visionzoo.models import efficientvim as ev

pytestmark = pytest.mark.family

TINY = dict(embed_dim=(16, 24, 32), depths=(1, 2, 1), state_dim=(9, 4, 2), num_classes=5)


def _tiny(**kwargs: object) -> nn.Module:
    return materialize_random(visionzoo.create_model("efficientvim_m1", device="meta", **{**TINY, **kwargs}))


def _x() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_hsm_ssd_is_the_dual_form() -> None:
    """B, C, dt = dw(W_in x); a = softmax_N(dt + A); h = x (a * B)^T; h, z = W_hz h;
    h = W_out (h * silu(z) + D h); y = h C."""
    mixer = materialize_random(ev.HSMSSD(6, state_dim=3).to("meta"))
    x = torch.randn(2, 6, 3, 4)
    with torch.no_grad():
        w_in = mixer.BCdt_proj.conv.weight[:, :, 0]
        proj = torch.einsum("oi,bin->bon", w_in, x.flatten(2)).reshape(2, 9, 3, 4)
        bcdt = nn.functional.conv2d(proj, mixer.dw.conv.weight, padding=1, groups=9).flatten(2)
        b, c, dt = bcdt[:, :3], bcdt[:, 3:6], bcdt[:, 6:]
        a = torch.softmax(dt + mixer.A[None, :, None], dim=-1)
        h = x.flatten(2) @ (a * b).transpose(1, 2)  # (B, 6, 3)
        hz = torch.einsum("oi,bis->bos", mixer.hz_proj.conv.weight[:, :, 0], h)
        h, z = hz[:, :6], hz[:, 6:]
        h = torch.einsum(
            "oi,bis->bos", mixer.out_proj.conv.weight[:, :, 0], h * nn.functional.silu(z) + h * mixer.D
        )
        y, h_out = mixer(x)
        assert torch.allclose(h_out, h, atol=1e-5)
        assert torch.allclose(y, (h @ c).reshape(2, 6, 3, 4), atol=1e-5)


@pytest.mark.parametrize("distillation", [False, True])
def test_fusion_keeps_outputs(distillation: bool) -> None:
    model = _tiny(distillation=distillation)
    x = _x()
    with torch.no_grad():
        ref = model(x)
        fused = visionzoo.reparameterize(model)
        assert rel_err(fused(x), ref) < 1e-5
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())


def test_head_is_the_softmax_weighted_sum_of_four_classifiers() -> None:
    model = _tiny()
    x = _x()
    with torch.no_grad():
        feats = model.forward_features(x)
        assert [f.shape[1] for f in feats] == [16, 24, 32, 32]
        pooled = [f.mean(-1) for f in feats]
        w = model.weights.softmax(-1)
        expected = sum(w[i] * model.heads[i](pooled[i]) for i in range(4))
        assert torch.allclose(model(x), expected, atol=1e-6)
        assert model.forward_head(feats, pre_logits=True).shape == (2, 16 + 24 + 32 + 32)


def test_original_checkpoint_envelope_and_norm_shapes() -> None:
    model = _tiny(distillation=False)
    sd = model.state_dict()
    original = {k: v.reshape(1, -1, 1) if k.startswith("norm.") else v for k, v in sd.items()}
    original["heads_dist.0.weight"] = torch.zeros(5, 16)
    original["weights_dist"] = torch.ones(4)
    remapped = ev.checkpoint_filter_fn({"model_ema": original, "model": {}}, model)
    assert remapped.keys() == sd.keys()
    assert all(torch.equal(remapped[k], v) for k, v in sd.items())


def test_cut_needs_the_head_to_go() -> None:
    model = _tiny()
    with pytest.raises(ValueError, match="prune_head"):
        model.prune_intermediate_layers([0], prune_head=False)
    assert model.prune_intermediate_layers([0, 1]) == [0, 1]
    assert [f.shape[1] for f in model.forward_intermediates(_x(), intermediates_only=True)] == [16, 24]
