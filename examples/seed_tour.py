"""A short tour of what the seed documents describe, runnable offline in a few seconds.

Lists models, builds resnet34 for 1-channel input from a weights file this script writes
(weights cannot be downloaded here, so random ones stand in for ImageNet's), and extracts a
feature pyramid.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

import visionzoo


def main() -> None:
    names = visionzoo.list_models()
    print(f"{len(names)} architectures, {len(visionzoo.list_pretrained())} pretrained weights")
    print("list_models('resnet1*'):", visionzoo.list_models("resnet1*"))
    print("list_models('resnet34', pretrained=True):", visionzoo.list_models("resnet34", pretrained=True))

    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "resnet34.safetensors"
        rgb = visionzoo.create_model("resnet34")
        save_file(rgb.state_dict(), str(weights))
        gray = visionzoo.create_model(
            "resnet34", pretrained=True, in_chans=1, pretrained_cfg_overlay=dict(file=str(weights))
        ).eval()
    summed = rgb.conv1.weight.sum(dim=1, keepdim=True)
    print(
        "resnet34 in_chans=1 conv1:",
        tuple(gray.conv1.weight.shape),
        "= RGB filters summed:",
        torch.allclose(gray.conv1.weight, summed),
    )
    with torch.no_grad():
        print("logits for a (1, 1, 224, 224) x-ray:", tuple(gray(torch.randn(1, 1, 224, 224)).shape))

    backbone = visionzoo.create_model("resnet34", features_only=True, out_indices=(2, 3, 4)).eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 224, 224))
    for f, r in zip(feats, backbone.feature_info.reduction()):
        print(f"  feature stride {r:>2}: {tuple(f.shape)}")


if __name__ == "__main__":
    main()
