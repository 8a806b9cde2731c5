#!/usr/bin/env bash
# Builds the Docker image and checks, on a running container, what the Dockerfile promises: it answers /health and a
# chat on the built-in mock provider, node (not npm or a shell) is PID 1, it runs as a non-root user, its HEALTHCHECK
# passes (and fails when nothing answers), and SIGTERM ends it gracefully with exit code 0.
#
#   scripts/image-check.sh [--no-build] [--tag heimdall:check] [--port 18080]
#
# The engine is docker when its daemon answers, else podman (ENGINE=podman|docker forces one). Extra build flags go
# in BUILD_FLAGS (say BUILD_FLAGS="--network host").
set -euo pipefail

tag=heimdall:check
port=18080
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --tag) tag=$2; shift ;;
    --port) port=$2; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
# shellcheck source=container-engine.sh
. scripts/container-engine.sh

failures=0
check() { # check <what> <command…>
  local what=$1; shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; failures=$((failures + 1)); fi
}

if [ $build = 1 ]; then
  # HEALTHCHECK is part of Docker's image format, not OCI's: podman keeps it only with --format docker.
  format=(); [ "$ENGINE" = podman ] && format=(--format docker)
  # shellcheck disable=SC2086
  $ENGINE build "${format[@]}" ${BUILD_FLAGS:-} -t "$tag" .
fi

container=$($ENGINE run -d -p "127.0.0.1:$port:8080" "$tag" 2>/dev/null | tail -1)
trap '$ENGINE rm -f "$container" >/dev/null 2>&1 || true' EXIT

for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done
check "GET /health answers 200" curl -sf -o /dev/null "http://127.0.0.1:$port/health"
chat=$(curl -s "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"mock/echo","messages":[{"role":"user","content":"ping"}]}')
check "a chat on mock/echo answers" grep -q '"content":"Echo: ping"' <<< "$chat"

check "the request log store opened (/app/data/logs.db)" $ENGINE exec "$container" test -s /app/data/logs.db

pid1=$($ENGINE exec "$container" sh -c 'tr "\0" " " < /proc/1/cmdline')
check "node is PID 1 (it runs: $pid1)" grep -q '^node dist/src/main.js' <<< "$pid1"
uid=$($ENGINE exec "$container" sh -c 'awk "/^Uid:/ {print \$2}" /proc/1/status')
check "PID 1 is not root (uid $uid)" test "$uid" != 0

if [ "$ENGINE" = podman ]; then
  check "HEALTHCHECK passes on a serving container" $ENGINE healthcheck run "$container"
else
  for _ in $(seq 40); do
    [ "$($ENGINE inspect -f '{{.State.Health.Status}}' "$container")" != starting ] && break
    sleep 0.5
  done
  check "HEALTHCHECK reports healthy" test "$($ENGINE inspect -f '{{.State.Health.Status}}' "$container")" = healthy
fi
# The same probe with nothing listening must fail, or a dead gateway would pass as healthy.
probe=$($ENGINE inspect -f '{{index .Config.Healthcheck.Test 1}}' "$container")
# Exit code 1 is the probe's own verdict; the engine's failures (125–127) would not count.
probe_exit=0
$ENGINE run --rm --entrypoint sh "$tag" -c "$probe" >/dev/null 2>&1 || probe_exit=$?
check "HEALTHCHECK fails when nothing answers (exit $probe_exit)" test "$probe_exit" = 1

started=$(date +%s%N)
$ENGINE stop -t 20 "$container" >/dev/null
stopped_ms=$(( ($(date +%s%N) - started) / 1000000 ))
exit_code=$($ENGINE inspect -f '{{.State.ExitCode}}' "$container")
check "SIGTERM: exit code 0 (took ${stopped_ms} ms)" test "$exit_code" = 0
last_line=$($ENGINE logs "$container" 2>/dev/null | tail -1)
check "SIGTERM: graceful shutdown logged 'stopped' last" grep -q '"msg":"stopped"' <<< "$last_line"

if [ $failures -gt 0 ]; then echo "$failures check(s) failed"; exit 1; fi
size_mb=$(( $($ENGINE image inspect -f '{{.Size}}' "$tag") / 1000000 ))
echo "all checks passed ($ENGINE, image $tag, $size_mb MB)"
