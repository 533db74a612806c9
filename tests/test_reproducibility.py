"""The same scenario, seed and replicates give bit-identical tables, on any back end."""

from __future__ import annotations

import pandas as pd
from conftest import policy, scenario

import sim


def _tables(workers, sets=()):
    setup = sim.load_setup(scenario("existing-group"), policy("tiered-reactivation"), ["days=60", *sets])
    result = sim.run(setup, replicates=4, workers=workers)
    return result


def test_second_run_is_bit_identical():
    first, second = _tables(1), _tables(1)
    for name in ("daily", "members", "actions", "kpis"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name), check_exact=True)


def test_parallel_workers_give_the_same_tables_as_serial():
    serial, parallel = _tables(1), _tables(2)
    for name in ("daily", "members", "actions", "kpis"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(parallel, name), check_exact=True)


def test_a_different_seed_gives_a_different_run():
    a, b = _tables(1), _tables(1, ["seed=8"])
    assert not a.daily["active"].equals(b.daily["active"])


def test_replicate_results_do_not_depend_on_how_many_replicates_run():
    setup = sim.load_setup(scenario("existing-group"), None, ["days=40"])
    three = sim.run(setup, replicates=3, workers=1).kpis
    five = sim.run(setup, replicates=5, workers=1).kpis
    pd.testing.assert_frame_equal(three, five.iloc[:3])
