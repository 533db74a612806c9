"""Every coefficient of the model, with its default, unit, range and meaning.

The equations in :mod:`sim.behavior`, :mod:`sim.acquisition`, :mod:`sim.actions` and
:mod:`sim.churn` read their numbers from a :class:`Params` object and nowhere else, so a
scenario may override any of them under ``params:`` (or ``--set params.NAME=VALUE``), and the
README's table is generated from this one list.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.domain import ARCHETYPES
from sim.errors import SandboxError


@dataclass(frozen=True)
class Param:
    """One coefficient: its name, default, allowed range, unit and one-line meaning."""

    name: str
    default: float
    low: float
    high: float
    unit: str
    meaning: str


# Per-archetype multipliers: activity log-odds offset, posts, questions, churn, referrals.
# fmt: off
_ARCHETYPE_TABLE = {
    #            activity  posts  questions churn referral
    "lurker":    (-1.0,    0.05,   0.3,     1.0,  0.5),
    "regular":   (0.0,     0.6,    1.0,     1.0,  1.0),
    "talker":    (0.8,     3.0,    1.2,     0.8,  1.5),
    "expert":    (0.5,     1.5,    0.3,     0.7,  1.0),
    "connector": (0.6,     1.5,    0.8,     0.7,  4.0),
}
# fmt: on

_SPECS: list[Param] = [
    # --- activity: habit plus stimulus (M3, M5) ---
    Param("act_bias", -5.4, -10, 10, "log-odds", "baseline daily log-odds that a member opens and reads the group"),
    Param("act_interest", 2.5, 0, 10, "log-odds per unit", "pull of interest on daily activity (M1/M3)"),
    Param("act_trust", 1.0, 0, 10, "log-odds per unit", "pull of trust on daily activity (M2/M3)"),
    Param("act_habit", 2.0, 0, 10, "log-odds per unit", "pull of reading habit on daily activity (M3)"),
    Param("act_peer", 1.0, 0, 10, "log-odds per unit", "pull of yesterday's active ratio in the member's group (M3)"),
    Param("act_core", 1.0, 0, 10, "log-odds per unit", "pull of the group's share of core members (M5)"),
    Param("act_fatigue", 3.0, 0, 20, "log-odds per unit", "push of fatigue away from activity (M3)"),
    Param("act_content", 0.4, 0, 5, "log-odds per log(1+posts)", "stimulus of fresh operator posts today (P4)"),
    Param("act_ritual", 0.8, 0, 5, "log-odds", "extra stimulus on the ritual weekday (P4)"),
    Param("act_talk", 1.8, 0, 5, "log-odds", "extra stimulus on a guest talk day (P5)"),
    Param(
        "act_newcomer",
        2.0,
        0,
        10,
        "log-odds",
        "pull of a newcomer's curiosity in their first newcomer_days (M7): newcomers look around and "
        "try once; without a welcome or value to hold them most do not come back",
    ),
    Param(
        "act_momentum",
        2.5,
        0,
        10,
        "log-odds",
        "pull of recent activity (M3), in full the day after an active day: active days come in runs "
        "and breaks last, as in real chats (burstiness), rather than as independent daily draws",
    ),
    Param(
        "momentum_days",
        1.5,
        0.1,
        60,
        "days",
        "days away over which the pull of recent activity fades by 1/e (M3)",
    ),
    Param(
        "silent_after_days", 14, 1, 365, "days", "days without activity after which a member counts as silent (muted)"
    ),
    # --- posting and questions ---
    Param("post_rate", 0.08, 0, 20, "posts per active day", "mean posts of an active regular member with interest 0.5"),
    Param(
        "voice_sigma",
        1.5,
        0,
        5,
        "log-sd",
        "spread of members' own propensity to speak, to post and to ask (lognormal, mean 1); tuned so that "
        "about half of a chat group's members ever post (the forum preset: 2.5, most never post and the "
        "top 1% write most posts, Nielsen 2006; van Mierlo 2014)",
    ),
    Param(
        "post_dilution",
        0.5,
        0,
        2,
        "elasticity",
        "attention diluted by group size (P3; social loafing): an active member's posts scale with "
        "(group size / dilution_size)^-post_dilution, so each member says less in a bigger room",
    ),
    Param(
        "dilution_size", 500, 1, 100000, "members", "group size at which post_dilution leaves posting unchanged (P3)"
    ),
    Param(
        "conversation_posts",
        0.0,
        0,
        50,
        "posts per posting day",
        "posts a member adds, on average, on a day they post at all: where speaking means a conversation "
        "(a question, its answers, the replies to them), a posting day holds several messages even for a member "
        "who seldom posts; 0 keeps one geometric count, whose posting days are mostly single messages for "
        "members who seldom post",
    ),
    Param(
        "newcomer_intro",
        0.08,
        0,
        10,
        "posts per active day",
        "posts a newcomer adds on an active day of their first newcomer_days until they have said "
        "something (M7): many say hello once and are not heard from again",
    ),
    Param("question_rate", 0.1, 0, 1, "questions per active day", "chance an active regular member asks a question"),
    Param(
        "peer_reply_prob",
        0.01,
        0,
        1,
        "probability",
        "chance each post by another member that day replies to a "
        "newcomer's first post; with welcome_habit_gain, tuned to the first-reply effect (Joyce & Kraut 2006: "
        "44% vs 56% posted again)",
    ),
    Param(
        "welcome_habit_gain",
        0.15,
        0,
        1,
        "share of headroom",
        "habit a newcomer gains when their first post is "
        "answered (M7; tuned with peer_reply_prob to Joyce & Kraut 2006)",
    ),
    Param(
        "welcome_stimulus",
        1.0,
        0,
        10,
        "log-odds",
        "next-day pull back to the group of a newcomer whose first "
        "post was answered (M7; tuned with the two above to Joyce & Kraut 2006)",
    ),
    Param(
        "newcomer_ignored_trust_loss",
        0.3,
        0,
        1,
        "share of trust",
        "trust a newcomer loses when their first post is ignored (M7; tuned with the welcome to Joyce & Kraut 2006)",
    ),
    Param(
        "expert_answer_prob",
        0.08,
        0,
        1,
        "probability",
        "chance one active expert in the group answers a given question (P9)",
    ),
    # --- interest (M1) ---
    Param(
        "interest_gain",
        0.04,
        0,
        1,
        "per unit of value",
        "rise of interest per unit of value received, scaled by headroom",
    ),
    Param("interest_decay", 0.004, 0, 1, "per day", "daily decay of interest without fresh value (boredom)"),
    Param(
        "value_per_operator_post",
        0.6,
        0,
        10,
        "value per post at quality 1",
        "value one operator post gives its readers",
    ),
    Param(
        "value_member_posts", 0.25, 0, 10, "value per log(1+posts)", "value members' own posts give their readers (P5)"
    ),
    Param("value_cap", 2.0, 0, 20, "value units", "most value a reader can take in on one day"),
    Param(
        "guest_laziness",
        0.6,
        0,
        1,
        "share",
        "share of members' posting lost when all of a group's given content comes from guest talks (P5: members grow lazy)",
    ),
    Param(
        "guest_memory_days", 30, 1, 365, "days", "days over which a group's reliance on guest talks is measured (P5)"
    ),
    # --- trust (M2) ---
    Param(
        "trust_answer_gain", 0.15, 0, 1, "share of headroom", "trust gained when a member's question is answered (P9)"
    ),
    Param(
        "answer_time_scale",
        12.0,
        0.1,
        1000,
        "hours",
        "an operator's answer after this many hours builds 1/e of the trust of an instant one (P9)",
    ),
    Param("trust_unanswered_loss", 0.08, 0, 1, "share of trust", "trust lost when a question goes unanswered"),
    Param("trust_reward_gain", 0.03, 0, 1, "share of headroom", "trust gained when a reward is paid as announced"),
    Param("trust_spam_loss", 0.001, 0, 1, "per ad seen", "trust lost per ad message a reader sees (M6)"),
    Param("interest_spam_loss", 0.0005, 0, 1, "per ad seen", "interest lost per ad message a reader sees (M6)"),
    Param(
        "tyranny_trust_loss",
        0.3,
        0,
        20,
        "per share removed",
        "trust each remaining member loses per share of their group removed that day (P7)",
    ),
    Param(
        "trust_drift",
        0.002,
        0,
        1,
        "per day",
        "daily drift of trust back towards a newcomer's trust when nothing happens",
    ),
    # --- habit (M3, P4) ---
    Param("habit_gain", 0.05, 0, 1, "share of headroom", "habit built by an active day"),
    Param("habit_decay", 0.02, 0, 1, "per day", "daily decay of habit"),
    Param("ritual_habit_gain", 0.15, 0, 1, "share of headroom", "extra habit built by attending the ritual (P4)"),
    # --- fatigue (M3, P4) ---
    Param(
        "attention_budget",
        100,
        1,
        10000,
        "messages per day",
        "messages a member can take in before the group tires them",
    ),
    Param(
        "fatigue_gain",
        0.2,
        0,
        10,
        "per unit of overload",
        "fatigue added per day per unit of messages beyond the budget",
    ),
    Param("fatigue_recovery", 0.15, 0, 1, "per day", "share of fatigue that fades each day"),
    Param(
        "broadcast_tolerance",
        0.5,
        0,
        100,
        "operator posts per day",
        "operator posts a day a listening member takes without tiring (M3, P4; push studies: 2-5 a week)",
    ),
    Param(
        "broadcast_fatigue",
        0.03,
        0,
        10,
        "fatigue per extra post",
        "fatigue a listening member gains each day per operator post beyond broadcast_tolerance (M3, P4; "
        "Localytics 2017: 22% stop at 2-5 pushes a week, 31% at 6-10)",
    ),
    # --- churn (G2) ---
    Param("churn_base", 0.0008, 0, 1, "per day", "background hazard of leaving for no single reason (evaporation)"),
    Param("churn_boredom", 0.008, 0, 1, "per day", "hazard weight of lost interest, times (1 - interest)^2"),
    Param("churn_lost_trust", 0.004, 0, 1, "per day", "hazard weight of lost trust, times (1 - trust)^2"),
    Param("churn_fatigue", 0.03, 0, 1, "per day", "hazard weight of fatigue, times fatigue^2"),
    Param("churn_harassment", 0.0002, 0, 1, "per day per ad", "hazard weight of recent ad exposure (M6)"),
    Param("churn_tyranny", 0.05, 0, 50, "per day per share", "hazard weight of recently seeing others pruned (P7)"),
    Param(
        "churn_lost_focus",
        0.0004,
        0,
        1,
        "per day per post",
        "hazard weight of recent off-topic operator posts read (G2)",
    ),
    Param(
        "churn_leaderless", 0.01, 0, 1, "per day", "hazard weight of a group without a leader for leaderless_days (G2)"
    ),
    Param(
        "leaderless_days",
        30,
        1,
        365,
        "days",
        "days without an operator post or an active expert for full leaderless weight",
    ),
    Param(
        "silent_churn_factor",
        0.35,
        0,
        1,
        "multiplier",
        "silent members mostly stay: their hazard is multiplied by this",
    ),
    Param("newcomer_days", 30, 0, 365, "days", "days after joining during which first impressions weigh more (M7)"),
    Param("newcomer_churn_weight", 3, 0, 20, "multiplier", "extra hazard weight of a newcomer's days (M7)"),
    Param(
        "churn_frailty_sigma",
        1.6,
        0,
        4,
        "log-sd",
        "spread of members' own proneness to leave (lognormal, mean 1, drawn at joining and kept): "
        "the prone leave first, so the departure hazard falls with tenure as in real groups",
    ),
    Param(
        "title_churn_factor", 0.6, 0, 1, "multiplier", "hazard multiplier for a member holding a title (belonging, M4)"
    ),
    Param("exposure_decay", 0.15, 0, 1, "per day", "share of remembered ad and pruning exposure that fades each day"),
    # --- spam (M6) ---
    Param("spam_turn_prob", 0.0005, 0, 1, "per day", "chance a disaffected member who stays starts posting ads"),
    Param("spam_turn_interest", 0.25, 0, 1, "interest", "interest below which a member counts as disaffected"),
    Param("spam_posts_per_day", 3, 0, 100, "ads per day", "ads a spammer posts each day"),
    Param("warn_deter_prob", 0.6, 0, 1, "probability", "chance a warning stops a spammer"),
    # --- referral (P10) ---
    Param(
        "referral_base", 0.004, 0, 1, "per active day", "chance an active, fully trusting member brings one prospect"
    ),
    Param(
        "referral_reward_effect",
        0.15,
        0,
        10,
        "per currency unit",
        "relative rise of referrals per unit of referral reward",
    ),
    Param("referral_interest", 0.6, 0, 1, "interest", "mean interest of prospects brought by members"),
    # --- acquisition and admission (P1, P2) ---
    Param(
        "prospect_concentration",
        8,
        0.5,
        1000,
        "Beta concentration",
        "how tightly recruits' interest clusters around the channel's mean",
    ),
    Param("newcomer_trust", 0.35, 0, 1, "trust", "trust of a member on the day they join"),
    Param("newcomer_habit", 0.1, 0, 1, "habit", "habit of a member on the day they join"),
    Param("seed_interest", 0.85, 0, 1, "interest", "interest of hand-picked seed members"),
    Param("seed_trust", 0.8, 0, 1, "trust", "trust of hand-picked seed members"),
    Param("seed_habit", 0.5, 0, 1, "habit", "habit of hand-picked seed members"),
    Param("initial_interest", 0.55, 0, 1, "interest", "mean interest of members of an existing group at day 0"),
    Param("initial_trust", 0.5, 0, 1, "trust", "mean trust of members of an existing group at day 0"),
    Param("initial_habit", 0.3, 0, 1, "habit", "mean habit of members of an existing group at day 0"),
    Param("fee_scale", 50, 0.01, 1e6, "currency", "fee at which conversion falls to 1/e of its free value (P2)"),
    Param("fee_commitment", 0.5, 0, 1, "share", "largest cut in churn hazard that paying a fee buys (P2)"),
    # --- core members (M5) ---
    Param("core_habit", 0.5, 0, 1, "habit", "habit a member needs to count as core"),
    Param("core_trust", 0.55, 0, 1, "trust", "trust a member needs to count as core"),
    Param("core_min_posts", 10, 0, 10000, "posts", "posts a member needs to count as core"),
    # --- actions: effects (P6, P7, P8, P11) ---
    Param("pm_trust_gain", 0.05, 0, 1, "share of headroom", "trust gained from a private message (personal care)"),
    Param("pm_stimulus", 1.0, 0, 10, "log-odds", "next-day activity stimulus of a private message"),
    Param("coupon_stimulus", 1.2, 0, 10, "log-odds", "next-day activity stimulus of a coupon"),
    Param("coupon_trust_gain", 0.02, 0, 1, "share of headroom", "trust gained from a coupon"),
    Param(
        "red_envelope_stimulus",
        0.8,
        0,
        10,
        "log-odds per log(1+amount)",
        "next-day activity stimulus of a red envelope",
    ),
    Param(
        "reward_habituation",
        0.15,
        0,
        10,
        "per reward received",
        "rewards wear off: effect divided by 1 + this x rewards already received (P6)",
    ),
    Param("title_trust_gain", 0.05, 0, 1, "share of headroom", "trust gained when a title is granted (M4, P6)"),
    Param("warn_trust_loss", 0.05, 0, 1, "share of trust", "trust a warned member loses"),
    Param("split_core_members", 8, 0, 1000, "members", "core members moved to seed a new group when one splits (P3)"),
    Param(
        "copy_min_core",
        5,
        0,
        1000,
        "members",
        "core members a copied group needs before it has its own culture; below it, a weak copy (P3)",
    ),
    Param("act_weak_copy", 0.5, 0, 5, "log-odds", "activity lost in a weak copy: a group copied without a core (P3)"),
    # --- belonging, events and surveys (M4, P12) ---
    Param("belonging_decay", 0.005, 0, 1, "per day", "share of belonging that fades each day"),
    Param("ritual_belonging_gain", 0.05, 0, 1, "share of headroom", "belonging from attending the ritual (M4)"),
    Param("title_belonging_gain", 0.2, 0, 1, "share of headroom", "belonging from being granted a title (M4)"),
    Param("belonging_churn_cut", 0.6, 0, 1, "share", "cut in churn hazard at full belonging (M4)"),
    Param("event_attendance", 0.3, 0, 1, "probability", "chance an interested active member attends an event"),
    Param("event_trust_gain", 0.1, 0, 1, "share of headroom", "trust a participant gains at an event (P12)"),
    Param("event_interest_gain", 0.05, 0, 1, "share of headroom", "interest a participant gains at an event"),
    Param("event_belonging_gain", 0.3, 0, 1, "share of headroom", "belonging a participant gains at an event (M4)"),
    Param("survey_trust_gain", 0.02, 0, 1, "share of headroom", "trust gained by being asked for one's view"),
    Param(
        "survey_event_boost", 0.1, 0, 1, "per survey", "how much each survey improves later events (P12), up to x1.5"
    ),
    Param("cost_event_participant", 10.0, 0, 1e6, "currency", "cost of one participant at an event"),
    Param("cost_survey", 0.2, 0, 1e6, "currency", "cost of surveying one member"),
    # --- sales (P14) ---
    Param(
        "sales_conversion",
        0.3,
        0,
        1,
        "probability",
        "chance a fully trusting, fully interested member buys when pushed",
    ),
    Param("sales_trust_floor", 0.5, 0, 1, "trust", "trust under which a sales push burns trust (P14)"),
    Param("sales_trust_burn", 0.4, 0, 10, "per unit of gap", "trust lost per unit of trust below the floor, per push"),
    Param(
        "sales_interest_burn",
        0.1,
        0,
        10,
        "per unit of gap",
        "interest lost per unit of trust below the floor, per push",
    ),
    Param("cost_sales_push", 0.05, 0, 1e6, "currency", "staff cost of pushing to one member"),
    # --- health (G4) ---
    Param(
        "health_output_ref",
        0.1,
        0.0001,
        100,
        "posts per member per day",
        "members' own output at which a group's output part of health is full",
    ),
    Param(
        "health_activity_ref",
        0.3,
        0.001,
        1,
        "active ratio",
        "7-day active ratio at which the operation part of health is full",
    ),
    # --- costs (G5) ---
    Param("cost_private_message", 0.5, 0, 1e6, "currency", "staff cost of one private message"),
    Param("cost_coupon", 5.0, 0, 1e6, "currency", "cost of one coupon"),
    Param("cost_remove", 0.1, 0, 1e6, "currency", "staff cost of removing one member"),
    Param("cost_warn", 0.1, 0, 1e6, "currency", "staff cost of one warning"),
    Param("cost_answer", 0.5, 0, 1e6, "currency", "staff cost of one answer by an operator"),
    Param("cost_operator_post", 2.0, 0, 1e6, "currency", "staff cost of one operator post"),
    Param("cost_guest_talk", 300.0, 0, 1e7, "currency", "cost of one guest talk"),
    Param("cost_point", 0.0, 0, 1e6, "currency", "cost of one point awarded"),
    Param("cost_split", 20.0, 0, 1e6, "currency", "staff cost of opening a new group"),
]

for _name, _row in _ARCHETYPE_TABLE.items():
    _act, _post, _question, _churn, _referral = _row
    _SPECS += [
        Param(f"arch_{_name}_activity", _act, -10, 10, "log-odds", f"activity offset of a {_name}"),
        Param(f"arch_{_name}_posts", _post, 0, 100, "multiplier", f"posting rate multiplier of a {_name}"),
        Param(f"arch_{_name}_questions", _question, 0, 100, "multiplier", f"question rate multiplier of a {_name}"),
        Param(f"arch_{_name}_churn", _churn, 0, 100, "multiplier", f"churn hazard multiplier of a {_name}"),
        Param(f"arch_{_name}_referral", _referral, 0, 100, "multiplier", f"referral multiplier of a {_name}"),
    ]

PARAMS: dict[str, Param] = {p.name: p for p in _SPECS}

# Parameter sets for kinds of group, applied before a scenario's own ``params:``.  The defaults
# describe a chat group (about half of its members ever post, as in real chat channels); the
# forum preset gives the participation inequality of health forums, where the 90-9-1 figures
# come from (Nielsen 2006; van Mierlo 2014): most members only read, the top 1% write most posts.
PRESETS: dict[str, dict[str, float]] = {
    "chat": {},
    "forum": {
        "voice_sigma": 2.5,
        "post_rate": 0.2,
        "newcomer_intro": 0.0,
        "welcome_habit_gain": 0.6,
        "welcome_stimulus": 3.0,
    },
}
PRESET_MEANINGS = {
    "chat": "a chat group (the defaults): about half of the members ever post",
    "forum": "a forum: most members only read, the top 1% write most posts (the 90-9-1 figures)",
}


class Params:
    """The coefficients of one run: defaults with a scenario's overrides applied.

    Attribute access (``params.act_bias``) keeps the equations readable.  Construction
    validates names and ranges so that a typo in a scenario never passes silently.
    """

    def __init__(self, overrides: dict[str, float] | None = None, *, source: str | None = None, preset: str = "chat"):
        values = {name: float(p.default) for name, p in PARAMS.items()}
        values.update(PRESETS[preset])
        for name, value in (overrides or {}).items():
            values[name] = check_param(name, value, source=source)
        self._values = values
        self.__dict__.update(values)

    if TYPE_CHECKING:  # coefficients are bound by name at run time (one attribute per Param)

        def __getattr__(self, name: str) -> float: ...

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)

    def archetype_table(self, field: str):
        """The per-archetype values of one field, in :data:`ARCHETYPES` order."""
        import numpy as np

        return np.array([self._values[f"arch_{a}_{field}"] for a in ARCHETYPES], dtype=np.float32)


def check_param(name: str, value, *, source: str | None = None) -> float:
    """Validate one override; raise a one-line :class:`SandboxError` naming the fix."""
    place = f"params.{name}"
    if name not in PARAMS:
        close = difflib.get_close_matches(name, PARAMS, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see the parameter table in the README"
        raise SandboxError(f"unknown parameter '{name}'; {hint}", file=source, place=place)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SandboxError(f"expected a number, got {value!r}", file=source, place=place)
    p = PARAMS[name]
    if not (p.low <= value <= p.high):
        raise SandboxError(
            f"{value} is out of range; expected {p.low:g} to {p.high:g} ({p.unit})",
            file=source,
            place=place,
        )
    return float(value)
