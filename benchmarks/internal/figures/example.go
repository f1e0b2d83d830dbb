package figures

// This file holds the example service's tables: HTTP load by usage mode,
// rows per second, and what a durable submit costs.

import "fmt"

// chatLoad is one BenchmarkChatLoad row: p50, p99 and throughput.
func chatLoad(r *Results, clients, mode string) (p50, p99, tput string) {
	name := at("BenchmarkChatLoad/delay=0s/clients="+clients+"/mode="+mode, 2)
	return duration(r.Median(name, "p50-ms") * 1e6), duration(r.Median(name, "p99-ms") * 1e6),
		thousands(r.Median(name, "req/s")) + " req/s"
}

// example is the service under load with and without usage logging.
func example(r *Results) string {
	var rows [][]string
	for _, clients := range []string{"16", "128"} {
		for _, m := range []struct{ mode, name string }{{"none", "none (`-no-usage`)"}, {"batch", "batched through fxasync (default)"}} {
			p50, p99, tput := chatLoad(r, clients, m.mode)
			perTx := "—"
			if m.mode == "batch" {
				perTx = fmt.Sprintf("%.0f", r.Median(at("BenchmarkChatLoad/delay=0s/clients="+clients+"/mode=batch", 2), "rows/txn"))
			}
			rows = append(rows, []string{m.name, clients, p50, p99, tput, perTx})
		}
	}
	return table([]string{"usage logging", "clients", "p50", "p99", "throughput", "rows per transaction"}, rows...)
}

// rows is usage rows per second into SQLite through the batcher against
// one task per row.
func rows(r *Results) string {
	task := r.Median(at("BenchmarkUsageRows/mode=task", 2), "rows/s")
	batch := r.Median(at("BenchmarkUsageRows/mode=batcher", 2), "rows/s")
	ratio := 0.0
	if task > 0 {
		ratio = batch / task
	}
	return table([]string{"usage rows into SQLite, 16 submitters (`BenchmarkUsageRows`)", "rows/s", "ratio"},
		[]string{"one task per row", thousands(task), "1.00×"},
		[]string{"through the batcher", thousands(batch), fmt.Sprintf("%.2f×", ratio)})
}

// durable is what a durable submit costs a request, alone and in the
// example at 16 clients.
func durable(r *Results) string {
	submit := func(mode string) (string, string) {
		name := at("BenchmarkSubmit/mode="+mode, 2)
		return duration(r.Median(name, "p50-ns")), duration(r.Median(name, "p99-ns"))
	}
	m50, m99 := submit("memory")
	d50, d99 := submit("durable")
	out := table([]string{"what a request pays (`BenchmarkSubmit`)", "p50", "p99"},
		[]string{"`kind.Go`: in memory", m50, m99},
		[]string{"`kind.Submit`: durable, its job committed", d50, d99})
	var rows [][]string
	for _, m := range []struct{ mode, name string }{
		{"none", "no usage logging (`-no-usage`)"}, {"batch", "batched in memory, kept at the stop (default)"}, {"durable", "durable (`-durable`)"},
	} {
		p50, p99, tput := chatLoad(r, "16", m.mode)
		rows = append(rows, []string{m.name, p50, p99, tput})
	}
	return out + "\n" + table([]string{"the example at 16 clients (`BenchmarkChatLoad`)", "p50", "p99", "throughput"}, rows...)
}
