package core

// This file holds task middleware: code a scheduler runs around every task
// (a tracing span, say), told when each task was submitted and started and
// how it ended. Without middleware, a task pays one length check.

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// TaskStart is what a middleware learns as a task starts.
type TaskStart struct {
	Label     string    // the task's label, cleaned
	Submitted time.Time // when it was admitted: Started − Submitted is its wait
	Started   time.Time
}

// TaskEnd is how a task ended, told after the scheduler recovered and
// counted it.
type TaskEnd struct {
	Err      error // what the task returned
	Panicked bool  // it panicked (panic(nil) too): Panic and Stack say how
	Panic    any
	Stack    []byte
	Goexit   bool // it called runtime.Goexit
	// Message is the scheduler's rendering of Err or Panic, as its log line
	// has it: valid UTF-8, at most about 8 KiB, made without letting an
	// Error or String method panic or call runtime.Goexit. "" otherwise.
	Message string
}

// Middleware runs on a task's goroutine before the task: it returns the
// context to run the task with (derived from ctx, whose values and
// cancellation the task keeps) and a function to call once the task ended,
// or nil. Middlewares run in the order given, their end functions in the
// reverse order. One that panics is logged and skipped: it cannot fail the
// task or the process.
type Middleware func(ctx context.Context, t TaskStart) (context.Context, func(TaskEnd))

// around runs mws for a starting task, adds to ends the end functions to
// call, as each middleware returns (so that a later one's runtime.Goexit
// still ends what the earlier ones began), and returns the task's context.
//
// A context that does not derive from the task's, or that dropped its
// cancellation (context.WithoutCancel), would lose the drain's cancellation
// and the task's follow-up rights: it is ignored, and logged once per
// scheduler (stray records that it was).
func around(mws []Middleware, ctx context.Context, t TaskStart, ends *[]func(TaskEnd), stray *atomic.Bool, log *zap.Logger) context.Context {
	*ends = make([]func(TaskEnd), 0, len(mws))
	own := taskOf(ctx)
	for _, mw := range mws {
		next, end, ok := guarded(mw, ctx, t)
		if !ok {
			logx.Guard(func() { log.Error("async task middleware panicked; skipped", zap.String("label", t.Label)) })
			continue
		}
		if end != nil {
			*ends = append(*ends, end)
		}
		switch {
		case next == nil:
		case taskOf(next) == own && next.Done() != nil: // not context.WithoutCancel
			ctx = next
		case !stray.Swap(true):
			logx.Guard(func() {
				log.Error("async task middleware returned a context not derived from the task's; ignored (logged once)",
					zap.String("label", t.Label))
			})
		}
	}
	return ctx
}

func guarded(mw Middleware, ctx context.Context, t TaskStart) (next context.Context, end func(TaskEnd), ok bool) {
	defer func() {
		if !ok {
			recover()
		}
	}()
	next, end = mw(ctx, t)
	return next, end, true
}

// ended calls the end functions, last first, each guarded.
func ended(ends []func(TaskEnd), e *TaskEnd, label string, log *zap.Logger) {
	for i := len(ends) - 1; i >= 0; i-- {
		if logx.Guard(func() { ends[i](*e) }) {
			logx.Guard(func() { log.Error("async task middleware panicked at the task's end", zap.String("label", label)) })
		}
	}
}
