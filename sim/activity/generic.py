"""The generic activity format: CSV (optionally gzipped) or Parquet, as in ``shared/data/README.md``.

Columns: ``timestamp`` (Unix seconds, or ISO 8601 text), ``member``, ``kind`` (``message``,
``join`` or ``leave``), and optionally ``group`` (default: the file's name) and ``reply_to`` (the
member a message addresses).  Members, including those named in ``reply_to``, are replaced by
pseudonyms at import.  A malformed file is one line naming the file, the row and what was
expected.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from sim.activity.events import KINDS, event_table, pseudonymise
from sim.activity.sources import short
from sim.errors import SandboxError

REQUIRED = ("timestamp", "member", "kind")


def read_generic(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a generic-format file (CSV, CSV.gz or Parquet)."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise SandboxError("file not found; check the path", file=name)
    try:
        if path.suffix == ".parquet":
            raw = pd.read_parquet(path)
        else:
            raw = _read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException) as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise SandboxError(
            f"cannot be read as {kind} ({type(exc).__name__}); expected the generic activity "
            "format: timestamp, member, kind[, group, reply_to]",
            file=name,
        ) from None
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise SandboxError(
            f"missing column(s) {', '.join(missing)}; expected timestamp, member, kind[, group, reply_to]", file=name
        )
    raw = raw.astype({c: str for c in raw.columns if c != "timestamp"})
    timestamps = _timestamps(raw["timestamp"], name)
    kinds = raw["kind"].str.strip().str.lower()
    bad = ~kinds.isin(KINDS)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise SandboxError(
            f"row {row + 2}: kind must be message, join or leave, got {short(raw['kind'].iloc[row])}", file=name
        )
    members = raw["member"].str.strip()
    empty = members == ""
    if empty.any():
        raise SandboxError(f"row {int(empty.to_numpy().argmax()) + 2}: member is empty", file=name)
    replies = raw["reply_to"].str.strip() if "reply_to" in raw else pd.Series("", index=raw.index)
    coded, coded_replies = pseudonymise(members, replies, salt)
    group = raw["group"].str.strip().replace("", path.name.split(".")[0]) if "group" in raw else path.name.split(".")[0]
    return event_table(
        pd.DataFrame(
            {"timestamp": timestamps, "member": coded, "kind": kinds, "group": group, "reply_to": coded_replies}
        )
    )


def _read_csv(path: Path) -> pd.DataFrame:
    """Every column as text; Arrow's parser first (fast), pandas' own where Arrow cannot (a quoted line break)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
    except (ValueError, pa.ArrowException):
        return pd.read_csv(path, dtype=str, keep_default_na=False, compression="infer")


def _timestamps(column: pd.Series, name: str) -> pd.Series:
    """Unix seconds from integer seconds or ISO 8601 text; a row that is neither is named."""
    if pd.api.types.is_numeric_dtype(column):
        values = pd.to_numeric(column, errors="coerce")
    elif (fast := _whole_numbers(column)) is not None:
        values = fast
    else:
        text = column.astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce")
        iso = values.isna() & (text != "")
        if iso.any():
            parsed = pd.to_datetime(text[iso], errors="coerce", utc=True, format="ISO8601")
            values.loc[iso] = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
            values.loc[iso & parsed.reindex(values.index).isna()] = float("nan")
    bad = values.isna() | ~values.between(0, 2**33)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise SandboxError(
            f"row {row + 2}: timestamp must be Unix seconds or ISO 8601, got {short(column.iloc[row])}", file=name
        )
    return values.astype("int64")


def _whole_numbers(column: pd.Series) -> pd.Series | None:
    """Text of whole Unix seconds, converted by Arrow in one cast; None when any row is not one."""
    try:
        return column.astype("int64")
    except (ValueError, TypeError, OverflowError, pa.ArrowException):
        return None


def write_generic(events: pd.DataFrame, path: str | Path) -> None:
    """Write an event table in the generic format (CSV, or Parquet by the suffix)."""
    path = Path(path)
    frame = events.loc[:, ["timestamp", "member", "kind", "group", "reply_to"]].astype({"kind": str})
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
