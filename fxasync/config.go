package fxasync

// This file holds the configuration of a Scheduler, and how it becomes the
// engine's.

import (
	"context"
	"log/slog"
	"time"

	"github.com/fxtools/background/internal/core"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// Unbounded, as Config.MaxPending, LabelLimit, a LabelLimits value or
// MaxWait, and as BatcherConfig.MaxWait, turns that bound off. Any negative
// value does the same.
const Unbounded = core.Unbounded

// Config is every setting of a Scheduler: New takes one, and Module takes
// the one supplied to the graph, if any. A zero field takes the default
// its comment gives; where zero is a meaningful value, a negative one says
// it (Unbounded: no bound; a negative Grace: none).
type Config struct {
	// Logger receives failures, refusals and drain reports, through
	// Logger.Named("async-task"). Nil: Slog; without either, warnings and
	// errors go to stderr. Module fills it from the graph's *zap.Logger,
	// else its *slog.Logger.
	Logger *zap.Logger
	// Slog is used when Logger is nil: the same messages and keys (label,
	// error, panic, stack) at the same levels. zap is the faster path.
	Slog *slog.Logger

	// MaxPending bounds the tasks admitted and not yet finished. When every
	// slot is taken, Go waits until one frees, the caller's context ends,
	// MaxWait passes or the drain begins, then refuses the task (counted as
	// rejected, logged at most once per label per RejectLogInterval); TryGo
	// never waits and returns ErrFull. A submission from a running task (a
	// follow-up) never waits: its parents may hold every slot. Default
	// 10,000; Unbounded turns the bound off.
	MaxPending int
	// LabelLimit bounds the pending tasks of each label, so that a flood on
	// one cannot take the slots of the others: a label under its bound never
	// waits behind a full one. Default: half of MaxPending (none when
	// MaxPending is Unbounded); Unbounded turns it off.
	LabelLimit int
	// LabelLimits sets the bound of the labels it names, instead of
	// LabelLimit. A zero value means LabelLimit; Unbounded, none.
	LabelLimits map[string]int
	// MaxWait is the longest Go waits for a slot before it refuses the
	// task. Default 1 s; Unbounded waits until the caller's context ends or
	// the drain begins.
	MaxWait time.Duration

	// DrainTimeout bounds Drain before its grace. Default 5 s; negative:
	// Drain cancels at once what is pending.
	DrainTimeout time.Duration
	// Grace is how long Drain waits, after cancelling the tasks still
	// running at its bound, for them to return. Default 250 ms; negative:
	// none.
	Grace time.Duration
	// StopShare is, for the Module without fxshutdown, the largest share of
	// the time left in fx's stop budget that the drain may use, grace
	// included. Default 0.5; values outside (0, 1] take the default.
	StopShare float64

	// Keeper keeps what a stop leaves unfinished of the work of Kinds and
	// of batchers with BatcherConfig.Keep (see Keeper). Nil: that work is
	// lost, and counted. Module takes it from the graph (an
	// fxasync.Keeper, which fxasyncriver.Module provides) when unset.
	Keeper Keeper
	// KeepTimeout bounds the hand-off to the Keeper at the end of the
	// drain; it is kept out of the drain context's deadline, and the
	// Module's drain step is that much longer. Default 1 s.
	KeepTimeout time.Duration

	// Retry is how every label's failed tasks are tried again (see Retry).
	// Default: not at all.
	Retry Retry
	// LabelRetries sets the policy of the labels it names (a Kind's name
	// is its label), instead of Retry.
	LabelRetries map[string]Retry

	// Middleware wraps every task, the first outermost (see Middleware).
	Middleware []Middleware
	// PprofLabels runs each task under the runtime/pprof label
	// fxasync_label=<label>, so a goroutine or CPU profile taken during a
	// slow stop groups work by task label. It costs allocations per task
	// (docs/performance.md).
	PprofLabels bool
	// CallSites records where each task was submitted (file:line), so that
	// the drain's warning, Running, CheckStuck and the debug page name the
	// call site of a stuck task. It costs a stack walk per task.
	CallSites bool

	// IdleTimeout is how long an idle worker goroutine waits for the next
	// task before it exits. Default 1 s.
	IdleTimeout time.Duration
	// MaxLabels caps the distinct labels that Stats counts apart; later
	// labels are counted together under OverflowLabel. Default 256.
	MaxLabels int
	// RejectLogInterval is the least time between two "async task
	// rejected" lines of one label; each line has the count. Default 1 s.
	RejectLogInterval time.Duration
}

// engine converts c into the engine's configuration.
func (c Config) engine() core.Config {
	log := c.Logger
	if log == nil && c.Slog != nil {
		log = logx.FromSlog(c.Slog)
	}
	if log != nil {
		log = log.Named("async-task")
	}
	var mws []core.Middleware
	for _, mw := range c.Middleware {
		if mw != nil {
			mws = append(mws, func(ctx context.Context, t core.TaskInfo, next func(context.Context) error) error {
				return mw(ctx, TaskInfo(t), next)
			})
		}
	}
	return core.Config{
		Logger: log, DrainTimeout: c.DrainTimeout, Grace: c.Grace, IdleTimeout: c.IdleTimeout,
		MaxPending: c.MaxPending, LabelLimit: c.LabelLimit, LabelLimits: c.LabelLimits, MaxWait: c.MaxWait,
		RejectLogInterval: c.RejectLogInterval, MaxLabels: c.MaxLabels, PprofLabels: c.PprofLabels,
		CallSites: c.CallSites, StopShare: c.StopShare, Middleware: mws, Panic: newPanicError, PanicOf: panicOf,
		Retry: c.Retry.policy(), LabelRetries: labelRetries(c.LabelRetries),
	}
}
