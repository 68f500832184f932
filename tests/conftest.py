"""Shared fixtures: deterministic seeds, a quiet tqdm, small inputs, no network; the parity table;
each test's family and kind of cost in its report (``--junitxml``: tests/suite_cost.py reads them)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time

import pytest
import sampling
import torch

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _threads() -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- one family ranking per run (tests/sampling.py), shared by the xdist workers ---------------------
_SHARED = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "family_sampled: a per-family test (a 'module' or 'module-rank' parameter) that CI runs on "
        "sampling.ci_families() only; every family with VISIONZOO_SAMPLE=family or VISIONZOO_FULL=1",
    )
    # the controller (or a run without xdist) makes the folder; workers inherit the variable
    if not hasattr(config, "workerinput") and not os.environ.get(sampling.SHARED_DIR_ENV):
        folder = tempfile.mkdtemp(prefix="visionzoo-sample-")
        os.environ[sampling.SHARED_DIR_ENV] = config.stash[_SHARED] = folder


@pytest.hookimpl(trylast=True)  # after -k / -m: rank only the families still selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    sampling.deselect_unsampled(items, config)
    for item in items:
        item.user_properties.extend(sampling.cost_properties(item))


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_SHARED, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(sampling.SHARED_DIR_ENV, None)


# --- the summary table of numeric parity (make parity) -------------------------------------------
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.monotonic()


_STARTED = pytest.StashKey[float]()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Per family: architectures, passed and failed numeric parity tests, and their seconds.

    The parity tests tag their reports with ``parity_family`` / ``parity_arch`` (record_property),
    which travel with the reports from xdist workers too; sampled-out (skipped) tests carry none.
    """
    rows: dict[str, dict] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            props = dict(getattr(report, "user_properties", ()))
            if "parity_family" not in props or getattr(report, "when", None) not in ("setup", "call"):
                continue
            if report.when == "setup" and report.passed:
                continue  # a passing setup is followed by its call report
            row = rows.setdefault(props["parity_family"], dict(archs=set(), passed=0, failed=0, seconds=0.0))
            row["archs"].add(props["parity_arch"])
            row["passed" if report.passed else "failed"] += 1
            row["seconds"] += report.duration
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("numeric parity with timm")
    write(f"{'family':<24}{'archs':>7}{'passed':>8}{'failed':>8}{'seconds':>10}")
    for family in sorted(rows):
        r = rows[family]
        write(f"{family:<24}{len(r['archs']):>7}{r['passed']:>8}{r['failed']:>8}{r['seconds']:>10.1f}")
    total = {k: sum(r[k] for r in rows.values()) for k in ("passed", "failed", "seconds")}
    archs = sum(len(r["archs"]) for r in rows.values())
    write(f"{'all':<24}{archs:>7}{total['passed']:>8}{total['failed']:>8}{total['seconds']:>10.1f}")
    started = config.stash.get(_STARTED, None)
    if started is not None:
        write(f"wall time: {time.monotonic() - started:.0f} s (seconds above: summed test time)")
