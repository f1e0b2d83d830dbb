package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
)

// metrics gives the graph one registry, as the Registerer that
// fxasyncprom.Module registers the scheduler's collector with and as the
// Gatherer that /metrics serves.
type metrics struct {
	fx.Out

	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

func newMetrics() metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return metrics{Registerer: r, Gatherer: r}
}
