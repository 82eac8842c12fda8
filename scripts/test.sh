#!/usr/bin/env bash
# Sets up and runs every test on a fresh Debian machine: installs the two real databases the
# integration tests write to (InfluxDB 1.6.7 and VictoriaMetrics, from Debian's packages) when
# they are missing, installs the npm dependencies, builds, and runs the suite. The tests start
# and stop their own database processes on free loopback ports (test/integration/databases.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v influxd >/dev/null || ! command -v victoria-metrics >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing influxdb and victoria-metrics from Debian's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends influxdb victoria-metrics >/dev/null
fi

npm ci --no-audit --no-fund
status=0
npm test -- --reporter=default --reporter=json --outputFile.json=test-results.json || status=$?
# One plain closing line for any CI that reads it.
node -e 'const r = require("./test-results.json"); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' || true
exit $status
