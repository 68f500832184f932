"""tests/suite_cost.py: the per-family cost of a run and its projection to more families."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import suite_cost

import visionzoo

# (file, test id, seconds, kind, family, unit)
CASES = [
    ("test_contract", "test_structure[resnet18]", 1.0, "every-name", "resnet", "resnet18"),
    ("test_contract", "test_structure[resnet34]", 1.0, "every-name", "resnet", "resnet34"),
    ("test_capabilities", "test_output_stride[16-resnet18]", 1.5, "sampled", "resnet", "resnet18"),
    ("test_capabilities", "test_output_stride[8-resnet18]", 0.5, "sampled", "resnet", "resnet18"),
    ("test_engines", "test_every_engine[resnet]", 10.0, "ci-families", "resnet", "resnet"),
    ("test_properties", "test_random_builds[resnet]", 4.0, "per-family", "resnet", "resnet"),
    ("test_resnet", "test_bad_options_are_named[kw0]", 3.0, "family-file", "resnet", "resnet"),
    ("test_cli", "test_help", 5.0, "fixed", None, None),
]


def _junit(path: Path, cases=CASES, wall: float = 15.0) -> Path:
    body = []
    for file, name, seconds, kind, family, unit in cases:
        props = [("cost_kind", kind)] + ([("cost_family", family), ("cost_unit", unit)] if family else [])
        prop_xml = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props)
        body.append(
            f'<testcase classname="tests.{file}" name="{name}" time="{seconds}">'
            f"<properties>{prop_xml}</properties></testcase>"
        )
    path.write_text(
        f'<?xml version="1.0"?><testsuites><testsuite name="pytest" time="{wall}">{"".join(body)}'
        "</testsuite></testsuites>"
    )
    return path


def test_rows_sum_seconds_per_file_and_kind_over_their_units(tmp_path: Path) -> None:
    cases, wall = suite_cost.read_junit(_junit(tmp_path / "run.xml"))
    assert wall == 15.0 and len(cases) == len(CASES)
    table = suite_cost.rows(cases)
    assert table[("test_capabilities", "sampled")].seconds == 2.0
    assert table[("test_capabilities", "sampled")].units == {"resnet18"}  # two cases, one name
    assert table[("test_contract", "every-name")].units == {"resnet18", "resnet34"}
    assert table[("test_cli", "fixed")].units == {"run"}


def test_projection_scales_each_kind_by_what_it_grows_with(tmp_path: Path) -> None:
    cases, _ = suite_cost.read_junit(_junit(tmp_path / "run.xml"))
    # one family of 81 architectures, projected to 4 families of 324 in all; CI takes 2 sampled
    # names of each family (8 // 4), 2 families for the family_sampled tests; a whole sample is 3
    target = suite_cost.Target(modules=4, archs=324, ci_names=8, ci_families=2, sample_per_family=3)
    out = suite_cost.project(cases, archs_now=81, modules_now=1, target=target)
    ci = out["ci"]
    assert ci[("test_contract", "every-name")] == pytest.approx(2.0 * 4)  # per architecture
    assert ci[("test_capabilities", "sampled")] == pytest.approx(2.0 * 2 * 4)  # per CI name
    assert ci[("test_engines", "ci-families")] == pytest.approx(10.0 * 2)  # CI's families
    assert ci[("test_properties", "per-family")] == pytest.approx(4.0 * 4)
    assert ci[("test_resnet", "family-file")] == pytest.approx(3.0 * 4)
    assert ci[("test_cli", "fixed")] == pytest.approx(5.0)
    assert out["test-sample"][("test_capabilities", "sampled")] == pytest.approx(2.0 * 3 * 4)
    assert out["test-sample"][("test_engines", "ci-families")] == pytest.approx(10.0 * 4)
    assert out["test-all"][("test_capabilities", "sampled")] == pytest.approx(2.0 * 324)  # every name
    assert out["parity"] == {}  # no test_parity.py test in this run
    # a large registry: still the smallest model of each family in CI
    many = suite_cost.Target(modules=400, archs=4000, ci_names=8, ci_families=2, sample_per_family=3)
    sampled = suite_cost.project(cases, archs_now=81, modules_now=1, target=many)["ci"]
    assert sampled[("test_capabilities", "sampled")] == pytest.approx(2.0 * 1 * 400)


def test_ci_projection_costs_the_smallest_sampled_names_by_their_own_time(tmp_path: Path) -> None:
    """At one name a family, CI runs each family's smallest model: a larger sampled name's time
    (rank 1 here) does not count for it."""
    cases, _ = suite_cost.read_junit(_junit(tmp_path / "run.xml"))
    cases = [c for c in cases if c.kind == "sampled"]
    cases[0].rank = cases[1].rank = 0  # resnet18: 2.0 s
    big = dataclasses.replace(cases[0], unit="resnet50", seconds=30.0, rank=1)
    target = suite_cost.Target(modules=98, archs=1375, ci_names=98, ci_families=2, sample_per_family=2)
    ci = suite_cost.project([*cases, big], archs_now=81, modules_now=1, target=target)["ci"]
    assert ci[("test_capabilities", "sampled")] == pytest.approx(2.0 * 1 * 98)


def test_main_prints_the_tables_and_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _junit(tmp_path / "run.xml")
    assert suite_cost.main([str(path), "--outside-minutes", "0"]) == 0
    out = capsys.readouterr().out
    n = len(visionzoo.list_models(module="resnet"))
    assert f"(1 families, {n} architectures in the run's families)" in out
    assert "within the 25-minute budget" in out
    assert suite_cost.main([str(path), "--budget", "0.01"]) == 0
    assert "OVER the 0-minute budget" in capsys.readouterr().out


def test_a_report_without_cost_tags_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.xml"
    path.write_text('<testsuite time="1"><testcase classname="tests.x" name="test_a" time="1"/></testsuite>')
    assert suite_cost.main([str(path)]) == 2
    assert "no test carries cost_kind" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        suite_cost.main([str(tmp_path / "missing.xml")])
    assert "no report at" in capsys.readouterr().err
