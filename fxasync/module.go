package fxasync

// This file holds the fx module: it provides the Scheduler and drains it on
// stop, before the resources named with DrainBefore.

import (
	"context"
	"log/slog"
	"time"

	"github.com/fxtools/background/fxshutdown"
	"github.com/fxtools/background/internal/budget"
	"github.com/fxtools/background/internal/core"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides a *Scheduler to an fx application and drains it on stop.
//
// It takes from the graph the Config supplied to it, if any, filling its
// Logger with the graph's *zap.Logger when there is one, else its Slog
// with the graph's *slog.Logger (else warnings and errors go to stderr).
// With a *fxshutdown.Shutdown in the graph, the drain is its step named
// [StepName], bounded by fxshutdown like every step; when the stop lost
// work (see [DrainStats].Lost) the step fails with a [*LostError], so the
// summary line says "async-tasks: lost N" and fxshutdown.Run exits with
// fxshutdown.ExitLost. Without fxshutdown, its own OnStop hook drains within
// Config.StopShare of the time left in fx's stop budget, grace included, and
// logs what was lost. Either way the hooks after it still run.
//
// Hooks stop in the reverse order of construction. To drain before a resource
// that tasks use stops, add DrainBefore for its type.
var Module = fx.Module("fxasync", fx.Provide(newFromGraph))

// StepName is the drain's step name in fxshutdown's sequence and summary.
const StepName = "async-tasks"

// params are what the Module takes from the graph.
type params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Logger    *zap.Logger          `optional:"true"`
	Slog      *slog.Logger         `optional:"true"` // used when there is no *zap.Logger
	Config    Config               `optional:"true"`
	Keeper    Keeper               `optional:"true"` // used when Config.Keeper is nil
	Shutdown  *fxshutdown.Shutdown `optional:"true"`
	// Before makes fx build every type named with DrainBefore first.
	Before []drainBefore `group:"fxasync.drain-before"`
}

// newFromGraph builds the Module's Scheduler and registers its drain.
func newFromGraph(p params) *Scheduler { return fromGraph(p, New) }

// fromGraph is newFromGraph with build in place of New (fxasynctest's).
func fromGraph(p params, build func(Config) *Scheduler) *Scheduler {
	cfg := p.Config
	if cfg.Logger == nil && cfg.Slog == nil {
		cfg.Logger, cfg.Slog = p.Logger, p.Slog
	}
	if cfg.Keeper == nil {
		cfg.Keeper = p.Keeper
	}
	s := build(cfg)
	ec := s.engine().Config()
	bound := ec.DrainTimeout + ec.Grace
	if s.keeper != nil {
		bound += s.keepTimeout
	}
	if p.Shutdown != nil {
		p.Shutdown.Add(fxshutdown.Step{Name: StepName, Run: s.drainOnStop, Timeout: bound + reportMargin, Pending: s.Pending})
		return s
	}
	p.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error {
		ctx, cancel := stopShare(ctx, ec, bound)
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
func stopShare(ctx context.Context, cfg core.Config, bound time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	left := time.Until(deadline)
	return context.WithTimeout(ctx, budget.Of(left, bound, budget.Share(left, cfg.StopShare)))
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
			zap.Int("lost", lost.Total()), zap.Strings("lost_by_label", lost.lostStrings()))
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
