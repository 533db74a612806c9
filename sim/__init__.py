"""A policy sandbox for community operations.

Load a scenario and a policy with :func:`load_setup`, then :func:`run` or :func:`compare`.
"""

from .errors import SandboxError
from .experiment import RunResult, compare, run
from .scenario import Setup, load_setup
from .sweep import sweep

__version__ = "0.1.0"

__all__ = ["SandboxError", "RunResult", "Setup", "compare", "load_setup", "run", "sweep", "__version__"]
