"""segmentation-models-pytorch's ``tu-`` U-Net on visionzoo, unchanged, through the timm alias.

    python examples/smp_unet_on_visionzoo.py [ENCODER]   (default tu-resnet18)

smp imports timm itself, so ``visionzoo.install_timm_alias()`` runs before smp is imported and
smp's ``timm.create_model(..., features_only=True)`` builds a visionzoo model. To show nothing
changed but the encoder's code, a child process builds the same U-Net on the real timm, saves its
weights, an input and its output; this process loads those weights strictly into the
visionzoo-built U-Net and compares outputs. Needs ``segmentation-models-pytorch`` and ``timm``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import torch

TOLERANCE = 1e-4


def build_unet(encoder: str) -> torch.nn.Module:
    """The U-Net under test, from whichever ``timm`` this process imports (random weights)."""
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    return smp.Unet(encoder, encoder_weights=None, classes=2).eval()


def save_reference(encoder: str, path: Path) -> None:
    """Build the U-Net on the real timm; save its state dict, an input and its output."""
    model = build_unet(encoder)
    encoder_module = type(model.encoder.model).__module__
    if not encoder_module.startswith("timm."):
        raise RuntimeError(f"the reference encoder was built by {encoder_module}, not by timm")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        y = model(x)
    torch.save({"state_dict": model.state_dict(), "input": x, "output": y}, path)


def compare_on_visionzoo(encoder: str, path: Path) -> float:
    """Load the reference weights strictly into the visionzoo-built U-Net.

    Returns:
        The largest absolute difference between the two U-Nets' outputs.
    """
    from visionzoo import install_timm_alias

    install_timm_alias()  # before smp imports timm
    model = build_unet(encoder)
    encoder_module = type(model.encoder.model).__module__
    if not encoder_module.startswith("visionzoo."):
        raise RuntimeError(f"the encoder was built by {encoder_module}, not by visionzoo")
    reference = torch.load(path, weights_only=True)
    model.load_state_dict(reference["state_dict"], strict=True)
    with torch.inference_mode():
        y = model(reference["input"])
    return float((y - reference["output"]).abs().max())


def main(encoder: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.pt"
        # a separate process: the real timm and the alias cannot share one
        subprocess.run([sys.executable, __file__, "--reference", encoder, str(path)], check=True)
        diff = compare_on_visionzoo(encoder, path)
    ok = diff <= TOLERANCE
    print(
        f"smp.Unet({encoder!r}) on visionzoo vs on timm, same weights: max |diff| {diff:.2e} "
        f"({'within' if ok else 'ABOVE'} {TOLERANCE:g})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reference"]:
        save_reference(sys.argv[2], Path(sys.argv[3]))
    else:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tu-resnet18"))
