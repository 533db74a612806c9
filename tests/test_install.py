"""A regular (non-editable) install works from any directory: the wheel carries everything it reads.

Both are in the slow tier (CI runs it): one installs the wheel, without dependencies, into a new
virtual environment that borrows the test environment's third-party packages; the other installs
it with all its dependencies into an empty one, as a user would.
Both then run the main job from a directory that holds nothing of the repository.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)], check=True, cwd=out
    )
    (built,) = out.glob("community_sandbox-*.whl")
    return built


def _venv(where: Path, borrow: bool) -> Path:
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    if borrow:  # the test environment's third-party packages, after the new environment's own
        own = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        Path(own, "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["SANDBOX_ROW_THREADS"] = "1"
    return env


def _main_job(python: Path, cwd: Path) -> None:
    bin_dir = python.parent
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import sim, sim.config.library as l; print(sim.__file__); print(l.library_dir('scenarios'))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
    ).stdout.split()
    assert str(python.parent.parent) in where[0], f"sim imported from {where[0]}, not the installed wheel"
    assert "library" in where[1]
    proc = subprocess.run(
        [
            str(bin_dir / "sandbox"),
            "compare",
            "existing-group",
            "--policy",
            "baseline",
            "--policy",
            "weekly-ritual",
            "--days",
            "20",
            "--replicates",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == {"A", "B", "diff", "verdict"}
    proc = subprocess.run(
        [str(bin_dir / "sandbox"), "examples", "mine"], capture_output=True, text=True, cwd=cwd, env=_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert (cwd / "mine" / "policies" / "stages" / "default.yaml").is_file()
    proc = subprocess.run(
        [str(bin_dir / "sandbox"), "run", "mine/scenarios/paid-small-group.yaml", "--days", "10", "--replicates", "1"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow  # a wheel build and a venv: 40 s of the default tier's budget
def test_the_wheel_runs_the_main_job_from_another_directory(wheel, tmp_path):
    python = _venv(tmp_path / "venv", borrow=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _main_job(python, elsewhere)


@pytest.mark.slow
def test_the_wheel_installs_with_its_dependencies_into_an_empty_venv(wheel, tmp_path):
    python = _venv(tmp_path / "venv", borrow=False)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=1800)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _main_job(python, elsewhere)
