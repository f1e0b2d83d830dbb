#!/usr/bin/env bash
# Compares two revisions on this machine, now: builds the benchmark binary of
# each (git worktrees), alternates single runs of them for N rounds so that
# the machine's drift falls on both alike, and prints each side's medians and
# ratios to the floor measured in the same run.
#
#   benchmarks/ab.sh c0c04e4 HEAD          # N=10 rounds
#   N=4 BENCH='BenchmarkGo$' benchmarks/ab.sh HEAD~1 HEAD
#   LATENCY=1 benchmarks/ab.sh HEAD~1 HEAD # adds start latency and CPU per task
set -euo pipefail
cd "$(dirname "$0")"
OLD=${1:?old revision}; NEW=${2:?new revision}
N=${N:-10}
BENCH=${BENCH:-'BenchmarkGo(Parallel)?$/impl=(floor|fxasync)$'}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1; git worktree remove --force "$work/new" >/dev/null 2>&1; rm -rf "$work"' EXIT
out=results/ab-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
for side in old new; do
  rev=$OLD; [ "$side" = new ] && rev=$NEW
  git worktree add -f --detach "$work/$side" "$rev" >/dev/null 2>&1
  (cd "$work/$side/benchmarks" && go test -c -o "$work/$side.test" .)
done
for i in $(seq "$N"); do
  for side in old new; do
    "$work/$side.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime 200000x -test.count 1 -test.cpu 1,2 >>"$out/$side.txt"
    "$work/$side.test" -test.run '^$' -test.bench 'BenchmarkDrainWakeup' -test.benchtime 3000x -test.count 1 -test.cpu 1,2 |
      grep DrainWakeup >>"$out/$side.txt" || true
    if [ -n "${LATENCY:-}" ]; then # start latency and CPU per task: one sample per task, 2,000 a round
      "$work/$side.test" -test.run '^$' -test.bench 'BenchmarkStartLatency|BenchmarkCPUPerTask' -test.benchtime 2000x \
        -test.count 1 -test.cpu 1,2 | grep -E 'StartLatency|CPUPerTask' >>"$out/$side.txt" || true
    fi
  done
done
for side in old new; do
  echo "== $side ($([ "$side" = old ] && echo "$OLD" || echo "$NEW")), raw: $out/$side.txt"
  go run ./cmd/ratios <"$out/$side.txt"
done
