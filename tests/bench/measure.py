"""Runs one command and writes its wall time, CPU time and peak RSS as JSON (like /usr/bin/time -v).

    python -I -S tests/bench/measure.py RESULT.json CMD [ARGS...]

Why a separate launcher: Linux carries a process's peak RSS across fork/vfork and exec, so a child
spawned straight from tests/bench/run.py (which holds DuckDB and Polars and reads results) would report
at least run.py's own RSS. This launcher imports nothing beyond the standard library (about 10 MB),
so the peak RSS it reports is the command's own unless that is smaller than 10 MB.
Standard input, output and error are passed through; the exit code is the command's.
"""

import json
import os
import sys
import time


def main() -> int:
    result, cmd = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as f:
        json.dump(
            {
                "wall": wall,
                "user": ru.ru_utime,
                "sys": ru.ru_stime,
                "max_rss_kb": ru.ru_maxrss,
                "exit_code": code,
            },
            f,
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
