"""Members' random draws as a function of who, when and what for: common random numbers.

A member's uniform draw for one decision (a :data:`SITES` entry: opening the group, how much to
post, asking, being answered, leaving...) on one day is a hash of the world's key, the decision,
the day and the member's arrival number in their world (``serial``).  Nothing else enters it:
not how many other members drew that day, not which rows they sit in, not the other worlds of a
stack.  So the same member, on the same day, facing the same decision, in worlds of the same
key, draws the same number whatever the member model's parameters: two candidates of a
calibration differ by their parameters, not by their luck (common random numbers, the variance
reduction of simulated method of moments), and a world run side by side with others draws its
members' numbers as it would alone.

The hash chains the SplitMix64 finaliser (Steele, Lea & Flood 2014; the mixer of Java's
``SplittableRandom``, which as a generator over a counter passes BigCrush), each round a
bijection of 64 bits, over the key, the decision, the day and the member in turn; the top 24
bits of the last round give a float32 in [0, 1), as NumPy's float32 draws are
(tests/test_keyed_draws.py checks uniformity and independence across decisions, days and
neighbouring members).  Compiled with Numba, a million members' day costs about 7% more than
with stream draws (benchmarks/results.md); a small group's nothing measurable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
_TO_UNIT = np.float32(1.0 / (1 << 24))

SITES = {
    "active": 1,
    "posts": 2,
    "ask": 3,
    "answer": 4,
    "welcome": 5,
    "turn_spammer": 6,
    "refer": 7,
    "leave": 8,
    "interest": 9,
    "trust": 10,
    "habit": 11,
    "archetype": 12,
    "voice": 13,
    "frailty": 14,
}
"""The decisions a member draws for, and the traits they arrive with, each its own numbers (a new
one takes a new number: renumbering one changes every run's results).  Traits drawn before
admission (a prospect's interest, trust, habit and archetype) are keyed by the prospect's arrival
number; a member's voice and frailty by their member serial; both on day 0."""

DRAW_KEY = 0x6D656D62
"""The spawn key under which a replicate's seed gives its members' draws' key (apart from the
streams of :func:`sim.engine.model.replicate_seed`)."""


def world_keys(seed: int, replicates: Sequence[int]) -> np.ndarray:
    """The key of each world's members' draws: a function of the scenario's seed and the
    replicate whose draws the world takes (worlds of one replicate share their members' luck)."""
    return np.array(
        [
            np.random.SeedSequence(entropy=seed, spawn_key=(int(r), DRAW_KEY)).generate_state(1, np.uint64)[0]
            for r in replicates
        ],
        dtype=np.uint64,
    )


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def day_keys(keys, site, day):
    """Each world's key for one decision on one day."""
    out = np.empty(len(keys), dtype=np.uint64)
    s = np.uint64(site) * GOLDEN
    d = (np.uint64(day) + np.uint64(1)) * GOLDEN
    for w in range(len(keys)):
        out[w] = _mix(_mix(keys[w] + s) + d)
    return out


@njit(cache=True, nogil=True, inline="always")
def _member_key(key, serial):
    """A member's key under a world's key for one decision (or trait) and day."""
    return _mix(key + (np.uint64(serial) + np.uint64(1)) * GOLDEN)


@njit(cache=True, nogil=True)
def _unit(key, serial):
    return np.float32(_member_key(key, serial) >> _S40) * _TO_UNIT


@njit(cache=True, nogil=True)
def fill_range(keys_today, group, world_g, serial, out, lo, hi):
    """Draws of rows ``lo..hi`` into ``out[lo:hi]`` (``keys_today``: :func:`day_keys`)."""
    g, s, o = group[lo:hi], serial[lo:hi], out[lo:hi]
    for i in range(len(o)):
        o[i] = _unit(keys_today[world_g[g[i]]], s[i])


@njit(cache=True, nogil=True)
def fill_range_alone(key_today, serial, out, lo, hi):
    """:func:`fill_range` for a community alone (one world: no gather of each row's world key)."""
    s, o = serial[lo:hi], out[lo:hi]
    for i in range(len(o)):
        o[i] = _unit(key_today, s[i])


@njit(cache=True, nogil=True)
def fill_rows(keys_today, group, world_g, serial, rows, out):
    """Draws of the rows listed into ``out`` (one a row, in the list's order)."""
    for i in range(len(rows)):
        r = rows[i]
        out[i] = _unit(keys_today[world_g[group[r]]], serial[r])


# --- a member's traits at arrival: several draws from one key (the member's), sub-draw by sub-draw ---

_TO_UNIT64 = 1.0 / float(1 << 53)
_S11 = np.uint64(11)


@njit(cache=True, nogil=True, inline="always")
def _sub(h, j):
    """Sub-draw ``j`` of key ``h`` as a float64 in (0, 1)."""
    return (float(_mix(h + np.uint64(j + 1) * GOLDEN) >> _S11) + 0.5) * _TO_UNIT64


@njit(cache=True, nogil=True)
def _normal(h, j):
    """A standard normal from sub-draws ``j`` and ``j + 1`` (Box & Muller 1958)."""
    return np.sqrt(-2.0 * np.log(_sub(h, j))) * np.cos(2.0 * np.pi * _sub(h, j + 1))


@njit(cache=True, nogil=True)
def _gamma(h, j, shape):
    """A Gamma(shape, 1) draw from sub-draws ``j`` on (Marsaglia & Tsang 2000; a shape under 1
    raised by one and scaled by ``U ** (1 / shape)``); returns it and the next free sub-draw."""
    scale = 1.0
    if shape < 1.0:
        scale = _sub(h, j) ** (1.0 / shape)
        shape += 1.0
        j += 1
    d = shape - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    for _ in range(1000):  # rejects fewer than 5% of tries: this never runs out
        x = _normal(h, j)
        j += 2
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _sub(h, j)
        j += 1
        if np.log(u) < 0.5 * x * x + d - d * v + d * np.log(v):
            return d * v * scale, j
    return d * scale, j


@njit(cache=True, nogil=True)
def betas(keys_today, world, serial, a, b, out):
    """Beta(a[i], b[i]) draws as X / (X + Y) of two gamma draws, each member's from their key."""
    for i in range(len(out)):
        h = _member_key(keys_today[world[i]], serial[i])
        x, j = _gamma(h, 0, a[i])
        y, _ = _gamma(h, j, b[i])
        out[i] = x / (x + y) if x + y > 0.0 else a[i] / (a[i] + b[i])


@njit(cache=True, nogil=True)
def normals(keys_today, world, serial, out):
    """Standard normal draws, each member's from their key."""
    for i in range(len(out)):
        out[i] = _normal(_member_key(keys_today[world[i]], serial[i]), 0)


@njit(cache=True, nogil=True)
def uniforms(keys_today, world, serial, out):
    """Float64 uniform draws in (0, 1), each member's from their key."""
    for i in range(len(out)):
        out[i] = _sub(_member_key(keys_today[world[i]], serial[i]), 0)
