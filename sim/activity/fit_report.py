"""A calibration's report: one self-contained HTML page (``DIR/report.html`` of ``sandbox calibrate``).

Observed against simulated for every fitted measure, with the observed interval; the fitted
parameters with their intervals; what the fit cannot tell; the held-out check when there is
one; and three pictures, real against simulated: distinct posters per week, survival by months
of tenure, and the distribution of messages per poster.  Pictures are PNGs inlined as data, so
the page opens anywhere and can be sent on.  Every text (a group's name included) is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from sim.activity.fingerprint import DAY
from sim.activity.pages import COLOURS, num, page, picture, write_whole
from sim.activity.plots import hazard_by_month

REAL, SIMULATED = COLOURS[0], COLOURS[1]


MET_WITHIN = 0.25
"""A measure is met when the simulated value lies in the observed interval or within this share of it."""


def is_met(m: dict) -> bool:
    """Whether a fitted measure (``observed``, ``simulated``, ``interval``) is met."""
    if m.get("observed") is None or m.get("simulated") is None:
        return False
    lo, hi = m.get("interval") or (m["observed"], m["observed"])
    return lo <= m["simulated"] <= hi or abs(m["simulated"] - m["observed"]) <= MET_WITHIN * abs(m["observed"])


def is_plausible(m: dict) -> bool:
    """Whether a fitted measure's observed value lies in its ``predicted`` interval (where 95% of
    the fitted model's runs fall): whether the export could be a run of the fitted model."""
    band = m.get("predicted")
    return m.get("observed") is not None and band is not None and band[0] <= m["observed"] <= band[1]


def choice_note(fit: dict) -> str | None:
    """How the fit was chosen among its finalists, where it is not the closest of them (it meets
    more measures: :func:`sim.runs.calibration.chosen_finalist`); None otherwise, or for a fit
    written before finalists recorded the measures they met."""
    finalists = [f for f in fit.get("finalists") or [] if not f.get("defaults")]
    if not finalists or any("met" not in f for f in finalists):
        return None
    closest = min(finalists, key=lambda f: f["distance"])
    if closest["distance"] >= fit["distance"]:
        return None
    return (
        f"chosen among {len(finalists)} finalists for meeting more measures: the closest, at distance "
        f"{num(closest['distance'])}, met {closest['met']}"
    )


EDGE_WORDS = {"high": "top", "low": "bottom"}
"""The words for a fitted value's ``at_edge`` (its searched range's end), in the report, the CLI
summary and the dashboard alike."""


def _span(pair: list | None) -> str:
    """An interval ``[low, high]`` as the report writes it; a dash where there is none (or the fit
    is of an earlier version, without it)."""
    return f"{num(pair[0])} to {num(pair[1])}" if pair else "–"


def _searched(p: dict) -> str:
    return _span(p.get("searched"))


def _edge(p: dict) -> str:
    word = EDGE_WORDS.get(p.get("at_edge") or "")  # absent from the fits of earlier versions
    edge = f"at its {word}" if word else ""
    loose = "not pinned down" if p.get("pinned") is False else ""
    return "; ".join(x for x in (edge, loose) if x)


def _weekly(messages: pd.DataFrame) -> pd.Series:
    day = messages["timestamp"].to_numpy(np.int64) // DAY
    week = (day - day.min()) // 7
    return pd.DataFrame({"week": week, "m": messages["member"].to_numpy()}).drop_duplicates().groupby("week").size()


def _survival(messages: pd.DataFrame) -> np.ndarray:
    hazard = hazard_by_month(messages, int(messages["timestamp"].max()))
    return np.cumprod(1 - np.nan_to_num(hazard))


def _per_poster(messages: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Messages per poster, and the share of posters with at least that many (CCDF)."""
    counts = np.sort(messages.groupby("member", observed=True).size().to_numpy())
    return counts, 1 - np.arange(len(counts)) / len(counts)


def pictures(real: pd.DataFrame, simulated: pd.DataFrame) -> list[tuple[str, str]]:
    """(title, <img>) for the three curves, real against simulated."""
    r = real[real["kind"] == "message"]
    s = simulated[simulated["kind"] == "message"]
    out = []

    def weekly(ax) -> None:
        for data, label, colour in ((r, "real", REAL), (s, "simulated", SIMULATED)):
            w = _weekly(data)
            ax.plot(w.index, w.to_numpy(), label=label, color=colour, lw=1)
        ax.set_xlabel("week")
        ax.set_ylabel("distinct posters")
        ax.set_title("Posters per week")

    def survival(ax) -> None:
        for data, label, colour in ((r, "real", REAL), (s, "simulated", SIMULATED)):
            curve = _survival(data)
            ax.step(np.arange(1, len(curve) + 1), curve, where="post", label=label, color=colour)
        ax.set_xlabel("months since first message")
        ax.set_ylabel("share still posting")
        ax.set_ylim(0, 1.02)
        ax.set_title("Survival by tenure")

    def per_poster(ax) -> None:
        for data, label, colour in ((r, "real", REAL), (s, "simulated", SIMULATED)):
            counts, share = _per_poster(data)
            ax.loglog(counts, share, label=label, color=colour, marker=".", ls="none", ms=3)
        ax.set_xlabel("messages per poster")
        ax.set_ylabel("share of posters with at least that many")
        ax.set_title("Messages per poster")

    for title, draw in (
        ("Posters per week", weekly),
        ("Survival by tenure", survival),
        ("Messages per poster", per_poster),
    ):
        out.append((title, picture(draw)))
    return out


def render(fit: dict, real: pd.DataFrame, simulated: pd.DataFrame) -> str:
    """The page's HTML."""
    h = fit["history"]
    rows = []
    for name, m in fit["measures"].items():
        interval, predicted = m.get("interval"), m.get("predicted")
        mark = (
            '<span class="ok">met</span>'
            if is_met(m)
            else ('<span class="off">off</span>' if m["observed"] is not None else "")
        )
        plausible = (
            '<span class="ok">yes</span>'
            if m.get("plausible")
            else ('<span class="off">no</span>' if predicted is not None and m["observed"] is not None else "")
        )
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=n>{num(m['observed'])}</td><td class=n>{_span(interval)}</td>"
            f"<td class=n>{num(m['simulated'])}</td><td>{mark}</td><td class=n>{_span(predicted)}</td>"
            f"<td>{plausible}</td></tr>"
        )
    params = "".join(
        f"<tr><td>{escape(n)}</td><td class=n>{num(p['value'])}</td>"
        f"<td class=n>{_span(p['interval'])}</td>"
        f"<td class=n>{_searched(p)}</td><td>{_edge(p)}</td>"
        f"<td class=n>{num(p['default'])}</td><td>{escape(p['tells'])}</td></tr>"
        for n, p in fit["params"].items()
    )
    cannot = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in fit["kept_at_defaults"].items())
    held = ""
    if fit.get("held_out"):
        w = fit["held_out"]["weekly_posters"]
        held_rows = "".join(
            f"<tr><td>{escape(n)}</td><td class=n>{num(m['observed'])}</td><td class=n>{num(m['simulated'])}</td>"
            f"<td class=n>{_span(m.get('region'))}</td></tr>"
            for n, m in fit["held_out"]["measures"].items()
        )
        region = (
            f" Candidates that fit the earlier period as well ({fit['held_out']['region']['candidates']}, spread "
            f"across the accepted region, {fit['held_out']['region']['replicates']} replicates each, and the fit) "
            f"forecast {_span(w['region'])} posters per week."
            if w.get("region") and fit["held_out"]["region"]["candidates"]
            else ""
        )
        held = (
            f"<h2>Held out: from {escape(fit['held_out']['from'])} ({fit['held_out']['weeks']} weeks)</h2>"
            f"<p>Posters per week: observed {num(w['observed_mean'])}, simulated {num(w['simulated_mean'])} "
            f"(mean absolute error {num(w['model_mean_abs_error'])}), naive forecast {num(w['naive_forecast'])} "
            f"(the last 90 fitted days carried forward; error {num(w['naive_mean_abs_error'])}).{region}</p>"
            "<table><tr><th>measure</th><th>observed</th><th>simulated</th><th>region's range</th></tr>"
            f"{held_rows}</table>"
        )
    images = "".join(f"<h3>{escape(t)}</h3>{img}" for t, img in pictures(real, simulated))
    return page(
        "Calibration report",
        f"<h1>Calibration of {escape(fit['group'])}</h1>"
        f"<p class=note>Source {escape(fit['source'])}: {h['days']} days from {escape(h['first_day'])}, "
        f"{h['starting_members']} starting members, {h['arrivals']} arrivals; fitted on {h['fitted_days']} days. "
        f"{fit['candidates']} candidates, {fit['replicates']['per_candidate']} replicates each; distance "
        f"{num(fit['distance'])} (the model's defaults: {num(fit['distance_of_defaults'])})"
        f"{'; ' + escape(note) if (note := choice_note(fit)) else ''}.</p>"
        "<h2>Measures</h2><p class=note>Observed interval: 95%, from half-samples of the members. "
        "'met': the simulated value lies in it or within 25% of the observed value. "
        "A run's range: 95% of the fitted model's runs fall in it (a group's figures vary from run to run more "
        "than half-samples of one export show); 'plausible': the observed value lies in it, so the export "
        "could be a run of the fitted model.</p>"
        "<table><tr><th>measure</th><th>observed</th><th>interval</th><th>simulated</th><th></th>"
        "<th>a run's range</th><th>plausible</th></tr>"
        f"{''.join(rows)}</table>"
        "<h2>Fitted parameters</h2><p class=note>Interval: the range over candidates within the 95% chi-square bound of the best "
        "(the search's, and probes moving one parameter at a time across its searched range); 'not pinned down': it "
        "covers 90% of the searched range or more, so the export fits about as well with any value of it. "
        "Searched: the range the fit searched; a value at its top or bottom is one the model strains to reach (the "
        "export may call for more, and the other parameters may have made up for it).</p>"
        "<table><tr><th>parameter</th><th>fitted</th><th>interval</th><th>searched</th><th></th><th>default</th>"
        "<th>what it tells</th></tr>"
        f"{params}</table><h2>What the fit cannot tell</h2><ul>{cannot}</ul>{held}"
        f"<h2>Real against simulated</h2>{images}",
    )


def write_report(path: Path, fit: dict, real: pd.DataFrame, simulated: pd.DataFrame) -> None:
    """Write the page through a temporary file and a rename."""
    write_whole(path, render(fit, real, simulated))
