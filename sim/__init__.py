"""A policy sandbox for community operations.

Load a scenario and a policy with :func:`load_setup`, then :func:`run` or :func:`compare`.

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
    from sim.config.scenario import Setup, load_setup
    from sim.runs.experiment import RunResult, compare, run
    from sim.runs.sweep import sweep

_WHERE = {
    "Setup": "sim.config.scenario",
    "load_setup": "sim.config.scenario",
    "RunResult": "sim.runs.experiment",
    "compare": "sim.runs.experiment",
    "run": "sim.runs.experiment",
    "sweep": "sim.runs.sweep",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = ["SandboxError", "RunResult", "Setup", "compare", "load_setup", "run", "sweep", "__version__"]
