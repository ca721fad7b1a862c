#!/usr/bin/env python3
"""Compares Beacon's published tables with expected CSVs (hand-worked goldens or the reference).

Reads each `<expected>/<table>.csv`, reads `<published>/<table>/run_date=D/*.parquet` with DuckDB
(Hive partitioning, as a warehouse would), and compares every column of the CSV: same rows, same
values; floats within 1e-6 (relative to their size), NULL = empty field. Exit 1 with a readable
list of differences when anything differs.

    python3 tests/reference/compare.py --published OUT --expected DIR --run-date 2026-06-15
"""
import argparse
import csv
import datetime
import decimal
import math
import os
import sys

import duckdb


def fmt(x):
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, decimal.Decimal):
        x = float(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return "NaN/inf!"
        s = "%.6f" % x
        return "0.000000" if s == "-0.000000" else s
    if isinstance(x, (datetime.date, datetime.datetime)):
        return x.isoformat()
    return str(x)


def close(a, b):
    if a == b:
        return True
    try:
        fa, fb = float(a), float(b)
    except ValueError:
        return False
    return abs(fa - fb) <= 1e-6 * max(1.0, abs(fa), abs(fb))


def compare_table(con, published, expected_csv, table, run_date, problems):
    with open(expected_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, expected = rows[0], rows[1:]
    part = os.path.join(published, table)
    if not os.path.isdir(part):
        problems.append(f"{table}: not published (no folder {part})")
        return
    rel = f"read_parquet('{part}/*/*.parquet', hive_partitioning=true)"
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
    missing = [c for c in header if c not in cols]
    if missing:
        problems.append(f"{table}: missing columns {missing} (published: {cols})")
        return
    select = ", ".join('"' + c + '"' for c in header)
    actual = [[fmt(v) for v in r] for r in con.execute(
        f"SELECT {select} FROM {rel} WHERE CAST(run_date AS VARCHAR) = ?", [run_date]).fetchall()]
    expected.sort()
    actual.sort()
    if len(actual) != len(expected):
        problems.append(f"{table}: {len(actual)} rows published, {len(expected)} expected")
        exp_keys = {tuple(r[:2]) for r in expected}
        act_keys = {tuple(r[:2]) for r in actual}
        for k in sorted(exp_keys - act_keys)[:10]:
            problems.append(f"{table}: expected row {k} is missing")
        for k in sorted(act_keys - exp_keys)[:10]:
            problems.append(f"{table}: unexpected row {k}")
        return
    for e, a in zip(expected, actual):
        for i, col in enumerate(header):
            if not close(e[i], a[i]):
                problems.append(f"{table} row {e[:2]}: {col} = {a[i] or 'NULL'}, expected {e[i] or 'NULL'}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--published", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--run-date", required=True)
    ap.add_argument("--tables", default="")
    args = ap.parse_args(argv)
    wanted = [t for t in args.tables.split(",") if t]
    con = duckdb.connect()
    problems = []
    tables = sorted(f[:-4] for f in os.listdir(args.expected) if f.endswith(".csv"))
    for table in tables:
        if wanted and table not in wanted:
            continue
        compare_table(con, args.published, os.path.join(args.expected, table + ".csv"), table, args.run_date, problems)
    for p in problems[:200]:
        print(p)
    if len(problems) > 200:
        print(f"... and {len(problems) - 200} more differences")
    print(f"{len(tables) if not wanted else len(wanted)} tables compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
