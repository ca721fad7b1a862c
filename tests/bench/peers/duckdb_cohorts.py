"""DuckDB peer of Beacon's cohort and funnel tables: the very SQL files of sql/ (rendered with the
pipeline's vars and the run date), run in DuckDB over the same raw-zone Parquet Beacon reads.

    python duckdb_cohorts.py --pipeline pipelines/beacon.yaml --models DIR --order m1,m2,... \
        --raw RAW_DIR --date YYYY-MM-DD --publish a,b --out DIR [--materialize] [--memory-limit 2GiB]

--models is a folder holding the marts and the models they need (tests/bench/run.py copies them from
sql/); --order is a dependency order of those models (from `beacon dag`). Every source found in
the raw zone becomes a view over its Parquet. Each model becomes a view (DuckDB then plans each
published table as one query, pruning unused columns), or with --materialize a temporary table,
the way Beacon materialises every model. Published models are written as zstd Parquet.

The dialect shims: DataFusion's regexp_like(s, p) is DuckDB's regexp_matches(s, p), and stg_leads'
empty list column `arrow_cast(make_array(), 'List(Utf8)')` becomes an empty VARCHAR[].
Prints one JSON line: {"engine", "step", "seconds", "tables": {model: {"rows", "seconds"}}}.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb

from common import Timer, contract, emit, load_pipeline, render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--order", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--publish", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--materialize", action="store_true")
    ap.add_argument("--memory-limit")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()

    total = Timer()
    pipeline = load_pipeline(args.pipeline)
    files = {p.stem: p for p in Path(args.models).rglob("*.sql")}
    order = [m for m in args.order.split(",") if m]
    publish = [m for m in args.publish.split(",") if m]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    con.execute("CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)")
    # stg_leads' empty extension column, `arrow_cast(make_array(), 'List(Utf8)')`: an empty list
    con.execute("CREATE MACRO make_array() AS CAST([] AS VARCHAR[])")
    con.execute("CREATE MACRO arrow_cast(x, t) AS x")
    for name in contract(pipeline):
        folder = Path(args.raw) / name / f"run_date={args.date}"
        if any(folder.glob("*.parquet")):
            con.execute(
                f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{folder}/*.parquet', "
                "hive_partitioning = false)"
            )

    tables = {}
    for model in order:
        sql = render(files[model].read_text(encoding="utf-8"), pipeline, args.date)
        t = Timer()
        if model in publish:
            con.execute(f'CREATE VIEW "{model}" AS {sql}')
            rows = con.execute(
                f"COPY (SELECT * FROM \"{model}\") TO '{out / model}.parquet' "
                "(FORMAT parquet, COMPRESSION zstd)"
            ).fetchall()[0][0]
            tables[model] = {"rows": int(rows), "seconds": t.seconds()}
        elif args.materialize:
            con.execute(f'CREATE TEMP TABLE "{model}" AS {sql}')
            rows = con.execute(f'SELECT count(*) FROM "{model}"').fetchall()[0][0]
            tables[model] = {"rows": int(rows), "seconds": t.seconds()}
        else:
            con.execute(f'CREATE VIEW "{model}" AS {sql}')
    emit({"engine": "duckdb" + ("-materialized" if args.materialize else ""), "step": "cohorts",
          "seconds": total.seconds(), "tables": tables, "version": duckdb.__version__,
          "pid": os.getpid()})


if __name__ == "__main__":
    main()
