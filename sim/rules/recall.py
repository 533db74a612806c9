"""What durable-rules answered for each group's last situation, so an unchanged situation is not asked again.

A group's *situation* is the truth of every comparison its conditions make (``active_ratio_7d <
0.15``, ``weekday == 4``, ``stage == 'decline'``...) and whether each number they read is finite
(a value that is not arrives at durable-rules as null).  A condition is an and/or of its
comparisons (:func:`sim.rules.expr.comparisons`), so two facts in the same situation get the
same answer from the engine, however their numbers differ.  This is what a Rete network does
with facts that did not change: nothing.  The engine is asked about a group on the first day it
is seen and on each day its situation changed; on other days its last answer stands.

At a platform's scale (thousands of groups) most groups' situations hold from one day to the
next, and the engine's cost is per fact (the C core parses and walks each), so this is where
durable-rules' day goes from tens of milliseconds to a few.  The comparisons are evaluated as
NumPy masks (:mod:`sim.rules.numpy_backend`), which agree with durable-rules term by term
(``tests/test_backends.py``); the engine still decides which rules hold for every situation.

Only entities that keep their index for the whole run can be recalled: groups (their index is
their id), not member rows (compaction moves them).
"""

from __future__ import annotations

import numpy as np

from sim.rules.expr import comparisons, fields_used
from sim.rules.numpy_backend import compile_mask

WORD = 64  # terms packed into each unsigned 64-bit word of a situation


class Situations:
    """The situation of each row under some conditions: its terms' truths packed into 64-bit words."""

    def __init__(self, conditions: list[tuple], vocab):
        terms: list[tuple] = []
        for condition in conditions:
            for term in comparisons(condition):
                if term not in terms:
                    terms.append(term)
        self.terms = terms
        self.masks = [compile_mask(term, vocab) for term in terms]
        names: set[str] = set()
        for condition in conditions:
            names |= fields_used(condition)
        self.numbers = sorted(n for n in names if vocab.fields[n].kind == "num")
        self.words = max(1, -(-len(self) // WORD))

    def __len__(self) -> int:
        """Bits in a situation: a term's truth each, then each number's finiteness."""
        return len(self.terms) + len(self.numbers)

    def used_by(self, conditions: list[tuple]) -> np.ndarray:
        """The bits ``conditions`` depend on, as the words of a situation (a mask to ``&`` with one)."""
        used = np.zeros(self.words, dtype=np.uint64)
        bits = [self.terms.index(t) for c in conditions for t in comparisons(c)]
        bits += [
            len(self.terms) + self.numbers.index(n) for c in conditions for n in fields_used(c) if n in self.numbers
        ]
        for bit in bits:
            used[bit // WORD] |= np.uint64(1) << np.uint64(bit % WORD)
        return used

    def of(self, env, rows: np.ndarray) -> np.ndarray:
        """Each row's situation (rows x words, uint64)."""
        out = np.zeros((self.words, len(rows)), dtype=np.uint64)
        with np.errstate(invalid="ignore"):
            for bit in range(len(self)):
                if bit < len(self.masks):
                    truth = self.masks[bit](env)[rows]
                else:
                    values = np.asarray(env[self.numbers[bit - len(self.masks)]])  # a column, or one number (the day)
                    if values.dtype.kind in "biu":  # whole numbers are always finite
                        out[bit // WORD] |= np.uint64(1) << np.uint64(bit % WORD)
                        continue
                    truth = np.isfinite(values[rows] if values.ndim else np.full(len(rows), values))
                out[bit // WORD] |= truth.astype(np.uint64) << np.uint64(bit % WORD)
        return out.T


class Recall:
    """Each group's last situation and the engine's answer to it: which of ``outcomes`` held.

    ``extra`` words a row belong to the situation too, given by the caller (a group's stage).
    """

    def __init__(self, situations: Situations, outcomes: int = 0, extra: int = 0):
        self.situations = situations
        self.outcomes = outcomes
        self.width = situations.words + extra
        self.keys = np.zeros((0, self.width), dtype=np.uint64)
        self.seen = np.zeros(0, dtype=bool)
        self.answers = np.zeros((0, outcomes), dtype=bool)

    def changed(
        self, env, ids: np.ndarray, relevant: np.ndarray | None = None, extra: np.ndarray | None = None
    ) -> np.ndarray:
        """Which of ``ids`` (unique) are in a situation the engine has not answered for them
        (first seen, or changed since), as a mask over ``ids``; their new situations are kept.
        ``relevant`` (ids x words) keeps only the bits each row's answer depends on."""
        self._grow(int(ids.max()) + 1 if len(ids) else 0)
        keys = self.situations.of(env, ids)
        if relevant is not None:
            keys &= relevant
        if extra is not None:
            keys = np.concatenate([keys, extra.reshape(len(ids), -1).astype(np.uint64)], axis=1)
        new = ~self.seen[ids] | (keys != self.keys[ids]).any(axis=1)
        asked = ids[new]
        self.keys[asked] = keys[new]
        self.seen[asked] = True
        return new

    def answer(self, asked: np.ndarray, hits: list[np.ndarray]) -> None:
        """The engine's answer for the ``asked`` ids: the ids each outcome held for."""
        self.answers[asked] = False
        for k, rows in enumerate(hits):
            self.answers[rows, k] = True

    def held(self, ids: np.ndarray) -> list[np.ndarray]:
        """For each outcome, the ``ids`` it holds for in their current situations (in ids' order)."""
        answers = self.answers[ids]
        return [ids[answers[:, k]] for k in range(self.outcomes)]

    def forget(self) -> None:
        """Forget every situation (the run released its state in the engine)."""
        self.seen[:] = False

    def _grow(self, count: int) -> None:
        if count > len(self.seen):
            more = max(count, 2 * len(self.seen)) - len(self.seen)
            self.keys = np.concatenate([self.keys, np.zeros((more, self.width), dtype=np.uint64)])
            self.seen = np.concatenate([self.seen, np.zeros(more, dtype=bool)])
            self.answers = np.concatenate([self.answers, np.zeros((more, self.outcomes), dtype=bool)])
