"""Speed of ``sandbox observe``: reading an export and computing its fingerprint.

Run on its own:  python benchmarks/observe.py [--messages 1000000] [--members 20000]

Writes a synthetic export in the generic format (a CSV of messages over three years, a fifth of
them replies, with each member's joins) into a temporary folder, then times ``sandbox observe``
on it in a fresh process, whole (start-up, read, fingerprint) and by part.  Prints a table.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_export(path: Path, messages: int, members: int, seed: int = 1) -> None:
    """A chat of ``members`` over three years: heavy-tailed posting, a fifth of messages replies."""
    rng = np.random.default_rng(seed)
    span = 3 * 365 * 86_400
    joined = np.sort(rng.integers(0, span, members))
    weight = rng.lognormal(0, 2, members)
    who = rng.choice(members, size=messages, p=weight / weight.sum())
    at = joined[who] + (rng.random(messages) * (span - joined[who])).astype(np.int64)
    reply = np.where(rng.random(messages) < 0.2, rng.choice(members, size=messages), -1)
    names = np.array([f"user{i}" for i in range(members)])
    frame = pd.DataFrame(
        {
            "timestamp": np.concatenate([joined, at]),
            "member": np.concatenate([names, names[who]]),
            "kind": ["join"] * members + ["message"] * messages,
            "group": "synthetic",
            "reply_to": np.concatenate([np.full(members, ""), np.where(reply >= 0, names[np.maximum(reply, 0)], "")]),
        }
    )
    frame.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        synthetic_export(path, args.messages, args.members)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sim", "observe", str(path), "--json"], capture_output=True)
        whole = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode())
        from sim.activity.fingerprint import fingerprint
        from sim.activity.formats import read_activity

        started = time.perf_counter()
        events = read_activity(path)
        read = time.perf_counter() - started
        started = time.perf_counter()
        fingerprint(events)
        measure = time.perf_counter() - started
    print(f"{'messages':>10} {'members':>8} {'observe (s)':>12} {'read (s)':>9} {'fingerprint (s)':>16}")
    print(f"{args.messages:>10,} {args.members:>8,} {whole:>12.2f} {read:>9.2f} {measure:>16.2f}")


if __name__ == "__main__":
    main()
