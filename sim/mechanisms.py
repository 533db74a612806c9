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

MECHANISMS = {
    "M1": "interest", "M2": "trust", "M3": "activity: habit plus stimulus, fatigue", "M4": "belonging",
    "M5": "roles and core members", "M6": "disaffected members turn spammer", "M7": "first impression",
    "P1": "acquisition channels", "P2": "entry threshold and fee", "P3": "group size cap and copying",
    "P4": "content cadence, quality and ritual", "P5": "who produces the content", "P6": "rewards",
    "P7": "pruning", "P8": "tiered re-activation", "P9": "responsiveness", "P10": "referral",
    "P11": "rules and moderation", "P12": "events and surveys", "P13": "segmentation",
    "P14": "monetisation pressure", "G1": "lifecycle", "G2": "why groups die", "G3": "a dead group",
    "G4": "the five ingredients (health)", "G5": "cost",
}
_CODE = re.compile(r"\b([MPG]\d{1,2})\b")


def _codes(text: str | None) -> set[str]:
    return {c for c in _CODE.findall(text or "") if c in MECHANISMS}


def implementations() -> dict[str, list[str]]:
    """Mechanism -> the functions and classes whose docstrings name it."""
    import sim

    found: dict[str, list[str]] = {code: [] for code in MECHANISMS}
    for info in pkgutil.walk_packages(sim.__path__, "sim."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != module.__name__:
                continue
            members = [(name, obj)] + ([(f"{name}.{n}", f) for n, f in vars(obj).items() if inspect.isfunction(f)]
                                       if inspect.isclass(obj) else [])
            for label, item in members:
                for code in _codes(inspect.getdoc(item)):
                    found[code].append(f"{module.__name__.removeprefix('sim.')}.{label}")
    return found


def parameters() -> dict[str, list[str]]:
    from .params import PARAMS

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
    return [{"mechanism": code, "what": what, "implemented by": impl[code], "parameters": params[code],
             "scenarios": scen[code]} for code, what in MECHANISMS.items()]


def render(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        lines.append(f"{row['mechanism']:<4} {row['what']}")
        for key in ("implemented by", "parameters", "scenarios"):
            values = row[key]
            lines.append(f"     {key + ':':<16} {', '.join(sorted(set(values))) if values else '-'}")
    return "\n".join(lines)
