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

// durable is what a durable submit costs: a request alone, durable rows
// per second against a transaction per row, and the example service with
// -durable against its default, on SQLite and Postgres.
func durable(r *Results) string {
	submit := func(mode string) (string, string) {
		name := at("BenchmarkSubmit/mode="+mode, 2)
		return duration(r.Median(name, "p50-ns")), duration(r.Median(name, "p99-ns"))
	}
	m50, m99 := submit("memory")
	d50, d99 := submit("durable")
	out := table([]string{"what one request alone pays (`BenchmarkSubmit`, SQLite)", "p50", "p99"},
		[]string{"`kind.Go`: in memory", m50, m99},
		[]string{"`kind.Submit`: durable, committed", d50, d99})
	return out + "\n" + durableRows(r) + "\n" + durableLoad(r)
}

var durableSetups = []struct{ db, clients string }{{"sqlite", "16"}, {"sqlite", "128"}, {"postgres", "16"}, {"postgres", "128"}}

var dbNames = map[string]string{"sqlite": "SQLite", "postgres": "Postgres"}

// durableRows is durable rows per second through Submit against a
// transaction per row (BenchmarkDurableRows); goal 10×.
func durableRows(r *Results) string {
	var rows [][]string
	for _, s := range durableSetups {
		name := func(mode string) string {
			return at("BenchmarkDurableRows/db="+s.db+"/clients="+s.clients+"/mode="+mode, 2)
		}
		base := r.Median(name("tx-per-row"), "rows/s")
		cell := func(mode string) string {
			v := r.Median(name(mode), "rows/s")
			return thousands(v) + " (" + times(v/max(base, 1), v >= 10*base) + ")"
		}
		rows = append(rows, []string{dbNames[s.db], s.clients, thousands(base), cell("group"), cell("group-batch"),
			cell("group-leased"), fmt.Sprintf("%.0f", r.Median(name("group"), "tasks/commit"))})
	}
	return table([]string{"durable rows/s (`BenchmarkDurableRows`)", "clients", "a transaction per row",
		"`Submit`, written in the commit: a statement a task (`Register`)", "… one `INSERT` (`RegisterBatch`)",
		"`Submit`, a kind with `Before`: claimed in batches", "tasks per commit"}, rows...)
}

// durableLoad is the example with -durable against its default
// (BenchmarkDurableLoad); goals 0.5× the throughput, 2× the p99.
func durableLoad(r *Results) string {
	var rows [][]string
	for _, s := range durableSetups {
		name := func(mode string) string {
			return at("BenchmarkDurableLoad/db="+s.db+"/clients="+s.clients+"/mode="+mode, 2)
		}
		bt, dt := r.Median(name("batch"), "req/s"), r.Median(name("durable"), "req/s")
		b99, d99 := r.Median(name("batch"), "p99-ms"), r.Median(name("durable"), "p99-ms")
		rt, r99 := dt/max(bt, 1), d99/max(b99, 1e-9)
		rows = append(rows, []string{dbNames[s.db], s.clients,
			thousands(bt) + " req/s, p99 " + duration(b99*1e6),
			thousands(dt) + " req/s, p99 " + duration(d99*1e6),
			times(rt, rt >= 0.5), times(r99, r99 <= 2)})
	}
	return table([]string{"the example (`BenchmarkDurableLoad`)", "clients", "default: batched in memory", "`-durable`",
		"throughput", "p99"}, rows...)
}
