#!/bin/bash
# Syscalls per stream of a gateway process (every thread), counted by strace -c over N streams of 20 chunks from the
# bench's mock: a count that a loaded machine does not change, unlike CPU time. Each send to the client, wake-up of a
# thread (futex, the event loop's eventfd write and read, epoll_pwait) and upstream read is one.
#
#   npx tsc -b && bench/stream-syscalls.sh TARGET [GAP_MS] [STREAMS]
#
# TARGET: baseline, bare-hop, or a gateway entry point (dist/src/main.js, or another build's copy such as
# before-dist/src/main.js). GAP_MS: the mock's gap between chunks (default 0: back to back). STREAMS: default 1000.
# Needs strace (apt-get install strace); 8 streams at a time, after 200 to warm up.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$1; GAP=${2:-0}; STREAMS=${3:-1000}
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
node "$ROOT/dist/bench/mock-upstream.js" --port 0 --chunks 20 --chunk-gap-ms "$GAP" > "$WORK/mock.log" 2>&1 &
for _ in $(seq 100); do grep -q LISTENING "$WORK/mock.log" && break; sleep 0.2; done
MOCK_PORT=$(awk '/LISTENING/ {print $2}' "$WORK/mock.log")
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
case "$TARGET" in
  baseline) node "$ROOT/dist/bench/baseline-proxy.js" --port "$PORT" --upstream "http://127.0.0.1:$MOCK_PORT" > "$WORK/target.log" 2>&1 & ;;
  bare-hop) node "$ROOT/dist/bench/bare-hop.js" --port "$PORT" --upstream "http://127.0.0.1:$MOCK_PORT" > "$WORK/target.log" 2>&1 & ;;
  *)
    echo "{\"providers\":{\"openai\":{\"keys\":[{\"value\":\"sk-bench\",\"models\":[\"*\"],\"weight\":1}],\"network_config\":{\"base_url\":\"http://127.0.0.1:$MOCK_PORT\"}}}}" > "$WORK/config.json"
    (cd "$WORK" && exec node "$ROOT/$TARGET" --config config.json --port "$PORT" --log-level warn) > "$WORK/target.log" 2>&1 & ;;
esac
TARGET_PID=$!
BODY='{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}'
for _ in $(seq 100); do curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/chat/completions" -H 'content-type: application/json' -d "$BODY" && break; sleep 0.3; done
streams() {
  node --input-type=module -e "
    import { Pool } from '$ROOT/node_modules/undici/index.js';
    const pool = new Pool('http://127.0.0.1:$PORT', { connections: 8 });
    let left = $1, ok = 0;
    const loop = async () => { while (left-- > 0) { const r = await pool.request({ path: '/v1/chat/completions', method: 'POST',
      headers: { 'content-type': 'application/json' }, body: '$BODY' }); await r.body.dump(); if (r.statusCode === 200) ok++; } };
    await Promise.all(Array.from({ length: 8 }, loop));
    await pool.close();
    if (ok !== $1) { console.error('only ' + ok + ' of $1 streams answered 200'); process.exit(1); }"
}
streams 200
strace -f -c -o "$WORK/strace.txt" -p "$TARGET_PID" & STRACE=$!
sleep 1
streams "$STREAMS"
kill -INT $STRACE; wait $STRACE 2>/dev/null || true
echo "$TARGET, 20 chunks ${GAP} ms apart, $STREAMS streams: syscalls per stream"
awk -v n="$STREAMS" 'NR > 2 && $NF != "total" && NF >= 5 && $4 + 0 > 0 { printf "%s %.2f  ", $NF, $4 / n; t += $4 }
  END { printf "\nall %.2f\n", t / n }' "$WORK/strace.txt"
