"""The README's family table says what the registry holds."""

from __future__ import annotations

import re
from pathlib import Path

import visionzoo

README = Path(__file__).resolve().parents[1] / "README.md"
_ROW = re.compile(r"^\| .*\(`(\w+)`\) \| (\d+) \| (\d+) \|$")


def _table() -> dict[str, tuple[int, int]]:
    section = README.read_text().split("## Model families", 1)[1].split("\n## ", 1)[0]
    return {m[1]: (int(m[2]), int(m[3])) for m in map(_ROW.match, section.splitlines()) if m}


def test_readme_family_table_counts_every_family() -> None:
    table = _table()
    assert set(table) == set(visionzoo.list_modules())
    for module, (archs, weights) in table.items():
        got = (
            len(visionzoo.list_models(module=module)),
            len(visionzoo.list_models(module=module, pretrained=True)),
        )
        assert got == (archs, weights), f"README row for {module!r} says {(archs, weights)}, registry {got}"
    assert sum(a for a, _ in table.values()) == len(visionzoo.list_models())
