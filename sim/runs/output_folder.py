"""Output folders that never lose anyone's data: ``--out`` writes a new folder or replaces only its own.

Every result the sandbox writes carries a marker, ``.sandbox-result.json``, naming the tool,
the kind of result and every entry it wrote.  ``--out DIR`` then:

- writes DIR when it does not exist or is empty;
- replaces DIR only with ``--overwrite``, only when DIR's marker says a run or comparison of this
  tool wrote it, and only when DIR holds nothing but what that marker lists;
- refuses, with one line, in every other case: a folder of someone else's files (even one with a
  ``manifest.json``), a sweep, a result with a notebook added, a regular file, an empty name.

The new result is written into a hidden sibling folder first and swapped in at once: Linux's
``renameat2(RENAME_EXCHANGE)`` exchanges the two folders atomically, so a kill at any moment
leaves either the old or the new result at DIR.  Where that call is missing, two renames are
used, and a result left aside by a kill between them is put back by the next call.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.errors import SandboxError
from sim.version import __version__

MARKER = ".sandbox-result.json"
TOOL = "community-sandbox"
REPLACEABLE = ("run", "comparison", "observation")
"""Kinds of result that ``--out --overwrite`` may replace (a sweep grows in place and resumes)."""


def read_marker(folder: Path) -> dict | None:
    """The marker of a folder the sandbox wrote, or None (no marker, or not this tool's)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("tool") == TOOL else None


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as this tool's result of ``kind``, listing every entry now in it."""
    entries = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    marker = {"tool": TOOL, "kind": kind, "version": __version__, "entries": entries}
    (folder / MARKER).write_text(json.dumps(marker, indent=2))


def check_place(out: Path, option: str = "--out") -> None:
    """Refuse an empty name, and a path that exists but is not a real folder (a file, a symlink)."""
    if str(out) in ("", "."):
        raise SandboxError("give the name of a folder to write", place=option)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SandboxError("exists and is not a folder; choose another folder", file=str(out), place=option)


def cannot_write(out: Path, exc: OSError, then: str = "choose another folder") -> SandboxError:
    """The one line for a folder the system will not let the sandbox write (read-only, full, gone)."""
    return SandboxError(f"cannot write here ({exc.strerror or exc}); {then}", file=str(out))


def check_target(out: Path, *, overwrite: bool, option: str = "--out") -> None:
    """Refuse an output folder the sandbox may not write or replace (see the module's rules)."""
    check_place(out, option)
    if not out.exists():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    marker = read_marker(out)
    if marker is None:
        raise SandboxError(
            "holds files the sandbox did not write; choose another folder (nothing was changed)",
            file=str(out),
            place=option,
        )
    if marker.get("kind") not in REPLACEABLE:
        raise SandboxError(
            f"holds a {marker.get('kind', 'different')} result that --out does not replace; choose another folder",
            file=str(out),
            place=option,
        )
    if not overwrite:
        raise SandboxError(
            "already holds a result; add --overwrite to replace it, or choose another folder",
            file=str(out),
            place=option,
        )
    foreign = [e for e in entries if e != MARKER and e not in set(marker.get("entries", []))]
    if foreign:
        raise SandboxError(
            f"holds {len(foreign)} entries the sandbox did not write (first: {foreign[0][:60]!r}); "
            "move them out or choose another folder (nothing was changed)",
            file=str(out),
            place=option,
        )


def write_result(
    out: str | Path, kind: str, write: Callable[[Path], None], *, overwrite: bool = False, option: str = "--out"
) -> Path:
    """Check ``out``, call ``write(tmp)`` on a new hidden folder beside it, mark it, swap it in."""
    out = Path(out)
    check_target(out, overwrite=overwrite, option=option)
    try:
        _restore_left_aside(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new.", dir=out.parent))
    except OSError as exc:
        raise cannot_write(out, exc) from None
    try:
        write(tmp)
        write_marker(tmp, kind)
        _swap_in(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise cannot_write(out, exc, "nothing was changed") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap_in(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(tmp, out)  # an empty folder is replaced too (rename onto an empty directory)
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old result
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent)) / out.name
    os.replace(out, aside)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(aside, out)  # put the old result back where it was
        raise
    shutil.rmtree(aside.parent, ignore_errors=True)


def _restore_left_aside(out: Path) -> None:
    """Put back a result that a kill left aside between the two renames of the fallback swap."""
    if out.exists() or not out.parent.is_dir():
        return
    for folder in sorted(out.parent.glob(f".{out.name}.old.*")):
        candidate = folder / out.name
        if candidate.is_dir() and read_marker(candidate) is not None:
            os.replace(candidate, out)
            shutil.rmtree(folder, ignore_errors=True)
            return


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this filesystem or kernel cannot
        return False
    raise OSError(errno, os.strerror(errno))


@contextmanager
def claimed(out: Path, *, kind: str, identity: str, resume: bool, manifest: dict, work: str) -> Iterator[None]:
    """Hold ``out`` as the folder of a job that grows in place and resumes (a sweep, a calibration).

    Checked, locked, its manifest and marker written.  A folder with anything else in it
    (someone's files, another kind of result, another job's) is refused untouched, and so is one
    another job is writing right now (an exclusive lock on the folder, held until this job ends:
    two jobs racing on one folder cannot both pass the checks).  ``work`` names the entry whose
    presence means work is done there: the job then needs ``--resume``.  The manifest carries
    the job's identity as ``{kind}_id``.
    """
    _check_claim(out, kind, identity, resume, work)
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = os.open(out, os.O_RDONLY)
    except OSError as exc:
        raise cannot_write(out, exc) from None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SandboxError(
                f"another {kind} is writing here now; wait for it or choose another folder", file=str(out)
            ) from None
        _check_claim(out, kind, identity, resume, work)  # again, now that no other job can change the folder
        try:
            write_json(out / "manifest.json", manifest)
            write_marker(out, kind)
        except OSError as exc:
            raise cannot_write(out, exc) from None
        yield
    finally:
        os.close(lock)  # releases the folder for the next job


def _check_claim(out: Path, kind: str, identity: str, resume: bool, work: str) -> None:
    check_place(out)
    marker = read_marker(out) if out.is_dir() else None
    if marker is not None and marker.get("kind") != kind:
        raise SandboxError(
            f"holds a {marker.get('kind')} result, not a {kind}; choose another --out folder", file=str(out)
        )
    path = out / "manifest.json"
    if path.exists():
        try:
            existing = json.loads(path.read_text()).get(f"{kind}_id")
        except (json.JSONDecodeError, AttributeError):
            existing = None
        if existing != identity:
            raise SandboxError(f"holds a different {kind}'s results; choose another --out directory", file=str(out))
        done = out / work
        if not resume and done.exists() and (not done.is_dir() or any(done.iterdir())):
            raise SandboxError(f"already holds this {kind}'s work; add --resume to finish it", file=str(out))
    elif out.exists() and any(p.name != MARKER for p in out.iterdir()):
        raise SandboxError(f"exists and is not a {kind}'s directory; choose another --out directory", file=str(out))


def write_parquet(table, path: Path) -> None:
    """Write a table as Parquet whole: through a temporary file and a rename, so a full disk or a
    kill mid-write leaves no half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    """Write JSON whole (:func:`~sim.activity.pages.write_whole`): a reader never sees half a file."""
    from sim.activity.pages import write_whole
    from sim.runs.store import clean

    write_whole(path, json.dumps(clean(data), indent=2, default=str))
