"""A comparison of policies as the sandbox reports it: each policy after the first against the
first (A), paired by replicate, with the verdict in words, members' parts and spending.

``sandbox compare`` prints and writes this document (``comparison.json``); ``sim.compare``
returns it; the dashboard's views read the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.app.report import compare_table, judgement, members_parts, practical_share, spending, verdict
from sim.errors import SandboxError
from sim.runs.experiment import RunResult, paired_difference
from sim.runs.store import clean, run_summary

SIDES = tuple("ABCDEFGH")
"""The sides of a comparison, in the order the policies were given (A is the baseline)."""


def check_sides(count: int, place: str, how: str = "") -> None:
    """Refuse a comparison of fewer than two policies or more than :data:`SIDES` holds, before
    anything runs; ``how`` shows how to give them (the command line's ``--policy A --policy B``)."""
    if count < 2:
        raise SandboxError(f"give two policies or more{how}, got {count}", place=place)
    if count > len(SIDES):
        raise SandboxError(f"at most {len(SIDES)} policies in one comparison", place=place)


@dataclass
class Comparison:
    """Every policy's runs (``results``, A first) and the document ``comparison.json`` holds."""

    results: list[RunResult]
    document: dict
    pairs: list[dict] = field(default_factory=list)  # each policy after A: its summary, B - A, verdict, spending
    practical: dict[str, float] = field(default_factory=dict)

    def table(self, show_all: bool = False) -> str:
        """The text ``sandbox compare`` prints."""
        days = self.results[0].setup.scenario.days
        a = self.document["A"]
        return "\n\n".join(
            compare_table(a, p["B"], p["diff"], days, p["spent"], show_all=show_all, practical=self.practical)
            for p in self.pairs
        )


def comparison(results: list[RunResult], practical: dict[str, float] | None = None) -> Comparison:
    """The comparison of runs of two or more policies on the same replicate seeds."""
    practical = practical or {}
    a = run_summary(results[0])
    days = results[0].setup.scenario.days
    pairs = []
    for result in results[1:]:
        b = run_summary(result)
        diff = clean(paired_difference(results[0].kpis, result.kpis))
        spent = spending(result.daily, result.actions, len(result.kpis))
        said = {
            "text": verdict(a, b, diff, days, spent, practical),
            "members": members_parts(diff),
            "spending_b": spent,
            "judgements": {
                k: judgement(d, a["kpis"][k]["mean"], practical_share(k, practical)) for k, d in diff.items()
            },
            "practical": practical,  # thresholds given with --practical (the rest: 1% of A's value)
        }
        pairs.append({"B": b, "diff": diff, "verdict": said, "spent": spent})
    first = {"A": a, "B": pairs[0]["B"], "diff": pairs[0]["diff"], "verdict": pairs[0]["verdict"]}
    more = [{k: pair[k] for k in ("B", "diff", "verdict")} for pair in pairs[1:]]
    document = {**first, **({"more": more} if more else {})}
    return Comparison(results=results, document=document, pairs=pairs, practical=practical)
