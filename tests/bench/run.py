#!/usr/bin/env python3
"""Beacon benchmark harness (issue 8): Beacon against DuckDB and Polars on the same files.

For each size (leads) it generates the five datasets with `beacon sample-data`, then runs N times
(median reported), each step in its own process measured like /usr/bin/time -v (wall clock,
user+sys CPU, peak RSS, from os.wait4):

  load     Beacon: the shipped pipeline with an empty models folder (load phase only);
           DuckDB / Polars: the same CSVs, the same contract types -> zstd Parquet
  cohorts  Beacon: campaign_cohorts_weekly + funnel_cohorts_monthly and only the models they need
           (copied from sql/ at run time), sources read from the raw-zone Parquet of the load step;
           DuckDB: the same SQL files rendered; Polars: a hand translation (tests/bench/peers/)
  full     Beacon: the whole shipped pipeline from the CSVs (all sources, all models)

and once, at the largest size, the full pipeline with --memory-limit 2GiB (issue 8's memory cap).
Peers' outputs are checked against Beacon's (row counts; every value of the two marts; the loaded
tables' contents up to --verify-content-max leads). Prints a Markdown report and appends it to
tests/bench/RESULTS.md with the machine, date and commit.

Run it with the venv of tests/bench/requirements.txt:

    python3 -m venv /tmp/venv-bench && /tmp/venv-tests/bench/bin/pip install -r tests/bench/requirements.txt
    /tmp/venv-tests/bench/bin/python tests/bench/run.py --sizes 100k,1M --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent.parent
PEERS = BENCH / "peers"
PIPELINE = REPO / "pipelines" / "beacon.yaml"
MARTS = ["campaign_cohorts_weekly", "funnel_cohorts_monthly"]
# The grain of each mart (METRICS.md), used to line rows up when comparing outputs.
MART_KEYS = {
    "campaign_cohorts_weekly": ["campaign_id", "cohort_week"],
    "funnel_cohorts_monthly": ["mql_cohort_month", "months_since_mql"],
}
# The end date `beacon sample-data` uses by default: the run date of every benchmark run.
RUN_DATE = "2026-11-15"
CSV_BYTES_PER_LEAD = 720  # measured: 20k leads -> 14 MB, 10M -> about 7 GB
GIB = 1024**3


# --------------------------------------------------------------------------------------------
# Measuring one process


@dataclass
class Measure:
    name: str
    cmd: list[str]
    wall: float = 0.0
    cpu: float = 0.0
    user: float = 0.0
    sys: float = 0.0
    max_rss_kb: int = 0
    exit_code: int = 0
    loadavg: float = 0.0
    stdout: str = ""
    stderr_path: str = ""
    extra: dict = field(default_factory=dict)

    def ok(self) -> bool:
        return self.exit_code == 0

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("stdout",)}
        return d


def measure(name: str, cmd: list[str], logdir: Path, env: dict | None = None,
            timeout: float = 7200.0) -> Measure:
    """Runs `cmd` as its own process (group) through tests/bench/measure.py, which reports wall time,
    user+sys CPU and peak RSS from wait4 (see there why not straight from this process)."""
    logdir.mkdir(parents=True, exist_ok=True)
    out_path = logdir / f"{name}.stdout"
    err_path = logdir / f"{name}.stderr"
    res_path = logdir / f"{name}.rusage.json"
    res_path.unlink(missing_ok=True)
    m = Measure(name=name, cmd=[str(c) for c in cmd], loadavg=os.getloadavg()[0],
                stderr_path=str(err_path))
    full_env = dict(os.environ)
    full_env.update(env or {})
    launcher = [sys.executable, "-I", "-S", str(BENCH / "measure.py"), str(res_path)]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(launcher + m.cmd, stdout=out, stderr=err, env=full_env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except BaseException:  # timeout or Ctrl-C: stop the launcher and the command
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise
    if res_path.exists():
        r = json.loads(res_path.read_text())
        m.wall, m.user, m.sys, m.max_rss_kb = r["wall"], r["user"], r["sys"], r["max_rss_kb"]
        m.cpu = m.user + m.sys
        m.exit_code = r["exit_code"]
    else:
        m.exit_code = proc.returncode if proc.returncode else -9
    m.stdout = out_path.read_text(errors="replace")
    return m


# --------------------------------------------------------------------------------------------
# Helpers


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def sh(cmd: list[str], **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        commit = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).strip()
        dirty = sh(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"]).strip()
        if dirty:
            commit += " (+ uncommitted changes)"
    except (subprocess.CalledProcessError, FileNotFoundError):
        commit = "unknown"
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_at_start": os.getloadavg(),
    }


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=2) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}f}"


# --------------------------------------------------------------------------------------------
# Beacon


class Beacon:
    def __init__(self, binary: Path, work: Path, timeout: float) -> None:
        self.binary = binary
        self.work = work
        self.timeout = timeout
        self._closure: list[tuple[str, list[str]]] | None = None

    def dag(self) -> list[tuple[str, list[str]]]:
        """[(model, deps)] in dependency order, from `beacon dag` on the shipped pipeline."""
        if self._closure is None:
            out = sh([str(self.binary), "dag", str(PIPELINE)],
                     env={**os.environ, "BEACON_SOURCES": str(REPO / "sample_data")})
            rows = []
            for line in out.splitlines():
                if " <- " not in line and "(" not in line:
                    continue
                head, _, deps = line.partition(" <- ")
                name = head.split(" (")[0].strip()
                rows.append((name, [d.strip() for d in deps.split(",") if d.strip()]))
            self._closure = rows
        return self._closure

    def closure(self, targets: list[str]) -> tuple[list[str], set[str]]:
        """Models needed by `targets` (dependency order) and the sources they read."""
        graph = dict(self.dag())
        need: set[str] = set()
        sources: set[str] = set()
        stack = list(targets)
        while stack:
            m = stack.pop()
            if m in need:
                continue
            need.add(m)
            for d in graph[m]:
                if d in graph:
                    stack.append(d)
                else:
                    sources.add(d)
        order = [m for m, _ in self.dag() if m in need]
        return order, sources

    def models_dir(self, targets: list[str]) -> tuple[Path, list[str], set[str]]:
        """A models folder holding copies of `targets` and the models they need (from sql/)."""
        order, sources = self.closure(targets)
        dest = self.work / "models-cohorts"
        shutil.rmtree(dest, ignore_errors=True)
        files = {p.stem: p for p in (REPO / "sql").rglob("*.sql")}
        for m in order:
            rel = files[m].relative_to(REPO / "sql")
            (dest / rel.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy2(files[m], dest / rel)
        return dest, order, sources

    def run(self, name: str, logdir: Path, raw: Path, output: Path, sources_dir: Path,
            sets: list[str], memory_limit: str | None = None) -> Measure:
        cmd = [str(self.binary), "run", str(PIPELINE), "--date", RUN_DATE,
               "--set", f"work={self.work / 'beacon-work'}"]
        for s in sets:
            cmd += ["--set", s]
        if memory_limit:
            cmd += ["--memory-limit", memory_limit]
        env = {"BEACON_SOURCES": str(sources_dir), "BEACON_RAW": str(raw),
               "BEACON_OUTPUT": str(output)}
        results = output / "_beacon" / "runs" / f"run_date={RUN_DATE}" / "run_results.json"
        results.unlink(missing_ok=True)
        m = measure(name, cmd, logdir, env, self.timeout)
        if results.exists():
            r = json.loads(results.read_text())
            # the load stage's wall time (sources load two at a time); older results: the sum
            src_s = r.get("load_seconds") or sum(s.get("seconds", 0.0) for s in r["sources"])
            m.extra = {
                "status": r.get("status"),
                "error": r.get("error"),
                "elapsed_seconds": r.get("elapsed_seconds"),
                "sources_seconds": src_s,
                "models_seconds": (r.get("elapsed_seconds") or 0.0) - src_s,
                "sources": {s["name"]: {"rows": s["rows_loaded"], "rejected": s["rows_rejected"],
                                        "seconds": s["seconds"]} for s in r["sources"]},
                "models": {x["name"]: {"rows": x["rows"], "seconds": x["seconds"],
                                       "status": x["status"]} for x in r["models"]},
            }
        return m


# --------------------------------------------------------------------------------------------
# Verification (in this process, not measured)


def shipped_views(models: list[str]) -> list[str]:
    """The shipped pipeline's `views:` entries that apply to `models` (globs, and the names among
    them): a run on a subset of the models keeps the shipped materializations."""
    import yaml

    views = yaml.safe_load(PIPELINE.read_text(encoding="utf-8")).get("views") or []
    return [v for v in views if any(c in v for c in "*?[") or v in models]


def compare_tables(beacon_glob: str, peer_file: str, keys: list[str]) -> dict:
    """Row counts and every value of a peer's table against Beacon's (floats to 1e-9 relative)."""
    import duckdb

    con = duckdb.connect()
    b_src = f"read_parquet('{beacon_glob}', hive_partitioning = false)"
    p_src = f"read_parquet('{peer_file}', hive_partitioning = false)"
    b_types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {b_src}").fetchall()}
    p_types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {p_src}").fetchall()}
    b_rows = con.execute(f"SELECT count(*) FROM {b_src}").fetchall()[0][0]
    p_rows = con.execute(f"SELECT count(*) FROM {p_src}").fetchall()[0][0]
    res = {"beacon_rows": b_rows, "peer_rows": p_rows, "missing_columns": [], "value_diffs": {}}
    res["missing_columns"] = [c for c in b_types if c not in p_types]
    cols = [c for c in b_types if c in p_types and c not in keys]
    on = " AND ".join(f'b."{k}" IS NOT DISTINCT FROM p."{k}"' for k in keys)
    checks = []
    for c in cols:
        if b_types[c] in ("DOUBLE", "FLOAT") or p_types[c] in ("DOUBLE", "FLOAT"):
            checks.append(
                f'((b."{c}" IS NULL) <> (p."{c}" IS NULL) OR abs(CAST(b."{c}" AS DOUBLE) - '
                f'CAST(p."{c}" AS DOUBLE)) > 1e-9 * greatest(1, abs(CAST(b."{c}" AS DOUBLE))))'
            )
        else:
            checks.append(f'(CAST(b."{c}" AS VARCHAR) IS DISTINCT FROM CAST(p."{c}" AS VARCHAR))')
    sel = ", ".join(
        [
            "count(*) FILTER (WHERE b.__b IS NULL)",
            "count(*) FILTER (WHERE p.__p IS NULL)",
        ]
        + [f"count(*) FILTER (WHERE b.__b IS NOT NULL AND p.__p IS NOT NULL AND {chk})" for chk in checks]
    )
    row = con.execute(
        f"SELECT {sel} FROM (SELECT *, 1 AS __b FROM {b_src}) b "
        f"FULL JOIN (SELECT *, 1 AS __p FROM {p_src}) p ON {on}"
    ).fetchall()[0]
    res["only_in_peer"], res["only_in_beacon"] = row[0], row[1]
    res["value_diffs"] = {c: n for c, n in zip(cols, row[2:]) if n}
    res["ok"] = (b_rows == p_rows and not res["missing_columns"] and not res["value_diffs"]
                 and row[0] == 0 and row[1] == 0)
    return res


def compare_load(beacon_raw: Path, peer_dir: Path, beacon_sources: dict, content: bool) -> dict:
    """Row counts per source (and, when `content`, EXCEPT ALL both ways on every column)."""
    import duckdb

    con = duckdb.connect()
    out = {}
    for name, info in beacon_sources.items():
        peer = peer_dir / f"{name}.parquet"
        if not peer.exists():
            out[name] = {"ok": info["rows"] == 0, "beacon_rows": info["rows"], "peer_rows": None}
            continue
        b_src = (f"read_parquet('{beacon_raw}/{name}/run_date={RUN_DATE}/*.parquet', "
                 "hive_partitioning = false)")
        p_src = f"read_parquet('{peer}', hive_partitioning = false)"
        p_rows = con.execute(f"SELECT count(*) FROM {p_src}").fetchall()[0][0]
        r = {"beacon_rows": info["rows"], "peer_rows": p_rows, "ok": p_rows == info["rows"]}
        if content:
            b_cols = [x[0] for x in con.execute(f"DESCRIBE SELECT * FROM {b_src}").fetchall()]
            cols = ", ".join(f'"{c}"' for c in b_cols)
            only_b = con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {b_src} EXCEPT ALL SELECT {cols} FROM {p_src})"
            ).fetchall()[0][0]
            only_p = con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {p_src} EXCEPT ALL SELECT {cols} FROM {b_src})"
            ).fetchall()[0][0]
            r.update(only_in_beacon=only_b, only_in_peer=only_p)
            r["ok"] = r["ok"] and only_b == 0 and only_p == 0
        out[name] = r
    return out


# --------------------------------------------------------------------------------------------
# The benchmark


def ensure_data(beacon: Beacon, leads: int, data_root: Path, logdir: Path) -> tuple[Path, Measure | None]:
    out = data_root / f"data-{leads}"
    marker = out / ".bench-complete"
    stamp = f"leads={leads} seed=1 end={RUN_DATE}"
    if marker.exists() and marker.read_text().strip() == stamp:
        return out, None
    need = leads * CSV_BYTES_PER_LEAD * 2.2  # CSVs + raw zones + peers' Parquet + outputs
    free = shutil.disk_usage(data_root).free
    if free < need:
        raise SystemExit(f"not enough disk under {data_root} for {size_label(leads)} leads: "
                         f"{free / GIB:.1f} GiB free, about {need / GIB:.1f} GiB needed")
    shutil.rmtree(out, ignore_errors=True)
    print(f"  generating {size_label(leads)} leads into {out} ...", flush=True)
    m = measure(f"sample-data-{leads}", [str(beacon.binary), "sample-data", "--leads", str(leads),
                                          "--seed", "1", "--out", str(out), "--end-date", RUN_DATE],
                logdir, timeout=beacon.timeout)
    if not m.ok():
        raise SystemExit(f"sample-data failed, see {m.stderr_path}")
    marker.write_text(stamp + "\n")
    return out, m


def peer_cmd(script: str, *args: str) -> list[str]:
    return [sys.executable, str(PEERS / script), "--pipeline", str(PIPELINE), *args]


def parse_peer(m: Measure) -> None:
    for line in reversed(m.stdout.splitlines()):
        if line.startswith("{"):
            m.extra = json.loads(line)
            return


def bench_size(args, beacon: Beacon, leads: int) -> dict:
    label = size_label(leads)
    root = Path(args.work) / f"run-{leads}"
    logs = root / "logs"
    data, gen = ensure_data(beacon, leads, Path(args.work), logs)
    models_dir, cohort_models, cohort_sources = beacon.models_dir(MARTS)
    engines = args.engines
    runs: list[dict[str, Measure]] = []
    verify: dict = {}
    all_sources = list(beacon_contract_sources())

    for i in range(1, args.runs + 1):
        print(f"  [{label}] run {i}/{args.runs}", flush=True)
        res: dict[str, Measure] = {}
        b_raw = root / "beacon" / "raw"

        def step(key: str, fn) -> None:
            m = fn()
            res[key] = m
            status = "ok" if m.ok() else f"FAILED (exit {m.exit_code}, see {m.stderr_path})"
            print(f"    {key:<26} wall {m.wall:8.2f}s  cpu {m.cpu:8.2f}s  rss {m.max_rss_kb / 1024:8.0f} MiB"
                  f"  {status}", flush=True)

        if "load" in args.steps:
            if "beacon" in engines:
                empty = root / "models-empty"
                empty.mkdir(parents=True, exist_ok=True)
                step("beacon/load", lambda: beacon.run(
                    f"beacon-load-{i}", logs, b_raw, root / "beacon" / "out-load", data,
                    [f"models={empty}", "publish=[]", "views=[]"]))
            if "duckdb" in engines:
                step("duckdb/load", lambda: measure(
                    f"duckdb-load-{i}", peer_cmd("duckdb_load.py", "--sources", str(data),
                                                 "--out", str(root / "duckdb" / "load")),
                    logs, timeout=args.timeout))
                parse_peer(res["duckdb/load"])
            if "polars" in engines:
                step("polars/load", lambda: measure(
                    f"polars-load-{i}", peer_cmd("polars_load.py", "--sources", str(data),
                                                 "--out", str(root / "polars" / "load")),
                    logs, timeout=args.timeout))
                parse_peer(res["polars/load"])

        if "cohorts" in args.steps:
            if not (b_raw / "leads" / f"run_date={RUN_DATE}").exists():
                raise SystemExit("the cohorts step reads the raw zone of Beacon's load step: "
                                 "include the load step (and the beacon engine)")
            if "beacon" in engines:
                sets = [f"models={models_dir}", "publish=[" + ", ".join(MARTS) + "]",
                        "views=[" + ", ".join(shipped_views(cohort_models)) + "]"]
                for s in all_sources:
                    if s in cohort_sources:
                        sets += [f"sources.{s}.location={b_raw}/{s}/run_date={RUN_DATE}",
                                 f"sources.{s}.format=parquet"]
                    else:  # not read by these models: an absent optional source (empty table)
                        sets += [f"sources.{s}.location={root}/absent/{s}.csv",
                                 f"sources.{s}.optional=true"]
                step("beacon/cohorts", lambda: beacon.run(
                    f"beacon-cohorts-{i}", logs, root / "beacon" / "raw-cohorts",
                    root / "beacon" / "out-cohorts", data, sets))
            common = ["--raw", str(b_raw), "--date", RUN_DATE]
            if "duckdb" in engines:
                step("duckdb/cohorts", lambda: measure(
                    f"duckdb-cohorts-{i}", peer_cmd(
                        "duckdb_cohorts.py", "--models", str(models_dir),
                        "--order", ",".join(cohort_models), "--publish", ",".join(MARTS),
                        "--out", str(root / "duckdb" / "cohorts"), *common),
                    logs, timeout=args.timeout))
                parse_peer(res["duckdb/cohorts"])
                if args.duckdb_materialized:
                    step("duckdb-mat/cohorts", lambda: measure(
                        f"duckdb-mat-cohorts-{i}", peer_cmd(
                            "duckdb_cohorts.py", "--models", str(models_dir),
                            "--order", ",".join(cohort_models), "--publish", ",".join(MARTS),
                            "--out", str(root / "duckdb-mat" / "cohorts"), "--materialize",
                            *common),
                        logs, timeout=args.timeout))
                    parse_peer(res["duckdb-mat/cohorts"])
            if "polars" in engines:
                step("polars/cohorts", lambda: measure(
                    f"polars-cohorts-{i}", peer_cmd(
                        "polars_cohorts.py", "--out", str(root / "polars" / "cohorts"), *common),
                    logs, timeout=args.timeout))
                parse_peer(res["polars/cohorts"])

        if "full" in args.steps and "beacon" in engines:
            step("beacon/full", lambda: beacon.run(
                f"beacon-full-{i}", logs, root / "beacon" / "raw-full", root / "beacon" / "out-full",
                data, []))

        runs.append(res)
        if i == 1:
            verify = verify_run(args, res, root, leads)

    return {"leads": leads, "label": label, "data": str(data),
            "generate": gen.as_dict() if gen else None,
            "runs": [{k: m.as_dict() for k, m in r.items()} for r in runs],
            "verify": verify, "cohort_models": cohort_models}


def beacon_contract_sources() -> list[str]:
    sys.path.insert(0, str(PEERS))
    from common import contract, load_pipeline  # noqa: E402

    return list(contract(load_pipeline(PIPELINE)))


def verify_run(args, res: dict[str, Measure], root: Path, leads: int) -> dict:
    """Checks peers against Beacon on the first run of a size."""
    out: dict = {}
    bl = res.get("beacon/load")
    if bl is not None and bl.ok() and bl.extra.get("sources"):
        for eng in ("duckdb", "polars"):
            m = res.get(f"{eng}/load")
            if m is not None and m.ok():
                out[f"{eng}/load"] = compare_load(root / "beacon" / "raw", root / eng / "load",
                                                  bl.extra["sources"],
                                                  content=leads <= args.verify_content_max)
    bc = res.get("beacon/cohorts")
    beacon_out = root / "beacon" / "out-cohorts"
    if bc is not None and bc.ok():
        for eng in ("duckdb", "duckdb-mat", "polars"):
            m = res.get(f"{eng}/cohorts")
            if m is None or not m.ok():
                continue
            out[f"{eng}/cohorts"] = {
                t: compare_tables(f"{beacon_out}/{t}/run_date={RUN_DATE}/*.parquet",
                                  f"{root / eng / 'cohorts' / t}.parquet", MART_KEYS[t])
                for t in MARTS
            }
        bf = res.get("beacon/full")
        if bf is not None and bf.ok():
            out["beacon-full vs beacon/cohorts"] = {
                t: compare_tables(f"{beacon_out}/{t}/run_date={RUN_DATE}/*.parquet",
                                  f"{root / 'beacon' / 'out-full' / t}/run_date={RUN_DATE}/*.parquet",
                                  MART_KEYS[t])
                for t in MARTS
            }
    for k, v in out.items():
        tables = v.values()
        bad = [t for t, r in v.items() if not r.get("ok")]
        print(f"    verify {k}: {'ok' if not bad else 'MISMATCH in ' + ', '.join(bad)}", flush=True)
        if bad:
            for t in bad:
                print(f"      {t}: {json.dumps(v[t])}", flush=True)
        del tables
    return out


# The capped run gives only --memory-limit: `large_run: auto` then chooses the large-run settings
# (README "Memory and large runs") when the sources are large next to it. --cap-defaults turns them
# off, to see the defaults fail.
LARGE_RUN_OFF = ["large_run=off"]


def cap_run(args, beacon: Beacon, leads: int) -> dict:
    root = Path(args.work) / f"run-{leads}"
    data, _ = ensure_data(beacon, leads, Path(args.work), root / "logs")
    sets = LARGE_RUN_OFF if args.cap_defaults else []
    print(f"  [{size_label(leads)}] full pipeline with --memory-limit {args.memory_cap} "
          f"{' '.join('--set ' + s for s in sets)}", flush=True)
    m = beacon.run("beacon-full-cap", root / "logs", root / "beacon" / "raw-cap",
                   root / "beacon" / "out-cap", data, sets, memory_limit=args.memory_cap)
    print(f"    wall {m.wall:.2f}s cpu {m.cpu:.2f}s rss {m.max_rss_kb / 1024:.0f} MiB exit {m.exit_code}",
          flush=True)
    return {"leads": leads, "label": size_label(leads), "memory_limit": args.memory_cap,
            "sets": sets, "measure": m.as_dict()}


# --------------------------------------------------------------------------------------------
# Report


def summarize(size: dict) -> dict[str, dict]:
    """key -> medians over runs: wall, cpu, rss_mib, phase (in-process seconds)."""
    keys = sorted({k for r in size["runs"] for k in r})
    out = {}
    for k in keys:
        ms = [r[k] for r in size["runs"] if k in r and r[k]["exit_code"] == 0]
        if not ms:
            out[k] = {"failed": True, "error": failure_reason(size["runs"][0].get(k) or
                                                              next(r[k] for r in size["runs"] if k in r))}
            continue
        if k.startswith("beacon/"):
            phase_key = "models_seconds" if k == "beacon/cohorts" else "elapsed_seconds"
            phases = [m["extra"].get(phase_key) for m in ms]
        else:
            phases = [m["extra"].get("seconds") for m in ms]
        out[k] = {
            "n": len(ms),
            "wall": median([m["wall"] for m in ms]),
            "wall_min": min(m["wall"] for m in ms),
            "wall_max": max(m["wall"] for m in ms),
            "cpu": median([m["cpu"] for m in ms]),
            "rss_mib": median([m["max_rss_kb"] / 1024 for m in ms]),
            "phase": median(phases),
            "loadavg": max(m["loadavg"] for m in ms),
        }
    return out


def failure_reason(m: dict) -> str:
    """The first line of a failed step's error (run_results.json, else the end of its stderr)."""
    err = (m.get("extra") or {}).get("error")
    if not err:
        try:
            lines = [x for x in Path(m["stderr_path"]).read_text(errors="replace").splitlines() if x.strip()]
            err = lines[-1] if lines else ""
        except OSError:
            err = ""
    err = f"exit {m['exit_code']}: " + (err or "no message")
    return err.splitlines()[0][:300]


def failed_models(m: dict) -> list[str]:
    """For a failed Beacon run: each failed model with the gist of its error, from its stderr."""
    import re

    try:
        text = Path(m["stderr_path"]).read_text(errors="replace")
    except OSError:
        return []
    out = []
    for block in re.split(r"(?=^\S+Z\s+ERROR model failed )", text, flags=re.M)[1:]:
        block = block.split("\nerror: ", 1)[0]
        name = re.search(r"model failed model=(\S+)", block)
        gist = []
        for pat in (r"Not enough memory to continue external sort", r"Resources exhausted",
                    r"memory allocation failed"):
            if re.search(pat, block):
                gist.append(pat)
                break
        top = re.search(r"^\s+(\S+\(can spill: \w+\) consumed [\d.]+ \w+)", block, flags=re.M)
        if top:
            gist.append("top consumer " + top.group(1))
        pool = re.search(r"pool_size: ([\d.]+ \w+)", block)
        if pool:
            gist.append(f"pool {pool.group(1)}")
        if not gist:
            gist.append(block.splitlines()[0][-200:])
        out.append(f"{name.group(1) if name else '?'} ({'; '.join(gist)})")
    return out


def per_item_medians(size: dict, key: str, what: str) -> dict[str, float]:
    vals: dict[str, list[float]] = {}
    for r in size["runs"]:
        m = r.get(key)
        if not m or not m.get("extra"):
            continue
        for name, x in m["extra"].get(what, {}).items():
            if x.get("status", "success") == "success":
                vals.setdefault(name, []).append(x["seconds"])
    return {k: median(v) for k, v in vals.items()}


def report(args, mach: dict, sizes: list[dict], cap: dict | None, beacon_bin: Path,
           versions: dict) -> str:
    L = []
    L.append(f"## {mach['date']}: sizes {', '.join(s['label'] for s in sizes)}, "
             f"{args.runs} run(s) each, commit {mach['commit']}")
    L.append("")
    L.append(f"Machine: {mach['cpu']}, {mach['nproc']} cores, {mach['mem_gib']} GiB RAM, Linux "
             f"{mach['kernel']}, load average {mach['loadavg_at_start'][0]:.2f} at the start "
             "(2 cores shared with other users: a busy machine shows in the spread of the runs). "
             f"Beacon `{beacon_bin.relative_to(REPO) if beacon_bin.is_relative_to(REPO) else beacon_bin}`"
             f" (memory_limit from the pipeline file unless stated), DuckDB {versions.get('duckdb')}, "
             f"Polars {versions.get('polars')}, Python {mach['python']}. Run date {RUN_DATE}, "
             "warm page cache. Median of the runs; wall and CPU in seconds, peak RSS in MiB. "
             "\"phase\" = the engine's own time for the work (Beacon: run_results.json, load = whole run, "
             "cohorts = models + publish, i.e. run minus source loads; peers: time after imports). "
             "Ratios are Beacon / peer: below 1.0 Beacon is faster.")
    if "/debug/" in str(beacon_bin):
        L.append("")
        L.append("**Debug build of Beacon: these figures are not representative.**")
    L.append("")
    for size in sizes:
        s = summarize(size)
        L.append(f"### {size['label']} leads")
        L.append("")
        L.append("| step | engine | wall (min-max) | CPU | peak RSS | phase | wall ratio | phase ratio |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for step in ("load", "cohorts", "full"):
            b = s.get(f"beacon/{step}")
            for eng in ("beacon", "duckdb", "duckdb-mat", "polars"):
                x = s.get(f"{eng}/{step}")
                if x is None:
                    continue
                if x.get("failed"):
                    L.append(f"| {step} | {eng} | failed | | | | | |")
                    continue
                wr = pr = "-"
                if eng != "beacon" and b and not b.get("failed"):
                    wr = fmt(b["wall"] / x["wall"]) if x["wall"] else "-"
                    pr = fmt(b["phase"] / x["phase"]) if x["phase"] and b["phase"] else "-"
                wall = fmt(x["wall"]) + (f" ({fmt(x['wall_min'])}-{fmt(x['wall_max'])})" if x["n"] > 1 else "")
                L.append(f"| {step} | {eng} | {wall} | {fmt(x['cpu'])} | {fmt(x['rss_mib'], 0)} | "
                         f"{fmt(x['phase'])} | {wr} | {pr} |")
        L.append("")
        for k, x in s.items():
            if x.get("failed"):
                L.append(f"Failed: {k}: {x['error']}")
                if k.startswith("beacon/"):
                    fm = failed_models(next(r[k] for r in size["runs"] if k in r))
                    if fm:
                        L.append("  Failed models: " + ", ".join(fm) + ".")
                L.append("")
        bc = [r["beacon/cohorts"]["extra"].get("sources_seconds") for r in size["runs"]
              if "beacon/cohorts" in r and r["beacon/cohorts"]["exit_code"] == 0]
        if bc:
            L.append(f"Beacon's cohorts step also re-loads the sources those models read from the load "
                     f"step's Parquet (contract checks, new raw zone): {fmt(median(bc))} s, in its wall "
                     "time but not in its phase.")
            L.append("")
        # Beacon's slowest sources and models in the full pipeline
        for key, what, title in (("beacon/full", "sources", "sources (full pipeline)"),
                                 ("beacon/full", "models", "models (full pipeline)"),
                                 ("beacon/cohorts", "models", "models (cohorts step)")):
            med = per_item_medians(size, key, what)
            if med:
                top = sorted(med.items(), key=lambda kv: -kv[1])[: args.top]
                L.append(f"Beacon slowest {title}, seconds: " +
                         ", ".join(f"{n} {v:.2f}" for n, v in top))
                L.append("")
        bad = []
        for k, v in size["verify"].items():
            for t, r in v.items():
                if not r.get("ok"):
                    bad.append(f"{k} {t}: {json.dumps(r)}")
        if size["verify"]:
            L.append("Checks against Beacon (first run): " +
                     ("all equal (" + ", ".join(sorted(size["verify"])) + ")" if not bad else
                      "**MISMATCHES**: " + "; ".join(bad)))
            L.append("")
    # scaling
    if len(sizes) > 1:
        L.append("### Scaling (wall seconds per million leads)")
        L.append("")
        L.append("| step | " + " | ".join(s["label"] for s in sizes) + " |")
        L.append("| --- | " + " | ".join("---:" for _ in sizes) + " |")
        summaries = [summarize(s) for s in sizes]
        keys = sorted({k for sm in summaries for k in sm})
        for k in keys:
            cells = []
            for sz, sm in zip(sizes, summaries):
                x = sm.get(k)
                cells.append(fmt(x["wall"] / (sz["leads"] / 1e6)) if x and not x.get("failed") else "-")
            L.append(f"| {k} | " + " | ".join(cells) + " |")
        L.append("")
    # targets
    L.append("### Issue 8 targets")
    L.append("")
    for size in sizes:
        s = summarize(size)
        items = []
        for step, label in (("load", "load"), ("cohorts", "cohort+funnel")):
            b, d = s.get(f"beacon/{step}"), s.get(f"duckdb/{step}")
            if b and d and not b.get("failed") and not d.get("failed"):
                if step == "load":
                    r = b["wall"] / d["wall"]
                    items.append(f"{label} Beacon/DuckDB wall {r:.2f} ({'met' if r <= 1.0 else 'NOT met'})")
                else:
                    r = b["phase"] / d["phase"]
                    items.append(f"{label} Beacon/DuckDB phase {r:.2f} ({'met' if r <= 1.0 else 'NOT met'})")
        f = s.get("beacon/full")
        if f and not f.get("failed") and size["leads"] == 1_000_000:
            items.append(f"full pipeline at 1M {f['wall']:.1f}s ({'met' if f['wall'] < 30 else 'NOT met'}, < 30 s)")
        if items:
            L.append(f"- {size['label']}: " + "; ".join(items))
    if cap:
        m = cap["measure"]
        rss_gib = m["max_rss_kb"] / 1024 / 1024
        verdict = ("met" if m["exit_code"] == 0 and rss_gib < 2.5 else "NOT met")
        err = (m.get("extra") or {}).get("error") or ""
        err = err.splitlines()[0][:400] if err else ""
        L.append(f"- memory cap (the run completes and peak RSS stays under 2.5 GiB): {verdict}. Full "
                 f"pipeline at {cap['label']} leads with --memory-limit {cap['memory_limit']}"
                 f"{''.join(' --set ' + s for s in cap.get('sets', []))}: exit "
                 f"{m['exit_code']}, wall {m['wall']:.1f}s, CPU {m['cpu']:.1f}s, peak RSS {rss_gib:.2f} GiB"
                 + (f"; error: {err}" if err else ""))
        models = (m.get("extra") or {}).get("models") or {}
        failed = failed_models(m) or [n for n, x in models.items() if x.get("status") == "error"]
        if failed:
            L.append(f"  Models that failed under the cap: {', '.join(failed)}.")
    L.append("")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100k,1M,10M", help="lead counts, e.g. 100k,1M,10M (default)")
    ap.add_argument("--runs", type=int, default=3, help="runs per size (median reported)")
    ap.add_argument("--beacon", default=str(REPO / "target" / "release" / "beacon"),
                    help="the beacon binary (default target/release/beacon; never built by this script)")
    ap.add_argument("--work", default="/tmp/bench", help="data and scratch folder (default /tmp/bench)")
    ap.add_argument("--engines", default="beacon,duckdb,polars")
    ap.add_argument("--steps", default="load,cohorts,full")
    ap.add_argument("--memory-cap", default="2GiB", help="--memory-limit of the capped run")
    ap.add_argument("--cap-defaults", action="store_true",
                    help="capped run with large_run=off (the defaults), not large_run: auto")
    ap.add_argument("--cap-size", default="largest",
                    help="size of the capped full run: largest (default), none, or a size like 10M")
    ap.add_argument("--duckdb-materialized", action="store_true",
                    help="also run DuckDB materialising every model like Beacon does")
    ap.add_argument("--verify-content-max", type=parse_size, default=1_000_000,
                    help="compare loaded tables cell by cell up to this many leads (row counts above)")
    ap.add_argument("--timeout", type=float, default=7200.0, help="seconds per step before it is killed")
    ap.add_argument("--top", type=int, default=6, help="slowest sources/models listed per size")
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--keep", action="store_true", help="keep outputs (default: delete them, keep the data)")
    ap.add_argument("--report-from", metavar="JSON",
                    help="only rebuild the report from the raw measurements of an earlier run")
    args = ap.parse_args()
    if args.report_from:
        raw = json.loads(Path(args.report_from).read_text())
        args.runs = max((len(s["runs"]) for s in raw["sizes"]), default=0)
        text = report(args, raw["machine"], raw["sizes"], raw.get("cap"),
                      Path(raw.get("beacon", REPO / "target" / "release" / "beacon")), raw["versions"])
        print(text)
        if not args.no_record:
            with open(args.results, "a", encoding="utf-8") as f:
                f.write(text + "\n")
        return
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]

    versions = {}
    try:
        import duckdb
        import polars
        import yaml  # noqa: F401

        versions = {"duckdb": duckdb.__version__, "polars": polars.__version__}
    except ImportError as e:
        raise SystemExit(f"{e}: run with the venv of tests/bench/requirements.txt (see tests/bench/README.md)")
    beacon_bin = Path(args.beacon).resolve()
    if not beacon_bin.exists():
        raise SystemExit(f"{beacon_bin} not found: build it first (cargo build --release)")
    sizes = sorted(parse_size(s) for s in args.sizes.split(",") if s.strip())
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    mach = machine()
    beacon = Beacon(beacon_bin, work, args.timeout)
    print(f"Beacon benchmark: {mach['cpu']}, {mach['nproc']} cores, {mach['mem_gib']} GiB; "
          f"commit {mach['commit']}; sizes {', '.join(size_label(s) for s in sizes)}; "
          f"{args.runs} run(s)", flush=True)
    results = []
    for leads in sizes:
        results.append(bench_size(args, beacon, leads))
        if not args.keep:
            root = work / f"run-{leads}"
            for sub in ("beacon", "duckdb", "duckdb-mat", "polars"):
                shutil.rmtree(root / sub, ignore_errors=True)
    cap = None
    if args.cap_size != "none" and "beacon" in args.engines and "full" in args.steps:
        cap_leads = sizes[-1] if args.cap_size == "largest" else parse_size(args.cap_size)
        cap = cap_run(args, beacon, cap_leads)
        if not args.keep:
            root = work / f"run-{cap_leads}" / "beacon"
            shutil.rmtree(root, ignore_errors=True)
    text = report(args, mach, results, cap, beacon_bin, versions)
    raw_path = work / f"results-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    raw_path.write_text(json.dumps({"machine": mach, "versions": versions, "sizes": results,
                                    "cap": cap, "beacon": str(beacon_bin)}, indent=1, default=str))
    print()
    print(text)
    print(f"(raw measurements: {raw_path})")
    if not args.no_record:
        res_path = Path(args.results)
        if not res_path.exists():
            res_path.write_text("# Benchmark results\n\nAppended by `tests/bench/run.py` (see tests/bench/README.md). "
                                "Newest last.\n\n")
        before = res_path.read_text(encoding="utf-8")
        with open(res_path, "a", encoding="utf-8") as f:
            # A blank line before the new section's heading, whatever the file ended with.
            trailing = len(before) - len(before.rstrip("\n"))
            f.write("\n" * max(0, 2 - trailing) + text + "\n")
        print(f"appended to {res_path}")


if __name__ == "__main__":
    main()
