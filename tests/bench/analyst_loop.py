#!/usr/bin/env python3
"""Benchmark of the analyst's loop on the shipped project: `beacon validate`, `beacon show` and
`beacon run --select`, each run N times as its own process (wall time, median and range).

    cargo build --release
    python3 tests/bench/analyst_loop.py --runs 10            # appends to tests/bench/RESULTS.md

Standard library only. `validate` reads no data; `show` and `--select` read the last committed run,
so the script first runs the whole pipeline once into a scratch folder (not measured).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DATE = "2026-11-15"


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beacon", default=str(REPO / "target/release/beacon"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    beacon = args.beacon
    scratch = Path(tempfile.mkdtemp(prefix="beacon-loop-"))
    sets = [f"raw={scratch}/raw", f"output={scratch}/out", f"work={scratch}/work"]
    common = ["pipelines/beacon.yaml"] + [a for s in sets for a in ("--set", s)]
    env = dict(os.environ, BEACON_LOG="warn")
    timed([beacon, "run", *common, "--date", DATE], env)  # the committed run the others read
    steps = {
        "validate": [beacon, "validate", *common],
        "show funnel_stage_metrics": [beacon, "show", "funnel_stage_metrics", *common, "--date", DATE],
        "run --select funnel_stage_metrics": [beacon, "run", *common, "--date", DATE, "--select", "funnel_stage_metrics"],
        "run --select int_lead_features+": [beacon, "run", *common, "--date", DATE, "--select", "int_lead_features+"],
    }
    rows = []
    for name, cmd in steps.items():
        times = [timed(cmd, env) for _ in range(args.runs)]
        rows.append((name, statistics.median(times), min(times), max(times)))
    load = os.getloadavg()[0]
    head = (f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: analyst loop on the shipped project, "
            f"{args.runs} runs each\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load average {load:.2f} at the end. Binary `{Path(beacon).relative_to(REPO) if beacon.startswith(str(REPO)) else beacon}`. "
            f"Wall time of the whole process (start-up included), seconds.\n\n"
            "| step | median | min | max |\n| --- | ---: | ---: | ---: |\n")
    table = "".join(f"| `beacon {n}` | {m:.3f} | {lo:.3f} | {hi:.3f} |\n" for n, m, lo, hi in rows)
    text = head + table
    print(text)
    if not args.no_record:
        with open(REPO / "tests/bench/RESULTS.md", "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
