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


def beta_around(model, site: str, mean, concentration: float, world: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Prospects' keyed draws in [0, 1] with the given mean (one, or one each); higher
    concentration = tighter around it."""
    mean = np.clip(np.asarray(mean, dtype=np.float64), 1e-3, 1 - 1e-3)
    return model.traits(site, world, serial, beta=(mean * concentration, (1 - mean) * concentration)).astype(F32)


def draw_archetypes(model, mix: dict[str, float], world: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Prospects' archetype codes drawn from a mix of shares (inverse CDF: one keyed uniform each)."""
    shares = np.array([mix.get(a, 0.0) for a in ARCHETYPES], dtype=float)
    cumulative = np.cumsum(shares / shares.sum())
    codes = np.searchsorted(cumulative, model.traits("archetype", world, serial), side="right")
    return np.minimum(codes, len(ARCHETYPES) - 1).astype(np.int8)


def populate_day_zero(model) -> None:
    """Seed members and an existing group's members, present at day 0 (G1)."""
    scenario, p = model.scenario, model.params
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
        world = np.repeat(np.arange(model.worlds), count)  # each world its own copy of the starting members
        count = len(world)
        serial = model.arrival_numbers(world, model.prospected)
        archetypes = draw_archetypes(model, mix, world, serial)
        groups = place_in_groups(
            model,
            count,
            day_zero=True,
            segments=segment_codes(model, archetypes, np.full(count, model.source_code(source)), world),
        )
        seed_title = model.policy.settings.rewards.seed_title if source == "seed" else None
        rows = model.add_members(
            count,
            interest=beta_around(model, "interest", interest, k, world, serial),
            trust=beta_around(model, "trust", trust, k, world, serial),
            habit=beta_around(model, "habit", habit, k, world, serial),
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
    worlds = np.arange(model.worlds)
    batches = []  # (source code, interest array, world of each)
    for i, channel in enumerate(scenario.channels):
        remaining = model.channel_remaining[i]  # in each world
        if channel.weekly_joins is not None:  # a calibrated history: the week's observed arrivals
            week = model.day // 7
            scheduled_today = (
                scheduled(model.day % 7, channel.weekly_joins[week], 7) if week < len(channel.weekly_joins) else 0
            )
            arriving = np.minimum(scheduled_today, remaining)
            if fee_factor < 1 and arriving.any():  # a fee deters some who would have come (P2)
                arriving = rng.binomial(arriving, fee_factor)
            remaining -= arriving
            if arriving.any():
                batches.append(_batch(model.source_code(channel.name), channel.interest, worlds, arriving))
            continue
        pushes = scheduled(model.day, channel.pushes_per_week * model.channel_weight[i], 7)
        reachable = remaining > 0
        if pushes == 0 or not reachable.any():
            continue
        model.spend("channels", pushes * channel.cost_per_push * int(np.count_nonzero(reachable)))
        model.channel_spent[i] += np.where(reachable, pushes * (channel.cost_per_push or 1.0), 0.0)
        # Bass (1969): innovation p (the conversion rate) plus imitation q times the share adopted
        adopted = model.channel_joined[i] / channel.pool_size if channel.pool_size else np.zeros(len(remaining))
        per_push = np.minimum(1.0, (channel.conversion_rate + channel.word_of_mouth * adopted) * fee_factor)
        reach = 1 - (1 - per_push) ** pushes
        arriving = rng.binomial(remaining, reach)
        remaining -= arriving
        if arriving.any():
            batches.append(_batch(model.source_code(channel.name), channel.interest, worlds, arriving))
    bringing = model.referrals_by_world if model.worlds > 1 else np.array([model.pending_referrals])
    referred = rng.binomial(bringing, fee_factor) if bringing.any() and fee_factor < 1 else bringing.copy()
    model.pending_referrals = 0
    model.referrals_by_world[:] = 0
    if referred.any():
        batches.append(_batch(model.source_code("referral"), p.referral_interest, worlds, referred))
    if not batches:
        return

    source = np.concatenate([np.full(len(b[2]), b[0], dtype=np.int16) for b in batches])
    world = np.concatenate([b[2] for b in batches])
    serial = model.arrival_numbers(world, model.prospected)
    count = len(source)
    interest = beta_around(
        model, "interest", np.concatenate([np.full(len(b[2]), b[1]) for b in batches]), k, world, serial
    )
    trust = beta_around(model, "trust", p.newcomer_trust, k, world, serial)
    archetype = draw_archetypes(model, scenario.population.archetype_mix, world, serial)
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
        source, interest, trust, archetype, world = (
            source[admitted],
            interest[admitted],
            trust[admitted],
            archetype[admitted],
            world[admitted],
        )
        count = len(source)
    if count == 0:
        return
    groups = place_in_groups(model, count, segments=segment_codes(model, archetype, source, world))
    placed = groups >= 0
    model.today.turned_away = int(count - np.count_nonzero(placed))
    if not placed.all():
        source, interest, trust, archetype, groups, world = (
            source[placed],
            interest[placed],
            trust[placed],
            archetype[placed],
            groups[placed],
            world[placed],
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
        came = source == model.source_code(channel.name)
        model.channel_joined[i] += np.bincount(world[came], minlength=model.worlds)
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
    spent = np.array([max(float(model.channel_spent[i].sum()), 1e-9) for i in range(len(channels))])
    yield_per_cost = np.array([float(joined.sum()) for joined in model.channel_joined]) / spent
    order = np.argsort(-yield_per_cost, kind="stable")
    kept, dropped = order[: rule.keep_channels], order[rule.keep_channels :]
    moved = sum(channels[i].pushes_per_week * model.channel_weight[i] for i in dropped)
    best = int(kept[0])
    for i in dropped:
        model.channel_weight[i] = 0.0
    model.channel_weight[best] += moved / max(channels[best].pushes_per_week, 1e-9)


def _batch(source: int, interest: float, worlds: np.ndarray, arriving: np.ndarray) -> tuple:
    """Prospects of one source arriving in each world: (source code, their mean interest, their world)."""
    return source, interest, np.repeat(worlds, arriving).astype(np.int16)


def segment_codes(model, archetype: np.ndarray, source: np.ndarray, world: np.ndarray) -> np.ndarray | None:
    """Each newcomer's segment (P13) when the policy runs groups by segment, else None; with
    worlds side by side (:class:`sim.engine.model.CommunityModel`), each newcomer's world."""
    if model.worlds > 1:
        return np.asarray(world, dtype=np.int16)
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
    if not day_zero and len(segments):
        quick = _place_in_newest(model, segments)
        if quick is not None:
            return quick
    for value in np.unique(segments):
        rows = np.flatnonzero(segments == value)
        out[rows] = _place(model, len(rows), int(value), day_zero)
    return out


def _place_in_newest(model, segments: np.ndarray) -> np.ndarray | None:
    """Newcomers by segment when each segment's newest group with room takes all of its own today
    (what :func:`_place` does then, for every segment in one lookup); None when one does not."""
    groups, settings = model.groups, model.policy.settings.groups
    cap = settings.cap
    room = groups.is_open & (groups.segment >= 0)
    if cap is not None:
        room &= groups.size < cap
    ids = np.flatnonzero(room)
    newest = np.full(max(int(segments.max()), int(groups.segment.max(initial=0))) + 1, -1, dtype=np.intp)
    newest[groups.segment[ids]] = ids  # later (newer) ids are written last
    out = newest[segments]
    if (out < 0).any():
        return None
    need = np.bincount(out, minlength=groups.count)
    if cap is not None and (groups.size + need > cap).any():
        return None
    groups.size[:] += need
    if cap is not None and settings.on_full == "close":
        filled = need > 0
        groups.is_open[filled & (groups.size >= cap)] = False
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
