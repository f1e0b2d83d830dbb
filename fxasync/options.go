package fxasync

// This file holds the configuration: Config, and the options that set one
// field of it each.

import (
	"log/slog"
	"time"

	"github.com/fxtools/background/internal/core"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// Config is every setting of a Scheduler. It is an Option itself: New(cfg)
// applies its non-zero fields, and so does the Module with the Config
// supplied to the graph. Zero fields keep the defaults below. Every With*
// option is a Config with one field set, so options compare with ==.
type Config = core.Config

// An Option configures a Scheduler made by New. Options apply in order;
// each sets only the fields it names.
type Option = core.Option

// Defaults of a zero Config field.
const (
	DefaultDrainTimeout = core.DefaultDrainTimeout // 5 s
	DefaultGrace        = core.DefaultGrace        // 250 ms
	DefaultIdleTimeout  = core.DefaultIdleTimeout  // 1 s
	DefaultMaxLabels    = core.DefaultMaxLabels    // 256
	DefaultStopShare    = core.DefaultStopShare    // 0.5
	DefaultMaxInFlight  = core.DefaultMaxInFlight  // 10,000
	DefaultMaxWait      = core.DefaultMaxWait      // 1 s
	// DefaultRejectLogInterval: one "async task rejected" line per label per
	// second at most, with the count.
	DefaultRejectLogInterval = core.DefaultRejectLogInterval
	// Unbounded, given to WithMaxInFlight, WithLabelLimit or WithMaxWait,
	// turns that bound off.
	Unbounded = core.Unbounded
)

// WithSlog sends failures and drain reports to l, a log/slog logger: the
// same messages and keys (label, error, panic, stack) at the same levels as
// with WithLogger. zap stays the default and the faster path. A nil l
// changes nothing.
func WithSlog(l *slog.Logger) Option { return Config{Logger: logx.FromSlog(l)} }

// WithLogger sets where failures and drain reports go. The scheduler logs
// through l.Named("async-task"). Without it, warnings and errors go to stderr.
func WithLogger(l *zap.Logger) Option { return Config{Logger: l} }

// WithDrainTimeout bounds Drain, before its grace. Zero or less keeps the
// default.
func WithDrainTimeout(d time.Duration) Option { return Config{DrainTimeout: d} }

// WithGrace sets how long Drain waits, after cancelling the tasks still
// running at its bound, for them to return.
func WithGrace(d time.Duration) Option { return Config{Grace: d} }

// WithIdleTimeout sets how long an idle worker goroutine waits for the next
// task before it exits.
func WithIdleTimeout(d time.Duration) Option { return Config{IdleTimeout: d} }

// WithMaxInFlight bounds the tasks admitted and not yet finished (pending) to
// n; the default is [DefaultMaxInFlight], and [Unbounded] (any negative n)
// turns the bound off. When every slot is taken, Go waits until a slot
// frees, the caller's context ends, [WithMaxWait] passes or the drain begins,
// then refuses the task (counted as rejected, logged at most once per label
// per second); TryGo never waits and returns [ErrFull]. A submission from a
// running task (a follow-up) never waits: its parents may hold every slot.
// Waiting submitters are not pending.
func WithMaxInFlight(n int) Option { return Config{MaxInFlight: n} }

// WithLabelLimit bounds the pending tasks of one label, so that a flood on it
// cannot take the slots of the others: a label under its bound never waits
// behind a full one. Every label's default bound is Config.LabelLimit, half
// of MaxInFlight unless set; [Unbounded] turns a label's bound off. Options
// made by WithLabelLimit compare with ==; a Config they were applied to
// compares equal only to itself.
func WithLabelLimit(label string, n int) Option { return core.LabelLimitOption{Label: label, Limit: n} }

// WithMaxWait sets the longest Go waits for a slot before refusing the task;
// the default is [DefaultMaxWait]. [Unbounded] waits until the caller's
// context ends (or the drain begins).
func WithMaxWait(d time.Duration) Option { return Config{MaxWait: d} }

// WithMaxLabels caps the distinct labels that Stats counts apart. Labels
// past the cap are counted together under [OverflowLabel].
func WithMaxLabels(n int) Option { return Config{MaxLabels: n} }

// WithPprofLabels runs each task under the runtime/pprof label
// fxasync_label=<label>, so a goroutine or CPU profile taken during a slow
// shutdown groups work by task label. Off by default: it costs allocations
// per task (see docs/performance.md).
func WithPprofLabels() Option { return Config{PprofLabels: true} }

// WithCallSites records where each task was submitted (file:line), so the
// drain warning, Running and CheckStuck can name the call site that started a
// stuck task. Off by default: it costs a stack walk per task (see
// docs/performance.md).
func WithCallSites() Option { return Config{CallSites: true} }
