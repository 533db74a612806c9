"""The dashboard's runner: requests from many threads, each run in a worker process, results exact."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from conftest import policy, scenario

import sim
from sim.errors import SandboxError
from sim.runs import isolated
from sim.runs.experiment import run_replicate


def test_requests_from_several_threads_match_runs_in_this_process():
    """Six overlapping requests with durable-rules community rules (what crashed the server in threads)."""
    text = open(policy("community-playbook")).read()
    sets = ("days=30",)
    local = sim.load_setup(scenario("existing-group"), "edited policy", list(sets), policy_text=text)
    serial = [run_replicate(local, r)["daily"] for r in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        requests = [
            pool.submit(isolated.replicates, scenario("existing-group"), text, sets, range(r, r + 1)) for r in range(6)
        ]
        threaded = [f.result()[0]["daily"] for f in requests]
    for a, b in zip(serial, threaded):
        pd.testing.assert_frame_equal(a, b)


def test_a_worker_that_dies_costs_one_request_not_the_server():
    text = open(policy("baseline")).read()
    pool = isolated._pool()
    for pid in {pool.submit(os.getpid).result() for _ in range(8)}:
        os.kill(pid, signal.SIGKILL)  # as a crash in durable-rules' C core would
    with pytest.raises(SandboxError, match="stopped in its worker process"):
        isolated.replicates(scenario("existing-group"), text, ("days=5",), range(2))
    again = isolated.replicates(scenario("existing-group"), text, ("days=5",), range(1))
    assert len(again[0]["daily"]) == 5
