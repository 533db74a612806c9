"""The ``sandbox`` command: run, compare and validate scenarios and policies.

    sandbox run SCENARIO [--policy FILE] [--set KEY=VALUE]... [--replicates N] [--seed S]
                [--days D] [--out DIR] [--json] [--workers N] [--engine vector|agents]
    sandbox compare SCENARIO --policy A --policy B [the same options]
    sandbox validate FILE...
    sandbox explain OUT_DIR (--member ID | --group ID) [--replicate R]
    sandbox sweep SCENARIO [--policy FILE] --grid KEY=V1,V2... | --sample lhs|sobol|morris --n N
                  --range KEY=LO:HI...  --replicates R --out DIR [--backend local|dask] [--resume]
    sandbox report DIR [--kpi NAME]... [--sensitivity]
    sandbox dashboard [-- STREAMLIT OPTIONS]
    sandbox examples DIR
    sandbox mechanisms

SCENARIO and FILE may name a shipped file (``existing-group``, ``baseline``) from any directory.

A user's mistake prints one line (``error: file:line: place: problem; fix``) and exits 2,
with no traceback and no output directory left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from sim.activity.formats import FORMATS
from sim.app.across_fit import across, region_candidates, region_comparisons
from sim.app.across_fit import table as across_table
from sim.app.comparison import SIDES, check_sides, comparison
from sim.app.report import run_table
from sim.config.library import copy_examples, library_dir
from sim.config.scenario import MAX_REPLICATES, load_setup, validate_file
from sim.domain import newcomer_since
from sim.errors import INTERNAL_ERROR_EXIT, USER_ERROR_EXIT, SandboxError
from sim.runs.output_folder import check_target, write_result
from sim.version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandbox", description="A policy sandbox for community operations.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("scenario", help="a scenario YAML file")
        p.add_argument(
            "--set",
            dest="sets",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a scenario field (days=90, params.act_bias=-3) or, with policy., "
            "a policy field (policy.groups.cap=150)",
        )
        p.add_argument("--replicates", type=int, help="replicates (default: the scenario's)")
        p.add_argument("--seed", type=int, help="seed (default: the scenario's)")
        p.add_argument("--days", type=int, help="horizon in days (default: the scenario's)")
        p.add_argument("--out", help="write Parquet tables, summary.json and manifest.json into this new folder")
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="replace the result already in --out (only one this tool wrote, holding nothing else)",
        )
        p.add_argument("--json", action="store_true", help="print exactly one JSON object")
        p.add_argument("--all", action="store_true", help="also print the KPIs that are zero throughout")
        p.add_argument("--workers", type=int, help="processes for replicates (default: automatic)")
        p.add_argument(
            "--rules-backend",
            default="numpy",
            help="engine for member rules and titles: numpy (fast, default) or durable "
            "(durable-rules, for audit and small runs)",
        )
        p.add_argument(
            "--community-backend",
            default="durable",
            help="engine for community rules: durable (durable-rules, default) or numpy",
        )
        p.add_argument(
            "--engine",
            default="vector",
            help="member engine: vector (NumPy columns, default) or agents (one mesa.Agent per "
            "member: the readable reference, for a few thousand members)",
        )

    p_run = sub.add_parser("run", help="run a scenario under a policy")
    common(p_run)
    p_run.add_argument("--policy", help="a policy file (default: the scenario's)")

    p_cmp = sub.add_parser(
        "compare", help="compare policies on one scenario, paired by seed: each against the first (A)"
    )
    common(p_cmp)
    p_cmp.add_argument(
        "--policy", action="append", required=True, help="policy A (the baseline), then B, and more if wanted"
    )
    p_cmp.add_argument(
        "--practical",
        action="append",
        default=[],
        metavar="[KPI=]SHARE",
        help="the smallest difference that matters, as a share of A's value (default 0.01): for every KPI, "
        "or KPI=SHARE for one (repeatable)",
    )
    p_cmp.add_argument(
        "--across-fit",
        action="store_true",
        help="on a calibrated scenario: compare also under the candidates that fit the export as well "
        "(fit.json's region), and say whether each verdict holds across them",
    )

    p_val = sub.add_parser("validate", help="check scenario and policy files without running them")
    p_val.add_argument("files", nargs="+")

    p_sw = sub.add_parser("sweep", help="run a design of parameter values with replicates, results as Parquet")
    p_sw.add_argument("scenario")
    p_sw.add_argument("--policy", help="a policy file (default: the scenario's)")
    p_sw.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a swept --set path and its values (full factorial over every --grid)",
    )
    p_sw.add_argument("--sample", choices=["lhs", "sobol", "morris"], help="a sampled design instead of a grid")
    p_sw.add_argument("--n", type=int, help="sample size (for sobol: base samples, N x (k + 2) points)")
    p_sw.add_argument("--range", dest="ranges", action="append", default=[], metavar="KEY=LO:HI")
    p_sw.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="a fixed override for every run"
    )
    p_sw.add_argument("--replicates", type=int)
    p_sw.add_argument("--out", required=True)
    p_sw.add_argument("--backend", default="local", help="local (a process pool) or dask")
    p_sw.add_argument("--workers", type=int, help="processes (default: the CPU count)")
    p_sw.add_argument("--scheduler", help="a Dask scheduler address to join instead of a local cluster")
    p_sw.add_argument("--resume", action="store_true", help="skip finished runs, redo failed or missing ones")
    p_sw.add_argument("--rules-backend", default="numpy")
    p_sw.add_argument("--community-backend", default="durable")
    p_sw.add_argument("--no-progress", action="store_true", help="no progress bar")

    p_rep = sub.add_parser("report", help="summarise a sweep: per point, main effects, sensitivity")
    p_rep.add_argument("out")
    p_rep.add_argument("--kpi", action="append", help="a KPI to report (repeatable)")
    p_rep.add_argument("--sensitivity", action="store_true", help="Sobol or Morris indices (SALib)")

    p_mech = sub.add_parser("mechanisms", help="which code implements each mechanism, its parameters, its scenarios")
    p_mech.add_argument(
        "--scenarios",
        default=str(library_dir("scenarios")),
        help="the folder of scenarios to search (default: the shipped ones)",
    )

    p_dash = sub.add_parser(
        "dashboard",
        help="open the dashboard, with the engine loaded before the first visit",
        description="Start the Streamlit dashboard (dashboard.py) in this process after "
        "importing the engine and charting libraries, so the first visit "
        "does not wait for them. Options after -- go to 'streamlit run'.",
    )
    p_dash.add_argument(
        "--results",
        default="results",
        help="the folder whose runs and sweeps the Results view may open (default: ./results); "
        "the dashboard reads no other results folder",
    )
    p_dash.add_argument(
        "streamlit_args", nargs=argparse.REMAINDER, help="options for streamlit run, such as --server.port 8502"
    )

    p_obs = sub.add_parser("observe", help="a real group's fingerprint from an export of its activity")
    p_obs.add_argument(
        "source",
        help="an export (generic CSV/Parquet, Telegram result.json, WhatsApp .txt, Slack folder or zip, "
        "DiscordChatExporter JSON/CSV, QQ .txt, WeChatMsg CSV) or a run's --out folder",
    )
    p_obs.add_argument("--format", choices=FORMATS, help="the export's format, when it cannot be told from the file")
    p_obs.add_argument("--group", help="only this group of the export")
    p_obs.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p_obs.add_argument("--plots", help="write each group's curves (PNG) and fingerprint.json into this new folder")
    p_obs.add_argument("--overwrite", action="store_true", help="replace a --plots folder this tool wrote before")

    p_cal = sub.add_parser(
        "calibrate",
        help="fit the model to a real group's export; write a scenario of that group, fit.json and report.html",
    )
    p_cal.add_argument("source", help="an export, in any format 'sandbox observe' reads")
    p_cal.add_argument("--out", required=True, help="a new folder (or this fit's own, with --resume)")
    p_cal.add_argument("--format", choices=FORMATS, help="the export's format, when it cannot be told from the file")
    p_cal.add_argument("--group", help="the group to fit (default: the export's busiest)")
    p_cal.add_argument("--until", metavar="YYYY-MM-DD", help="fit on the data before this date; check on the rest")
    p_cal.add_argument(
        "--budget",
        type=int,
        default=None,
        help="candidates to simulate, over up to 4 searches of at least 128 (default: 512)",
    )
    p_cal.add_argument("--workers", type=int, default=1, help="processes (default: 1)")
    p_cal.add_argument("--backend", default="local", help="local (a process pool) or dask")
    p_cal.add_argument("--scheduler", help="a Dask scheduler address to join instead of a local cluster")
    p_cal.add_argument("--seed", type=int, default=0)
    p_cal.add_argument("--resume", action="store_true", help="go on with the fit already in --out")
    p_cal.add_argument("--json", action="store_true", help="print exactly one JSON object: fit.json")

    p_opt = sub.add_parser(
        "optimize",
        help="search policy settings for the best outcome (per cost): TPE for one objective, NSGA-II's front for more",
    )
    p_opt.add_argument("scenario", help="a scenario file, a shipped scenario's name, or a calibrated group's scenario")
    p_opt.add_argument("--policy", help="the starting policy (default: the scenario's)")
    p_opt.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="KEY=LO:HI[:int|:log] | KEY=A,B,C",
        help="a --set path to search: a range (integer, log scale) or choices (repeatable)",
    )
    p_opt.add_argument(
        "--maximize", dest="objectives", action="append", default=[], metavar="KPI", type=lambda k: ("maximize", k)
    )
    p_opt.add_argument(
        "--minimize", dest="objectives", action="append", default=[], metavar="KPI", type=lambda k: ("minimize", k)
    )
    p_opt.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar='"KPI >= X"',
        help="a bound a policy must meet (repeatable)",
    )
    p_opt.add_argument("--trials", type=int, default=None, help="trials to complete (default: 48)")
    p_opt.add_argument(
        "--replicates", type=int, help="replicates a trial, the same seeds for all (default: the scenario's)"
    )
    p_opt.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="fixed settings")
    p_opt.add_argument("--workers", type=int, default=1, help="processes (default: 1)")
    p_opt.add_argument("--backend", default="local", help="local (a process pool) or dask")
    p_opt.add_argument("--scheduler", help="a Dask scheduler address to join instead of a local cluster")
    p_opt.add_argument("--seed", type=int, default=0, help="the search's seed (the runs use the scenario's)")
    p_opt.add_argument("--out", required=True, help="a new folder (or this search's own, with --resume)")
    p_opt.add_argument("--resume", action="store_true", help="go on with the search already in --out")
    p_opt.add_argument("--json", action="store_true", help="print exactly one JSON object: optimization.json")

    p_ex = sub.add_parser("examples", help="copy the shipped scenarios and policies into a folder, for editing")
    p_ex.add_argument("out", help="a new or empty folder")

    p_exp = sub.add_parser("explain", help="which rules fired for a member or a group of a run written with --out")
    p_exp.add_argument("out", help="a directory written by 'sandbox run --out' (or one side, A or B, of compare)")
    who = p_exp.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", type=int, help="a member_id from members.parquet")
    who.add_argument("--group", type=int, help="a group id")
    p_exp.add_argument("--replicate", type=int, default=0)
    return parser


def _sets(args) -> list[str]:
    sets = list(args.sets)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.days is not None:
        sets.append(f"days={args.days}")
    if args.replicates is not None:
        if args.replicates < 1:
            raise SandboxError("must be at least 1", place="--replicates")
        if args.replicates > MAX_REPLICATES:
            raise SandboxError(f"at most {MAX_REPLICATES:,} replicates per run", place="--replicates")
        sets.append(f"replicates={args.replicates}")
    if args.workers is not None and args.workers < 1:
        raise SandboxError("must be at least 1", place="--workers")
    return sets


def _backends(args) -> dict:
    return {"rules_backend": args.rules_backend, "community_backend": args.community_backend, "engine": args.engine}


@contextlib.contextmanager
def _progress(args, total: int, days: int):
    """A progress bar of replicates on the terminal (stderr); nothing when output is not a terminal or with --json."""
    if args.json or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=f"replicates of {days} days", unit="replicate", file=sys.stderr, leave=False) as bar:
        yield lambda: bar.update(1)


def cmd_run(args) -> int:
    from sim.runs.experiment import run
    from sim.runs.store import run_summary, write_run

    setup = load_setup(args.scenario, args.policy, _sets(args), **_backends(args))
    if args.out is not None:  # refuse a bad --out before the run, not after it
        check_target(Path(args.out), overwrite=args.overwrite)
    with _progress(args, setup.scenario.replicates, setup.scenario.days) as done:
        result = run(setup, workers=args.workers, audit=args.out is not None, activity=args.out is not None, done=done)
    summary = run_summary(result)
    if args.out is not None:
        write_result(args.out, "run", lambda tmp: write_run(tmp, result), overwrite=args.overwrite)
    print(json.dumps(summary) if args.json else run_table(summary, show_all=args.all))
    return 0


def cmd_compare(args) -> int:
    from sim.runs.experiment import run_many
    from sim.runs.store import run_summary, write_run

    check_sides(len(args.policy), "--policy", " (--policy A --policy B ...)")
    practical = _practical(args.practical)
    sets = _sets(args)
    region = region_candidates(args.scenario) if args.across_fit else []
    setups = [load_setup(args.scenario, p, sets, **_backends(args)) for p in args.policy]
    if args.out is not None:
        check_target(Path(args.out), overwrite=args.overwrite)
    recorded = args.out is not None
    replicates = setups[0].scenario.replicates
    with _progress(args, replicates * len(setups) * (1 + len(region)), setups[0].scenario.days) as done:
        results = run_many(setups, replicates, workers=args.workers, audit=recorded, activity=recorded, done=done)
        others = region_comparisons(
            region,
            lambda extra: [load_setup(args.scenario, p, sets + extra, **_backends(args)) for p in args.policy],
            replicates,
            args.workers,
            practical,
            done,
        )
    compared = comparison(results, practical)
    document = compared.document
    if region:
        document["across_fit"] = across(compared, others)
    if args.out is not None:

        def write(tmp: Path) -> None:
            from sim.app.comparison_report import write_report

            for side, result in zip(SIDES, results):
                write_run(tmp / side, result)
            (tmp / "comparison.json").write_text(json.dumps(document, indent=2))
            dailies = [(str(run_summary(r)["policy"]), r.daily) for r in results]
            write_report(tmp / "report.html", document, dailies)

        write_result(args.out, "comparison", write, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(document))
    else:
        print(compared.table(show_all=args.all))
        if region:
            print("\n" + across_table(document["across_fit"], str(document["A"]["policy"])))
    return 0


def _practical(options: list[str]) -> dict[str, float]:
    """``--practical SHARE`` (every KPI, as ``*``) and ``--practical KPI=SHARE`` (one KPI)."""
    from sim.app.report import KPI_GROUPS

    known = {name for names in KPI_GROUPS.values() for name in names}
    out: dict[str, float] = {}
    for option in options:
        name, _, text = option.rpartition("=")
        try:
            share = float(text)
        except ValueError:
            share = math.nan
        if not (math.isfinite(share) and 0 <= share <= 10):
            raise SandboxError(
                f"'{text[:20]}' is not a share from 0 to 10 (0.05 is 5%)", place=f"--practical {option[:40]}"
            )
        if name and name not in known:
            raise SandboxError(f"unknown KPI '{name[:40]}'; see the names 'compare' prints", place="--practical")
        out[name or "*"] = share
    return out


"""The folders of a comparison's policies under ``--out``: A is the first (the baseline)."""


def cmd_explain(args) -> int:
    from sim.engine.audit import explain
    from sim.runs.store import read_table

    out = Path(args.out)
    paths = [out / "firings.parquet", out / "conditions.parquet"]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SandboxError(
            "no audit trail here; write one with 'sandbox run SCENARIO --out DIR' "
            "(for compare, point at DIR/A or DIR/B)",
            file=str(out),
        )
    firings, conditions = (read_table(p) for p in paths)
    members = read_table(out / "members.parquet")  # whole rows: a member's path is told from theirs
    members = members[members["replicate"] == args.replicate]
    if members.empty:
        raise SandboxError(f"this result has no replicate {args.replicate}", place="--replicate")
    if args.member is not None and args.member not in set(members["member_id"]):
        raise SandboxError(
            f"no member {args.member} in replicate {args.replicate}; member ids here run from "
            f"{members['member_id'].min()} to {members['member_id'].max()}",
            place="--member",
        )
    if args.group is not None and args.group not in set(members["group"]):
        raise SandboxError(
            f"no group {args.group} in replicate {args.replicate}; groups here: 0 to {members['group'].max()}",
            place="--group",
        )
    lines = explain(firings, conditions, member=args.member, group=args.group, replicate=args.replicate)
    nothing = "  no rule fired for them" if args.member is not None else "  no community rule fired for it"
    fired = [nothing] if lines[0].startswith("nothing fired") else lines[1:]
    if args.member is not None:
        row = members[members["member_id"] == args.member].iloc[0]
        lines = [f"member {args.member}, replicate {args.replicate}:", *_member_path(out, row), *fired]
    elif (out / "groups.parquet").is_file():
        from sim.engine.audit import group_path

        groups = read_table(out / "groups.parquet")
        own = groups[(groups["replicate"] == args.replicate) & (groups["group"] == args.group)]
        path = ["  " + line for line in group_path(own)] if len(own) else []
        lines = [f"group {args.group}, replicate {args.replicate}:", *path, *fired]
    print("\n".join(lines))
    return 0


def _member_path(out: Path, row) -> list[str]:
    """The member's path (their ``row`` of the members table) and, if they left, the hazard terms of
    their last day (sim.engine.audit.member_path)."""
    from sim.engine.audit import member_path

    names = ("source", "archetype", "status", "title", "exit_cause")  # categories: their names, as text
    record: dict[str, Any] = {
        k: str(v) if k in names else (v.item() if hasattr(v, "item") else v) for k, v in row.to_dict().items()
    }
    try:
        params = json.loads((out / "manifest.json").read_text())["params"]
        exit_day = record["exit_day"] if record["status"] != "member" else -1
        silent = record["days_inactive"] >= params["silent_after_days"]
        newcomer = record["join_day"] > newcomer_since(exit_day, params["newcomer_days"])
    except (OSError, ValueError, KeyError, TypeError):
        raise SandboxError("manifest.json is missing or unreadable; write the run again", file=str(out)) from None
    return ["  " + line for line in member_path(record, params, silent=silent, newcomer=newcomer)]


def cmd_sweep(args) -> int:
    from sim.runs.sweep import sweep

    result = sweep(
        args.scenario,
        args.policy,
        grid=args.grid,
        sample=args.sample,
        n=args.n,
        ranges=args.ranges,
        replicates=args.replicates,
        out=args.out,
        backend=args.backend,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        sets=args.sets,
        rules_backend=args.rules_backend,
        community_backend=args.community_backend,
        progress=not args.no_progress,
    )
    runs = result.runs
    ok = int((runs["status"] == "ok").sum()) if len(runs) else 0
    print(f"{len(runs)} runs in {args.out}: {ok} ok, {result.failed} failed")
    if result.failed:
        failed = runs[runs["status"] != "ok"]
        for row in failed.head(5).itertuples(index=False):
            print(f"  {row.run_id}: {row.error}", file=sys.stderr)
        print(f"error: {result.failed} runs failed; fix the cause and finish with --resume", file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    import pandas as pd

    from sim.runs.analysis import report

    tables = report(args.out, args.kpi, args.sensitivity)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(tables["points"].to_string(index=False, max_rows=40))
        if "sensitivity" in tables:
            print()
            print(tables["sensitivity"].to_string(index=False))
            if tables["sensitivity"].attrs.get("warning"):
                print(tables["sensitivity"].attrs["warning"])
    print(f"\nwritten to {Path(args.out) / 'report'}")
    return 0


def cmd_dashboard(args) -> int:
    """Warm the process (imports, a small run) and hand it to Streamlit, which runs dashboard.py here."""
    script = Path(__file__).resolve().parent / "dashboard.py"  # the page, shipped in the package
    import altair  # noqa: F401  (what dashboard.py imports: loaded once, here)
    import pandas  # noqa: F401
    from streamlit.web import cli as streamlit_cli

    from sim.app import views  # noqa: F401
    from sim.runs import isolated

    # the dashboard runs simulations in worker processes: start them (and pay their first-use
    # costs: imports, the durable-rules host, compiled kernels) before any visit
    warm = library_dir("scenarios") / "existing-group.yaml"
    isolated.replicates(
        str(warm),
        (library_dir("policies") / "baseline.yaml").read_text(),
        ("days=3", "population.initial_members=50"),
        range(2),
    )
    os.environ["SANDBOX_RESULTS_ROOT"] = str(Path(args.results).resolve())  # read by the Results view
    extra = [a for a in args.streamlit_args if a != "--"]
    # No Python error reaches a visitor's page (it would show server paths); the page shows one line.
    sys.argv = ["streamlit", "run", str(script), "--client.showErrorDetails", "none", *extra]
    return streamlit_cli.main()


def cmd_mechanisms(args) -> int:
    from sim.app.mechanisms import render, table

    print(render(table(Path(args.scenarios))))
    return 0


def cmd_observe(args) -> int:
    from sim.activity.fingerprint import fingerprint
    from sim.activity.formats import read_activity

    source = Path(args.source)
    if args.plots is not None:  # refuse a bad folder before reading a large export, not after
        check_target(Path(args.plots), overwrite=args.overwrite, option="--plots")
    events = read_activity(source, format=args.format)
    if args.group is not None:  # the same check and message as calibrate's
        from sim.activity.history import one_group

        _, events = one_group(events, args.group, source=str(source))
    groups = fingerprint(events)
    if args.plots is not None:
        from sim.activity.plots import write_plots

        write_result(
            args.plots,
            "observation",
            lambda tmp: write_plots(events, groups, tmp, str(source)),
            overwrite=args.overwrite,
        )
    if args.json:
        print(json.dumps({"source": str(source), "groups": {g: {"measures": m} for g, m in groups.items()}}))
    else:
        for name, measures in groups.items():
            print(f"group {''.join(c if c.isprintable() else '?' for c in name)}")  # no terminal escapes
            for key, value in measures.items():
                print(f"  {key:<20} {'-' if value is None else value}")
    return 0


@contextlib.contextmanager
def _study_bar(args, total: int, unit: str):
    """A progress bar on a terminal for a search in rounds (calibrate, optimize): yields
    ``update(done, budget, best_text)``, or None when stderr is not a terminal or --json is given."""
    if args.json or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=unit, file=sys.stderr) as bar:

        def update(done: int, budget: int, best: str) -> None:
            bar.total = budget
            bar.n = done
            bar.set_postfix_str(best)

        yield update


def cmd_calibrate(args) -> int:
    from sim.activity.fit_report import EDGE_WORDS, choice_note
    from sim.runs.calibration import DEFAULT_BUDGET, calibrate

    if args.workers < 1:
        raise SandboxError("must be at least 1", place="--workers")
    if args.seed < 0:
        raise SandboxError("must be 0 or more", place="--seed")
    with _study_bar(args, args.budget or DEFAULT_BUDGET, "candidates") as bar:
        progress = None if bar is None else lambda done, budget, best: bar(done, budget, f"best distance {best:.3f}")
        result = calibrate(
            args.source,
            args.out,
            format=args.format,
            group=args.group,
            until=args.until,
            budget=args.budget or DEFAULT_BUDGET,
            workers=args.workers,
            backend=args.backend,
            scheduler=args.scheduler,
            seed=args.seed,
            resume=args.resume,
            progress=progress,
        )
    fit = result.fit
    if args.json:
        print(json.dumps(fit))
        return 0
    print(
        f"fitted {fit['candidates']} candidates: distance {fit['distance']} (defaults: {fit['distance_of_defaults']})"
    )
    if note := choice_note(fit):
        print(f"  {note}")
    print(f"  {'measure':<24} {'observed':>9} {'interval':>19} {'simulated':>10}       {'a run':>19}")
    for name, m in fit["measures"].items():
        interval = "-" if m["interval"] is None else f"{m['interval'][0]:.3g} to {m['interval'][1]:.3g}"
        band = "-" if m["predicted"] is None else f"{m['predicted'][0]:.3g} to {m['predicted'][1]:.3g}"
        shown = [("-" if m[k] is None else f"{m[k]:.4g}") for k in ("observed", "simulated")]
        mark = "met" if m["met"] else ("off" if m["observed"] is not None else "")
        plausible = "plausible" if m["plausible"] else ""
        print(f"  {name:<24} {shown[0]:>9} {interval:>19} {shown[1]:>10}  {mark:<4} {band:>19}  {plausible}")
    met = sum(m["met"] for m in fit["measures"].values())
    plausible = sum(m["plausible"] for m in fit["measures"].values())
    given = sum(m["observed"] is not None for m in fit["measures"].values())
    print(f"  {met} of {given} measures met (in the observed interval, or within 25% of the observed value)")
    print(f"  {plausible} of {given} plausible (the observed value in the range of 95% of the fitted model's runs)")
    print("  parameters (fitted; interval: candidates within the 95% chi-square bound of the best; searched):")
    for name, p in fit["params"].items():
        edge = f"  at the {EDGE_WORDS[p['at_edge']]} of its range" if p["at_edge"] else ""
        edge += "  not pinned down" if p.get("pinned") is False else ""
        print(
            f"    {name:<22} {p['value']:>10.4g}   {p['interval'][0]:.3g} to {p['interval'][1]:.3g}"
            f"   (searched {p['searched'][0]:.3g} to {p['searched'][1]:.3g}){edge}"
        )
    edges = [name for name, p in fit["params"].items() if p["at_edge"]]
    if edges:
        print(
            f"  {', '.join(edges)} at an edge of the searched range: the model strains to fit this export there "
            "(the others may make up for it)"
        )
    loose = [name for name, p in fit["params"].items() if p.get("pinned") is False]
    if loose:
        print(
            f"  {', '.join(loose)} not pinned down: the export fits about as well with any value in 90% or more "
            "of the searched range; read them as unknown"
        )
    if fit["held_out"]:
        w = fit["held_out"]["weekly_posters"]
        print(
            f"  held out from {fit['held_out']['from']}: posters a week {w['observed_mean']} observed, "
            f"{w['simulated_mean']} simulated (error {w['model_mean_abs_error']}), naive {w['naive_forecast']} "
            f"(error {w['naive_mean_abs_error']})"
        )
        if w.get("region") and fit["held_out"]["region"]["candidates"]:
            print(
                f"  candidates that fit the earlier years as well forecast {w['region'][0]} to {w['region'][1]} "
                f"posters a week ({fit['held_out']['region']['candidates']} of them, spread across the accepted region)"
            )
    print(
        f"wrote {Path(args.out) / 'scenario.yaml'}, fit.json and report.html; next: sandbox compare "
        f"{Path(args.out) / 'scenario.yaml'} --policy {Path(args.out) / 'operations.yaml'} --policy POLICY"
    )
    return 0


def cmd_optimize(args) -> int:
    from sim.runs.optimization import DEFAULT_TRIALS, optimize

    with _study_bar(args, args.trials or DEFAULT_TRIALS, "trials") as progress:
        result = optimize(
            args.scenario,
            args.policy,
            search=args.search,
            objectives=args.objectives,
            constraints=args.constraint,
            out=args.out,
            trials=args.trials or DEFAULT_TRIALS,
            replicates=args.replicates,
            workers=args.workers,
            backend=args.backend,
            scheduler=args.scheduler,
            seed=args.seed,
            resume=args.resume,
            sets=args.sets,
            progress=progress,
        )
    document = result.document
    if args.json:
        print(json.dumps(document))
        return 0
    print(optimization_table(document))
    return 0


def optimization_table(document: dict) -> str:
    """The text ``sandbox optimize`` prints: the re-evaluated candidates beside the start."""

    def short(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"

    def shown(summary: dict | None) -> str:
        if not summary or summary.get("mean") is None:
            return "-"
        lo, hi = summary["ci95"]
        return short(summary["mean"]) + ("" if lo is None else f" [{short(lo)}, {short(hi)}]")

    from sim.runs.optimization import reported_kpis

    kpis = reported_kpis(document)
    reeval = document["reevaluation"]
    lines = [
        f"{document['trials']['complete']} trials of {document['replicates_a_trial']} replicates; "
        f"re-evaluated on {reeval['count']} fresh replicates (means, 95% intervals):"
    ]
    for c in document["reevaluated"]:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in c["params"].items())
        lines.append(f"  {c['name']}{': ' + params if params else ' (the policy as written)'}")
        for kpi in kpis:
            diff = c["kpis"][kpi].get("vs_start")
            lines.append(f"    {kpi:<28} {shown(c['kpis'][kpi]):>30}" + (f"   vs start {shown(diff)}" if diff else ""))
    if "best" in document:
        note = "" if document["best_meets_constraints"] else " (no re-evaluated candidate met every constraint)"
        lines.append(f"best: {document['best']}{note}; written as best.yaml")
    else:
        lines.append(f"Pareto front: {len(document['pareto'])} points, written as pareto/*.yaml")
    return "\n".join(lines)


def cmd_examples(args) -> int:
    copied = copy_examples(args.out)
    print(
        f"{len(copied)} files copied to {args.out}: scenarios/, policies/ (edit them, then "
        f"'sandbox run {Path(args.out) / 'scenarios' / 'existing-group.yaml'}')"
    )
    return 0


def cmd_validate(args) -> int:
    for path in args.files:
        kind = validate_file(path)
        print(f"{path}: ok ({kind})")
    return 0


def _check_environment() -> None:
    from sim.engine.state import row_threads

    try:
        row_threads.threads_from_env()
    except ValueError:
        raise SandboxError(
            f"{row_threads.ENV} must be a whole number of threads from 1 to 256, or unset", place=row_threads.ENV
        ) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check_environment()
        commands = {
            "run": cmd_run,
            "compare": cmd_compare,
            "validate": cmd_validate,
            "explain": cmd_explain,
            "sweep": cmd_sweep,
            "report": cmd_report,
            "mechanisms": cmd_mechanisms,
            "examples": cmd_examples,
            "observe": cmd_observe,
            "calibrate": cmd_calibrate,
            "optimize": cmd_optimize,
            "dashboard": cmd_dashboard,
        }
        return commands[args.command](args)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (sandbox run --json | head): nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a fault of the sandbox, not of the user's input
        print(bug_report(exc, argv if argv is not None else sys.argv[1:]), file=sys.stderr)
        return INTERNAL_ERROR_EXIT


def bug_report(exc: BaseException, argv: list[str]) -> str:
    """A short report of an internal failure: what ran, the versions, the traceback, where to send it."""
    import platform
    import traceback

    trace = "".join(traceback.format_exception(exc)).rstrip()
    return (
        f"internal error: {type(exc).__name__}: {exc}\n"
        "This is a bug in the sandbox, not a mistake in your files. Please report it with this text:\n"
        f"  command: sandbox {' '.join(argv)}\n"
        f"  version: {__version__}, Python {platform.python_version()} on {platform.platform()}\n"
        f"{trace}"
    )


if __name__ == "__main__":
    sys.exit(main())
