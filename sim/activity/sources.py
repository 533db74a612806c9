"""Reading an export's bytes safely: a size bound, text in UTF-8 or GB18030, JSON without surprises.

Every importer reads through these, so a hostile file (too large, in an unknown encoding, JSON
nested a million deep) is refused with one line naming it, never a traceback.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import SandboxError

MAX_EXPORT_BYTES = 2 * 1024**3  # one file of an export, read whole into memory
ENCODINGS = ("utf-8-sig", "gb18030")  # WeChat and QQ exports on Chinese Windows are often GB18030


def check_file(path: Path) -> None:
    """Refuse a path that is not a readable file of bounded size."""
    if not path.is_file():
        raise SandboxError("file not found; check the path", file=str(path))
    if path.stat().st_size > MAX_EXPORT_BYTES:
        raise SandboxError(f"larger than {MAX_EXPORT_BYTES // 1024**3} GiB; split the export", file=str(path))


def decode(data: bytes, name: str) -> str:
    """The text of an export's bytes: UTF-8 (with or without a BOM), else GB18030."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SandboxError("is neither UTF-8 nor GB18030 text; re-export it as UTF-8", file=name)


def read_text(path: Path) -> str:
    """A text file of an export, decoded (see :func:`decode`)."""
    check_file(path)
    return decode(path.read_bytes(), str(path))


def read_csv_text(path: Path, columns: tuple[str, ...], expected: str) -> pd.DataFrame:
    """A CSV export as text columns (UTF-8 or GB18030), or one line naming the file and what is missing."""
    name = str(path)
    try:
        raw = pd.read_csv(io.StringIO(read_text(path)), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise SandboxError(f"cannot be read as CSV ({type(exc).__name__}); expected {expected}", file=name) from None
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise SandboxError(
            f"missing column(s) {', '.join(missing)}; expected {expected} ({', '.join(columns)})", file=name
        )
    return raw


def parse_json(text: str, name: str, expected: str) -> Any:
    """JSON text, or one line naming the file, the line and what was expected."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SandboxError(f"is not JSON ({exc.msg}); expected {expected}", file=name, line=exc.lineno) from None
    except RecursionError:
        raise SandboxError(f"nests JSON too deeply; expected {expected}", file=name) from None


def short(value: object) -> str:
    """A value quoted for an error line, or only its length when it is long or unprintable."""
    text = str(value)
    return repr(text) if len(text) <= 30 and text.isprintable() else f"a text of {len(text)} characters"
