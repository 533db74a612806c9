"""Self-contained HTML pages the sandbox writes (a calibration's report, a comparison's report).

One style, numbers formatted one way, and pictures as PNGs inlined as data, so a page opens
anywhere and can be sent on; every file is written whole (:func:`write_whole`).  Every text goes through :func:`html.escape` before it is placed:
names come from users' files.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from html import escape
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.off { color: #a33; } .ok { color: #2a6; } img { max-width: 100%; } .note { color: #555; }
"""
COLOURS = ("#1f4e79", "#d9822b", "#2a7f62", "#8e3b8e", "#b8860b", "#555555", "#c0392b", "#16a085")


def num(value) -> str:
    """A number as the pages show it (four significant digits), or a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def picture(draw: Callable, size: tuple[float, float] = (8, 3.4)) -> str:
    """An ``<img>`` of what ``draw(ax)`` plots, with a legend, as an inlined PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=100)
    draw(ax)
    ax.legend(frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def page(title: str, body: str) -> str:
    """A whole page around ``body`` (already escaped HTML)."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def write_whole(path: Path, text: str) -> None:
    """Write a text file through a temporary file beside it and a rename: a reader (or a kill) never
    leaves half a file.  Pages, scenarios, JSON: every file the sandbox writes whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
