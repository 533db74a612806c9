"""Plain-language verdicts and text tables for runs and comparisons (CLI and dashboard)."""

from __future__ import annotations


def is_clear(diff: dict) -> bool:
    """A difference is clear when its 95% interval excludes 0."""
    lo, hi = diff["ci95"]
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def _relative(diff: float | None, base: float | None) -> float | None:
    if diff is None or base is None or base == 0:
        return None
    return 100.0 * diff / abs(base)


def _phrase(change: float | None, more: str, fewer: str, unit: str) -> str:
    if change is None:
        return ""
    word = more if change >= 0 else fewer
    return f"{abs(change):.0f}% {word}{unit}"


def verdict(a: dict, b: dict, diff: dict, days: int) -> str:
    """One sentence: members kept and cost, B against A, and whether the difference is clear."""
    members = _relative(diff["members_end"]["mean"], a["kpis"]["members_end"]["mean"])
    cost = _relative(diff["cost_total"]["mean"], a["kpis"]["cost_total"]["mean"])
    parts = []
    if members is not None:
        parts.append("B keeps " + _phrase(members, "more", "fewer", f" members at day {days}"))
    if cost is not None:
        parts.append("costs " + _phrase(cost, "more", "less", ""))
    elif diff["cost_total"]["mean"]:
        parts.append(f"costs {diff['cost_total']['mean']:+.0f} more")
    clear = is_clear(diff["members_end"])
    tail = "the difference is clear" if clear else "the difference in members is not distinguishable from noise"
    return (" and ".join(parts) + "; " if parts else "") + tail + "."


def _num(x) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def _ci(ci) -> str:
    lo, hi = ci
    return "-" if lo is None else f"[{_num(lo)}, {_num(hi)}]"


def run_table(summary: dict) -> str:
    lines = [
        f"scenario {summary['scenario']}  policy {summary['policy']}  replicates {summary['replicates']}",
        f"{'KPI':<28}{'mean':>14}  {'95% interval':<28}",
    ]
    for name, value in summary["kpis"].items():
        lines.append(f"{name:<28}{_num(value['mean']):>14}  {_ci(value['ci95']):<28}")
    return "\n".join(lines)


def compare_table(a: dict, b: dict, diff: dict, days: int) -> str:
    lines = [
        f"scenario {a['scenario']}  A = {a['policy']}  B = {b['policy']}  replicates {a['replicates']}",
        verdict(a, b, diff, days),
        "",
        f"{'KPI':<28}{'A':>12}{'B':>12}{'B - A':>12}  {'95% interval':<26}{'verdict'}",
    ]
    for name, d in diff.items():
        mark = "clear" if is_clear(d) else "noise"
        lines.append(
            f"{name:<28}{_num(a['kpis'][name]['mean']):>12}{_num(b['kpis'][name]['mean']):>12}"
            f"{_num(d['mean']):>12}  {_ci(d['ci95']):<26}{mark}"
        )
    return "\n".join(lines)
