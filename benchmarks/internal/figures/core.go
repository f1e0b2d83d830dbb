package figures

// This file holds the core's tables: the goals, and Go against its peers.

import "fmt"

// goals is every figure with a goal, as a ratio to its baseline.
func goals(r *Results) string {
	var rows [][]string
	perCPU := func(what, goal string, cell func(cpu int) string) {
		rows = append(rows, []string{what, cell(1), cell(2), goal})
	}
	below := func(bench, impl, base, unit string, goal float64) func(int) string {
		return func(cpu int) string {
			v := ratioOf(r, bench, impl, base, unit, cpu)
			return times(v, v <= goal)
		}
	}
	perCPU("`Go` + final wait, serial (floor)", "≤ 0.5×", below("BenchmarkGo", "/impl=fxasync", "/impl=floor", "ns/op", 0.5))
	perCPU("`Go` + final wait, parallel (floor)", "≤ 0.5×", below("BenchmarkGoParallel", "/impl=fxasync", "/impl=floor", "ns/op", 0.5))
	perCPU("allocations per task", "≤ 1", func(cpu int) string {
		v := r.Median(at("BenchmarkGo/impl=fxasync", cpu), "allocs/op")
		return bold(fmt.Sprintf("%.0f", v), v <= 1)
	})
	shapes := []struct{ name, what string }{
		{"back-to-back", "one at a time"}, {"pause-200us", "200 µs between submissions"}, {"behind-1000-blocked", "behind 1,000 blocked tasks"},
	}
	for _, s := range shapes {
		perCPU("start latency p99, "+s.what+" (go statement)", "≤ 2×",
			below("BenchmarkStartLatency/shape="+s.name, "/impl=fxasync", "/impl=floor", "start-p99-ns", 2))
	}
	perCPU("start latency p50, the three shapes", "—", func(cpu int) string {
		var cells []string
		for _, s := range shapes {
			cells = append(cells, fmt.Sprintf("%.2f×", ratioOf(r, "BenchmarkStartLatency/shape="+s.name, "/impl=fxasync", "/impl=floor", "start-p50-ns", cpu)))
		}
		return cells[0] + " / " + cells[1] + " / " + cells[2]
	})
	perCPU("process CPU per task, bursts of 64 (go statement)", "≤ 1.0×", below("BenchmarkCPUPerTask", "/impl=fxasync", "/impl=floor", "cpu-ns/task", 1))
	perCPU("drain wake-up, last return → `Drain` returns (`WaitGroup.Wait`)", "≤ 1.5×", below("BenchmarkDrainWakeup", "/impl=fxasync", "/impl=floor", "wake-ns", 1.5))
	perCPU("memory per pending task, over a bare goroutine", "≤ +256 B", func(cpu int) string {
		v := r.Median(at("BenchmarkPendingMemory/impl=fxasync", cpu), "B/task") - r.Median(at("BenchmarkPendingMemory/impl=floor", cpu), "B/task")
		return bold(fmt.Sprintf("%+.0f B", v), v <= 256)
	})
	rowsRatio := ratioOf(r, "BenchmarkUsageRows", "/mode=batcher", "/mode=task", "rows/s", 2)
	rows = append(rows, []string{"usage rows/s into the example's SQLite, batcher (one task per row)", "—", times(rowsRatio, rowsRatio >= 10), "≥ 10×"})
	for _, clients := range []string{"16", "128"} {
		bench := "BenchmarkChatLoad/delay=0s/clients=" + clients
		p99 := ratioOf(r, bench, "/mode=batch", "/mode=none", "p99-ms", 2)
		tput := ratioOf(r, bench, "/mode=batch", "/mode=none", "req/s", 2)
		rows = append(rows, []string{"example, " + clients + " clients: p99 / throughput (no usage logging)", "—",
			times(p99, p99 <= 1.1) + " / " + times(tput, tput >= 0.9), "≤ 1.1× / ≥ 0.9×"})
	}
	return table([]string{"figure (ratio to its baseline)", "`-cpu 1`", "`-cpu 2`", "goal"}, rows...)
}

// peers are BenchmarkGo's implementations, in the table's order.
var peers = []struct{ impl, name string }{
	{"floor", "floor (go + WaitGroup)"},
	{"fxasync", "**fxasync `Scheduler.Go`**"},
	{"fxasync-unbounded", "fxasync, unbounded"},
	{"fxasync-prom", "fxasync + Prometheus collector"},
	{"fxasync-callsites", "fxasync + `Config.CallSites`"},
	{"fxasync-pprof", "fxasync + `Config.PprofLabels`"},
	{"tracker", "minimal tracker (recover + atomic)"},
	{"conc-wg", "sourcegraph/conc WaitGroup"},
	{"conc-pool", "sourcegraph/conc pool"},
	{"errgroup", "x/sync errgroup"},
	{"ants", "panjf2000/ants (large pool)"},
	{"pond-go", "alitto/pond v2 `Go`"},
	{"pond-submit", "alitto/pond v2 `Submit`"},
}

// goTable is ns per task, serial and parallel, at -cpu 1 and 2, with the
// ratio to the floor, and allocations.
func goTable(r *Results) string {
	var rows [][]string
	for _, p := range peers {
		row := []string{p.name}
		for _, bench := range []string{"BenchmarkGo", "BenchmarkGoParallel"} {
			for _, cpu := range []int{1, 2} {
				ns := r.Median(at(bench+"/impl="+p.impl, cpu), "ns/op")
				row = append(row, fmt.Sprintf("%.0f (%.2f)", ns, ratioOf(r, bench, "/impl="+p.impl, "/impl=floor", "ns/op", cpu)))
			}
		}
		row = append(row, fmt.Sprintf("%.0f", r.Median("BenchmarkGo/impl="+p.impl, "allocs/op")))
		rows = append(rows, row)
	}
	return table([]string{"", "serial `-cpu 1`", "serial `-cpu 2`", "parallel `-cpu 1`", "parallel `-cpu 2`", "allocs/op"}, rows...)
}
