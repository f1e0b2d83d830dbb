package fxasync

// This file holds task middleware: code run around every task, for tracing
// (fxasync/fxasyncotel) or anything else that needs each task's start and
// end.

import "github.com/fxtools/background/internal/core"

// Middleware runs on a task's goroutine before the task: it returns the
// context to run the task with — derived from the one it is given, whose
// values (the submitter's) and cancellation (the drain's) the task keeps —
// and a function the scheduler calls once the task ended, or nil.
//
// Contract:
//   - Middlewares run in the order added, their end functions in the
//     reverse order, on the task's goroutine.
//   - The end function learns how the task ended after the scheduler has
//     recovered, counted and logged it: its error, its panic (value and
//     stack; panic(nil) too) or runtime.Goexit, and the log line's
//     rendering of the error or panic (TaskEnd.Message), safe to export.
//   - A middleware or end function that panics is logged and skipped: it
//     cannot fail the task, or crash the process.
//   - A middleware that calls runtime.Goexit ends its task unrun: counted
//     as failed and logged; the end functions of the middlewares before it
//     are told (TaskEnd.Goexit).
//   - A context that does not derive from the one given, or that dropped
//     its cancellation (context.WithoutCancel), would cut the task off from
//     the drain's cancellation: it is ignored, and logged once.
//   - Without middleware a task pays nothing for the feature but one length
//     check.
type Middleware = core.Middleware

// TaskStart is what a Middleware learns as a task starts: its label, when
// it was admitted and when it started (the difference is its wait).
type TaskStart = core.TaskStart

// TaskEnd is how a task ended, as told to a Middleware's end function.
type TaskEnd = core.TaskEnd

// WithMiddleware adds task middleware, after any added before.
func WithMiddleware(mws ...Middleware) Option { return core.WithMiddleware(mws...) }
