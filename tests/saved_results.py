"""Results written by the command line, as a user's results folder would hold them: a comparison,
a calibration and a sweep, small and fast.  Shared by the dashboard's tests and the browser's."""

from __future__ import annotations

from pathlib import Path

from calibration_data import synthetic_export
from conftest import scenario

from sim.app.cli import main


def saved_comparison(out: Path, days: int = 20, replicates: int = 2) -> Path:
    """``sandbox compare existing-group --policy baseline --policy neglect --out OUT``."""
    args = ["--set", f"days={days}", "--replicates", str(replicates), "--out", str(out)]
    assert main(["compare", scenario("existing-group"), "--policy", "baseline", "--policy", "neglect", *args]) == 0
    return out


def saved_calibration(out: Path, export: Path, until: str | None = None) -> Path:
    """``sandbox calibrate`` with the smallest budget on a small group simulated at the defaults
    (16 weeks from Monday 1970-01-05; ``until``, a date to fit before)."""
    synthetic_export(export, {}, weeks=16, starting=40, per_week=3)
    held = ["--until", until] if until else []
    assert main(["calibrate", str(export), "--out", str(out), "--budget", "16", *held]) == 0
    return out


def saved_sweep(out: Path, replicates: int) -> Path:
    """``sandbox sweep existing-group --grid days=10,20`` on one worker."""
    args = ["--replicates", str(replicates), "--out", str(out), "--no-progress", "--workers", "1"]
    assert main(["sweep", scenario("existing-group"), "--grid", "days=10,20", *args]) == 0
    return out
