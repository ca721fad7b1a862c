"""Shared by the peer scripts: the input contract and vars read from the pipeline YAML, and a
small renderer for the `{{ var(...) }}` / `{{ var_list(...) }}` / `{{ run_date }}` templating of
sql/ (the same literals Beacon renders; see the team brief "Vars in SQL").

The peers take their column types from the same pipeline file Beacon runs, so the comparison
follows the contract when it changes.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import yaml

# Contract type -> (DuckDB type, Polars dtype name). Timestamps are read with their offset and
# stored as UTC wall time without a zone (Timestamp(us, None)), like Beacon's raw zone.
TYPES = {
    "string": ("VARCHAR", "String"),
    "integer": ("BIGINT", "Int64"),
    "decimal": ("DOUBLE", "Float64"),
    "boolean": ("BOOLEAN", "Boolean"),
    "date": ("DATE", "Date"),
    "timestamp": ("TIMESTAMP", "Datetime"),
}


def _strip_env(value: str) -> str:
    """`${NAME:-default}` -> default (the peers are given explicit paths instead)."""
    return re.sub(r"\$\{[A-Z0-9_]+(?::-([^}]*))?\}", lambda m: m.group(1) or "", value)


def load_pipeline(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def contract(pipeline: dict) -> dict[str, dict]:
    """source name -> {"file": <basename>, "optional": bool, "columns": [(name, type), ...]}."""
    out = {}
    for name, src in pipeline["sources"].items():
        cols = []
        for col, spec in src["columns"].items():
            if isinstance(spec, dict):
                typ = spec["type"]
            else:
                typ = str(spec).split()[0]
            if typ not in TYPES:
                raise SystemExit(f"unknown contract type {typ!r} for {name}.{col}")
            cols.append((col, typ))
        location = _strip_env(str(src["location"]))
        out[name] = {
            "file": Path(location).name,
            "optional": bool(src.get("optional", False)),
            "columns": cols,
        }
    return out


def source_path(sources_dir: str, pattern: str) -> Path | None:
    """The file a source's location names in `sources_dir` (the location's basename may be a
    glob such as `leads.csv*`, as in the shipped pipeline); None when there is none."""
    matches = sorted(Path(sources_dir).glob(pattern))
    if len(matches) > 1:
        raise SystemExit(f"{pattern} matches {len(matches)} files in {sources_dir}: {matches}")
    return matches[0] if matches else None


def _literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "make_array(" + ", ".join(_literal(v) for v in value) + ")"
    return "'" + str(value).replace("'", "''") + "'"


def render(sql: str, pipeline: dict, run_date: str) -> str:
    """Renders the SQL models' templating the way Beacon does (literals only)."""
    vars_ = pipeline.get("vars", {}) or {}

    def var(m: re.Match) -> str:
        fn, name = m.group(1), m.group(2)
        if name not in vars_:
            raise SystemExit(f"SQL uses var {name!r}, not in the pipeline's vars")
        value = vars_[name]
        if fn == "var_list":
            items = value if isinstance(value, list) else [value]
            return ", ".join(_literal(v) for v in items)
        return _literal(value)

    sql = re.sub(r"\{\{\s*(var|var_list)\(\s*'([^']+)'\s*\)\s*\}\}", var, sql)
    sql = re.sub(r"\{\{\s*run_date\s*\}\}", f"DATE '{run_date}'", sql)
    if "{{" in sql or "{%" in sql:
        raise SystemExit("unsupported templating left in SQL after rendering")
    return sql


def emit(result: dict) -> None:
    """The peer scripts' one line of JSON on stdout, read by tests/bench/run.py."""
    print(json.dumps(result), flush=True)


class Timer:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def die(msg: str) -> None:
    print(msg, file=sys.stderr)
    raise SystemExit(1)
