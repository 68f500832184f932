"""The ``visionzoo`` command (filled in by the CLI work)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("visionzoo: the command-line interface is not available yet")
