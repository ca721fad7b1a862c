#!/usr/bin/env python3
"""Local engine against a Ballista cluster on this machine: the shipped pipeline, same data.

    python3 tests/bench/ballista.py --beacon target/release/beacon --sizes 1M,10M

For each size: generates the sample data once (`beacon sample-data`, kept under WORK/data-N),
runs `beacon run pipelines/beacon.yaml` on the local engine, then starts 1 `beacon scheduler` and
`--executors` `beacon executor`s (`--vcores` task slots and `--executor-memory` each, own ports
on 127.0.0.1) and runs the same pipeline with `--engine ballista://...` and `target_partitions`
= the cluster's task slots. Prints, per run, wall time, CPU (user+sys) and peak RSS of the client
and of the cluster processes (GNU time), the phases from run_results.json (sources loaded by
the client; models; data tests) and the slowest models, and checks with
tests/scripts/compare_outputs.py (DuckDB) that both published the same rows. Needs the `beacon`
binary built with `--features ballista`, /usr/bin/time, and a Python with duckdb for the check
(`--python`, default .venv-test/bin/python). The runs' outputs are deleted after each size;
their logs and run_results.json are kept under WORK/logs/. A script, not a test: nothing here
runs in CI.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATE = "2026-11-15"


def leads(size):
    s = size.upper()
    return int(float(s[:-1]) * 1_000_000) if s.endswith("M") else int(float(s[:-1]) * 1000) if s.endswith("K") else int(s)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, log, env=None):
    """Runs cmd under GNU time; returns (exit code, wall, cpu, peak RSS MiB)."""
    stats = str(log) + ".time"
    start = time.time()
    with open(log, "w") as out:
        code = subprocess.call(["/usr/bin/time", "-f", "%U %S %M", "-o", stats] + cmd,
                               stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    wall = time.time() - start
    return (code, wall) + read_stats(stats)


def read_stats(path):
    try:
        lines = [l for l in Path(path).read_text().splitlines() if l and l[0].isdigit()]
        u, s, m = lines[-1].split()
        return float(u) + float(s), int(m) / 1024
    except (OSError, IndexError, ValueError):
        return float("nan"), float("nan")


def wait_port(port, what, log):
    start = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.time() - start > 60:
                sys.exit(f"{what} did not listen on {port}:\n{Path(log).read_text()}")
            time.sleep(0.05)


class Cluster:
    def __init__(self, beacon, work, executors, vcores, memory, keep_results):
        self.work, self.procs, self.logs = work, [], []
        self.port = free_port()
        self._start(beacon, ["scheduler", "--port", str(self.port),
                             "--keep-results-seconds", str(keep_results)], "scheduler")
        wait_port(self.port, "the scheduler", self.logs[-1])
        for i in range(executors):
            flight, grpc = free_port(), free_port()
            self._start(beacon, ["executor", "--scheduler", f"127.0.0.1:{self.port}",
                                 "--port", str(flight), "--grpc-port", str(grpc),
                                 "--vcores", str(vcores), "--memory-limit", memory,
                                 "--work-dir", str(work / f"executor-{i}")], f"executor-{i}")
            wait_port(flight, "an executor", self.logs[-1])

    def _start(self, beacon, args, name):
        log = self.work / f"{name}.log"
        out = open(log, "w")
        env = dict(os.environ, BEACON_LOG="warn")
        p = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", str(log) + ".time",
                              str(beacon)] + args, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        self.logs.append(log)

    def stop(self):
        """Stops every process (SIGTERM to each beacon); returns (cpu, peak RSS) per process."""
        for p in self.procs:
            # GNU time is the parent: signal its child, the beacon process.
            kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
            for k in kids:
                subprocess.call(["kill", k])
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return [read_stats(str(l) + ".time") for l in self.logs]


def phases(results):
    load = sum(s.get("seconds", 0) for s in results["sources"])
    tests = sum(t.get("seconds", 0) for t in results.get("tests", []))
    total = results["elapsed_seconds"]
    slow = sorted(results["models"], key=lambda m: -m["seconds"])[:6]
    return {"total": total, "load": load, "tests": tests, "models": total - load - tests,
            "slowest": ", ".join(f"{m['name']} {m['seconds']:.1f}" for m in slow)}


def run_pipeline(beacon, data, out, engine, extra, log):
    cmd = [str(beacon), "run", "pipelines/beacon.yaml", "--date", DATE, "--engine", engine,
           "--set", f"raw={out / 'raw'}", "--set", f"output={out / 'output'}",
           "--set", f"work={out / 'work'}"] + extra
    env = dict(os.environ, BEACON_SOURCES=str(data), BEACON_LOG="info")
    code, wall, cpu, rss = timed(cmd, log, env)
    results = json.loads((out / "output/_beacon/runs" / f"run_date={DATE}" / "run_results.json").read_text())
    r = {"wall": wall, "cpu": cpu, "rss": rss, **phases(results)}
    if code != 0:
        failed = [m for m in results["models"] if m.get("status") == "error"]
        r["failed"] = f"exit {code}: {', '.join(m['name'] for m in failed) or results.get('error', '')[:200]}"
        r["errors"] = [f"{m['name']}: {reason(m.get('error', ''))}" for m in failed]
        print(f"{engine} run failed, see {log}: {r['failed']}", file=sys.stderr)
    return r


def reason(error):
    """The gist of a model's error: what ran out (and the top consumer) or the first line."""
    lines = [l.strip() for l in error.splitlines() if l.strip()]
    for i, l in enumerate(lines):
        if "Failed to allocate" in l or "Resources exhausted" in l or "Not enough memory" in l:
            top = next((x for x in lines[i + 1:] if "consumed" in x), "")
            return (l[l.find("Resources exhausted"):] if "Resources exhausted" in l else l)[:300] + (f" (top: {top})" if top else "")
    return (lines[0] if lines else "")[:400]


def keep_logs(run_dir, dest):
    """Copies the run's and the cluster's logs (small) before the run's folder is deleted."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in list(run_dir.glob("*.log")) + list(run_dir.glob("*.time")):
        shutil.copy(f, dest / f.name)
    results = run_dir / "output/_beacon/runs" / f"run_date={DATE}" / "run_results.json"
    if results.exists():
        shutil.copy(results, dest / "run_results.json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--beacon", default=str(REPO / "target/release/beacon"))
    ap.add_argument("--sizes", default="1M,10M")
    ap.add_argument("--work", default="/tmp/bench-ballista")
    ap.add_argument("--executors", type=int, default=2)
    ap.add_argument("--vcores", type=int, default=1)
    ap.add_argument("--executor-memory", default="4GiB")
    ap.add_argument("--local-memory", default="8GiB", help="--memory-limit of the local run")
    ap.add_argument("--keep-results-seconds", type=int, default=120,
                    help="the scheduler's: how long a finished query's output stays on the executors")
    ap.add_argument("--python", default=str(REPO / ".venv-test/bin/python"))
    ap.add_argument("--keep-data", action="store_true", help="keep the generated CSVs")
    ap.add_argument("--engines", default="local,ballista", help="which runs (both: compared)")
    a = ap.parse_args()
    beacon, work = Path(a.beacon).resolve(), Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in a.sizes.split(","):
        n = leads(size)
        data = work / f"data-{n}"
        if not (data / ".complete").exists():
            shutil.rmtree(data, ignore_errors=True)
            subprocess.check_call([str(beacon), "sample-data", "--leads", str(n), "--out", str(data)],
                                  stdout=subprocess.DEVNULL)
            (data / ".complete").write_text("")
        csv = sum(f.stat().st_size for f in data.glob("*.csv"))
        free = shutil.disk_usage(work).free
        if free < 2.5 * csv:
            sys.exit(f"{size}: {free >> 30} GiB free, the runs need about {2.5 * csv / 2**30:.0f}")
        local, remote = work / f"local-{n}", work / f"cluster-{n}"
        for d in (local, remote):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        skipped = {"failed": "not run", "wall": 0, "cpu": 0, "rss": 0, "load": 0, "models": 0,
                   "tests": 0, "slowest": "", "cluster_cpu": 0, "cluster_rss": "-"}
        r_local = r_cluster = skipped
        if "local" in a.engines:
            r_local = run_pipeline(beacon, data, local, "local",
                                   ["--memory-limit", a.local_memory], local / "run.log")
        if "ballista" in a.engines:
            slots = a.executors * a.vcores
            # Only the local run's published tables are needed (for the comparison): its raw
            # zone and work folder make room for the cluster's shuffle files.
            for d in ("raw", "work"):
                shutil.rmtree(local / d, ignore_errors=True)
            cluster = Cluster(beacon, remote, a.executors, a.vcores, a.executor_memory,
                              a.keep_results_seconds)
            try:
                r_cluster = run_pipeline(beacon, data, remote,
                                         f"ballista://127.0.0.1:{cluster.port}",
                                         ["--set", f"target_partitions={slots}"], remote / "run.log")
            finally:
                stats = cluster.stop()
            r_cluster["cluster_cpu"] = sum(c for c, _ in stats)
            r_cluster["cluster_rss"] = ", ".join(f"{m:.0f}" for _, m in stats)
        if "failed" in r_local or "failed" in r_cluster:
            same, max_rel = None, 0.0
        else:
            tables = sorted(p.name for p in (local / "output").iterdir() if not p.name.startswith("_"))
            cmp = json.loads(subprocess.check_output(
                [a.python, str(REPO / "tests/scripts/compare_outputs.py"), str(local / "output"),
                 str(remote / "output"), DATE] + tables))
            same = all(c["only_a"] == 0 and c["only_b"] == 0 and c["rows_a"] == c["rows_b"]
                       for c in cmp.values())
            max_rel = max(c["max_relative_difference"] for c in cmp.values())
        rows.append((size, r_local, r_cluster, same, max_rel))
        for d in (local, remote):
            keep_logs(d, work / "logs" / d.name)
            shutil.rmtree(d, ignore_errors=True)
        if not a.keep_data:
            shutil.rmtree(data, ignore_errors=True)

    print(f"\ncluster: 1 scheduler (--keep-results-seconds {a.keep_results_seconds}) + "
          f"{a.executors} executors x {a.vcores} vcores, --memory-limit {a.executor_memory} each; "
          f"local: --memory-limit {a.local_memory}\n")
    print("| leads | engine | wall s | client CPU s | client peak RSS MiB | cluster CPU s | cluster peak RSS MiB (scheduler, executors) | load s | models s | tests s | same rows |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    for size, l, c, same, max_rel in rows:
        check = ("-" if same is None else "yes" if same else "NO") + f" (max rel. float diff {max_rel:.1e})"
        for name, r, extra in (("local", l, "| - | - "), ("ballista", c, f"| {c['cluster_cpu']:.1f} | {c['cluster_rss']} ")):
            status = f"FAILED ({r['failed']})" if "failed" in r else check if name == "ballista" else ""
            print(f"| {size} | {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss']:.0f} {extra}| {r['load']:.1f} | {r['models']:.1f} | {r['tests']:.1f} | {status} |")
    print()
    for size, l, c, _, _ in rows:
        print(f"{size} slowest models, local: {l['slowest']}")
        print(f"{size} slowest models, ballista: {c['slowest']}")
        for name, r in (("local", l), ("ballista", c)):
            for e in r.get("errors", []):
                print(f"{size} {name} failed: {e}")
    print(f"\nlogs and run_results.json of each run: {work / 'logs'}")


if __name__ == "__main__":
    main()
