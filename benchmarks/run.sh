#!/usr/bin/env bash
# Runs the benchmark suite and prints, for each figure, the median of each
# implementation and its ratio to the floor (a bare go statement tracked by a
# sync.WaitGroup) measured in the same run. Then benchstat's own summary.
#
#   ./run.sh                 # default: -count 10, -cpu 1,2
#   COUNT=5 CPU=2 ./run.sh   # quicker
#   BENCH=BenchmarkGo$ ./run.sh
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${COUNT:-10}
CPU=${CPU:-1,2}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-200000x}
# The durable figures need Postgres: the project's machines run it here.
export FXASYNC_POSTGRES_URL=${FXASYNC_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
mkdir -p results
out=results/$(date -u +%Y%m%dT%H%M%SZ).txt
{
  go test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -count "$COUNT" -cpu "$CPU" \
    -skip 'DrainWakeup|PendingMemory|StartLatency|CPUPerTask|Retry|Backoff|BesideAFailing|HotKey|SetCost' .
  go test -run '^$' -bench "$BENCH" -benchtime 2000x -count "$COUNT" -cpu "$CPU" \
    -skip 'BenchmarkGo|DrainWakeup|PendingMemory|Retry|Backoff|BesideAFailing|HotKey|SetCost' . | grep -E 'StartLatency|CPUPerTask' || true
  go test -run '^$' -bench "$BENCH" -benchtime 3000x -count "$COUNT" -cpu "$CPU" \
    -skip 'BenchmarkGo|PendingMemory|Retry|Backoff|BesideAFailing|HotKey|SetCost' . | grep DrainWakeup || true
  go test -run '^$' -bench "$BENCH" -benchtime 1x -count 3 -cpu "$CPU" -skip 'BenchmarkGo|DrainWakeup|StartLatency|CPUPerTask|Retry|Backoff|BesideAFailing|HotKey|SetCost' . \
    | grep PendingMemory || true
  # Retries: bytes per task waiting for its retry, the drain's overshoot
  # during a backoff, and another label's start latency beside a label that
  # fails every attempt (each 10,000 starts, 1 ms apart).
  go test -run '^$' -bench 'RetryWaitingMemory' -benchtime 1x -count 5 -cpu 2 . | grep -E '^Benchmark' || true
  go test -run '^$' -bench 'DrainDuringBackoff' -benchtime 50x -count 3 -cpu 2 . | grep -E '^Benchmark' || true
  go test -run '^$' -bench 'LatencyBesideAFailingLabel' -benchtime 10000x -count 3 -cpu 2 . | grep -E '^Benchmark' || true
  # Keyed work: hot-key writes with a Coalescer against one task per write,
  # and what a Set or a GoKeyed costs the caller against a Go.
  go test -run '^$' -bench 'HotKeyWrites|SetCost' -benchtime 200000x -count "$COUNT" -cpu 2 . | grep -E '^Benchmark' || true
  # The example service (its own module): rows/s through the batcher against
  # one task per row; latency and throughput with usage logging through the
  # batcher against none at all, 16 and 128 clients.
  # With -durable against the default, on SQLite and Postgres, 16 and 128
  # clients (each round a fresh database); durable rows/s against a
  # transaction per row; and what one durable submit costs a request alone.
  (cd ../examples/app && go test -run '^$' -bench 'UsageRows' -benchtime 20000x -count "$COUNT" . &&
    go test -run '^$' -bench 'ChatLoad/delay=0s/clients=.*/mode=(none|batch)$' -benchtime 20000x -count "$COUNT" . &&
    go test -run '^$' -bench 'DurableLoad' -benchtime 20000x -count "$COUNT" .) \
    | grep -E '^Benchmark' || true
  (cd ../fxasync/fxasyncriver && go test -run '^$' -bench 'Submit' -benchtime 5000x -count "$COUNT" . &&
    go test -run '^$' -bench 'DurableRows' -benchtime 5000x -count 5 .) \
    | grep -E '^Benchmark' || true
} | tee "$out" >/dev/null
echo "raw results: $out"
echo
go run ./cmd/ratios <"$out"
echo
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /impl -filter ".unit:(sec/op OR wake-sec)" "$out"
