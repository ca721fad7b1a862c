#!/usr/bin/env bash
# Installs what the report's browser test needs (tests/it/report.rs, slow tier):
#   - Debian's Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver) with apt-get when
#     missing (as root, or through sudo), with their recommended fonts so text renders in screenshots;
#   - selenium (tests/scripts/browser-requirements.txt) into the test venv given as $1.
# tests/run.sh calls it when BEACON_SLOW_TESTS=1. On a fresh machine the apt step takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${1:?usage: tests/scripts/install-browser.sh VENV}"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "== installing Chromium and ChromeDriver (Debian packages chromium, chromium-driver)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! "$venv/bin/python" -c "import selenium" 2>/dev/null; then
  echo "== installing selenium into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/scripts/browser-requirements.txt
fi
