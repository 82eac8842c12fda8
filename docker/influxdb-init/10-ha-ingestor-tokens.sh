#!/bin/sh
# Creates the two InfluxDB tokens the compose stack runs on, each allowed one thing on one bucket:
#   ingestor: write to $DOCKER_INFLUXDB_INIT_BUCKET  → /tokens/ingestor/token (volume influx-token-ingestor)
#   grafana:  read $DOCKER_INFLUXDB_INIT_BUCKET      → /tokens/grafana/token  (volume influx-token-grafana)
# The admin token (INFLUX_TOKEN in .env) stays with InfluxDB; neither service gets it.
#
# When it runs: the influxdb image runs /docker-entrypoint-initdb.d/*.sh once, as root, right
# after its first-start setup (DOCKER_INFLUXDB_INIT_MODE=setup), against a temporary server whose
# address (INFLUX_HOST) and admin token (the CLI config written by setup) the influx CLI already has.
# For a stack set up before this script existed, run it once by hand:
#   docker compose exec influxdb /docker-entrypoint-initdb.d/10-ha-ingestor-tokens.sh
# It is idempotent: a token file that exists and is not empty is kept.
set -eu

# Only the tests move it.
tokens="${HA_INGESTOR_TOKENS_DIR:-/tokens}"

bucket="${DOCKER_INFLUXDB_INIT_BUCKET:?}"
org="${DOCKER_INFLUXDB_INIT_ORG:?}"
# By hand (docker compose exec) the admin token comes from the environment compose passes.
export INFLUX_TOKEN="${INFLUX_TOKEN:-${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN:-}}"
[ -n "$INFLUX_TOKEN" ] || unset INFLUX_TOKEN
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --org "$org" --name "$bucket" --hide-headers | cut -f 1)}"
[ -n "$bucket_id" ] || { echo "ha-ingestor tokens: bucket $bucket not found in org $org" >&2; exit 1; }

# make_token <dir> <permission flag> <description>
make_token() {
  dir="$1"
  if [ -s "$dir/token" ]; then
    echo "ha-ingestor tokens: $dir/token exists, kept"
    return
  fi
  mkdir -p "$dir"
  token="$(influx auth create --org "$org" "$2" "$bucket_id" --description "$3" --json \
    | sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*$/\1/p')"
  [ -n "$token" ] || { echo "ha-ingestor tokens: influx auth create gave no token for $dir" >&2; exit 1; }
  # Written then renamed: a reader never sees half a token. Readable by the one service that
  # mounts this volume (its user differs from influxdb's); nothing else mounts it.
  printf '%s' "$token" > "$dir/token.tmp"
  chmod 0444 "$dir/token.tmp"
  mv "$dir/token.tmp" "$dir/token"
  echo "ha-ingestor tokens: created $dir/token ($3)"
}

make_token "$tokens/ingestor" --write-bucket "ha-influx-ingestor: write-only, bucket $bucket"
make_token "$tokens/grafana" --read-bucket "Grafana: read-only, bucket $bucket"
