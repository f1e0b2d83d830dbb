package fxasync

import (
	"fmt"
	"time"

	"github.com/fxtools/background/internal/core"
	"go.uber.org/zap"
)

// An Option configures a Scheduler made by New.
type Option interface {
	apply(*core.Config)
	String() string
}

type loggerOption struct{ l *zap.Logger }

func (o loggerOption) apply(c *core.Config) { c.Logger = o.l }
func (o loggerOption) String() string       { return "WithLogger(...)" }

// WithLogger sets where failures and drain reports go. The scheduler logs
// through l.Named("async-task"). Without it, warnings and errors go to stderr.
func WithLogger(l *zap.Logger) Option { return loggerOption{l} }

type durationOption struct {
	name string
	d    time.Duration
	set  func(*core.Config, time.Duration)
}

func (o durationOption) apply(c *core.Config) { o.set(c, o.d) }
func (o durationOption) String() string       { return fmt.Sprintf("%s(%v)", o.name, o.d) }

// WithDrainTimeout bounds Drain, before its grace. Default 5 s; zero or less
// keeps the default.
func WithDrainTimeout(d time.Duration) Option {
	return durationOption{"WithDrainTimeout", d, func(c *core.Config, d time.Duration) { c.DrainTimeout = d }}
}

// WithGrace sets how long Drain waits, after cancelling the tasks still
// running at its bound, for them to return. Default 250 ms.
func WithGrace(d time.Duration) Option {
	return durationOption{"WithGrace", d, func(c *core.Config, d time.Duration) { c.Grace = d }}
}

// WithIdleTimeout sets how long an idle worker goroutine waits for the next
// task before it exits. Default 1 s.
func WithIdleTimeout(d time.Duration) Option {
	return durationOption{"WithIdleTimeout", d, func(c *core.Config, d time.Duration) { c.IdleTimeout = d }}
}

type intOption struct {
	name string
	n    int
	set  func(*core.Config, int)
}

func (o intOption) apply(c *core.Config) { o.set(c, o.n) }
func (o intOption) String() string       { return fmt.Sprintf("%s(%d)", o.name, o.n) }

// WithMaxInFlight bounds the tasks admitted and not yet finished to n. When
// all n slots are taken, Go blocks until a slot frees, the caller's context
// ends or the drain bound is reached (then the task is refused, logged and
// counted as rejected); TryGo never blocks and returns [ErrFull]. Zero or less
// means unbounded, the default.
func WithMaxInFlight(n int) Option {
	return intOption{"WithMaxInFlight", n, func(c *core.Config, n int) { c.MaxInFlight = n }}
}

// WithMaxLabels caps the distinct labels that Stats counts apart (default
// 256). Labels past the cap are counted together under [OverflowLabel]; log
// lines keep the real label.
func WithMaxLabels(n int) Option {
	return intOption{"WithMaxLabels", n, func(c *core.Config, n int) { c.MaxLabels = n }}
}

type flagOption struct {
	name string
	set  func(*core.Config)
}

func (o flagOption) apply(c *core.Config) { o.set(c) }
func (o flagOption) String() string       { return o.name + "()" }

// WithPprofLabels runs each task under the runtime/pprof label
// fxasync_label=<label>, so a goroutine or CPU profile taken during a slow
// shutdown groups work by task label. Off by default: it costs allocations
// per task (see README.md, Performance).
func WithPprofLabels() Option {
	return flagOption{"WithPprofLabels", func(c *core.Config) { c.PprofLabels = true }}
}

// WithCallSites records where each task was submitted (file:line), so the
// drain warning, Running and CheckStuck can name the call site that started a
// stuck task. Off by default: it costs a stack walk per task (see README.md,
// Performance).
func WithCallSites() Option {
	return flagOption{"WithCallSites", func(c *core.Config) { c.CallSites = true }}
}
