package fxasyncprom

import (
	"errors"

	"github.com/fxtools/background/fxasync"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Module registers a Collector for the graph's *fxasync.Scheduler with the
// graph's prometheus.Registerer, or else its *prometheus.Registry. With
// neither, the application does not start, and the error says what to
// provide: a Module that exported nothing, silently, was a trap.
var Module = fx.Module("fxasyncprom", fx.Invoke(Register))

// RegisterParams are what Register takes from the graph.
type RegisterParams struct {
	fx.In

	Scheduler  *fxasync.Scheduler
	Registerer prometheus.Registerer `optional:"true"`
	Registry   *prometheus.Registry  `optional:"true"` // used when there is no Registerer
}

// ErrNoRegisterer is Register's error when the graph has neither a
// prometheus.Registerer nor a *prometheus.Registry.
var ErrNoRegisterer = errors.New("fxasyncprom: the graph has neither a prometheus.Registerer nor a *prometheus.Registry " +
	"to register the scheduler's collector with: provide one (fx.Supply(prometheus.NewRegistry()), or " +
	"prometheus.DefaultRegisterer as a prometheus.Registerer), or leave fxasyncprom.Module out")

// Register adds the scheduler's collector to the Registerer, or else the
// Registry, and fails with ErrNoRegisterer when there is neither.
func Register(p RegisterParams) error {
	switch {
	case p.Registerer != nil:
		return p.Registerer.Register(NewCollector(p.Scheduler))
	case p.Registry != nil:
		return p.Registry.Register(NewCollector(p.Scheduler))
	}
	return ErrNoRegisterer
}
