"""A comparison's report: ``report.html`` of ``sandbox compare --out``, one page a strategist can send.

For each policy against the first: the verdict sentence, where a difference in members comes
from (joins, leaving, removals), B's largest spending, and the KPIs by theme with A, B, the
paired difference, its 95% interval and the word for it (clear, small, noise, same).  Then the
main curves over the days, every policy on one picture: members, active share, cumulative cost
(mean over replicates, with the band from the lowest to the highest replicate).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from sim.activity.pages import COLOURS, num, page, picture, write_whole
from sim.app.across_fit import AGREEMENT_WORDS, HEADLINE
from sim.app.report import grouped, judgement, practical_share

CURVES = (
    ("members", "Members", "members"),
    ("active_ratio", "Active share of members", "share"),
    ("cost_cumulative", "Cost so far", "cost"),
)


def _pair(document: dict, pair: dict) -> str:
    a, b, diff, said = document["A"], pair["B"], pair["diff"], pair["verdict"]
    parts = "".join(f"<li>{escape(k)}: {num(v)}</li>" for k, v in said.get("members", {}).items())
    spent = "".join(f"<li>{escape(k)}: {num(v)}</li>" for k, v in (said.get("spending_b") or {}).items())
    rows = []
    for theme, names in grouped(diff):
        rows.append(f"<tr><th colspan=6>{escape(theme)}</th></tr>")
        for name in names:
            d = diff[name]
            lo, hi = d["ci95"]
            word = judgement(d, a["kpis"][name]["mean"], practical_share(name, said.get("practical")))
            rows.append(
                f"<tr><td>{escape(name)}</td><td class=n>{num(a['kpis'][name]['mean'])}</td>"
                f"<td class=n>{num(b['kpis'][name]['mean'])}</td><td class=n>{num(d['mean'])}</td>"
                f"<td class=n>{num(lo)} to {num(hi)}</td><td>{escape(word)}</td></tr>"
            )
    return (
        f"<h2>{escape(str(b['policy']))} against {escape(str(a['policy']))}</h2>"
        f"<p>{escape(said['text'])}</p>"
        f"<h3>Where the difference in members comes from</h3><ul>{parts}</ul>"
        + (f"<h3>Largest spending of {escape(str(b['policy']))}</h3><ul>{spent}</ul>" if spent else "")
        + "<table><tr><th>KPI</th><th>A</th><th>B</th><th>B - A</th><th>95% interval</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _across(across: dict, policy_a: str) -> str:
    """The verdicts across a calibrated group's region (``compare --across-fit``), headline KPIs."""
    out = []
    for pair in across["pairs"]:
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td class=n>{num(k['fit'])}</td>"
            f"<td class=n>{num(k['region'][0]) + ' to ' + num(k['region'][1]) if k['region'] else '-'}</td>"
            f"<td>{escape(AGREEMENT_WORDS[k['agreement']])}</td></tr>"
            for name in HEADLINE
            if (k := pair["kpis"].get(name)) is not None
        )
        out.append(
            f"<h2>Across the fit's region: {escape(str(pair['policy']))} against {escape(policy_a)}</h2>"
            f"<p>Under the fit and under {across['candidates']} candidates that fit the group's export as well "
            "(spread across its parameters' intervals), each on the same replicates.</p>"
            "<table><tr><th>KPI</th><th>B - A, the fit</th><th>B - A, the region</th><th>verdict</th></tr>"
            f"{rows}</table>"
        )
    return "".join(out)


def render(document: dict, dailies: list[tuple[str, pd.DataFrame]]) -> str:
    """The page: ``document`` is what ``compare --json`` prints; ``dailies`` each policy's daily table."""
    pairs = [{k: document[k] for k in ("B", "diff", "verdict")}, *document.get("more", [])]
    a = document["A"]
    few = a["replicates"] < 5
    body = [
        f"<h1>Comparison on {escape(str(a['scenario']))}</h1>",
        f"<p class=note>{a['replicates']} replicates per policy on the same seeds (common random numbers); "
        "each difference is B minus A paired by replicate. 'clear': the 95% interval excludes 0 and the "
        "difference is at least 1% of A's value.</p>",
    ]
    if few:
        body.append("<p class=off>Fewer than 5 replicates: the intervals are rough.</p>")
    body.extend(_pair(document, pair) for pair in pairs)
    if document.get("across_fit"):
        body.append(_across(document["across_fit"], str(a["policy"])))
    body.append("<h2>Over the days</h2>")
    for column, title, label in CURVES:
        body.append(f"<h3>{escape(title)}</h3>" + picture(_curve(dailies, column, title, label)))
    return page(f"Comparison on {a['scenario']}", "".join(body))


def _curve(dailies: list[tuple[str, pd.DataFrame]], column: str, title: str, label: str):
    def draw(ax) -> None:
        for (name, daily), colour in zip(dailies, COLOURS):
            table = daily.assign(cost_cumulative=daily.groupby("replicate")["cost"].cumsum())
            by_day = table.groupby("day")[column]
            mean, low, high = by_day.mean(), by_day.min(), by_day.max()
            ax.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=colour, alpha=0.15, lw=0)
            ax.plot(mean.index, mean.to_numpy(), color=colour, label=name, lw=1.5)
        ax.set_xlabel("day")
        ax.set_ylabel(label)
        ax.set_title(title)

    return draw


def write_report(path: Path, document: dict, dailies: list[tuple[str, pd.DataFrame]]) -> None:
    write_whole(path, render(document, dailies))
