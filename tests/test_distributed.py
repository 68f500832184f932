"""``torchrun --nproc_per_node=2 -m visionzoo train/validate`` on CPU (gloo): the replicas end with
identical weights, rank 0 alone writes the checkpoints, and sharded metrics sum to the
single-process ones."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from imagedata import make_image_folder

import visionzoo
from visionzoo.cli import main
from visionzoo.cli._distributed import state_digest

pytestmark = [
    pytest.mark.cli,
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on Linux/macOS"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*argv: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "visionzoo",
        *map(str, argv),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_two_process_training_and_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_image_folder(tmp_path / "data", per_class=6)  # 12 training images: 6 per rank
    out = tmp_path / "run"
    proc = torchrun(
        "train", data, "--model", "test_resnet", "--img-size", "32", "--batch-size", "3", "--epochs", "2",
        "--workers", "0", "--lr", "0.05", "--output", out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d)/2: final weights sha256 ([0-9a-f]{64})", proc.stdout))
    assert sorted(digests) == ["0", "1"], proc.stdout
    assert digests["0"] == digests["1"], "the replicas must end with identical weights"
    # the saved checkpoint is that same model; it was written once (rank 0) and completely
    saved = visionzoo.create_model(f"local-dir:{out / 'last'}", pretrained=True)
    assert state_digest(saved) == digests["0"]
    assert proc.stdout.count("epoch 2/2") == 1, "only rank 0 reports"
    assert "batch 3 x 2 process(es)" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["best", "last", "metrics.csv"]

    # validate: two shards, summed, give exactly the single-process numbers
    proc = torchrun(
        "validate", data, "--checkpoint", out / "best", "--json", "--batch-size", "2", "--workers", "0"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sharded = json.loads(proc.stdout)
    assert sharded["processes"] == 2
    assert main(["validate", str(data), "--checkpoint", str(out / "best"), "--json", "--workers", "0"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert sharded["images"] == single["images"] == 12
    for key in ("top1", "top5", "loss"):
        assert sharded[key] == pytest.approx(single[key], abs=1e-4), key
