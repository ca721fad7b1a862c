#!/usr/bin/env python3
"""A warehouse reader for the tests: DuckDB (with httpfs for s3://) following Beacon's reader rule.

    read_published.py state OUTPUT DATE TABLE [TABLE...]   what a rule-following reader sees (JSON)
    read_published.py sql "SQL"                             rows of any query (JSON)

S3 settings come from the standard variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_ENDPOINT); a local OUTPUT is a path. `state` prints
    {"manifest": {"run_id": R, "tables": {T: {"rows": [...], "count": N, "files": F}}} | null,
     "success":  {T: {"run_id": R, "rows": [...], "count": N} | null},
     "objects":  [every object under OUTPUT (relative), sorted]}
and fails (exit 1, message on stderr) if a file that the manifest or a _SUCCESS names is missing
or its row count differs from what they say: that would be a partial run.
"""
import datetime
import decimal
import json
import os
import sys
from urllib.parse import urlparse

import duckdb


def connect():
    con = duckdb.connect()
    endpoint = os.environ.get("AWS_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        import duckdb_extension_httpfs

        ext = os.path.join(
            os.path.dirname(duckdb_extension_httpfs.__file__),
            f"extensions/{duckdb.__version__ if duckdb.__version__.startswith('v') else 'v' + duckdb.__version__}/httpfs.duckdb_extension",
        )
        con.execute(f"INSTALL '{ext}'")
        con.execute("LOAD httpfs")
        u = urlparse(endpoint)
        con.execute(
            "CREATE SECRET s3 (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, URL_STYLE 'path', USE_SSL ?)"
            .replace("?", "'{}'").format(
                os.environ["AWS_ACCESS_KEY_ID"],
                os.environ["AWS_SECRET_ACCESS_KEY"],
                os.environ.get("AWS_REGION", "us-east-1"),
                u.netloc,
                "true" if u.scheme == "https" else "false",
            )
        )
    return con


def conv(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def rows(con, sql, params=None):
    return [[conv(v) for v in r] for r in con.execute(sql, params or []).fetchall()]


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def exists(con, path):
    return bool(con.execute(f"SELECT count(*) FROM glob({quote(path)})").fetchone()[0])


def state(output, date, tables):
    con = connect()
    out = output.rstrip("/")
    problems = []
    result = {"manifest": None, "success": {}, "objects": []}
    # Rule 1: the manifest's file list.
    manifest_path = f"{out}/_beacon/runs/run_date={date}/manifest.json"
    if exists(con, manifest_path):
        con.execute(
            f"SET VARIABLE manifest = (SELECT to_json(m) FROM read_json({quote(manifest_path)}) m)"
        )
        m = json.loads(con.execute("SELECT getvariable('manifest')").fetchone()[0])
        result["manifest"] = {"run_id": m["run_id"], "tables": {}}
        for t in tables:
            entry = next((e for e in m["tables"] if e["model"] == t), None)
            if entry is None:
                problems.append(f"manifest {m['run_id']} has no table {t}")
                continue
            files = [f["location"] for f in entry["files"]]
            missing = [f for f in files if not exists(con, f)]
            if missing:
                problems.append(f"manifest {m['run_id']} names missing files {missing}")
                continue
            con.execute(f"SET VARIABLE files = {json.dumps(files).replace(chr(34), chr(39))}")
            data = rows(
                con,
                "SELECT * EXCLUDE (run_date) FROM read_parquet(getvariable('files'), hive_partitioning = true) ORDER BY ALL",
            )
            if len(data) != entry["rows"]:
                problems.append(f"{t}: manifest says {entry['rows']} rows, files hold {len(data)}")
            result["manifest"]["tables"][t] = {"rows": data, "count": len(data), "files": len(files)}
    # Rule 2: per folder, _SUCCESS and the files it names.
    for t in tables:
        folder = f"{out}/{t}/run_date={date}"
        if not exists(con, f"{folder}/_SUCCESS"):
            result["success"][t] = None
            continue
        marker = json.loads(
            con.execute(f"SELECT to_json(s) FROM read_json({quote(folder + '/_SUCCESS')}) s").fetchone()[0]
        )
        files = [f"{folder}/{name}" for name in marker["files"]]
        missing = [f for f in files if not exists(con, f)]
        if missing:
            problems.append(f"_SUCCESS of {t} ({marker['run_id']}) names missing files {missing}")
            continue
        # The documented form: the run id picks the run's files by their prefix.
        con.execute(f"SET VARIABLE run = {quote(marker['run_id'])}")
        data = rows(
            con,
            f"SELECT * EXCLUDE (run_date) FROM read_parquet({quote(folder)} || '/part-' || getvariable('run') || '-*.parquet', hive_partitioning = true) ORDER BY ALL",
        )
        if len(data) != marker["rows"]:
            problems.append(f"{t}: _SUCCESS says {marker['rows']} rows, files hold {len(data)}")
        result["success"][t] = {"run_id": marker["run_id"], "rows": data, "count": len(data)}
    result["objects"] = sorted(
        r[0][len(out) + 1 :] for r in con.execute(f"SELECT file FROM glob({quote(out + '/**')})").fetchall()
    )
    print(json.dumps(result))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "sql":
        print(json.dumps(rows(connect(), sys.argv[2])))
    elif len(sys.argv) >= 5 and sys.argv[1] == "state":
        state(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
