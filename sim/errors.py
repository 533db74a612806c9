"""Errors by kind: a user's mistake, and a fault of the sandbox itself.

Every mistake a user can make (a malformed file, an unknown field, a bad expression, an
out-of-range value, a bad ``--set``) is raised as :class:`SandboxError`.  The CLI prints
``str(error)`` on one line and exits 2; it never shows a traceback for these.

A state the code should never reach (an unknown node in a compiled expression, a back end
asked for something it cannot do) is an :class:`InternalError`: the user did nothing wrong, so
the CLI prints a short bug report with the traceback instead, and exits 70 (``EX_SOFTWARE``).
"""

from __future__ import annotations


class SandboxError(Exception):
    """A mistake in user input, reported as ``file:line: place: problem``."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, place: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.place = place
        super().__init__(str(self))

    def located(self, *, file: str | None = None, line: int | None = None, place: str | None = None) -> SandboxError:
        """Return a copy with the missing location parts filled in."""
        return SandboxError(
            self.message,
            file=self.file or file,
            line=self.line or line,
            place=_join_place(place, self.place),
        )

    def __str__(self) -> str:
        head = ""
        if self.file:
            head = self.file + (f":{self.line}" if self.line else "") + ": "
        if self.place:
            head += f"{self.place}: "
        return " ".join((head + self.message).split())


class InternalError(Exception):
    """A bug in the sandbox, not in the user's input: reported with its traceback, exit 70."""


USER_ERROR_EXIT = 2
INTERNAL_ERROR_EXIT = 70  # sysexits.h EX_SOFTWARE


def _join_place(outer: str | None, inner: str | None) -> str | None:
    if outer and inner:
        return inner if inner.startswith(outer) else f"{outer}.{inner}"
    return outer or inner


def place_of(loc: tuple) -> str:
    """A dotted place such as ``rules[2].when`` from a pydantic location."""
    out = ""
    for key in loc:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out
