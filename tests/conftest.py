"""Shared fixtures: deterministic seeds, a quiet tqdm, small inputs."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _threads() -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
