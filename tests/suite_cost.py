"""What the suite costs per family, and what it would cost at more families.

Reads a pytest ``--junitxml`` report of a run (conftest.py tags every test with the kind of cost
it has and its family: sampling.cost_properties) and prints

1. per test file and kind: measured seconds, the units that time grows with (architectures for the
   every-name structural checks, sampled names, families) and the seconds per unit;
2. per family: its architectures, its sampled names and its seconds per kind;
3. the projection to ``--modules`` families / ``--archs`` architectures on ``--workers`` workers:
   each row's seconds per unit times the units it would have (:func:`project`), for CI (with its
   cut: sampling.py), ``make test-sample``, ``make test-all`` and ``make parity``.

    python -m pytest -n 2 --junitxml=runs/test-report.xml     # what make test does
    python -m tests.suite_cost runs/test-report.xml          # make suite-cost

Measure on the CI run (``make test``): its sampled tests ran on CI's cut, so their seconds per
name are the smallest models' of each sample. The projection assumes a new family costs what the
measured ones cost on average (per architecture, per sampled name, per family).
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sampling.py beside this file
from sampling import MAX_CI_FAMILIES, MAX_CI_SAMPLED_NAMES

__all__ = ["RUNS", "Case", "Target", "main", "project", "read_junit", "rows"]

KINDS = ("every-name", "sampled", "sampled-parity", "ci-families", "per-family", "family-file", "fixed")


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
    rank: int | None = None  # a sampled name's place in its family's sample (0: the smallest)


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
                rank=int(props["cost_rank"]) if props.get("cost_rank") else None,
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


RUNS = ("ci", "test-sample", "test-all", "parity")


@dataclass(frozen=True)
class Target:
    """What to project to: families, architectures, CI's cut (sampling.py) and the whole family
    sample's mean size (at 13 families: 67 names)."""

    modules: int = 98
    archs: int = 1375
    ci_names: int = MAX_CI_SAMPLED_NAMES
    ci_families: int = MAX_CI_FAMILIES
    sample_per_family: float = 67 / 13


def project(
    cases: Sequence[Case], *, archs_now: int, modules_now: int, target: Target
) -> dict[str, dict[tuple[str, str], float]]:
    """Projected test seconds per (file, kind) for each of ``RUNS`` at ``target``.

    Per row, the measured seconds per unit (architecture, sampled name, family) times the units the
    run would have: every architecture; CI's first ``ci_names // modules`` (at least 1) sampled
    names of each family, ``make test-sample`` the whole family sample, ``make test-all`` every
    name; CI's ``ci_families`` for the ``family_sampled`` tests, every family elsewhere. ``make
    parity`` runs test_parity.py alone, on every name."""
    measured = rows(cases)
    ran = _names(cases, ("sampled", "sampled-parity"))
    names_ran = max(1, sum(map(len, ran.values())))
    ci_per_family = max(1, target.ci_names // target.modules)
    family_scale = target.modules / modules_now
    out: dict[str, dict[tuple[str, str], float]] = {run: {} for run in RUNS}
    for (file, kind), row in measured.items():
        key = (file, kind)
        if kind in ("sampled", "sampled-parity"):
            per_name = row.seconds / max(1, len(row.units))
            share = len(row.units) / names_ran  # the part of the sampled names this test takes
            # CI's cut takes the first names of each sample: cost them by the measured names of
            # those ranks (the smallest models) where the report has them
            first = [
                c for c in cases if (c.file, c.kind) == key and c.rank is not None and c.rank < ci_per_family
            ]
            per_ci_name = sum(c.seconds for c in first) / len({c.unit for c in first}) if first else per_name
            out["ci"][key] = per_ci_name * ci_per_family * target.modules * share
            out["test-sample"][key] = per_name * target.sample_per_family * target.modules * share
            out["test-all"][key] = per_name * target.archs * share
        elif kind == "every-name":
            for run in RUNS[:3]:
                out[run][key] = row.seconds * target.archs / archs_now
        elif kind == "ci-families":
            out["ci"][key] = row.seconds * min(target.modules, target.ci_families) / modules_now
            out["test-sample"][key] = out["test-all"][key] = row.seconds * family_scale
        elif kind in ("per-family", "family-file"):
            for run in RUNS[:3]:
                out[run][key] = row.seconds * family_scale
        else:
            for run in RUNS[:3]:
                out[run][key] = row.seconds
        if file == "test_parity":
            out["parity"][key] = out["test-all"][key]
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
    target = Target(
        modules=args.modules,
        archs=args.archs,
        ci_names=args.ci_names,
        ci_families=args.ci_families,
        sample_per_family=args.sample_per_family,
    )
    projected = project(cases, archs_now=archs_now, modules_now=modules_now, target=target)
    ratio = wall / (total / args.run_workers) if total else 0.0
    rank = args.rank_seconds_per_arch * args.archs / args.workers / 60
    lines.append(
        f"projection: {args.modules} families, {args.archs} architectures on {args.workers} workers; "
        f"wall = test-minutes / workers x {args.efficiency:.2f} (xdist's imbalance; this run: x{ratio:.2f} "
        f"on {args.run_workers}, collection included) + {args.outside_minutes:.1f} min venv and lint "
        f"+ {rank:.1f} min ranking the families at collection"
    )
    lines.append(f"{'file':<28}{'kind':<16}" + "".join(f"{run:>12}" for run in RUNS) + "   (test-minutes)")
    for key in sorted(projected["test-all"], key=lambda k: -projected["ci"].get(k, 0.0)):
        cells = "".join(f"{projected[run].get(key, 0.0) / 60:>12.1f}" for run in RUNS)
        lines.append(f"{key[0]:<28}{key[1]:<16}{cells}")
    for run in RUNS:
        seconds = sum(projected[run].values())
        wall_min = seconds / 60 / args.workers * args.efficiency + args.outside_minutes + rank
        verdict = ""
        if run == "ci":
            fits = "within" if wall_min <= args.budget else "OVER"
            verdict = f"  -> {fits} the {args.budget:.0f}-minute budget"
        lines.append(f"{run:<12}{seconds / 60:8.1f} test-minutes, {wall_min:6.1f} min wall{verdict}")
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
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers projected (2)")
    parser.add_argument("--run-workers", type=int, default=2, help="workers of the measured run (2)")
    parser.add_argument("--ci-names", type=int, default=MAX_CI_SAMPLED_NAMES, help="CI's sampled names")
    parser.add_argument("--ci-families", type=int, default=MAX_CI_FAMILIES, help="CI's per-family cap")
    parser.add_argument(
        "--sample-per-family", type=float, default=67 / 13, help="a whole family sample's size (67/13)"
    )
    parser.add_argument("--efficiency", type=float, default=1.1, help="wall over test time per worker")
    parser.add_argument("--outside-minutes", type=float, default=3.0, help="venv and lint (3 min)")
    parser.add_argument(
        "--rank-seconds-per-arch", type=float, default=45 / 548, help="meta build per architecture"
    )
    parser.add_argument("--budget", type=float, default=25.0, help="CI's budget in minutes (25)")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        parser.error(f"no report at {args.report}; run pytest with --junitxml={args.report}")
    for flag in ("modules", "archs", "workers", "run_workers"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    try:
        cases, wall = read_junit(args.report)
        archs_now, modules_now = _registry_counts(cases)
    except (ValueError, ET.ParseError) as e:
        print(f"suite_cost: {e}", file=sys.stderr)
        return 2
    print(report(cases, wall, args, archs_now=archs_now, modules_now=modules_now))
    return 0


if __name__ == "__main__":
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # visionzoo from this checkout
    sys.exit(main())
