"""Growable struct-of-arrays storage shared by members and groups.

Each field is one NumPy buffer with spare capacity; the attribute of the same name is a view
of the first ``n`` entries (along the last axis).  Appending rows grows the capacity by a quarter when it
runs out, so adding rows one day at a time costs amortised O(1) per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np


class Columns:
    """Named NumPy columns of equal length that grow by appending rows.

    ``fields`` maps a name to a dtype, or to ``(dtype, leading_shape)`` for a column that holds
    several values per row (such as a 7-day history, shape ``(7, n)``).
    """

    def __init__(self, fields: dict, capacity: int = 16):
        self.n = 0
        self._specs = {name: spec if isinstance(spec, tuple) else (spec, ()) for name, spec in fields.items()}
        self._buffers = {
            name: np.zeros(lead + (max(capacity, 16),), dtype=dt) for name, (dt, lead) in self._specs.items()
        }
        self._bind()

    if TYPE_CHECKING:  # columns are bound by name at run time; to a type checker each is an array

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def _bind(self) -> None:
        for name, buf in self._buffers.items():
            setattr(self, name, buf[..., : self.n])

    @property
    def capacity(self) -> int:
        return next(iter(self._buffers.values())).shape[-1]

    def append(self, count: int, **values) -> slice:
        """Append ``count`` zeroed rows, set the given fields, return the new rows' slice."""
        start, needed = self.n, self.n + count
        if needed > self.capacity:
            # grow by a quarter: amortised O(1) per row, and at most a quarter of the rows unused
            new_capacity = max(needed, self.capacity + self.capacity // 4 + 16)
            for name, buf in self._buffers.items():
                grown = np.zeros(buf.shape[:-1] + (new_capacity,), dtype=buf.dtype)
                grown[..., :start] = buf[..., :start]
                self._buffers[name] = grown
                setattr(self, name, grown[..., :start])  # drop the old buffer now, not after the loop
        for buf in self._buffers.values():
            buf[..., start:needed] = 0
        for name, value in values.items():
            self._buffers[name][..., start:needed] = value
        self.n = needed
        self._bind()
        return slice(start, needed)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` holds, in order."""
        from sim.engine.state import row_threads
        from sim.engine.state.kernels import keep_rows

        kept = int(np.count_nonzero(mask))

        def keep(buf: np.ndarray) -> None:
            if buf.ndim == 1:
                keep_rows(buf[: self.n], mask)  # in place, one pass, no temporary
            else:
                buf[..., :kept] = buf[..., : self.n][..., mask]

        row_threads.over_columns(self.n, keep, list(self._buffers.values()))
        self.n = kept
        self._bind()
