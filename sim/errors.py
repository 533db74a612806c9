"""User-facing errors: one line that names the file, the place and the fix.

Every mistake a user can make (a malformed file, an unknown field, a bad expression, an
out-of-range value, a bad ``--set``) is raised as :class:`SandboxError`.  The CLI prints
``str(error)`` on one line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class SandboxError(Exception):
    """A mistake in user input, reported as ``file:line: place: problem``."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 place: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.place = place
        super().__init__(str(self))

    def located(self, *, file: str | None = None, line: int | None = None,
                place: str | None = None) -> "SandboxError":
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


def _join_place(outer: str | None, inner: str | None) -> str | None:
    if outer and inner:
        return inner if inner.startswith(outer) else f"{outer}.{inner}"
    return outer or inner
