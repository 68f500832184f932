"""The opt-in ``import timm`` alias (``visionzoo.install_timm_alias``).

The alias takes the name ``timm`` for the whole process, and this process has the real timm
imported (the oracle of the other tests), so everything but the refusal runs in a subprocess.
The downstream check builds segmentation-models-pytorch's ``tu-`` U-Net on visionzoo and on timm
(two processes) and compares outputs on the same weights.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import timm
import torch

import visionzoo
from visionzoo.timm_alias import TimmAlreadyImportedError, is_timm_alias_installed

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "smp_unet_on_visionzoo.py"
NOTICE = "visionzoo: `import timm` resolves to visionzoo"


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_refused_when_real_timm_is_imported() -> None:
    meta_path = list(sys.meta_path)
    with pytest.raises(TimmAlreadyImportedError, match=r"real timm is already imported \('timm'"):
        visionzoo.install_timm_alias()
    assert sys.meta_path == meta_path
    assert sys.modules["timm"] is timm and not is_timm_alias_installed()


def test_lazy_export() -> None:
    run_python("""
        import sys
        import visionzoo
        assert "visionzoo.timm_alias" not in sys.modules and "timm" not in sys.modules
        from visionzoo import timm_alias
        assert visionzoo.install_timm_alias is timm_alias.install_timm_alias
        assert visionzoo.uninstall_timm_alias is timm_alias.uninstall_timm_alias
        assert "timm" not in sys.modules
    """)


def test_alias_maps_timm_paths_to_visionzoo_modules() -> None:
    proc = run_python("""
        import sys
        import pytest
        import visionzoo
        visionzoo.install_timm_alias()
        visionzoo.install_timm_alias()  # harmless: one finder, one notice
        from visionzoo.timm_alias import _TimmAliasFinder
        assert sum(isinstance(f, _TimmAliasFinder) for f in sys.meta_path) == 1

        import timm
        import timm.layers.activations
        import timm.models.resnet
        from timm.layers import DropPath
        from timm.models import create_model
        import visionzoo.layers.activations, visionzoo.models.resnet
        assert timm is visionzoo and timm.models is visionzoo.models
        assert timm.models.resnet is visionzoo.models.resnet
        assert timm.layers.activations is visionzoo.layers.activations
        assert sys.modules["timm.models.resnet"] is visionzoo.models.resnet
        assert DropPath is visionzoo.layers.DropPath and create_model is visionzoo.create_model
        model = timm.create_model("resnet18", features_only=True)
        assert type(model).__module__ == "visionzoo.features", type(model)

        with pytest.raises(ModuleNotFoundError, match="maps it to 'visionzoo.nosuch'"):
            import timm.nosuch
        with pytest.raises(ModuleNotFoundError, match="maps it to 'visionzoo.models.resnt'"):
            import timm.models.resnt  # a typo is no family: no placeholder
        with pytest.raises(ImportError, match="create_conv2d.s names from visionzoo.layers"):
            import timm.layers.create_conv2d  # visionzoo's own refusal comes through

        # a family not ported: imports (libraries list its classes at import time), fails on use
        from visionzoo.timm_alias import FamilyNotPortedError
        from timm.models.naflexvit import NaFlexVit
        with pytest.raises(FamilyNotPortedError, match="timm family 'naflexvit' is not ported"):
            NaFlexVit()
        with pytest.raises(FamilyNotPortedError, match="naflexvit"):
            class Sub(NaFlexVit):
                pass

        visionzoo.uninstall_timm_alias()
        assert not any(n == "timm" or n.startswith("timm.") for n in sys.modules)
        assert not hasattr(visionzoo.models, "naflexvit")
        import timm as real
        assert real is not visionzoo and real.__file__.endswith("timm/__init__.py")
        assert timm.models.resnet.ResNet is not real.models.resnet.ResNet
    """)
    assert proc.stderr.count(NOTICE) == 1, proc.stderr


def test_scope_restores_and_refusal_names_the_fix() -> None:
    run_python("""
        import sys
        import pytest
        from visionzoo.timm_alias import (
            TimmAlreadyImportedError, install_timm_alias, is_timm_alias_installed, timm_alias_scope,
        )
        with timm_alias_scope():
            import timm
            assert timm.__name__ == "visionzoo" and is_timm_alias_installed()
        assert not is_timm_alias_installed() and "timm" not in sys.modules

        import segmentation_models_pytorch  # imports the real timm
        with pytest.raises(TimmAlreadyImportedError, match="before importing segmentation_models_pytorch"):
            install_timm_alias()
        assert not is_timm_alias_installed()
    """)


REFERENCE = """
    import sys, torch
    import segmentation_models_pytorch as smp
    torch.manual_seed(0)
    model = smp.Unet("tu-resnet18", encoder_weights=None, classes=2).eval()
    assert type(model.encoder.model).__module__.startswith("timm."), type(model.encoder.model)
    x = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        y = model(x)
    torch.save({"state_dict": model.state_dict(), "x": x, "y": y}, sys.argv[1])
"""

ON_VISIONZOO = """
    import sys, torch
    import visionzoo
    visionzoo.install_timm_alias()
    import segmentation_models_pytorch as smp
    torch.manual_seed(1)  # other random weights: the reference's must be loaded to agree
    model = smp.Unet("tu-resnet18", encoder_weights=None, classes=2).eval()
    assert isinstance(model.encoder.model, visionzoo.FeatureListNet), type(model.encoder.model)
    ref = torch.load(sys.argv[1], weights_only=True)
    model.load_state_dict(ref["state_dict"], strict=True)
    with torch.inference_mode():
        y = model(ref["x"])
    torch.save({"y": y}, sys.argv[2])
"""


@pytest.mark.parity
@pytest.mark.slow
def test_smp_unet_tu_encoder_on_visionzoo_equals_timm(tmp_path: Path) -> None:
    pytest.importorskip("segmentation_models_pytorch")
    run_python(REFERENCE, str(tmp_path / "ref.pt"))
    proc = run_python(ON_VISIONZOO, str(tmp_path / "ref.pt"), str(tmp_path / "ours.pt"))
    assert proc.stderr.count(NOTICE) == 1, proc.stderr
    ref = torch.load(tmp_path / "ref.pt", weights_only=True)["y"]
    ours = torch.load(tmp_path / "ours.pt", weights_only=True)["y"]
    assert ours.shape == ref.shape == (2, 2, 64, 96)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_smp_example_runs() -> None:
    pytest.importorskip("segmentation_models_pytorch")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "tu-efficientnet_b0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "smp.Unet('tu-efficientnet_b0') on visionzoo vs on timm" in proc.stdout
    assert "within 0.0001" in proc.stdout
