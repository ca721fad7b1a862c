"""Polars peer of Beacon's load phase: each source CSV of the pipeline -> zstd Parquet, with the
contract's column types (timestamps parsed with their offset, stored as UTC without a zone).

    python polars_load.py --pipeline pipelines/beacon.yaml --sources DIR --out DIR

Prints one JSON line: {"engine", "step", "seconds", "tables": {source: {"rows", "seconds"}}}.
Streaming (scan_csv -> sink_parquet). Like the DuckDB peer it does no contract checks and no
trimming.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import polars as pl

from common import Timer, contract, emit, load_pipeline, source_path

DTYPES = {
    "string": pl.String,
    "integer": pl.Int64,
    "decimal": pl.Float64,
    "boolean": pl.Boolean,
    "date": pl.Date,
    "timestamp": pl.String,  # parsed below: offsets -> UTC
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--sources", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    total = Timer()
    sources = contract(load_pipeline(args.pipeline))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name, src in sources.items():
        path = source_path(args.sources, src["file"])
        if path is None:
            if src["optional"]:
                continue
            raise SystemExit(f"missing source file {Path(args.sources) / src['file']}")
        t = Timer()
        lf = pl.scan_csv(
            path,
            infer_schema=False,
            schema_overrides={c: DTYPES[typ] for c, typ in src["columns"]},
        )
        exprs = []
        for c, typ in src["columns"]:
            if typ == "timestamp":
                exprs.append(
                    pl.col(c)
                    .str.to_datetime(time_unit="us", time_zone="UTC")
                    .dt.replace_time_zone(None)
                    .alias(c)
                )
            else:
                exprs.append(pl.col(c))
        target = out / f"{name}.parquet"
        lf.select(exprs).sink_parquet(target, compression="zstd")
        seconds = t.seconds()
        rows = pl.scan_parquet(target).select(pl.len()).collect().item()
        tables[name] = {"rows": int(rows), "seconds": seconds}
    emit({"engine": "polars", "step": "load", "seconds": total.seconds(), "tables": tables,
          "version": pl.__version__, "pid": os.getpid()})


if __name__ == "__main__":
    main()
