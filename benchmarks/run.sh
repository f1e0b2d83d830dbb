#!/usr/bin/env bash
# Runs the benchmark suite and prints, for each figure, the median of each
# implementation and its ratio to the floor (a bare go statement tracked by a
# sync.WaitGroup) measured in the same run. Then benchstat's own summary.
#
#   ./run.sh                 # default: 10 alternating rounds, -cpu 1,2
#   COUNT=5 CPU=2 ./run.sh   # quicker
#   BENCH=BenchmarkGo$ ./run.sh
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${COUNT:-10} # rounds
CPU=${CPU:-1,2}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-200000x}
# The durable figures need Postgres: the project's machines run it here.
export FXASYNC_POSTGRES_URL=${FXASYNC_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
mkdir -p results
out=results/$(date -u +%Y%m%dT%H%M%SZ).txt
# Each benchmark binary is built once, then run in rounds of -count 1, so
# that an implementation and its baseline alternate and the machine's drift
# falls on both alike (-count N would run each N times in a row).
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/core.test" .
(cd ../examples/app && go test -c -o "$bin/app.test" .)
(cd ../fxasync/fxasyncriver && go test -c -o "$bin/river.test" .)
rounds() { # rounds N DIR BINARY ARGS...: N runs of BINARY in DIR, one count each
  local n=$1 dir=$2 test=$3 r
  shift 3
  for r in $(seq "$n"); do
    # The output is filtered for benchmark lines: say a failed round here.
    (cd "$dir" && "$bin/$test" -test.run '^$' -test.count 1 "$@") ||
      { echo "run.sh: $test failed in round $r: $*" >&2; touch "$bin/failed"; }
  done
}
core() { rounds "$1" . core.test "${@:2}"; }
{
  core "$COUNT" -test.bench "$BENCH" -test.benchtime "$BENCHTIME" -test.cpu "$CPU" \
    -test.skip 'DrainWakeup|PendingMemory|StartLatency|CPUPerTask|Retry|Backoff|BesideAFailing|HotKey|SetCost' |
    awk '/^Benchmark/ || (/^(goos|goarch|pkg|cpu):/ && !seen[$0]++)' # the machine's lines once
  core "$COUNT" -test.bench "$BENCH" -test.benchtime 2000x -test.cpu "$CPU" \
    -test.skip 'BenchmarkGo|DrainWakeup|PendingMemory|Retry|Backoff|BesideAFailing|HotKey|SetCost' | grep -E 'StartLatency|CPUPerTask' || true
  core "$COUNT" -test.bench "$BENCH" -test.benchtime 3000x -test.cpu "$CPU" \
    -test.skip 'BenchmarkGo|PendingMemory|Retry|Backoff|BesideAFailing|HotKey|SetCost' | grep DrainWakeup || true
  core 3 -test.bench "$BENCH" -test.benchtime 1x -test.cpu "$CPU" \
    -test.skip 'BenchmarkGo|DrainWakeup|StartLatency|CPUPerTask|Retry|Backoff|BesideAFailing|HotKey|SetCost' | grep PendingMemory || true
  # Retries: bytes per task waiting for its retry, the drain's overshoot
  # during a backoff, and another label's start latency beside a label that
  # fails every attempt (each 10,000 starts, 1 ms apart).
  core 5 -test.bench 'RetryWaitingMemory' -test.benchtime 1x -test.cpu 2 | grep -E '^Benchmark' || true
  core 3 -test.bench 'DrainDuringBackoff' -test.benchtime 50x -test.cpu 2 | grep -E '^Benchmark' || true
  core 3 -test.bench 'LatencyBesideAFailingLabel' -test.benchtime 10000x -test.cpu 2 | grep -E '^Benchmark' || true
  # Keyed work: hot-key writes with a Coalescer against one task per write,
  # and what a Set or a GoKeyed costs the caller against a Go.
  core "$COUNT" -test.bench 'HotKeyWrites|SetCost' -test.benchtime 200000x -test.cpu 2 | grep -E '^Benchmark' || true
  # The example service (its own module): rows/s through the batcher against
  # one task per row; latency and throughput with usage logging through the
  # batcher against none at all, 16 and 128 clients.
  # With -durable against the default, on SQLite and Postgres, 16 and 128
  # clients (each round a fresh database); durable rows/s against a
  # transaction per row; and what one durable submit costs a request alone.
  {
    rounds "$COUNT" ../examples/app app.test -test.bench 'UsageRows' -test.benchtime 20000x
    rounds "$COUNT" ../examples/app app.test -test.bench 'ChatLoad/delay=0s/clients=.*/mode=(none|batch)$' -test.benchtime 20000x
    rounds "$COUNT" ../examples/app app.test -test.bench 'DurableLoad' -test.benchtime 20000x
    rounds "$COUNT" ../fxasync/fxasyncriver river.test -test.bench 'Submit' -test.benchtime 5000x
    rounds 5 ../fxasync/fxasyncriver river.test -test.bench 'DurableRows' -test.benchtime 5000x
  } | grep -E '^Benchmark' || true
} | tee "$out" >/dev/null
echo "raw results: $out"
echo
go run ./cmd/ratios <"$out"
echo
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /impl -filter ".unit:(sec/op OR wake-sec)" "$out"
if [ -e "$bin/failed" ]; then
  echo "run.sh: some rounds failed (above); $out lacks their figures" >&2
  exit 1
fi
