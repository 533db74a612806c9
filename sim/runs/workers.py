"""Worker processes that die with the process that started them.

A pool's workers are separate processes; if the parent is killed (``kill -9``, a crashed
server) nothing tells them, and they would go on running and writing results.  Every pool of
the sandbox starts its workers through :func:`worker_guard`.
"""

from __future__ import annotations

import os
import time

from sim.engine.state import row_threads


def worker_guard(parent: int) -> None:
    """Set up a pool worker: one row thread, and exit as soon as the process that started it is gone.

    A daemon thread checks twice a second that the parent process is still the worker's parent
    (an orphan is re-parented, so ``getppid`` changes).  Not ``PR_SET_PDEATHSIG``: Linux sends
    that when the parent *thread* exits, and a server starts its workers from short-lived
    request threads.
    """
    import threading

    row_threads.one_thread()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="sandbox-parent-watch", daemon=True).start()
