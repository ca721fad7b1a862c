"""DuckDB peer of Beacon's load phase: each source CSV of the pipeline -> zstd Parquet, with the
contract's column types (timestamps read with their offset, stored as UTC without a zone).

    python duckdb_load.py --pipeline pipelines/beacon.yaml --sources DIR --out DIR [--memory-limit 2GiB]

Prints one JSON line: {"engine", "step", "seconds", "tables": {source: {"rows", "seconds"}}}.
Unlike Beacon it does no contract checks (required values, enums, primary keys, quarantine) and
does not trim values: it is the plain "read typed CSV, write Parquet" a DuckDB user would write.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb

from common import TYPES, Timer, contract, emit, load_pipeline, source_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--sources", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--memory-limit")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()

    total = Timer()
    sources = contract(load_pipeline(args.pipeline))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    tables = {}
    for name, src in sources.items():
        path = source_path(args.sources, src["file"])
        if path is None:
            if src["optional"]:
                continue
            raise SystemExit(f"missing source file {Path(args.sources) / src['file']}")
        t = Timer()
        read_types = {
            col: ("TIMESTAMPTZ" if typ == "timestamp" else TYPES[typ][0]) for col, typ in src["columns"]
        }
        columns = "{" + ", ".join(f"'{c}': '{t_}'" for c, t_ in read_types.items()) + "}"
        select = ", ".join(
            f'CAST("{c}" AS TIMESTAMP) AS "{c}"' if typ == "timestamp" else f'"{c}"'
            for c, typ in src["columns"]
        )
        target = out / f"{name}.parquet"
        rows = con.execute(
            f"COPY (SELECT {select} FROM read_csv('{path}', header = true, auto_detect = false, "
            f"columns = {columns})) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()[0][0]
        tables[name] = {"rows": int(rows), "seconds": t.seconds()}
    emit({"engine": "duckdb", "step": "load", "seconds": total.seconds(), "tables": tables,
          "version": duckdb.__version__, "pid": os.getpid()})


if __name__ == "__main__":
    main()
