"""The shipped scenarios and policies: where they are, how a name finds them, how to copy them out.

In a source checkout they are the repository's ``scenarios/`` and ``policies/`` folders; an
installed wheel carries the same files as package data under ``sim/library/`` (pyproject.toml
maps the folders there), so ``sandbox run existing-group`` works from any directory after a
plain ``pip install .``.  A path that exists is always taken as it is: the library is only
consulted for a name (``existing-group``, ``baseline.yaml``) or a ``scenarios/...`` /
``policies/...`` path that does not exist where the user stands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sim.errors import SandboxError

KINDS = ("scenarios", "policies")


def library_dir(kind: str) -> Path:
    """The folder of shipped files of one kind: the wheel's package data, else the checkout's."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "library" / kind
    return installed if installed.is_dir() else package.parent / kind


def shipped(kind: str) -> list[Path]:
    """The shipped files of one kind, sorted by name."""
    return sorted(library_dir(kind).glob("*.yaml"))


def resolve(path: str | Path, kind: str) -> Path:
    """The file a user meant: the path itself when it exists, else the shipped file of that name.

    ``existing-group``, ``existing-group.yaml`` and ``scenarios/existing-group.yaml`` all find
    the shipped scenario when no such file is where the user runs the command.
    """
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    name = given.name if given.suffix in (".yaml", ".yml") else given.name + ".yaml"
    parent = given.parent.name
    if len(given.parts) <= 2 and parent in ("", kind):
        candidate = library_dir(kind) / name
        if candidate.is_file():
            return candidate
    return given


def copy_examples(out: str | Path) -> list[Path]:
    """Copy the shipped scenarios, policies and the default stage chart into ``out`` for editing.

    Refuses to overwrite: a file of the same name already there stops the copy before anything
    is written, so a user's edited copy is never replaced.
    """
    out = Path(out)
    chart = Path(__file__).resolve().parent / "default_stages.yaml"
    plan = [(src, out / kind / src.name) for kind in KINDS for src in shipped(kind)]
    plan.append((chart, out / "policies" / "stages" / "default.yaml"))
    clashes = [dst for _, dst in plan if dst.exists()]
    if clashes:
        raise SandboxError(
            f"{len(clashes)} files already exist there (first: {clashes[0]}); choose an empty folder", file=str(out)
        )
    if out.exists() and not out.is_dir():
        raise SandboxError("exists and is not a folder; choose a folder", file=str(out))
    for src, dst in plan:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return [dst for _, dst in plan]
