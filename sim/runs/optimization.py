"""``sandbox optimize``: search the policy space for the best outcome per cost.

A strategist's question is rarely one A against one B: it is "the cheapest policy that keeps
day-30 retention above 0.4", or the trade-off between members kept and money spent.  This
module searches any ``--set`` paths (numeric ranges, integer or log scale, or lists of choices)
for one objective (Optuna's TPE sampler) or several (NSGA-II, and the Pareto front), under
constraints on any KPI (Optuna's constrained sampling).

- Every trial runs the same R replicates (replicate indices 0..R-1 of the scenario's seed):
  trials are compared on equal luck (common random numbers).
- Trials are asked in rounds (:mod:`sim.runs.rounds`), so one worker, two, or a Dask cluster
  give the same trials; the study lives in ``DIR/study.db`` (Optuna's RDB storage, SQLite), so a
  killed search resumes with ``--resume`` and loses no finished trial.
- The winner's curse: the best trials' scores are the luckiest draws of many.  The top
  candidates (or the Pareto front) and the starting policy are run again on fresh replicates
  (indices from :data:`REEVALUATION_FIRST`, disjoint from the search's), more of them, and what
  is reported is that re-evaluation with 95% intervals, not the search's own estimate.
- Writes ``best.yaml`` (one objective) or ``pareto/*.yaml`` (several): complete policy files,
  the starting policy's text with the values found, and a comment saying how they were found;
  ``trials.parquet`` (every trial: parameters, KPIs, constraints, state), ``optimization.json``
  (what stdout prints with ``--json``) and ``report.html``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.activity.pages import write_whole
from sim.config.edits import policy_with
from sim.config.files import parse_set, set_options, value_at
from sim.config.scenario import Setup
from sim.domain import content_hash
from sim.engine.metrics import KPI_MEANINGS
from sim.errors import SandboxError
from sim.runs.experiment import interval, kpi_bounds, run_replicate
from sim.runs.output_folder import claimed, write_json, write_marker, write_parquet
from sim.runs.pool import ordered_pool
from sim.runs.rounds import REASKED, ROUND, search_in_rounds

DEFAULT_TRIALS = 48
MAX_TRIALS = 5_000
TOP = 3
"""Candidates re-evaluated after a one-objective search (the best trials by the search's score)."""
MAX_FRONT = 8
"""Pareto-front points re-evaluated at most (evenly spread along the first objective)."""
REEVALUATION_FIRST = 1_000_000
"""The first replicate index of the re-evaluation: far from the search's 0..R-1."""
MIN_REEVALUATION = 10

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Knob:
    """One searched ``--set`` path: a numeric range (integer or log scale) or a list of choices."""

    path: str
    option: str
    low: float | None = None
    high: float | None = None
    integer: bool = False
    log: bool = False
    choices: tuple | None = None

    def distribution(self):
        import optuna

        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.integer:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def values_to_check(self) -> list:
        return list(self.choices) if self.choices is not None else [self.low, self.high]


def parse_search(option: str) -> Knob:
    """``KEY=LO:HI[:int|:log]`` or ``KEY=A,B,C``."""
    place = f"--search {option}"
    if "=" not in option:
        raise SandboxError("expected KEY=LO:HI[:int|:log] or KEY=A,B,C", place=place)
    key, raw = (part.strip() for part in option.split("=", 1))
    if not key:
        raise SandboxError("no path before '='", place=place)
    if ":" in raw and "," not in raw:
        parts = raw.split(":")
        flags = parts[2:]
        if len(parts) < 2 or any(f not in ("int", "log") for f in flags) or len(set(flags)) != len(flags):
            raise SandboxError("expected LO:HI, LO:HI:int, LO:HI:log or LO:HI:int:log", place=place)
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise SandboxError(f"'{parts[0][:20]}' or '{parts[1][:20]}' is not a number", place=place) from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise SandboxError("the range's ends must be finite numbers", place=place)
        if low >= high:
            raise SandboxError(f"the range {low:g}:{high:g} is empty; LO must be below HI", place=place)
        integer, log = "int" in flags, "log" in flags
        if integer and not (low.is_integer() and high.is_integer()):
            raise SandboxError("an integer range needs whole-number ends", place=place)
        if log and low <= 0:
            raise SandboxError("a log-scale range must start above 0", place=place)
        return Knob(key, option, low, high, integer, log)
    choices = tuple(parse_set(f"{key}={v.strip()}")[1] for v in raw.split(",") if v.strip())
    if len(choices) < 2 or len(set(map(repr, choices))) != len(choices):
        raise SandboxError("give two different choices or more, e.g. KEY=split,close", place=place)
    if any(not isinstance(c, str | int | float | bool) for c in choices):
        raise SandboxError("choices are numbers, true/false or words", place=place)
    return Knob(key, option, choices=choices)


@dataclass(frozen=True)
class Objective:
    kpi: str
    direction: str  # "maximize" or "minimize"


@dataclass(frozen=True)
class Constraint:
    """``KPI >= X`` (or <=, >, <) on a trial's mean over its replicates; > and >= are the same here."""

    kpi: str
    op: str
    bound: float
    text: str

    def violation(self, value: float | None) -> float:
        """Optuna's constraint value: 0 or less where the constraint holds."""
        if value is None or not math.isfinite(value):
            return math.inf
        return self.bound - value if self.op in (">=", ">") else value - self.bound

    def holds(self, value: float | None) -> bool:
        return self.violation(value) <= 0


def _kpi(name: str, place: str) -> str:
    if name not in KPI_MEANINGS:
        import difflib

        close = difflib.get_close_matches(name, KPI_MEANINGS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; KPIs: {', '.join(KPI_MEANINGS)}"
        raise SandboxError(f"unknown KPI '{name[:40]}'{hint}", place=place)
    return name


def parse_constraint(text: str) -> Constraint:
    match = _CONSTRAINT.match(text)
    if not match:
        raise SandboxError(
            "does not parse; write KPI >= NUMBER (or <=, >, <), e.g. 'retention_d30 >= 0.4'",
            place=f"--constraint {text[:60]}",
        )
    kpi, op, bound = match.groups()
    return Constraint(_kpi(kpi, f"--constraint {text[:60]}"), op, float(bound), text.strip())


@dataclass
class Optimization:
    """What a search found: the JSON document (``optimization.json``) and where its files are."""

    document: dict
    out: Path
    trials: pd.DataFrame


@dataclass(frozen=True)
class _Task:
    """One candidate's replicates: a worker's job (the setup travels whole; no file is read)."""

    setup: Setup
    replicates: tuple[int, ...]


def _kpis_of(task: _Task) -> list[dict]:
    """Each replicate's KPIs."""
    out = []
    for replicate in task.replicates:
        kpis = run_replicate(task.setup, replicate)["kpis"]
        out.append({k: (float(v) if v is not None else math.nan) for k, v in kpis.items() if k != "replicate"})
    return out


def _means(runs: list[dict]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in runs[0]:
        values = np.asarray([r[name] for r in runs], dtype=float)
        values = values[~np.isnan(values)]
        out[name] = float(values.mean()) if len(values) else None
    return out


def optimize(
    scenario: str | Path | Setup,
    policy: str | Path | None = None,
    *,
    search: Sequence[str],
    objectives: Sequence[tuple[str, str]],
    constraints: Sequence[str] = (),
    out: str | Path,
    trials: int = DEFAULT_TRIALS,
    replicates: int | None = None,
    workers: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    seed: int = 0,
    resume: bool = False,
    sets: Sequence[str] = (),
    progress: Callable[[int, int, str], None] | None = None,
) -> Optimization:
    """Search, re-evaluate, write; every check of the options happens before the first trial.

    ``scenario`` is a file, a shipped scenario's name or a loaded setup (each trial then built
    again from its contents with the trial's values)."""
    from sim.config.scenario import reload_setup, setup_from
    from sim.runs.output_folder import check_place
    from sim.runs.sweep import check_scheduler

    def load(options: list[str]) -> Setup:
        return setup_from(scenario, policy, options)

    out = Path(out)
    check_place(out)
    knobs = [parse_search(option) for option in search]
    if not knobs:
        raise SandboxError("give at least one --search KEY=LO:HI (or KEY=A,B,C)", place="--search")
    if len({k.path for k in knobs}) != len(knobs):
        raise SandboxError("a path is searched twice; give it once", place="--search")
    goals = [Objective(_kpi(kpi, f"--{direction} {kpi}"), direction) for direction, kpi in objectives]
    if not goals:
        raise SandboxError("give an objective: --maximize KPI or --minimize KPI", place="--maximize")
    if len({g.kpi for g in goals}) != len(goals):
        raise SandboxError("a KPI is an objective twice", place="--maximize")
    limits = [parse_constraint(text) for text in constraints]
    if not 1 <= trials <= MAX_TRIALS:
        raise SandboxError(f"give between 1 and {MAX_TRIALS:,} trials", place="--trials")
    if workers < 1:
        raise SandboxError("must be at least 1", place="--workers")
    if seed < 0:
        raise SandboxError("must be 0 or more", place="--seed")
    base = load(list(sets))
    replicates = replicates or base.scenario.replicates
    if not 1 <= replicates <= 1000:
        raise SandboxError("give between 1 and 1,000 replicates a trial", place="--replicates")
    for knob in knobs:  # every value a knob can take must load: a bad path or type fails now
        for value in knob.values_to_check():
            try:
                load([*sets, *set_options({knob.path: _plain(value, knob)})])
            except SandboxError as exc:
                raise SandboxError(exc.message, place=f"--search {knob.option}") from None
    if backend == "dask" and scheduler:
        check_scheduler(scheduler)

    spec = {
        "scenario": {
            "file": base.scenario_file if isinstance(scenario, Setup) else str(scenario),
            "hash": base.scenario_hash,
        },
        "policy": {"file": base.policy_file, "hash": base.policy_hash},
        "sets": list(sets),
        "search": [k.option for k in knobs],
        "objectives": [[g.direction, g.kpi] for g in goals],
        "constraints": [c.text for c in limits],
        "replicates": replicates,
        "seed": seed,
    }
    identity = content_hash(spec)
    _check_resumed_spec(out, spec, identity)
    manifest = {**spec, "optimization_id": identity}
    with claimed(out, kind="optimization", identity=identity, resume=resume, manifest=manifest, work="study.db"):
        with ordered_pool(backend, workers, scheduler) as pool:

            def setup_of(params: dict) -> Setup:  # the base built again with a trial's values: no file read
                return reload_setup(base, set_options({k.path: _plain(params[k.path], k) for k in knobs}))

            start = _start_values(base, knobs)
            study = _search(
                knobs, goals, limits, out / "study.db", trials, replicates, seed, pool, setup_of, progress, start
            )
            candidates = _candidates(study, goals, limits)
            reevaluated = _reevaluate(candidates, base, setup_of, replicates, pool)
        table = _trials_table(study, knobs, goals, limits)
        document = _document(spec, goals, limits, table, reevaluated, replicates)
        _write(out, base, goals, limits, study, table, document, reevaluated)
        write_marker(out, "optimization")
    return Optimization(document=document, out=out, trials=table)


def _plain(value: Any, knob: Knob) -> Any:
    """A knob's value as the --set value it stands for (whole numbers for an integer range)."""
    if hasattr(value, "item"):
        value = value.item()
    if knob.integer:
        return int(value)
    return value


def _check_resumed_spec(out: Path, spec: dict, identity: str) -> None:
    """A study on disk searched with other options cannot be resumed: say which differ."""
    import json

    manifest = out / "manifest.json"
    if not manifest.is_file():
        return
    try:
        before = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(before, dict) or "optimization_id" not in before or before["optimization_id"] == identity:
        return
    differ = [
        k
        for k in ("search", "objectives", "constraints", "replicates", "seed", "scenario", "policy", "sets")
        if before.get(k) != json.loads(json.dumps(spec[k]))
    ]
    raise SandboxError(
        f"holds a search with other {', '.join(differ) or 'options'}; resume with the same options "
        "or choose another --out folder",
        file=str(out),
    )


def _start_values(base: Setup, knobs: list[Knob]) -> dict:
    """The starting policy's own value of each searched path that lies in its range (or among
    its choices): the search's first candidate, so it knows where it starts from."""
    data = {**base.scenario.model_dump(mode="json"), "policy": base.policy.settings.model_dump(mode="json")}
    values = {}
    for knob in knobs:
        node = value_at(data, knob.path)
        if knob.choices is not None:
            if node in knob.choices:
                values[knob.path] = node
        elif isinstance(node, int | float) and not isinstance(node, bool) and knob.low <= node <= knob.high:  # type: ignore[operator]
            if not knob.integer or float(node).is_integer():
                values[knob.path] = int(node) if knob.integer else float(node)
    return values


def _search(
    knobs, goals, limits, path: Path, budget: int, replicates: int, seed: int, pool, setup_of, progress, start: dict
):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spaces = {k.path: k.distribution() for k in knobs}
    study = optuna.create_study(
        storage=f"sqlite:///{path.resolve()}",
        study_name="optimization",
        directions=[g.direction for g in goals],
        load_if_exists=True,
    )

    def sampler(round_seed: int):
        if len(goals) == 1:
            return optuna.samplers.TPESampler(
                seed=round_seed,
                multivariate=True,
                constant_liar=True,
                n_startup_trials=min(2 * ROUND, max(ROUND, budget // 4)),
            )
        return optuna.samplers.NSGAIISampler(seed=round_seed, population_size=2 * ROUND)

    failed = 0

    def evaluate(asked: list) -> None:
        nonlocal failed
        runs = pool.map(_kpis_of, [_Task(setup_of(t.params), tuple(range(replicates))) for t in asked])
        for trial, own in zip(asked, runs):
            means = _means(own)
            handle = optuna.trial.Trial(study, trial._trial_id)
            handle.set_user_attr("kpis", means)
            if limits:  # the samplers read a trial's constraints (0 or less: met) from the study
                violations = [c.violation(means[c.kpi]) for c in limits]
                handle.set_user_attr("constraints", violations)
                for k, value in enumerate(violations):
                    handle.set_constraint(f"c{k}", value)
            values = [means[g.kpi] for g in goals]
            if any(v is None for v in values):
                failed += 1
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial.number, [float(v) for v in values if v is not None])
        if failed > budget:
            raise SandboxError(
                f"the objective was undefined in {failed} candidates (a KPI needs runs long enough to "
                "measure it); choose another objective or a longer scenario",
                place="--maximize",
            )

    def told(done: int) -> None:
        if progress is not None:
            progress(done, budget, _best_text(study, goals))

    def first_candidate() -> None:
        state = optuna.trial.TrialState
        if start and not study.get_trials(deepcopy=False, states=(state.COMPLETE, state.RUNNING, state.WAITING)):
            study.enqueue_trial(start)  # the starting policy's own values, where they lie in the space

    search_in_rounds(
        study,
        spaces,
        budget=budget,
        seed=seed,
        sampler=sampler,
        evaluate=evaluate,
        before_rounds=first_candidate,
        progress=told,
    )
    return study


def _best_text(study, goals) -> str:
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return ""
    if len(goals) > 1:
        return f"front {len(study.best_trials)}"
    feasible = [t for t in complete if _feasible(t)]
    if not feasible:
        return "none feasible yet"
    pick = max if goals[0].direction == "maximize" else min
    return f"best {goals[0].kpi} {pick(t.values[0] for t in feasible):.4g}"


def _feasible(trial) -> bool:
    return all(v <= 0 for v in trial.user_attrs.get("constraints", []))


def _candidates(study, goals, limits) -> list:
    """What the re-evaluation runs again: the top trials (one objective) or the Pareto front."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(goals) == 1:
        sign = -1.0 if goals[0].direction == "maximize" else 1.0
        feasible = [t for t in complete if _feasible(t)]
        pool = feasible or sorted(complete, key=lambda t: sum(max(v, 0) for v in t.user_attrs["constraints"]))[:TOP]
        ranked = sorted(pool, key=lambda t: (sign * t.values[0], t.number))
        chosen, seen = [], set()
        for t in ranked:
            key = tuple(sorted(t.params.items()))
            if key not in seen:
                seen.add(key)
                chosen.append(t)
            if len(chosen) == TOP:
                break
        return chosen
    front = sorted(study.best_trials, key=lambda t: (t.values[0], t.number))
    if len(front) > MAX_FRONT:
        picks = np.unique(np.linspace(0, len(front) - 1, MAX_FRONT).round().astype(int))
        front = [front[i] for i in picks]
    return front


def _reevaluate(candidates, base: Setup, setup_of, replicates: int, pool) -> list[dict]:
    """The starting policy and each candidate on the same fresh replicates, with 95% intervals
    (and the paired difference from the start, replicate by replicate)."""
    count = max(MIN_REEVALUATION, 2 * replicates)
    indices = range(REEVALUATION_FIRST, REEVALUATION_FIRST + count)
    sides = [("start", None, base)] + [(f"trial {t.number}", t, setup_of(t.params)) for t in candidates]
    runs = pool.map(_kpis_of, [_Task(setup, tuple(indices)) for _, _, setup in sides])
    start_runs = runs[0]
    out = []
    for (name, trial, _), own in zip(sides, runs):
        kpis = {}
        for kpi in own[0]:
            values = np.asarray([r[kpi] for r in own], dtype=float)
            summary = interval(values, bounds=kpi_bounds(kpi))
            if trial is not None:
                diff = values - np.asarray([r[kpi] for r in start_runs], dtype=float)
                summary["vs_start"] = interval(diff)
            kpis[kpi] = summary
        out.append(
            {
                "name": name,
                "trial": None if trial is None else trial.number,
                "params": {} if trial is None else dict(trial.params),
                "search_values": None if trial is None else list(trial.values),
                "kpis": kpis,
            }
        )
    out[0]["replicates"] = {"first": indices.start, "count": count}
    return out


def _trials_table(study, knobs, goals, limits) -> pd.DataFrame:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(REASKED):
            continue
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name.lower()}
        for knob in knobs:
            value = t.params.get(knob.path)
            row[f"param:{knob.path}"] = str(value) if knob.choices is not None and value is not None else value
        for k, goal in enumerate(goals):
            row[f"objective:{goal.kpi}"] = t.values[k] if t.values is not None else None
        for c, value in zip(limits, t.user_attrs.get("constraints", [None] * len(limits))):
            row[f"constraint:{c.text}"] = value
        row["feasible"] = _feasible(t) if t.values is not None else None
        row.update({f"kpi:{name}": value for name, value in (t.user_attrs.get("kpis") or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _holds_all(kpis: dict, limits) -> bool:
    return all(c.holds(kpis[c.kpi]["mean"]) for c in limits)


def _document(spec, goals, limits, table: pd.DataFrame, reevaluated: list[dict], replicates: int) -> dict:
    chosen: dict[str, Any]
    candidates = reevaluated[1:]
    if len(goals) == 1:
        goal = goals[0]
        sign = 1.0 if goal.direction == "maximize" else -1.0
        meeting = [c for c in candidates if _holds_all(c["kpis"], limits)]

        def score(candidate: dict) -> tuple[bool, float]:  # undefined last; a mean of 0 is a mean
            mean = candidate["kpis"][goal.kpi]["mean"]
            return (mean is None, 0.0 if mean is None else -sign * mean)

        ranked = sorted(meeting or candidates, key=score)
        best = ranked[0] if ranked else None
        chosen = {"best": best and best["name"], "best_meets_constraints": bool(meeting)}
    else:
        chosen = {"pareto": [c["name"] for c in candidates]}
    complete = table[table["state"] == "complete"] if len(table) else table
    return {
        **spec,
        "trials": {
            "complete": int(len(complete)),
            "failed": int((table["state"] == "fail").sum()) if len(table) else 0,
        },
        "replicates_a_trial": replicates,
        "reevaluation": reevaluated[0]["replicates"],
        **chosen,
        "reevaluated": reevaluated,
    }


def _write(out: Path, base: Setup, goals, limits, study, table, document, reevaluated) -> None:
    from sim.runs.optimization_report import write_report

    write_parquet(table, out / "trials.parquet")
    text = Path(base.policy_file).read_text(encoding="utf-8")
    by_name = {c["name"]: c for c in reevaluated}

    def policy_file(candidate: dict, how: str) -> str:
        settings = policy_settings(candidate["params"])
        others = [
            f"--set {path}={value}" for path, value in candidate["params"].items() if not path.startswith("policy.")
        ]
        lines = [
            f"Found by sandbox optimize ({how}): trial {candidate['trial']} of {document['trials']['complete']}, "
            f"starting from {Path(base.policy_file).name}.",
            "Searched: " + "; ".join(document["search"]) + ".",
            f"Re-evaluated on {document['reevaluation']['count']} fresh replicates (95% intervals):",
            *(
                f"  {g.kpi}: {_fmt(candidate['kpis'][g.kpi])} (start: {_fmt(by_name['start']['kpis'][g.kpi])})"
                for g in goals
            ),
            *(f"  {c.text}: {_fmt(candidate['kpis'][c.kpi])}" for c in limits),
        ]
        if others:
            lines.append("Scenario settings this policy was found with: " + " ".join(others))
        return policy_with(text, settings, file=base.policy_file, header="\n".join(lines))

    if "best" in document and document["best"]:
        write_whole(out / "best.yaml", policy_file(by_name[document["best"]], "the best re-evaluated candidate"))
    if "pareto" in document:
        folder = out / "pareto"
        folder.mkdir(exist_ok=True)
        for k, name in enumerate(document["pareto"]):
            write_whole(
                folder / f"point-{k + 1:02d}.yaml", policy_file(by_name[name], f"point {k + 1} of the Pareto front")
            )
    write_json(out / "optimization.json", document)
    write_report(out / "report.html", study, document, goals, limits, table)


def policy_settings(params: dict) -> list[tuple[str, Any]]:
    """A candidate's values of policy paths, as settings inside the policy (without ``policy.``):
    what its policy file is the starting policy with.  Optuna gives each value its knob's type."""
    return [(path[len("policy.") :], value) for path, value in params.items() if path.startswith("policy.")]


def reported_kpis(document: dict) -> list[str]:
    """The KPIs a search's results show: its objectives, its constraints' KPIs, and the cost."""
    goals = [kpi for _, kpi in document["objectives"]]
    return list(dict.fromkeys(goals + [parse_constraint(c).kpi for c in document["constraints"]] + ["cost_total"]))


def _fmt(summary: dict) -> str:
    mean, (lo, hi) = summary["mean"], summary["ci95"]
    if mean is None:
        return "undefined"
    if lo is None:
        return f"{mean:.4g}"
    return f"{mean:.4g} [{lo:.4g}, {hi:.4g}]"


__all__ = [
    "optimize",
    "parse_search",
    "parse_constraint",
    "policy_settings",
    "reported_kpis",
    "Optimization",
    "DEFAULT_TRIALS",
    "REEVALUATION_FIRST",
]
