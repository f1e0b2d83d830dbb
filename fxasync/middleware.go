package fxasync

// This file holds task middleware: functions that wrap every task, for
// tracing (fxasync/fxasyncotel), retries, per-task timeouts, locks.

import (
	"context"
	"errors"

	"github.com/fxtools/background/internal/logx"
)

// Middleware wraps every task of a scheduler (Config.Middleware): it runs
// on the task's goroutine, calls next to run what it wraps — the next
// middleware, innermost the task — and returns the task's outcome, which
// the scheduler counts and logs. t names the task; t.Age is its wait so far.
//
// Contract:
//   - Middlewares run in the order of Config.Middleware, the first
//     outermost.
//   - A middleware may call next once (tracing), not at all (skipping the
//     task: what it returns is the outcome), or again (a retry). It must
//     call next on the task's goroutine, before it returns.
//   - next returns the task's error; a panic in the task is recovered and
//     returned as a *PanicError. Whatever the outermost middleware returns
//     is counted: nil as succeeded, a *PanicError (found with errors.As) as
//     panicked, any other error as failed. One task is one outcome, however
//     often next ran.
//   - A panic in a middleware itself is the task's panic: recovered,
//     counted and logged. runtime.Goexit, in the task or a middleware,
//     unwinds the middlewares' deferred calls and is counted as failed.
//   - The context given to next must derive from ctx, keeping its
//     cancellation (the drain's) and values; one that does not (or that
//     dropped the cancellation with context.WithoutCancel) is replaced by
//     the task's own, and that is logged once.
//   - Without middleware a task pays nothing for the feature but one
//     length check.
type Middleware func(ctx context.Context, t TaskInfo, next func(ctx context.Context) error) error

// PanicError is a task's panic, as next returns it to a Middleware: the
// value given to panic and the stack where it was recovered. A Middleware
// that returns it, wrapped or not, has the task counted as panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// Error renders the panic value; rendering it never panics (see the
// package's contract on log lines).
func (e *PanicError) Error() string { return "fxasync: task panicked: " + logx.Value(e.Value) }

func newPanicError(v any, stack []byte) error { return &PanicError{Value: v, Stack: stack} }

// panicOf finds the *PanicError a middleware returned.
func panicOf(err error) (any, []byte, bool) {
	var p *PanicError
	if !errors.As(err, &p) || p == nil {
		return nil, nil, false
	}
	return p.Value, p.Stack, true
}
