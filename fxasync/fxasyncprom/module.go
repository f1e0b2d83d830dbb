package fxasyncprom

import (
	"github.com/fxtools/background/fxasync"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Module registers a Collector for the graph's *fxasync.Scheduler with the
// graph's prometheus.Registerer, when there is one.
var Module = fx.Module("fxasyncprom", fx.Invoke(Register))

// RegisterParams are what Register takes from the graph.
type RegisterParams struct {
	fx.In

	Scheduler  *fxasync.Scheduler
	Registerer prometheus.Registerer `optional:"true"`
}

// Register adds the scheduler's collector to the registerer, if any.
func Register(p RegisterParams) error {
	if p.Registerer == nil {
		return nil
	}
	return p.Registerer.Register(NewCollector(p.Scheduler))
}
