"""A policy sandbox for community operations.

Load a scenario and a policy with :func:`load_setup`, then :func:`run` or :func:`compare`.

The package is in layers, each importing only from the ones below it (``python -m sim.app.layers``
checks): ``errors``, ``domain`` and ``version`` at the bottom; ``rules`` (the policy language and
its back ends); ``config`` (files, parameters, policies, scenarios); ``engine`` (the model, the
member phases, state as columns); ``runs`` (replicates, sweeps, results on disk); ``app`` (CLI,
dashboard pages, views, reports).  This module is the public face over all of them.
"""

from sim.config.scenario import Setup, load_setup
from sim.errors import SandboxError
from sim.runs.experiment import RunResult, compare, run
from sim.runs.sweep import sweep
from sim.version import __version__

__all__ = ["SandboxError", "RunResult", "Setup", "compare", "load_setup", "run", "sweep", "__version__"]
