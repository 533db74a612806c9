"""How sure an export's fingerprint is: intervals by half-sampling its members.

A group's measures come from a few hundred members; another few hundred would have given other
values.  Each draw keeps a random half of the members (without replacement) with all their
events and measures the group again; the spread of the draws around the whole group's value
estimates the measure's sampling error (half-sampling: the variance of an estimate on n/2 of n
members drawn without replacement is close to that of the estimate on n drawn with
replacement, so no correction is needed).  Measures that grow with the group's size
(``daily_posters``, ``messages``) are scaled back up by the share kept.

Replies to members outside the half are dropped, as they would be in a group without them.  For
the first-reply effect, replies to members inside the half are kept whoever wrote them: the
effect is the newcomers' (their return with and without a reply), and where one member writes
most welcomes (an admin; a simulated run's ``operators``) a half without that member would hold
no welcomed newcomer, the effect would be undefined in about half the draws and its error lost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.activity.fingerprint import measures

SIZE_MEASURES = ("daily_posters", "messages", "members")
DRAWS = 40


def standard_errors(
    events: pd.DataFrame, names: tuple[str, ...], *, draws: int = DRAWS, seed: int = 0, derive=None
) -> dict[str, float | None]:
    """Each measure's sampling error (None where fewer than half the draws give it).

    ``derive``, if given, adds measures computed from the others (a calibration's
    ``messages_per_active_day``) to each draw before the spread is taken.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20_17]))
    members = events["member"].unique()
    codes = pd.Index(members).get_indexer(events["member"])
    addressee = (
        pd.Index(members).get_indexer(events["reply_to"]) if "first_reply_effect" in names else np.full(len(codes), -1)
    )
    values: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(draws):
        kept = np.zeros(len(members), dtype=bool)
        kept[rng.choice(len(members), size=max(1, len(members) // 2), replace=False)] = True
        part = events[kept[codes]]
        if not (part["kind"] == "message").any():
            continue
        drawn = measures(part)
        welcomes = (addressee >= 0) & kept[np.maximum(addressee, 0)] & ~kept[codes]
        if welcomes.any():  # replies to the half by members outside it: kept for the newcomers' effect
            drawn["first_reply_effect"] = measures(events[kept[codes] | welcomes])["first_reply_effect"]
        scale = len(members) / kept.sum()
        for name in SIZE_MEASURES:
            if drawn.get(name) is not None:
                drawn[name] = float(drawn[name]) * scale  # type: ignore[arg-type]
        if derive is not None:
            drawn.update(derive(drawn))
        for name in names:
            if drawn.get(name) is not None:
                values[name].append(float(drawn[name]))  # type: ignore[arg-type]
    return {name: (float(np.std(v, ddof=1)) if len(v) >= max(2, draws // 2) else None) for name, v in values.items()}
