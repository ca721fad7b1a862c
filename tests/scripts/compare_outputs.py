#!/usr/bin/env python3
"""Compares the tables two Beacon runs published, with DuckDB (a warehouse's reader).

    compare_outputs.py OUTPUT_A OUTPUT_B DATE TABLE [TABLE...]

For each table, reads run_date=DATE of both outputs and prints one JSON object:
    {TABLE: {"rows_a": N, "rows_b": N, "only_a": N, "only_b": N, "float_differences": N,
             "max_relative_difference": X}}
Rows are compared with EXCEPT ALL both ways (same rows, same multiplicities, any order). Rows left
over on both sides are paired on their non-floating-point columns; a pair whose DOUBLE/FLOAT
values differ by at most 1e-9 relative (1e-12 absolute near zero) is the same row computed in
another order (a distributed sum adds its partial sums in another order: the last bits move) and
is counted in float_differences, not in only_a / only_b.
"""
import json
import math
import sys
from collections import defaultdict

import duckdb

REL = 1e-9
ABS = 1e-12


def close(x, y):
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, float) and isinstance(y, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return abs(x - y) <= max(ABS, REL * max(abs(x), abs(y)))
    return x == y


def compare(con, a, b, date, table):
    ra = f"read_parquet('{a}/{table}/run_date={date}/*.parquet')"
    rb = f"read_parquet('{b}/{table}/run_date={date}/*.parquet')"
    cols = con.execute(f"DESCRIBE SELECT * FROM {ra}").fetchall()
    floats = [i for i, c in enumerate(cols) if c[1] in ("DOUBLE", "FLOAT")]
    rows_a = con.execute(f"SELECT count(*) FROM {ra}").fetchone()[0]
    rows_b = con.execute(f"SELECT count(*) FROM {rb}").fetchone()[0]
    left_a = con.execute(f"SELECT * FROM {ra} EXCEPT ALL SELECT * FROM {rb}").fetchall()
    left_b = con.execute(f"SELECT * FROM {rb} EXCEPT ALL SELECT * FROM {ra}").fetchall()

    def key(row):
        return repr([v for i, v in enumerate(row) if i not in floats])

    def values(row):
        return [row[i] for i in floats]

    group_a, group_b = defaultdict(list), defaultdict(list)
    for r in left_a:
        group_a[key(r)].append(values(r))
    for r in left_b:
        group_b[key(r)].append(values(r))
    only_a = only_b = matched = 0
    max_rel = 0.0
    for k in set(group_a) | set(group_b):
        xs = sorted(group_a.get(k, []), key=repr)
        ys = sorted(group_b.get(k, []), key=repr)
        for x, y in zip(xs, ys):
            if all(close(p, q) for p, q in zip(x, y)):
                matched += 1
                for p, q in zip(x, y):
                    if isinstance(p, float) and isinstance(q, float) and p != q:
                        max_rel = max(max_rel, abs(p - q) / max(abs(p), abs(q)))
            else:
                only_a += 1
                only_b += 1
        only_a += max(0, len(xs) - len(ys))
        only_b += max(0, len(ys) - len(xs))
    return {
        "rows_a": rows_a,
        "rows_b": rows_b,
        "only_a": only_a,
        "only_b": only_b,
        "float_differences": matched,
        "max_relative_difference": max_rel,
    }


def main():
    a, b, date, *tables = sys.argv[1:]
    con = duckdb.connect()
    print(json.dumps({t: compare(con, a, b, date, t) for t in tables}))


if __name__ == "__main__":
    main()
