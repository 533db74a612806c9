"""Plain-language verdicts and text tables for runs and comparisons (CLI and dashboard)."""

from __future__ import annotations

from sim.domain import CAUSES
from sim.runs.experiment import FEW_REPLICATES

PRACTICAL = 0.01
"""A difference smaller than this share of A's value is too small to matter, however sure it is
(``compare --practical``: another share for every KPI, or ``KPI=SHARE`` for one)."""


def practical_share(name: str, practical: dict[str, float] | None) -> float:
    """The practical threshold of one KPI: its own, else the one given for all (``*``), else 1%."""
    if not practical:
        return PRACTICAL
    return practical.get(name, practical.get("*", PRACTICAL))


def is_clear(diff: dict) -> bool:
    """A difference is clear when its 95% interval excludes 0."""
    lo, hi = diff["ci95"]
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def judgement(diff: dict, base: float | None, practical: float = PRACTICAL) -> str:
    """``same`` (no difference at all), ``clear`` (the interval excludes 0 and the difference is at
    least ``practical`` times A's value), ``small`` (sure, but smaller than that) or ``noise``."""
    lo, hi = diff["ci95"]
    if diff["mean"] == 0 and lo in (0, None) and hi in (0, None):
        return "same"
    if not is_clear(diff):
        return "noise"
    if base and abs(diff["mean"]) < practical * abs(base):
        return "small"
    return "clear"


def _relative(diff: float | None, base: float | None) -> float | None:
    if diff is None or base is None or base == 0:
        return None
    return 100.0 * diff / abs(base)


def _phrase(change: float | None, more: str, fewer: str, unit: str) -> str:
    if change is None:
        return ""
    word = more if change >= 0 else fewer
    return f"{abs(change):.0f}% {word}{unit}"


def _mean(diff: dict, name: str) -> float:
    value = diff.get(name, {}).get("mean")
    return 0.0 if value is None else float(value)


def members_parts(diff: dict) -> dict[str, float]:
    """The difference in members at the end, split: members at the end = everyone who joined minus
    those who left minus those removed, so B - A = more joins + fewer leaving + fewer removals."""
    return {
        "joins": _mean(diff, "joined_total"),
        "leaving": -_mean(diff, "churned_total"),
        "removals": -_mean(diff, "removed_total"),
    }


def spending(daily, actions, replicates: int, top: int = 3) -> dict[str, float]:
    """A run's largest lines of spending per replicate: each cost kind (content, channels...) and,
    within actions, each rule; the ``top`` largest, largest first."""
    lines = {
        kind[len("cost_") :]: float(daily[kind].sum()) / replicates
        for kind in daily.columns
        if kind.startswith("cost_") and kind != "cost_actions"
    }
    for rule, cost in actions.groupby("rule")["cost"].sum().items():
        lines[f"rule '{rule}'"] = float(cost) / replicates
    return dict(sorted(((k, v) for k, v in lines.items() if v > 0), key=lambda kv: -kv[1])[:top])


def verdict(
    a: dict,
    b: dict,
    diff: dict,
    days: int,
    spent_b: dict[str, float] | None = None,
    practical: dict[str, float] | None = None,
) -> str:
    """Members kept and where the difference comes from, retention, cost and what it buys, B against A."""
    change = _mean(diff, "members_end")
    members = _relative(diff["members_end"]["mean"], a["kpis"]["members_end"]["mean"])
    cost = _relative(diff["cost_total"]["mean"], a["kpis"]["cost_total"]["mean"])
    parts = []
    if members is not None:
        split = members_parts(diff)
        words = {"joins": ("more joins", "fewer joins"), "leaving": ("fewer leaving", "more leaving")}
        words["removals"] = ("fewer removals", "more removals")
        pieces = [f"{v:+.0f} from {words[k][0 if v >= 0 else 1]}" for k, v in split.items() if round(v)]
        parts.append(
            "B keeps "
            + _phrase(members, "more", "fewer", f" members at day {days}")
            + (f" ({change:+.0f}: {', '.join(pieces)})" if pieces else "")
        )
    if "retention_d30" in diff and diff["retention_d30"]["mean"] is not None:
        word = judgement(
            diff["retention_d30"],
            a["kpis"]["retention_d30"]["mean"],
            practical_share("retention_d30", practical),
        )
        parts.append(f"day-30 retention {diff['retention_d30']['mean']:+.3f} ({word})")
    extra_cost = _mean(diff, "cost_total")
    if cost is not None:
        tail = f"; {extra_cost / change:,.1f} per extra member kept" if change >= 1 and extra_cost > 0 else ""
        parts.append("costs " + _phrase(cost, "more", "less", "") + f" ({extra_cost:+,.0f}{tail})")
    elif extra_cost:
        parts.append(f"costs {extra_cost:+,.0f} more")
    if spent_b:
        parts.append("B spends most on " + ", ".join(f"{k} {v:,.0f}" for k, v in spent_b.items()))
    share = practical_share("members_end", practical)
    word = judgement(diff["members_end"], a["kpis"]["members_end"]["mean"], share)
    tail = {
        "clear": "the difference in members is clear",
        "small": f"the difference in members is sure but under {share:.0%}",
        "same": "the members are the same",
        "noise": "the difference in members is not distinguishable from noise",
    }[word]
    return ("; ".join(parts) + "; " if parts else "") + tail + "."


KPI_GROUPS: dict[str, tuple[str, ...]] = {
    "outcome": ("members_end", "joined_total", "acquired_total", "churned_total", "removed_total", "retention_d30"),
    "activity": (
        "active_ratio_mean",
        "core_share_end",
        "member_messages_per_day",
        "operator_messages_per_day",
        "spam_messages_per_day",
        "zero_post_share",
        "top1pct_post_share",
        "first_reply_effect",
        "referrals_total",
        "groups_end",
        "spammers_end",
    ),
    "trust and interest": ("mean_trust_end", "mean_interest_end"),
    "cost": (
        "cost_total",
        "cost_per_joined",
        "channel_cost_per_joined",
        "referral_cost_per_joined",
        "revenue_total",
        "sales_total",
    ),
    "churn by cause": tuple(f"churn_{c}" for c in CAUSES),
    "dead groups": ("dead_groups", *(f"dead_groups_{c}" for c in CAUSES)),
    "health": (
        "health_end",
        "health_end_interest",
        "health_end_structure",
        "health_end_output",
        "health_end_operation",
        "health_end_copy_readiness",
    ),
}
"""The KPIs in the order the tables print them, by theme."""


def grouped(names, keep=lambda name: True) -> list[tuple[str, list[str]]]:
    """``(theme, KPI names)`` in :data:`KPI_GROUPS` order; names in no theme go last, under "other"."""
    names = list(names)
    out = [(theme, [n for n in members if n in names and keep(n)]) for theme, members in KPI_GROUPS.items()]
    known = {n for members in KPI_GROUPS.values() for n in members}
    out.append(("other", [n for n in names if n not in known and keep(n)]))
    return [(theme, members) for theme, members in out if members]


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


def run_table(summary: dict, show_all: bool = False) -> str:
    """The KPIs by theme; a KPI that is zero in every replicate is left out unless ``show_all``."""
    kpis = summary["kpis"]
    lines = [
        f"scenario {summary['scenario']}  policy {summary['policy']}  replicates {summary['replicates']}",
        f"{'KPI':<28}{'mean':>14}  {'95% interval':<28}",
    ]
    hidden = 0
    for theme, names in grouped(kpis):
        shown = [
            n for n in names if show_all or kpis[n]["mean"] not in (0, None) or kpis[n]["ci95"][1] not in (0, None)
        ]
        hidden += len(names) - len(shown)
        if shown:
            lines.append(f"-- {theme}")
        for name in shown:
            value = kpis[name]
            lines.append(f"{name:<28}{_num(value['mean']):>14}  {_ci(value['ci95']):<28}")
    if hidden:
        lines.append(f"({hidden} KPIs are zero throughout; --all shows them)")
    lines.extend(_few_replicates(summary["replicates"]))
    return "\n".join(lines)


def _few_replicates(replicates: int) -> list[str]:
    if replicates >= FEW_REPLICATES:
        return []
    return [f"note: {replicates} replicates: intervals are rough below {FEW_REPLICATES}; add --replicates"]


def compare_table(
    a: dict,
    b: dict,
    diff: dict,
    days: int,
    spent_b: dict[str, float] | None = None,
    show_all: bool = False,
    practical: dict[str, float] | None = None,
) -> str:
    """The verdict, then the KPIs by theme; a KPI that is the same and zero in both is left out unless ``show_all``."""
    lines = [
        f"scenario {a['scenario']}  A = {a['policy']}  B = {b['policy']}  replicates {a['replicates']}",
        verdict(a, b, diff, days, spent_b, practical),
        "",
        f"{'KPI':<28}{'A':>12}{'B':>12}{'B - A':>12}  {'95% interval':<26}{'verdict'}",
    ]

    def worth_showing(name: str) -> bool:
        both_zero = a["kpis"][name]["mean"] in (0, None) and b["kpis"][name]["mean"] in (0, None)
        return show_all or not (both_zero and judgement(diff[name], 0) in ("same", "noise"))

    hidden = sum(1 for name in diff if not worth_showing(name))
    for theme, names in grouped(diff, worth_showing):
        lines.append(f"-- {theme}")
        for name in names:
            d = diff[name]
            mark = judgement(d, a["kpis"][name]["mean"], practical_share(name, practical))
            lines.append(
                f"{name:<28}{_num(a['kpis'][name]['mean']):>12}{_num(b['kpis'][name]['mean']):>12}"
                f"{_num(d['mean']):>12}  {_ci(d['ci95']):<26}{mark}"
            )
    if hidden:
        lines.append(f"({hidden} KPIs are zero under both policies; --all shows them)")
    lines.extend(_few_replicates(a["replicates"]))
    return "\n".join(lines)
