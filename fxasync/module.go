package fxasync

// This file holds the fx module: it provides the Scheduler and drains it on
// stop, before the resources named with DrainBefore.

import (
	"context"
	"log/slog"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"github.com/fxtools/background/internal/budget"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides a *Scheduler to an fx application and drains it on stop.
//
// It takes from the graph a *zap.Logger when there is one, else a
// *slog.Logger (else warnings and errors go to stderr), a Config when one is supplied, and the Options of
// the OptionGroup value group (applied after the Config). With a
// *fxshutdown.Shutdown in the graph, the drain is its step named
// [DrainStepName], bounded by fxshutdown like every step; when the stop lost
// work (see [DrainStats].Lost) the step fails with a [*LostError], so the
// summary line says "async-tasks: lost N" and fxshutdown.Run exits with
// fxshutdown.ExitLost. Without fxshutdown, its own OnStop hook drains within
// Config.StopShare of the time left in fx's stop budget, grace included, and
// logs what was lost. Either way the hooks after it still run.
//
// Hooks stop in the reverse order of construction. To drain before a resource
// that tasks use stops, add DrainBefore for its type.
var Module = fx.Module("fxasync", fx.Provide(NewFromParams))

// DrainStepName is the drain's step name in fxshutdown's sequence and summary.
const DrainStepName = "async-tasks"

// OptionGroup is the fx value group of Options that Module applies after the
// graph's Config: how other modules configure the scheduler (fxasyncotel
// adds its tracing middleware). fx delivers a group in no set order.
const OptionGroup = "fxasync.options"

// Params are what NewFromParams takes from the graph.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Logger    *zap.Logger          `optional:"true"`
	Slog      *slog.Logger         `optional:"true"` // used when there is no *zap.Logger
	Config    Config               `optional:"true"`
	Shutdown  *fxshutdown.Shutdown `optional:"true"`
	// Before makes fx build every type named with DrainBefore first.
	Before []drainBefore `group:"fxasync.drain-before"`
	// Options are other modules' options (OptionGroup).
	Options []Option `group:"fxasync.options"`
}

// NewFromParams builds the Module's Scheduler and registers its drain. Most
// applications use Module instead.
func NewFromParams(p Params) *Scheduler {
	log := WithLogger(p.Logger)
	if p.Logger == nil {
		log = WithSlog(p.Slog)
	}
	s := New(append([]Option{log, p.Config}, p.Options...)...) // Config.Logger, if set, wins
	cfg := s.engine().Config()
	if p.Shutdown != nil {
		p.Shutdown.Add(DrainStepName, s.drainOnStop, fxshutdown.WithTimeout(cfg.DrainTimeout+cfg.Grace+reportMargin),
			fxshutdown.WithPending(s.Pending))
		return s
	}
	p.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error {
		ctx, cancel := stopShare(ctx, cfg)
		defer cancel()
		_ = s.drainOnStop(ctx) // logged; the hooks after this must run
		return nil
	}))
	return s
}

// reportMargin is the time the drain step has beyond the drain's own bound
// and grace, so that the drain reports what it lost before the step is
// abandoned: with only the twentieth budget.Split keeps, a 60 ms drain had 3
// ms, and a loaded machine overran it (the summary then said "abandoned",
// not "lost 3").
const reportMargin = 50 * time.Millisecond

// stopShare bounds the drain, grace included, to cfg.StopShare of the time
// ctx has left: the budget rule, for a hook that does not know the hooks
// after it.
func stopShare(ctx context.Context, cfg Config) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	left := time.Until(deadline)
	return context.WithTimeout(ctx, budget.Of(left, cfg.DrainTimeout+cfg.Grace, budget.Share(left, cfg.StopShare)))
}

// drainOnStop drains, logs the outcome and returns a *LostError when the
// stop lost work. A drain that gave up has logged its own warning.
func (s *Scheduler) drainOnStop(ctx context.Context) error {
	log := s.engine().Config().Logger
	start := time.Now()
	log.Info("draining async tasks", zap.Int("pending", s.Pending()))
	err := s.Drain(ctx)
	lost := s.LastDrain().Lost
	if err == nil {
		level := zap.InfoLevel
		if lost.Total() > 0 {
			level = zap.WarnLevel
		}
		log.Log(level, "async tasks drained", zap.Duration("took", time.Since(start)),
			zap.Int("lost", lost.Total()), zap.Strings("lost_by_label", lost.Strings()))
	}
	if lost.Total() > 0 {
		return &LostError{Lost: lost}
	}
	return nil
}

// drainBefore is what DrainBefore feeds to the scheduler's constructor.
type drainBefore struct{}

// DrainBefore makes the Module's drain run before T's OnStop hooks, whatever
// order constructors list their parameters in.
//
// fx stops hooks in the reverse order of their Append, and appends them in
// the order constructors run. DrainBefore feeds a value group that the
// scheduler's constructor consumes, so fx builds T first, and T's hooks run
// after the drain. Limits: T must append its hooks in its own constructor
// (not in an fx.Invoke that runs later), and T must not depend on *Scheduler,
// or fx reports a dependency cycle.
func DrainBefore[T any]() fx.Option {
	return fx.Provide(fx.Annotate(
		func(T) drainBefore { return drainBefore{} },
		fx.ResultTags(`group:"fxasync.drain-before"`),
	))
}
