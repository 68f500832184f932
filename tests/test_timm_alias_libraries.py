"""Libraries that build their models through ``import timm``, on the alias (issue 25).

Each library builds its timm-backed model twice, in two processes (the alias takes the name
``timm`` for the whole process): on real timm, and on visionzoo through ``install_timm_alias``.
The visionzoo build loads the timm build's weights strictly and must give the same outputs.

Hugging Face transformers' ``TimmWrapper*`` also import ``timm.data.ImageNetInfo`` and
``infer_imagenet_subset`` (label names for hub configs), open_clip's timm tower
``timm.layers.AttentionPool2d`` and ``RotAttentionPool2d`` (its attention-pool heads): visionzoo
exports all four, so both libraries import and build on the alias.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_timm_alias import NOTICE, run_python

pytestmark = pytest.mark.contract

# --- Hugging Face transformers: TimmWrapperModel / TimmWrapperForImageClassification ---------

HF_BUILD = """
    import sys, torch
    {alias}
    from transformers import TimmWrapperConfig, TimmWrapperForImageClassification, TimmWrapperModel
    torch.manual_seed({seed})
    clf = TimmWrapperForImageClassification(TimmWrapperConfig(architecture="resnet18", num_labels=10))
    enc = TimmWrapperModel(TimmWrapperConfig(architecture="resnet18"))
    clf, enc = clf.eval(), enc.eval()
    for m in (clf, enc):
        assert type(m.timm_model).__module__.startswith("{pkg}."), type(m.timm_model)
"""

HF_REFERENCE = (
    HF_BUILD.format(alias="", seed=0, pkg="timm")
    + """
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        logits = clf(pixel_values=x).logits
        out = enc(pixel_values=x, output_hidden_states=True)
    torch.save({"clf": clf.state_dict(), "enc": enc.state_dict(), "x": x, "logits": logits,
                "pooled": out.pooler_output, "hidden": list(out.hidden_states)}, sys.argv[1])
"""
)

HF_ON_VISIONZOO = (
    HF_BUILD.format(alias="import visionzoo; visionzoo.install_timm_alias()", seed=1, pkg="visionzoo")
    + """
    ref = torch.load(sys.argv[1], weights_only=True)
    clf.load_state_dict(ref["clf"], strict=True)
    enc.load_state_dict(ref["enc"], strict=True)
    with torch.inference_mode():
        logits = clf(pixel_values=ref["x"]).logits
        out = enc(pixel_values=ref["x"], output_hidden_states=True)
    torch.save({"logits": logits, "pooled": out.pooler_output, "hidden": list(out.hidden_states)},
               sys.argv[2])
"""
)


@pytest.mark.parity
@pytest.mark.slow
def test_transformers_timm_wrapper_on_visionzoo_equals_timm(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    run_python(HF_REFERENCE, str(tmp_path / "ref.pt"))
    proc = run_python(HF_ON_VISIONZOO, str(tmp_path / "ref.pt"), str(tmp_path / "ours.pt"))
    assert proc.stderr.count(NOTICE) == 1, proc.stderr
    ref = torch.load(tmp_path / "ref.pt", weights_only=True)
    ours = torch.load(tmp_path / "ours.pt", weights_only=True)
    assert ours["logits"].shape == (2, 10) and ours["pooled"].shape == (2, 512)
    assert len(ours["hidden"]) == len(ref["hidden"]) == 5
    for key in ("logits", "pooled", "hidden"):
        torch.testing.assert_close(ours[key], ref[key], atol=1e-4, rtol=0)


# --- open_clip: a CLIP whose vision tower is a timm model (`timm_model_name`) ---------------

# No shipped open_clip config has a small timm tower (RN50 is open_clip's own ResNet), so a tiny
# one is registered with `open_clip.add_model_config`; the text tower only makes the CLIP whole.
# `timm_pool` picks the tower's head: the trunk's average pool, or timm.layers.AttentionPool2d
# ("abs_attn") / RotAttentionPool2d ("rot_attn") on the feature map (@POOL@ below).
CLIP_BUILD = """
    import json, sys, tempfile, torch
    {alias}
    import open_clip
    cfg = {{"embed_dim": 64,
           "vision_cfg": {{"timm_model_name": "resnet18", "timm_pool": "@POOL@", "timm_proj": "linear",
                          "image_size": 64}},
           "text_cfg": {{"context_length": 16, "vocab_size": 100, "width": 32, "heads": 2, "layers": 1}}}}
    cfg_dir = tempfile.mkdtemp()
    with open(cfg_dir + "/vz-timm-resnet18-tiny.json", "w") as f:
        json.dump(cfg, f)
    open_clip.add_model_config(cfg_dir)
    torch.manual_seed({seed})
    model = open_clip.create_model("vz-timm-resnet18-tiny", pretrained=None).eval()
    assert type(model.visual.trunk).__module__.startswith("{pkg}."), type(model.visual.trunk)
    pool = getattr(model.visual.head, "pool", None)
    assert (pool is None) == ("@POOL@" == "avg"), pool
    assert pool is None or type(pool).__module__ == "{pkg}.layers.attention_pool2d", type(pool)
"""

CLIP_REFERENCE = (
    CLIP_BUILD.format(alias="", seed=0, pkg="timm")
    + """
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        y = model.encode_image(x)
    torch.save({"state_dict": model.state_dict(), "x": x, "y": y}, sys.argv[1])
"""
)

CLIP_ON_VISIONZOO = (
    CLIP_BUILD.format(alias="import visionzoo; visionzoo.install_timm_alias()", seed=1, pkg="visionzoo")
    + """
    ref = torch.load(sys.argv[1], weights_only=True)
    model.load_state_dict(ref["state_dict"], strict=True)
    with torch.inference_mode():
        y = model.encode_image(ref["x"])
    torch.save({"y": y}, sys.argv[2])
"""
)


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("pool", ["avg", "abs_attn", "rot_attn"])
def test_open_clip_timm_tower_on_visionzoo_equals_timm(tmp_path: Path, pool: str) -> None:
    pytest.importorskip("open_clip")
    run_python(CLIP_REFERENCE.replace("@POOL@", pool), str(tmp_path / "ref.pt"))
    proc = run_python(
        CLIP_ON_VISIONZOO.replace("@POOL@", pool), str(tmp_path / "ref.pt"), str(tmp_path / "ours.pt")
    )
    assert proc.stderr.count(NOTICE) == 1, proc.stderr
    ref = torch.load(tmp_path / "ref.pt", weights_only=True)["y"]
    ours = torch.load(tmp_path / "ours.pt", weights_only=True)["y"]
    assert ours.shape == ref.shape == (2, 64)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)
