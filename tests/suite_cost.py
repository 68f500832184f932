"""What the suite costs per family, and what it would cost at more families.

Reads a pytest ``--junitxml`` report of a run (conftest.py tags every test with the kind of cost
it has and its family: sampling.cost_properties) and prints

1. per test file and kind: measured seconds, the units that time grows with (architectures for the
   every-name structural checks, sampled names, families) and the seconds per unit;
2. per family: its architectures, its sampled names and its seconds per kind;
3. the projection to ``--modules`` families / ``--archs`` architectures: each row's seconds per
   unit times the units it would have, summed, on ``--workers`` workers (with the run's own
   measured overhead of wall time over summed test time), for CI (the run as it is), ``make
   test-all`` (the sampled tests on every name) and ``make parity`` (numeric parity on every
   name).

    python -m pytest -n 2 --junitxml=suite.xml
    python -m tests.suite_cost suite.xml            # or: python tests/suite_cost.py suite.xml

The projection assumes a new family costs what the measured ones cost on average (per
architecture, per sampled name, per family); the sample grows with a family's block types, so the
per-family sample size is the measured mean unless ``--sample-per-family`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Case", "main", "project", "read_junit", "rows"]

KINDS = ("every-name", "sampled", "sampled-parity", "per-family", "family-file", "fixed")


@dataclass
class Case:
    file: str
    test: str
    param: str
    seconds: float
    kind: str
    family: str | None
    unit: str  # the name or family the test's time counts for ("run" for a fixed test)
    skipped: bool


@dataclass
class Row:
    seconds: float = 0.0
    units: set[str] = field(default_factory=set)


def read_junit(path: Path) -> tuple[list[Case], float]:
    """The test cases of a ``--junitxml`` report, and the run's wall time (its testsuite time)."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        raise ValueError(f"{path}: no <testsuite> in this file; give pytest's --junitxml report")
    cases, untagged = [], 0
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "cost_kind" not in props:
            untagged += 1
            continue
        name = case.get("name", "")
        test, _, param = name.partition("[")
        cases.append(
            Case(
                file=case.get("classname", "").rpartition(".")[2] or case.get("file", ""),
                test=test,
                param=param.rstrip("]"),
                seconds=float(case.get("time", 0.0)),
                kind=props["cost_kind"],
                family=props.get("cost_family"),
                unit=props.get("cost_unit") or "run",
                skipped=case.find("skipped") is not None,
            )
        )
    if untagged and not cases:
        raise ValueError(f"{path}: no test carries cost_kind; run the suite with tests/conftest.py")
    return cases, sum(float(s.get("time", 0.0)) for s in suites)


def rows(cases: Sequence[Case]) -> dict[tuple[str, str], Row]:
    """(file, kind) -> measured seconds and units (names or families) it covers."""
    table: dict[tuple[str, str], Row] = defaultdict(Row)
    for case in cases:
        row = table[(case.file, case.kind)]
        row.seconds += case.seconds
        row.units.add(case.unit)
    return dict(table)


def _names(cases: Sequence[Case], kinds: tuple[str, ...]) -> dict[str, set[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        if case.kind in kinds and case.family and not case.skipped:
            names[case.family].add(case.unit)
    return names


def project(
    cases: Sequence[Case], *, archs_now: int, modules_now: int, archs: int, modules: int, sample: float | None
) -> dict[str, dict[tuple[str, str], float]]:
    """Projected seconds per (file, kind) for CI, test-all and parity at ``modules`` / ``archs``."""
    measured = rows(cases)
    sampled = _names(cases, ("sampled", "sampled-parity"))
    per_family = sample if sample is not None else sum(map(len, sampled.values())) / max(1, len(sampled))
    scale = {
        "every-name": archs / archs_now,
        "per-family": modules / modules_now,
        "family-file": modules / modules_now,
        "fixed": 1.0,
    }
    out: dict[str, dict[tuple[str, str], float]] = {"ci": {}, "test-all": {}, "parity": {}}
    for (file, kind), row in measured.items():
        if kind in ("sampled", "sampled-parity"):
            per_name = row.seconds / max(1, len(row.units))
            # a file's sampled test covers the families' samples it was run on
            share = len(row.units) / max(1, sum(map(len, sampled.values())))
            out["ci"][(file, kind)] = per_name * per_family * modules * share
            out["test-all"][(file, kind)] = per_name * archs * share
            if kind == "sampled-parity":
                out["parity"][(file, kind)] = per_name * archs * share
        else:
            out["ci"][(file, kind)] = out["test-all"][(file, kind)] = row.seconds * scale[kind]
            if kind == "every-name" and file == "test_parity":
                out["parity"][(file, kind)] = row.seconds * scale[kind]
    return out


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:7.1f}"


def report(
    cases: Sequence[Case], wall: float, args: argparse.Namespace, *, archs_now: int, modules_now: int
) -> str:
    lines = []
    measured = rows(cases)
    total = sum(r.seconds for r in measured.values())
    lines.append(f"measured: {len(cases)} tests, {total / 60:.1f} test-minutes, wall {wall / 60:.1f} min")
    lines.append(f"  ({modules_now} families, {archs_now} architectures in the run's families)")
    lines.append("")
    lines.append(f"{'file':<28}{'kind':<16}{'seconds':>9}{'units':>7}{'s/unit':>9}")
    for (file, kind), row in sorted(measured.items(), key=lambda kv: -kv[1].seconds):
        n = len(row.units)
        lines.append(f"{file:<28}{kind:<16}{row.seconds:>9.1f}{n:>7}{row.seconds / max(1, n):>9.2f}")
    lines.append("")
    by_family: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for case in cases:
        if case.family:
            by_family[case.family][case.kind] += case.seconds
    sampled = _names(cases, ("sampled", "sampled-parity"))
    every = _names(cases, ("every-name",))
    shown = KINDS[:-1]
    lines.append(f"{'family':<26}{'archs':>6}{'sample':>7}" + "".join(f"{k:>15}" for k in shown))
    for family in sorted(by_family):
        cells = "".join(f"{by_family[family][k]:>15.1f}" for k in shown)
        lines.append(f"{family:<26}{len(every[family]):>6}{len(sampled[family]):>7}{cells}")
    lines.append("")
    projected = project(
        cases,
        archs_now=archs_now,
        modules_now=modules_now,
        archs=args.archs,
        modules=args.modules,
        sample=args.sample_per_family,
    )
    overhead = max(1.0, wall / (total / args.workers)) if total and wall else 1.0
    lines.append(
        f"projection: {args.modules} families, {args.archs} architectures, {args.workers} workers "
        f"(measured overhead x{overhead:.2f} of wall time over test time per worker), "
        f"plus {args.fixed_minutes:.1f} min outside the tests (venv, lint, collection and ranking)"
    )
    lines.append(f"{'file':<28}{'kind':<16}{'CI min':>8}{'test-all':>10}{'parity':>8}")
    keys = sorted(projected["test-all"], key=lambda k: -projected["ci"][k])
    for key in keys:
        ci, full, parity = (projected[run].get(key, 0.0) for run in ("ci", "test-all", "parity"))
        lines.append(f"{key[0]:<28}{key[1]:<16}{_minutes(ci):>8}{_minutes(full):>10}{_minutes(parity):>8}")
    for run in ("ci", "test-all", "parity"):
        seconds = sum(projected[run].values())
        wall_min = seconds / args.workers * overhead / 60 + args.fixed_minutes
        verdict = ""
        if run == "ci":
            verdict = (
                f"  -> {'within' if wall_min <= args.budget else 'OVER'} the {args.budget:.0f}-minute budget"
            )
        lines.append(f"{run:<10} {seconds / 60:8.1f} test-minutes, {wall_min:6.1f} min wall{verdict}")
    return "\n".join(lines)


def _registry_counts(cases: Sequence[Case]) -> tuple[int, int]:
    """Families in the run and the architectures they register (visionzoo's registry)."""
    import visionzoo

    families = {c.family for c in cases if c.family}
    if not families:
        raise ValueError("the report has no test of a family: nothing to project")
    return sum(len(visionzoo.list_models(module=m)) for m in families), len(families)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.suite_cost", description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="pytest --junitxml file of the run")
    parser.add_argument("--modules", type=int, default=98, help="families to project to (98)")
    parser.add_argument("--archs", type=int, default=1375, help="architectures to project to (1375)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (2)")
    parser.add_argument("--sample-per-family", type=float, default=None, help="default: the measured mean")
    parser.add_argument(
        "--fixed-minutes", type=float, default=4.0, help="minutes outside the tests: venv, lint, ranking (4)"
    )
    parser.add_argument("--budget", type=float, default=25.0, help="CI's budget in minutes (25)")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        parser.error(f"no report at {args.report}; run pytest with --junitxml={args.report}")
    for flag in ("modules", "archs", "workers"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    try:
        cases, wall = read_junit(args.report)
        archs_now, modules_now = _registry_counts(cases)
    except (ValueError, ET.ParseError) as e:
        print(f"suite_cost: {e}", file=sys.stderr)
        return 2
    print(report(cases, wall, args, archs_now=archs_now, modules_now=modules_now))
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # python tests/suite_cost.py: import visionzoo from the checkout
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
