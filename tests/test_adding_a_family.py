"""docs/adding_a_family.md stays true: its family file, run as a module, gives a working family."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.contract

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_family.md"

CHECKS = """
import torch, visionzoo
from safetensors.torch import save_file
from toynet import toynet_s, ToyNet

assert visionzoo.list_models(module="toynet") == ["toynet_m", "toynet_s"]
assert visionzoo.get_pretrained_cfg("toynet_s").name == "toynet_s.demo_in1k"
assert visionzoo.get_pretrained_cfg("toynet_s").hf_hub_id == "timm/toynet_s.demo_in1k"
m = visionzoo.create_model("toynet_s", num_classes=10, in_chans=1)
assert isinstance(m, ToyNet) and m(torch.randn(2, 1, 64, 64)).shape == (2, 10)
assert m.pretrained_cfg.input_size == (1, 64, 64) and len(m.pretrained_cfg.mean) == 1
assert toynet_s(num_classes=3)(torch.randn(1, 3, 32, 32)).shape == (1, 3)
b = visionzoo.create_model("toynet_m", features_only=True)
assert [t.shape[1] for t in b(torch.randn(1, 3, 64, 64))] == [32, 64]
try:
    visionzoo.create_model("toynet_s", widht=3)
except TypeError as e:
    assert "widths" in str(e)
else:
    raise AssertionError("a misspelt kwarg must raise")
src = visionzoo.create_model("toynet_s", num_classes=1000)
save_file(src.state_dict(), "w.safetensors")
got = visionzoo.create_model(
    "toynet_s", pretrained=True, num_classes=5, pretrained_cfg_overlay=dict(file="w.safetensors")
)
assert torch.equal(got.stem.weight, src.stem.weight) and got.fc.out_features == 5
m.set_grad_checkpointing(True)
m(torch.randn(2, 1, 64, 64)).sum().backward()
print("ok")
"""


def _family_code() -> str:
    text = DOC.read_text()
    example = text[text.index("## A worked example") :]
    return re.search(r"```python\n(.*?)```", example, re.S).group(1)


def test_the_documented_family_works(tmp_path: Path) -> None:
    (tmp_path / "toynet.py").write_text(_family_code())
    run = subprocess.run(
        [sys.executable, "-c", CHECKS], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"
