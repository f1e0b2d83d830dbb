package fxasyncriver

// This file holds the fx module: the Handoff starts with the application,
// and stops after the scheduler's drain and before the database closes.

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// StepName is the hand-off's step in fxshutdown's sequence and summary.
const StepName = "durable-handoff"

// Module provides a *Handoff on the graph's *sql.DB and *fxasync.Scheduler
// (fxasync.Module). It starts River on start; on stop, after the
// scheduler's drain and before the hooks of the *sql.DB's constructor (its
// close), it hands off what the drain cut short, makes unsettled jobs
// runnable and stops River — as the step StepName when a
// *fxshutdown.Shutdown is in the graph, as an OnStop hook otherwise. A
// Config in the graph configures it; without a Config.Logger, River logs to
// the graph's *slog.Logger, else to its *zap.Logger (named "river",
// warnings and errors). Register kinds in constructors or fx.Invoke: before
// the application starts.
var Module = fx.Module("fxasyncriver",
	fx.Provide(NewFromParams),
	// Built before the scheduler, so its stop runs after the drain; it
	// gets the scheduler once both are built.
	fxasync.DrainBefore[*Handoff](),
	fx.Invoke(func(h *Handoff, s *fxasync.Scheduler) { h.setScheduler(s) }),
)

// Params are what NewFromParams takes from the graph.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	DB        *sql.DB
	Config    Config               `optional:"true"`
	Logger    *slog.Logger         `optional:"true"`
	Zap       *zap.Logger          `optional:"true"` // used when there is no *slog.Logger
	Shutdown  *fxshutdown.Shutdown `optional:"true"`
}

// NewFromParams builds the Module's Handoff and registers its start and
// stop. Most applications use Module instead.
func NewFromParams(p Params) *Handoff {
	cfg := p.Config
	if cfg.Logger == nil {
		cfg.Logger = p.Logger
	}
	if cfg.Logger == nil && p.Zap != nil {
		z := p.Zap.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
		cfg.Logger = slog.New(zapslog.NewHandler(z.Core(), zapslog.WithName(joinName(z.Name(), "river"))))
	}
	h := New(p.DB, nil, cfg)
	p.Lifecycle.Append(fx.StartHook(h.Start))
	if p.Shutdown != nil {
		p.Shutdown.Add(StepName, h.Stop)
	} else {
		p.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error { return h.Stop(ctx) }))
	}
	return h
}

// joinName is zap's Named: name under parent, if any.
func joinName(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
