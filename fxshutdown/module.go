package fxshutdown

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides a *Shutdown and its *Readiness to an fx application. It
// takes a *zap.Logger (else a *slog.Logger) and a Config from the graph when
// present.
//
// The stop's summary is logged at ERROR when a step failed or lost work.
// Stopped by fx itself (app.Run, app.Stop), the application's stop returns
// the steps' errors, a loss included, so fx logs them too and app.Run exits
// 1. Under [Run], a stop that only lost work returns no error to fx: the
// summary is its one ERROR line and Run exits with ExitLost.
var Module = fx.Module("fxshutdown", fx.Provide(newFromGraph, (*Shutdown).Readiness))

// Config is the optional configuration: fx.Supply one to change it.
type Config struct {
	// StepTimeout bounds each step whose Step.Timeout is zero.
	// Default 5 s. The whole sequence also stays within fx's StopTimeout.
	StepTimeout time.Duration
	// ReadinessDelay is how long Run waits between marking the application
	// not ready and stopping it, so load balancers stop routing first.
	// Default 0.
	ReadinessDelay time.Duration
	// IgnoreLoss makes Run exit 0 when the only errors of the stop are
	// steps reporting lost work (see LossError). By default it exits with
	// ExitLost, so a deploy that lost work is visible.
	IgnoreLoss bool
	// TerminationGrace is the time between SIGTERM and the kill
	// (Kubernetes' terminationGracePeriodSeconds). When set (here or by
	// TerminationGraceEnv), Run checks before starting that the stop's plan
	// fits — readiness delay, every step's bound, safety margin — and that
	// fx's StopTimeout covers the steps; it fails the start with the numbers
	// when not, and logs the plan in one line. Default 0: no check.
	TerminationGrace time.Duration
	// PreStop is the time the pod's preStop hook takes before SIGTERM
	// (a sleep while endpoints are withdrawn): counted in the plan, not
	// slept by Run. PreStopEnv, when set, overrides it.
	PreStop time.Duration
	// SafetyMargin is the plan's time kept before the kill. Default a tenth
	// of the grace, at least 1 s.
	SafetyMargin time.Duration
	// TerminationLog is where the summary is written when the stop ends, at
	// most 4,096 bytes, for Kubernetes' termination message. Default
	// DefaultTerminationLog, written only when the file exists (a pod); "-"
	// writes none. TerminationLogEnv, when set, overrides it. Only a
	// regular file is written (a FIFO or device is refused with a warning),
	// within a second, outside the stop's locks.
	TerminationLog string
	// Logger receives the sequence, through Logger.Named("shutdown"). Nil:
	// Slog; without either, stderr. Module fills it from the graph's
	// *zap.Logger, else its *slog.Logger.
	Logger *zap.Logger
	// Slog is used when Logger is nil: the same messages and keys at the
	// same levels.
	Slog *slog.Logger
}

// params are what the Module takes from the graph.
type params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Logger    *zap.Logger  `optional:"true"`
	Slog      *slog.Logger `optional:"true"` // used when there is no *zap.Logger
	Config    Config       `optional:"true"`
}

// newFromGraph builds the Module's Shutdown. Its own OnStop hook, appended
// before any step's, runs after every step and logs the summary; it returns
// the steps' errors joined, so app.Stop reports them by name (under Run,
// none when they only report lost work: see summary).
func newFromGraph(p params) *Shutdown {
	cfg := p.Config
	if cfg.Logger == nil && cfg.Slog == nil {
		cfg.Logger, cfg.Slog = p.Logger, p.Slog
	}
	s := New(cfg)
	s.lc = p.Lifecycle
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { s.appStarted.Store(true); return nil },
		OnStop:  func(ctx context.Context) error { return s.summary(ctx) },
	})
	return s
}
