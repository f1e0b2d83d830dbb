package fxasync

import (
	"context"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides a *Scheduler to an fx application and drains it on stop.
//
// It takes a *zap.Logger from the graph when there is one (else warnings and
// errors go to stderr) and a Config when one is supplied. Its OnStop hook
// drains within Config.StopShare of the time left in fx's stop budget, logs
// a drain that timed out and returns nil, so the hooks after it still run.
//
// Hooks stop in the reverse order of construction. To drain before a resource
// that tasks use stops, add DrainBefore for its type.
var Module = fx.Module("fxasync", fx.Provide(NewFromParams))

// Config is the Module's optional configuration: fx.Supply one to change it.
// Zero fields keep the defaults.
type Config struct {
	DrainTimeout time.Duration // see WithDrainTimeout; default 5 s
	Grace        time.Duration // see WithGrace; default 250 ms
	MaxInFlight  int           // see WithMaxInFlight; default unbounded
	MaxLabels    int           // see WithMaxLabels; default 256
	CallSites    bool          // see WithCallSites
	PprofLabels  bool          // see WithPprofLabels
	// StopShare is the largest share of the time left in fx's stop budget
	// (StopTimeout, 15 s by default, shared by every OnStop hook) that the
	// drain and its grace may use, so the hooks after it keep the rest.
	// Default 0.5.
	StopShare float64
}

// DefaultStopShare is Config.StopShare's default.
const DefaultStopShare = 0.5

// Params are what NewFromParams takes from the graph.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Logger    *zap.Logger `optional:"true"`
	Config    Config      `optional:"true"`
	// Before makes fx build every type named with DrainBefore first.
	Before []drainBefore `group:"fxasync.drain-before"`
}

// NewFromParams builds the Module's Scheduler and appends its drain to the
// lifecycle. Most applications use Module instead.
func NewFromParams(p Params) *Scheduler {
	opts := []Option{WithDrainTimeout(p.Config.DrainTimeout), WithGrace(p.Config.Grace),
		WithMaxInFlight(p.Config.MaxInFlight), WithMaxLabels(p.Config.MaxLabels)}
	if p.Logger != nil {
		opts = append(opts, WithLogger(p.Logger))
	}
	if p.Config.CallSites {
		opts = append(opts, WithCallSites())
	}
	if p.Config.PprofLabels {
		opts = append(opts, WithPprofLabels())
	}
	s := New(opts...)
	share := p.Config.StopShare
	if share <= 0 || share > 1 {
		share = DefaultStopShare
	}
	p.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error {
		s.drainOnStop(ctx, share)
		return nil // a timeout is logged by Drain; the hooks after this must run
	}))
	return s
}

func (s *Scheduler) drainOnStop(ctx context.Context, share float64) {
	cfg := s.engine().Config()
	ctx, cancel := stopBudget(ctx, share, cfg.Grace)
	defer cancel()
	start := time.Now()
	cfg.Logger.Info("draining async tasks", zap.Int("pending", s.Pending()))
	if err := s.Drain(ctx); err == nil {
		cfg.Logger.Info("async tasks drained", zap.Duration("took", time.Since(start)))
	}
}

// stopBudget bounds the drain so that it and its grace end within share of
// the time ctx has left.
func stopBudget(ctx context.Context, share float64, grace time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	budget := time.Duration(float64(time.Until(deadline))*share) - grace
	return context.WithTimeout(ctx, max(budget, 0))
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
