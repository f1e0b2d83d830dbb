package figures

// This file holds what retries cost (memory, the drain, other labels), and
// what keyed work costs and saves.

import "fmt"

// retries is the cost of tasks waiting for a retry.
func retries(r *Results) string {
	mem := func(impl string) string {
		return fmt.Sprintf("%.0f B", r.Median(at("BenchmarkRetryWaitingMemory/impl="+impl, 2), "B/task"))
	}
	drain := at("BenchmarkDrainDuringBackoff", 2)
	live := func(mode string) (string, string) {
		name := at("BenchmarkLatencyBesideAFailingLabel/mode="+mode, 2)
		return duration(r.Median(name, "start-p50-ns")), duration(r.Median(name, "start-p99-ns"))
	}
	a50, a99 := live("alone")
	f50, f99 := live("beside-failing")
	t50, t99 := live("beside-failing-retried")
	perFirst := r.Median(at("BenchmarkLatencyBesideAFailingLabel/mode=beside-failing-retried", 2), "retries/first")
	return table([]string{"figure", "value"},
		[]string{"memory per task waiting for its retry (100,000 waiting)", mem("fxasync-retry")},
		[]string{"memory per goroutine parked on a channel (100,000)", mem("parked-goroutine")},
		[]string{"drain past bound + grace, 1,000 tasks in a 10 s backoff: p50 / max (negative: before)",
			fmt.Sprintf("%.1f ms / %.1f ms", r.Median(drain, "ms-over-p50"), r.Median(drain, "ms-over-max"))},
		[]string{"another label's start latency p50 / p99: alone", a50 + " / " + a99},
		[]string{"… beside a label failing every attempt, 20,000 tasks/s, not retried", f50 + " / " + f99},
		[]string{"… beside it, retried (budget on)", t50 + " / " + t99},
		[]string{"the failing label's retries per first attempt (budget 0.1)", fmt.Sprintf("%.3f", perFirst)})
}

// keyed is what keyed work costs and saves.
func keyed(r *Results) string {
	hot := func(mode string) string { return at("BenchmarkHotKeyWrites/mode="+mode, 2) }
	cost := func(mode string) string {
		return fmt.Sprintf("%.0f ns (%.2f×)", r.Median(at("BenchmarkSetCost/mode="+mode, 2), "ns/op"),
			ratioOf(r, "BenchmarkSetCost", "/mode="+mode, "/mode=task", "ns/op", 2))
	}
	taskRate, coalRate := r.Median(hot("task"), "sets/s"), r.Median(hot("coalescer"), "sets/s")
	ratio := 0.0
	if taskRate > 0 {
		ratio = coalRate / taskRate
	}
	return table([]string{"figure", "value"},
		[]string{"10 hot keys, a 1.5 µs write: values set per second, one task per write", thousands(taskRate)},
		[]string{"… with a Coalescer (ratio)", fmt.Sprintf("%s (%.2f×)", thousands(coalRate), ratio)},
		[]string{"… writes per value set, with a Coalescer", fmt.Sprintf("%.4f", r.Median(hot("coalescer"), "writes/set"))},
		[]string{"what the caller pays: `Go`", cost("task")},
		[]string{"`Set` on a key with nothing waiting", cost("set-new-key")},
		[]string{"`Set` that replaces a waiting value", cost("set-hot-key")},
		[]string{"`GoKeyed`, 100 keys", cost("keyed")})
}
