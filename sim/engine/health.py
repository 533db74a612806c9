"""The health of a group from the five ingredients of a lasting group (domain G4).

Each part is a number from 0 to 1, computed from the group's metrics:

- ``interest``: the members' mean interest (shared interest);
- ``structure``: the share of members who are not posting ads, times how well the group keeps
  within its cap (members, admission and rules keeping noise out);
- ``output``: members' own messages per member per day against ``health_output_ref`` (steady
  value, with members producing too);
- ``operation``: the 7-day active ratio against ``health_activity_ref`` (ritual, participation,
  belonging);
- ``copy_readiness``: core members against what a copy needs (``split_core_members``).

The total is their mean.  A community's health is the members-weighted mean over its groups.
"""

from __future__ import annotations

import numpy as np

PARTS = ("interest", "structure", "output", "operation", "copy_readiness")


def group_health(model, env) -> dict[str, np.ndarray]:
    """Each part of health (G4), and the total, for every group (arrays over group ids)."""
    p, cap = model.params, model.policy.settings.groups.cap
    size = np.asarray(env["size"], dtype=float)
    denom = np.maximum(size, 1)
    within_cap = np.minimum(1.0, cap / denom) if cap else np.ones_like(size)
    parts = {
        "interest": np.asarray(env["mean_interest"], dtype=float),
        "structure": (1 - np.asarray(env["spammers"], dtype=float) / denom) * within_cap,
        "output": np.minimum(
            1.0, np.asarray(env["member_messages_7d"], dtype=float) / (7 * denom * p.health_output_ref)
        ),
        "operation": np.minimum(1.0, np.asarray(env["active_ratio_7d"], dtype=float) / p.health_activity_ref),
        "copy_readiness": np.minimum(1.0, np.asarray(env["core_count"], dtype=float) / max(p.split_core_members, 1.0)),
    }
    parts = {name: np.clip(values, 0.0, 1.0) for name, values in parts.items()}
    parts["total"] = np.mean([parts[name] for name in PARTS], axis=0)
    return parts


def community_health(model, env) -> dict[str, float]:
    """The members-weighted mean of each part over the inhabited groups."""
    size = np.asarray(env["size"], dtype=float)
    if size.sum() <= 0:
        return {name: 0.0 for name in (*PARTS, "total")}
    return {name: float(np.average(values, weights=size)) for name, values in group_health(model, env).items()}
