"""Which code implements each mechanism of the domain notes, with its parameters and scenarios.

``sandbox mechanisms`` prints the table.  It is read from the code itself: a function's
docstring names the mechanisms it implements (``M1`` ... ``G5``), a parameter's meaning names its
mechanism, and a scenario's description names what it demonstrates; so a mechanism nobody
implements shows up as a gap instead of going silently missing (a test checks there is none).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import yaml

from sim.domain import MECHANISMS

_CODE = re.compile(r"\b([MPG]\d{1,2})\b")


def _codes(text: str | None) -> set[str]:
    return {c for c in _CODE.findall(text or "") if c in MECHANISMS}


def implementations() -> dict[str, list[str]]:
    """Mechanism -> the functions and classes whose docstrings name it."""
    package = [str(Path(__file__).resolve().parents[1])]  # the sim package, walked without importing its facade
    found: dict[str, list[str]] = {code: [] for code in MECHANISMS}
    for info in pkgutil.walk_packages(package, "sim."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != module.__name__:
                continue
            members = [(name, obj)] + (
                [(f"{name}.{n}", f) for n, f in vars(obj).items() if inspect.isfunction(f)]
                if inspect.isclass(obj)
                else []
            )
            for label, item in members:
                for code in _codes(inspect.getdoc(item)):
                    found[code].append(f"{module.__name__.removeprefix('sim.')}.{label}")
    return found


def parameters() -> dict[str, list[str]]:
    from sim.config.params import PARAMS

    found: dict[str, list[str]] = {code: [] for code in MECHANISMS}
    for param in PARAMS.values():
        for code in _codes(param.meaning):
            found[code].append(param.name)
    return found


def scenarios(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {code: [] for code in MECHANISMS}
    for path in sorted(folder.glob("*.yaml")):
        description = (yaml.safe_load(path.read_text()) or {}).get("description", "")
        for code in _codes(description):
            found[code].append(path.stem)
    return found


def table(scenario_folder: Path) -> list[dict]:
    impl, params, scen = implementations(), parameters(), scenarios(scenario_folder)
    return [
        {
            "mechanism": code,
            "what": what,
            "implemented by": impl[code],
            "parameters": params[code],
            "scenarios": scen[code],
        }
        for code, what in MECHANISMS.items()
    ]


def render(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        lines.append(f"{row['mechanism']:<4} {row['what']}")
        for key in ("implemented by", "parameters", "scenarios"):
            values = row[key]
            lines.append(f"     {key + ':':<16} {', '.join(sorted(set(values))) if values else '-'}")
    return "\n".join(lines)
