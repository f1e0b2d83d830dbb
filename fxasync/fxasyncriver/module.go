package fxasyncriver

// This file holds the fx module: the HandOff starts with the application,
// and stops after the scheduler's drain and before the database closes.

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// StepName is the hand-off's step in fxshutdown's sequence and summary.
const StepName = "durable-handoff"

// Module provides a *HandOff on the graph's *sql.DB, and provides it as the
// fxasync.Keeper that fxasync.Module's scheduler hands what its drain cut
// short to. It starts River on start; on stop, after the scheduler's drain
// and before the hooks of the *sql.DB's constructor (its close), it makes
// unsettled jobs runnable and stops River — as the step StepName when a
// *fxshutdown.Shutdown is in the graph, as an OnStop hook otherwise. A
// Config in the graph configures it; without a Config.Logger or Slog, River
// logs to the graph's *zap.Logger (named "river", warnings and errors),
// else to its *slog.Logger. Register kinds in constructors or fx.Invoke:
// before the application starts.
var Module = fx.Module("fxasyncriver",
	fx.Provide(newFromGraph),
	// The scheduler takes its Keeper from the graph, so the HandOff is built
	// first and its stop runs after the drain.
	fx.Provide(func(h *HandOff) fxasync.Keeper { return h }),
)

// params are what the Module takes from the graph.
type params struct {
	fx.In

	Lifecycle fx.Lifecycle
	DB        *sql.DB
	Config    Config               `optional:"true"`
	Logger    *zap.Logger          `optional:"true"`
	Slog      *slog.Logger         `optional:"true"` // used when there is no *zap.Logger
	Shutdown  *fxshutdown.Shutdown `optional:"true"`
}

// newFromGraph builds the Module's HandOff and registers its start and
// stop.
func newFromGraph(p params) *HandOff {
	cfg := p.Config
	if cfg.Logger == nil && cfg.Slog == nil {
		cfg.Logger, cfg.Slog = p.Logger, p.Slog
	}
	h := New(p.DB, cfg)
	p.Lifecycle.Append(fx.StartHook(h.Start))
	if p.Shutdown != nil {
		p.Shutdown.Add(fxshutdown.Step{Name: StepName, Run: h.Stop})
	} else {
		p.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error { return h.Stop(ctx) }))
	}
	return h
}
