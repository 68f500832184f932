"""DeiT's own parts: the distilled two-head model against timm, the DeiT-III layer-scale remap, its
registered names, and a distilled model's save / reload at another size.

(The sampled names' outputs, intermediates and pretrained cfgs against timm: test_parity.py and
test_capabilities.py.)
"""

from __future__ import annotations

import pytest
import torch
from timm_oracle import paired_classes, rel_err, timm

import visionzoo
from visionzoo.models.deit import VisionTransformerDistilled, checkpoint_filter_fn
from visionzoo.models.vision_transformer import VisionTransformer

pytestmark = pytest.mark.family

BASE = dict(img_size=32, patch_size=8, embed_dim=48, depth=3, num_heads=3, num_classes=10)
X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_registered_names_are_timms() -> None:
    assert set(visionzoo.list_models(module="deit")) == set(timm.list_models(module="deit"))


def test_deit_distilled_parity_with_timm() -> None:
    from timm.models.deit import VisionTransformerDistilled as RefDistilled

    ours, ref = paired_classes(VisionTransformerDistilled, RefDistilled, **BASE)
    with torch.no_grad():
        assert rel_err(ours(X), ref(X)) < 1e-4
        got = ours.forward_intermediates(X, indices=1, return_prefix_tokens=True, output_fmt="NLC")
        want = ref.forward_intermediates(X, indices=1, return_prefix_tokens=True, output_fmt="NLC")
        assert got[1][0][1].shape == (2, 2, 48) and rel_err(got[1][0][0], want[1][0][0]) < 1e-4
    assert ours.group_matcher() == ref.group_matcher()
    ours.train().set_distilled_training(True)
    cls_logits, dist_logits = ours(X)
    assert cls_logits.shape == dist_logits.shape == (2, 10)
    ours.reset_classifier(3)
    assert ours.head_dist.out_features == 3
    with pytest.raises(ValueError, match="distilled head"):
        ours.reset_classifier(3, "avg")


def test_deit3_layer_scale_names_remapped() -> None:
    kw = dict(BASE, no_embed_class=True, init_values=1e-6)
    src = VisionTransformer(**kw).eval()
    with torch.no_grad():
        for p in src.parameters():
            p.normal_(0, 0.2)
    ckpt = {
        "model": {
            k.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2"): v
            for k, v in src.state_dict().items()
        }
    }
    dst = VisionTransformer(**kw).eval()
    dst.load_state_dict(checkpoint_filter_fn(ckpt, dst), strict=True)
    with torch.no_grad():
        assert torch.allclose(dst(X), src(X), atol=1e-6)


def test_save_pretrained_round_trip_keeps_size_and_pooling(tmp_path) -> None:
    kw = dict(embed_dim=48, num_heads=3, depth=2)
    model = visionzoo.create_model("deit_tiny_distilled_patch16_224", num_classes=5, img_size=64, **kw).eval()
    visionzoo.save_pretrained(model, tmp_path, model_args=kw)
    loaded = visionzoo.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.patch_embed.img_size == (64, 64) and loaded.global_pool == model.global_pool
