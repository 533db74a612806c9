"""A study searched in rounds: the same trials whatever runs them, and a killed search resumed exactly.

Optuna proposes candidates one at a time; a search that runs several at once asks a round of
:data:`ROUND` trials, evaluates them on any number of workers, and tells their results in the
order they were asked.  Each round's sampler is seeded from the search's seed and the round's
number, so one worker, two, or a cluster ask the very same trials.  The study lives in Optuna's
RDB storage (SQLite), so a killed search resumes from what was told: a round that was asked
whole and not told is evaluated again as it was asked, and a round killed while being asked
(some of its trials not yet asked, or without all their parameters) is failed whole and asked
again under the same seed.  A round is marked asked whole only once its last trial is asked:
evaluating a part of a round would let the sampler ask its other trials with different
knowledge, and the search would no longer be the one never stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ROUND = 8
"""Trials asked together: independent of the number of workers, so results are too."""

REASKED = "reasked"
"""The user attribute of a trial failed because its round was killed while being asked."""

ASKED_WHOLE = "round_asked_whole"
"""The user attribute of every trial of a round once the whole round has been asked."""


def search_in_rounds(
    study: Any,
    spaces: dict[str, Any],
    *,
    budget: int,
    seed: int,
    sampler: Callable[[int], Any],
    evaluate: Callable[[list], None],
    before_rounds: Callable[[], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Ask, evaluate and tell rounds until ``budget`` trials are complete.

    ``sampler(round_seed)`` makes a round's sampler; ``evaluate(trials)`` tells every trial it
    is given (complete, or failed where its result is undefined: a failed trial is asked again
    in a later round); ``before_rounds`` runs once the study's state is mended (a search's
    first candidates enqueued there); ``progress(complete)`` is told after each round.
    """
    import optuna

    state = optuna.trial.TrialState
    running = [t for t in study.get_trials(deepcopy=False) if t.state == state.RUNNING]
    if any(set(t.params) != set(spaces) or not t.user_attrs.get(ASKED_WHOLE) for t in running):
        for t in running:
            optuna.trial.Trial(study, t._trial_id).set_user_attr(REASKED, True)
            study.tell(t.number, state=state.FAIL)
    if before_rounds is not None:
        before_rounds()
    waiting = [t for t in study.get_trials(deepcopy=False) if t.state == state.RUNNING]
    if waiting:  # a killed search left its last round asked and not told: those same trials first
        evaluate(waiting)
    while True:
        done = len(study.get_trials(deepcopy=False, states=(state.COMPLETE,)))
        if progress is not None:
            progress(done)
        if done >= budget:
            return
        asked = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(REASKED)]
        round_no = sum(t.state != state.WAITING for t in asked) // ROUND  # a re-asked round keeps its seed
        study.sampler = sampler(int(seed) * 100_003 + round_no)
        trials = [study.ask(spaces) for _ in range(min(ROUND, budget - done))]
        for trial in trials:  # only now is the round whole: a kill before this re-asks it
            trial.set_user_attr(ASKED_WHOLE, True)
        evaluate(trials)


def cma_es_in_rounds(study: Any, seed: int) -> Any:
    """Optuna's CMA-ES sampling one generation a round (:data:`ROUND` trials), warm-started from
    the study's complete trials that another sampler asked (WS-CMA-ES: the best tenth of them give
    its mean and spread).

    CMA-ES seeds each trial's draw with the trial's number, and a round asked again after a kill
    takes later numbers than the round never stopped did; this sampler numbers a trial by its
    place among the trials not failed for :data:`REASKED`, so a resumed search asks what one
    never stopped would."""
    import copy
    import warnings

    import optuna

    class Renumbered(optuna.samplers.CmaEsSampler):
        def sample_relative(self, study, trial, search_space):
            skipped = sum(
                1 for t in study.get_trials(deepcopy=False) if t.number < trial.number and t.user_attrs.get(REASKED)
            )
            if skipped:
                trial = copy.copy(trial)
                trial.number -= skipped
            return super().sample_relative(study, trial, search_space)

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    explored = sorted((t for t in complete if "cma:generation" not in t.system_attrs), key=lambda t: t.number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # source_trials
        return Renumbered(seed=seed, popsize=ROUND, source_trials=explored)
