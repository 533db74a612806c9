"""Acquisition and admission: who arrives at the door today and who gets in (P1, P2, P3, P10).

Channels push to their pools on an even weekly schedule; each push converts a share of the
remaining pool (lowered by a fee, P2).  A channel with ``weekly_joins`` (a calibrated group's
observed history) brings exactly that many prospects each week, spread evenly over its days.  Friends brought by members yesterday arrive as
referral prospects (P10).  The policy's admission rule filters prospects as a vectorised mask;
admitted members are placed in the newest group with room, and a full group is split or
closed as the policy says (P3).
"""

from __future__ import annotations

import numpy as np

from sim.domain import ARCHETYPES
from sim.engine.members import core_mask, scheduled

F32 = np.float32


def beta_around(rng: np.random.Generator, mean: float, concentration: float, size: int) -> np.ndarray:
    """Draws in [0, 1] with the given mean; higher concentration = tighter around it."""
    mean = min(max(mean, 1e-3), 1 - 1e-3)
    return rng.beta(mean * concentration, (1 - mean) * concentration, size).astype(F32)


def draw_archetypes(rng: np.random.Generator, mix: dict[str, float], size: int) -> np.ndarray:
    """Archetype codes drawn from a mix of shares (inverse CDF: one uniform per prospect)."""
    shares = np.array([mix.get(a, 0.0) for a in ARCHETYPES], dtype=float)
    cumulative = np.cumsum(shares / shares.sum())
    codes = np.searchsorted(cumulative, rng.random(size), side="right")
    return np.minimum(codes, len(ARCHETYPES) - 1).astype(np.int8)


def populate_day_zero(model) -> None:
    """Seed members and an existing group's members, present at day 0 (G1)."""
    scenario, p, rng = model.scenario, model.params, model.streams["acquisition"]
    pop_spec = scenario.population
    k = p.prospect_concentration
    for count, source, mix, interest, trust, habit in (
        (pop_spec.seed_members, "seed", pop_spec.seed_archetype_mix, p.seed_interest, p.seed_trust, p.seed_habit),
        (
            pop_spec.initial_members,
            "initial",
            pop_spec.archetype_mix,
            p.initial_interest,
            p.initial_trust,
            p.initial_habit,
        ),
    ):
        if count == 0:
            continue
        archetypes = draw_archetypes(rng, mix, count)
        groups = place_in_groups(
            model,
            count,
            day_zero=True,
            segments=segment_codes(model, archetypes, np.full(count, model.source_code(source))),
        )
        seed_title = model.policy.settings.rewards.seed_title if source == "seed" else None
        rows = model.add_members(
            count,
            interest=beta_around(rng, interest, k, count),
            trust=beta_around(rng, trust, k, count),
            habit=beta_around(rng, habit, k, count),
            archetype=archetypes,
            source=model.source_code(source),
            group=groups,
            join_day=0,
        )
        if seed_title:  # seed members' privilege: a title from the start (P6), and the belonging it brings
            model.pop.title[rows] = model.title_code(seed_title)
            model.pop.belonging[rows] = model.params.title_belonging_gain
        model.joined_today += count


def acquire(model) -> None:
    """Today's channel pushes and referral arrivals, through the admission rule, into groups."""
    scenario, p, rng = model.scenario, model.params, model.streams["acquisition"]
    policy = model.policy.settings
    fee = policy.admission.fee
    fee_factor = float(np.exp(-fee / p.fee_scale))
    k = p.prospect_concentration

    reallocate_channels(model)
    batches = []  # (source code, interest array)
    for i, channel in enumerate(scenario.channels):
        if channel.weekly_joins is not None:  # a calibrated history: the week's observed arrivals
            week = model.day // 7
            arriving = (
                scheduled(model.day % 7, channel.weekly_joins[week], 7) if week < len(channel.weekly_joins) else 0
            )
            arriving = min(arriving, model.channel_remaining[i])
            if fee_factor < 1 and arriving:  # a fee deters some who would have come (P2)
                arriving = int(rng.binomial(arriving, fee_factor))
            model.channel_remaining[i] -= arriving
            if arriving:
                batches.append((model.source_code(channel.name), beta_around(rng, channel.interest, k, arriving)))
            continue
        pushes = scheduled(model.day, channel.pushes_per_week * model.channel_weight[i], 7)
        if pushes == 0 or model.channel_remaining[i] == 0:
            continue
        model.spend("channels", pushes * channel.cost_per_push)
        model.channel_spent[i] += pushes * (channel.cost_per_push or 1.0)
        # Bass (1969): innovation p (the conversion rate) plus imitation q times the share adopted
        adopted = model.channel_joined[i] / channel.pool_size if channel.pool_size else 0.0
        per_push = min(1.0, (channel.conversion_rate + channel.word_of_mouth * adopted) * fee_factor)
        reach = 1 - (1 - per_push) ** pushes
        arriving = int(rng.binomial(model.channel_remaining[i], reach))
        model.channel_remaining[i] -= arriving
        if arriving:
            batches.append((model.source_code(channel.name), beta_around(rng, channel.interest, k, arriving)))
    referred = int(rng.binomial(model.pending_referrals, fee_factor)) if model.pending_referrals else 0
    model.pending_referrals = 0
    if referred:
        batches.append((model.source_code("referral"), beta_around(rng, p.referral_interest, k, referred)))
    if not batches:
        return

    source = np.concatenate([np.full(len(b[1]), b[0], dtype=np.int16) for b in batches])
    interest = np.concatenate([b[1] for b in batches])
    count = len(source)
    trust = beta_around(rng, p.newcomer_trust, k, count)
    archetype = draw_archetypes(rng, scenario.population.archetype_mix, count)
    model.today.prospects = count

    if model.policy.admission is not None:
        env = {
            "interest": interest,
            "trust": trust,
            "archetype": archetype,
            "source": source,
            "day": np.full(count, model.day, dtype=np.int32),
        }
        admitted = model.policy.admission(env)
        source, interest, trust, archetype = source[admitted], interest[admitted], trust[admitted], archetype[admitted]
        count = len(source)
    if count == 0:
        return
    groups = place_in_groups(model, count, segments=segment_codes(model, archetype, source))
    placed = groups >= 0
    model.today.turned_away = int(count - np.count_nonzero(placed))
    if not placed.all():
        source, interest, trust, archetype, groups = (
            source[placed],
            interest[placed],
            trust[placed],
            archetype[placed],
            groups[placed],
        )
        count = len(source)
        if count == 0:
            return
    model.add_members(
        count,
        interest=interest,
        trust=trust,
        habit=F32(p.newcomer_habit),
        archetype=archetype,
        source=source,
        group=groups,
        join_day=model.day,
        commitment=F32(p.fee_commitment * (1 - fee_factor)),
    )
    model.joined_today += count
    model.groups.joined_today += np.bincount(groups, minlength=model.groups.count)
    for i, channel in enumerate(scenario.channels):
        model.channel_joined[i] += int(np.count_nonzero(source == model.source_code(channel.name)))
    referral_joins = int(np.count_nonzero(source == model.source_code("referral")))
    model.today.referral_joins = referral_joins
    model.spend("referrals", referral_joins * policy.rewards.referral_reward)
    model.earn(fee * count)


def reallocate_channels(model) -> None:
    """After the measuring days, keep the channels that bring members most cheaply (P1).

    Channels are ranked by members joined per unit spent (or per push where pushes are free); the
    best ``keep_channels`` keep pushing and the others' pushes move to the best one.
    """
    rule = model.policy.settings.acquisition
    if rule.reallocate_after_days is None or model.day != rule.reallocate_after_days:
        return
    channels = model.scenario.channels
    if len(channels) <= rule.keep_channels:
        return
    spent = np.array([max(model.channel_spent[i], 1e-9) for i in range(len(channels))])
    yield_per_cost = np.array(model.channel_joined, dtype=float) / spent
    order = np.argsort(-yield_per_cost, kind="stable")
    kept, dropped = order[: rule.keep_channels], order[rule.keep_channels :]
    moved = sum(channels[i].pushes_per_week * model.channel_weight[i] for i in dropped)
    best = int(kept[0])
    for i in dropped:
        model.channel_weight[i] = 0.0
    model.channel_weight[best] += moved / max(channels[best].pushes_per_week, 1e-9)


def segment_codes(model, archetype: np.ndarray, source: np.ndarray) -> np.ndarray | None:
    """Each newcomer's segment (P13) when the policy runs groups by segment, else None."""
    by = model.policy.settings.groups.segment_by
    if by is None:
        return None
    return np.asarray(archetype if by == "archetype" else source, dtype=np.int16)


def place_in_groups(model, count: int, *, segments: np.ndarray | None = None, day_zero: bool = False) -> np.ndarray:
    """Group ids for ``count`` newcomers; -1 for those turned away by a closed, full community.

    Newcomers go to the newest group with room (of their own segment when the policy runs groups
    by segment, P13).  When every group is full the policy's ``on_full`` decides: ``split`` opens
    a new group seeded with core members (P3), ``close`` turns the rest away.  At day 0 an
    existing community simply has as many groups as it needs.
    """
    out = np.full(count, -1, dtype=np.intp)
    if segments is None:
        out[:] = _place(model, count, -1, day_zero)
        return out
    for value in np.unique(segments):
        rows = np.flatnonzero(segments == value)
        out[rows] = _place(model, len(rows), int(value), day_zero)
    return out


def _place(model, count: int, segment: int, day_zero: bool) -> np.ndarray:
    groups = model.groups
    cap = model.policy.settings.groups.cap
    on_full = model.policy.settings.groups.on_full
    out = np.full(count, -1, dtype=np.intp)
    placed = 0
    core_rows = None  # core members of the whole community, found once if a split is needed
    while placed < count:
        mine = groups.segment == segment
        if segment >= 0:  # an empty, unsegmented group (the first one) is claimed by the segment
            unclaimed = np.flatnonzero((groups.segment < 0) & (groups.size == 0))
            if not mine.any() and len(unclaimed):
                groups.segment[unclaimed[0]] = segment
                mine = groups.segment == segment
        limit = np.iinfo(np.int64).max if cap is None else cap
        with_room = np.flatnonzero(mine & groups.is_open & (groups.size < limit))[::-1]  # newest first
        if cap is None and len(with_room):
            with_room = with_room[:1]
        if len(with_room):
            free = (limit - groups.size[with_room]) if cap is not None else np.array([count - placed])
            filled = np.searchsorted(np.cumsum(free), count - placed)  # groups needed, minus one
            targets = with_room[: filled + 1]
            slots = np.repeat(targets, free[: filled + 1])[: count - placed]
            out[placed : placed + len(slots)] = slots
            groups.size[:] += np.bincount(slots, minlength=groups.count)
            placed += len(slots)
            if cap is not None and on_full == "close" and not day_zero:
                groups.is_open[targets[groups.size[targets] >= cap]] = False
            continue
        if day_zero or not mine.any():
            gid = groups.open_group(model.day)  # opening regrows the columns: index after it
            groups.segment[gid] = segment
        elif on_full == "split":
            if core_rows is None:
                core_rows = np.flatnonzero(core_mask(model.pop, model.params))
            fullest = int(np.argmax(np.where(mine, groups.size, -1)))
            model.split_group(fullest, move_share=0.0, core_rows=core_rows)
        else:
            break
    return out
