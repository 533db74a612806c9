"""Speed for calibration: a small group's year, and a whole fit of the real file.

Run on its own:  python benchmarks/calibration.py [--fit] [--workers 2] [--budget 96]

Prints the wall time of a 500-member group's year (the shipped existing-group under the
baseline policy, 365 days, one replicate, after a warm-up) with each daily phase, best of 5, run
alone and as one of K worlds side by side (``CommunityModel(worlds=K)``: the stack's time over
K), and lean as a calibration runs them (only the members and activity tables kept: no daily
row, no stage chart where no rule reads a stage); then a calibration search's stack on the real
file's history (its first two thirds: four candidates on two replicates each, run one by one and
side by side, each world its own parameters, as ``sandbox calibrate`` runs them); with
``--fit``, the wall time of ``sandbox calibrate`` on the real file in ``../shared/data`` over its
full span.  Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import sim
from sim.engine.model import CommunityModel

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "duraspace-irc.csv.gz"


def group_year(
    members: int = 500, days: int = 365, repeats: int = 5, worlds: int = 1, lean: bool = False
) -> tuple[float, dict[str, float]]:
    """Best wall time of ``worlds`` group-years side by side, over ``repeats`` runs, and its phases
    (``lean``: as a calibration runs them, keeping only the members and activity tables)."""
    setup = sim.load_setup(
        "existing-group",
        "baseline",
        sets=[f"population.initial_members={members}", f"days={days}", "replicates=1"],
        community_backend="numpy",
    )
    CommunityModel(setup, worlds=worlds).run()  # compile the kernels, warm the caches
    best, phases = float("inf"), {}
    for r in range(repeats):
        started = time.perf_counter()
        model = CommunityModel(setup, replicate=r, activity=True, worlds=worlds, lean=lean).run()
        seconds = time.perf_counter() - started
        if seconds < best:
            best, phases = seconds, dict(model.phase_seconds)
    return best, phases


def candidate_stack(candidates: int = 4, replicates: int = 2) -> tuple[float, float, int]:
    """Seconds for a search's candidates on the real file's history (fitted up to 2015-07-16),
    one simulation at a time and as one stack; and the history's days."""
    from sim.runs import fit_runs as run
    from sim.runs import fit_target as aim

    target = aim.target_of(str(REAL), format=None, group=None, until="2015-07-16")
    policy = run.operations_text(target.full_history)
    knobs = aim.knobs_for(target.history)
    defaults = aim.defaults_of(knobs)
    params = [{**defaults, "act_bias": -7.5 + 0.5 * c, "post_rate": 0.5} for c in range(candidates)]
    run.simulate_stack(
        run.Stack(
            run.scenario_data(target.history, {}, seed=0, replicates=1, name="warm-up", description=""),
            policy,
            tuple(params[:1]),
            1,
        )
    )
    started = time.perf_counter()
    for c in params:
        scenario = run.scenario_data(target.history, c, seed=0, replicates=replicates, name="c", description="")
        for r in range(replicates):
            run.simulate(run.Candidate(scenario, policy, r, target.history.joins_known))
    alone = time.perf_counter() - started
    started = time.perf_counter()
    scenario = run.scenario_data(target.history, {}, seed=0, replicates=1, name="stack", description="")
    run.simulate_stack(run.Stack(scenario, policy, tuple(params), replicates))
    return alone, time.perf_counter() - started, target.history.days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="also time a calibration of the real file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()}")
    print("members  worlds  lean  stack's year  a group-year  a group-day  phases of the stack (ms)")
    runs = [(m, w, False) for m, w in ((100, 1), (500, 1), (2000, 1), (500, 2), (500, 4), (500, 8), (500, 16))]
    for members, worlds, lean in runs + [(500, 1, True), (500, 8, True), (500, 16, True)]:
        seconds, phases = group_year(members, worlds=worlds, repeats=5 if worlds < 8 else 3, lean=lean)
        parts = "  ".join(f"{k} {v * 1000:.0f}" for k, v in phases.items())
        each = seconds / worlds
        print(
            f"{members:>7} {worlds:>7} {'yes' if lean else 'no':>5} {seconds * 1000:>10.0f} ms {each * 1000:>9.1f} ms "
            f"{each / 365 * 1000:>8.3f} ms  {parts}"
        )
    alone, side_by_side, days = candidate_stack()
    print(
        f"a search's 4 candidates x 2 replicates on the real file's history ({days} days): one by one "
        f"{alone:.1f} s, side by side {side_by_side:.1f} s ({alone / side_by_side:.1f} times faster)"
    )
    if args.fit:
        from sim.runs.calibration import DEFAULT_BUDGET, calibrate

        out = Path(tempfile.mkdtemp()) / "fit"
        started = time.perf_counter()
        result = calibrate(str(REAL), out, budget=args.budget or DEFAULT_BUDGET, workers=args.workers)
        seconds = time.perf_counter() - started
        print(
            f"calibrate {REAL.name}, full span, budget {result.fit['candidates']}, {args.workers} workers: "
            f"{seconds:.0f} s (distance {result.fit['distance']}, defaults {result.fit['distance_of_defaults']})"
        )
        shutil.rmtree(out.parent)


if __name__ == "__main__":
    main()
