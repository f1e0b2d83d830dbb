package fxasync

// This file holds the configuration: Config, and the options that set one
// field of it each.

import (
	"time"

	"github.com/fxtools/background/internal/core"
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
)

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

// WithMaxInFlight bounds the tasks admitted and not yet finished to n. When
// all n slots are taken, Go blocks until a slot frees, the caller's context
// ends or the drain bound is reached (then the task is refused, logged and
// counted as rejected); TryGo never blocks and returns [ErrFull]. Zero or less
// means unbounded, the default.
func WithMaxInFlight(n int) Option { return Config{MaxInFlight: n} }

// WithMaxLabels caps the distinct labels that Stats counts apart. Labels
// past the cap are counted together under [OverflowLabel].
func WithMaxLabels(n int) Option { return Config{MaxLabels: n} }

// WithPprofLabels runs each task under the runtime/pprof label
// fxasync_label=<label>, so a goroutine or CPU profile taken during a slow
// shutdown groups work by task label. Off by default: it costs allocations
// per task (see README.md, Performance).
func WithPprofLabels() Option { return Config{PprofLabels: true} }

// WithCallSites records where each task was submitted (file:line), so the
// drain warning, Running and CheckStuck can name the call site that started a
// stuck task. Off by default: it costs a stack walk per task (see README.md,
// Performance).
func WithCallSites() Option { return Config{CallSites: true} }
