"""How the CLI reports a failure: bad input (:class:`CLIError`, exit 2) and a failed run
(:class:`RunFailed`, exit 1), each as one line; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["CLIError", "RunFailed", "user_values"]


class CLIError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""


class RunFailed(Exception):
    """The work failed for a reason the message states (not bad input, not a bug): one line, exit 1."""


@contextlib.contextmanager
def user_values(what: str = "") -> Iterator[None]:
    """Around a library call whose ``ValueError`` / ``TypeError`` can only come from values the
    user typed, make it bad input (exit 2); ``what`` prefixes the message when it does not
    name the flag itself."""
    try:
        yield
    except (ValueError, TypeError) as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CLIError(f"{what}: {text}" if what else text) from e
