"""A policy sandbox for community operations.

From Python, one function per command (:mod:`sim.api`), each taking files, shipped names or
loaded setups alike and returning the tables the command writes: :func:`run`, :func:`compare`,
:func:`sweep`, :func:`observe`, :func:`calibrate`, :func:`optimize`; :func:`setup` (or :func:`load_setup`) loads a
scenario and its policy once.  ``CommunityModel`` is the model itself, for Mesa's tools.

The package is in layers, each importing only from the ones below it (``python -m sim.app.layers``
checks): ``errors``, ``domain`` and ``version`` at the bottom; ``rules`` (the policy language and
its back ends); ``config`` (files, parameters, policies, scenarios); ``engine`` (the model, the
member phases, state as columns); ``runs`` (replicates, sweeps, results on disk); ``app`` (CLI,
dashboard pages, views, reports).  This module is the public face over all of them.

Its names are imported on first use (PEP 562), so a command that needs only one layer (``sandbox
observe`` reads exports; it needs no engine) does not pay for loading them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sim.errors import SandboxError
from sim.version import __version__

if TYPE_CHECKING:
    from sim.api import Comparison, calibrate, compare, observe, optimize, run, setup, sweep
    from sim.config.scenario import Setup, load_setup
    from sim.engine.model import CommunityModel
    from sim.runs.experiment import RunResult

_WHERE = {
    "Setup": "sim.config.scenario",
    "load_setup": "sim.config.scenario",
    "RunResult": "sim.runs.experiment",
    "CommunityModel": "sim.engine.model",
    **dict.fromkeys(("setup", "run", "compare", "sweep", "observe", "calibrate", "optimize", "Comparison"), "sim.api"),
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = [
    "SandboxError",
    "CommunityModel",
    "Comparison",
    "RunResult",
    "Setup",
    "calibrate",
    "compare",
    "load_setup",
    "observe",
    "optimize",
    "run",
    "setup",
    "sweep",
    "__version__",
]
