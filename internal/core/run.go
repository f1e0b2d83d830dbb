package core

// This file runs one task and reports how it ended: returned, failed,
// panicked, or called runtime.Goexit.

import (
	"context"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// runOptions are what runTask needs of the engine's configuration.
type runOptions struct {
	pprofLabels bool
	middleware  []Middleware
	epoch       time.Time   // the clock's zero: a task's start is relative to it
	strayCtx    atomic.Bool // a middleware's stray context has been logged
}

// runTask calls the task and counts and logs its outcome. A panic is
// recovered and reported at once with its stack; panic(nil) is a panic under
// either GODEBUG panicnil setting. A task that calls runtime.Goexit ends the
// calling goroutine after the report. Middleware, if any, runs around it;
// one that calls runtime.Goexit ends the task unrun, counted failed and
// logged, as the report is deferred before any middleware runs.
//
// While the task runs, only runTask's and protect's frames lie between the
// worker's and the task's, both small: a blocked task fits in the smallest
// stack as a go statement's does (TestBlockedTaskFitsTheSmallestStack). The
// report runs after, in a frame of its own.
func runTask(t *task, log *zap.Logger, o *runOptions) {
	r := taskRun{ctx: t}
	defer r.report(t, log) // also on runtime.Goexit, which never returns here
	if len(o.middleware) > 0 {
		r.ctx = o.start(t, &r.ends, log)
	}
	r.started = true
	r.protect(t, o.pprofLabels)
	r.settled = true
}

// taskRun is one run of a task: its context, its middleware's end functions
// and how it ended.
type taskRun struct {
	ctx      context.Context
	ends     []func(TaskEnd)
	end      TaskEnd
	started  bool // the middleware is done: the task was called
	returned bool // the task returned: it did not panic or call Goexit
	settled  bool // protect returned: the task returned or panicked
}

// protect calls the task and recovers a panic into r.end. Under Goexit it
// never returns.
func (r *taskRun) protect(t *task, pprofLabels bool) {
	defer func() {
		if !r.returned {
			r.end.Panic, r.end.Stack = recover(), debug.Stack()
		}
	}()
	r.end.Err = call(r.ctx, t, pprofLabels)
	r.returned = true
}

// report counts and logs how the task ended, then tells the middleware.
func (r *taskRun) report(t *task, log *zap.Logger) {
	switch {
	case !r.started:
		r.end = TaskEnd{Goexit: true}
		t.stats.failed.Add(1)
		logx.Guard(func() {
			log.Error("async task middleware called runtime.Goexit: task not run", zap.String("label", t.label))
		})
	case !r.settled:
		r.end = TaskEnd{Goexit: true}
		t.stats.failed.Add(1)
		logx.Guard(func() { log.Error("async task called runtime.Goexit", zap.String("label", t.label)) })
	case !r.returned:
		r.end.Panicked = true
		t.stats.panicked.Add(1)
		r.end.Message = logx.Value(r.end.Panic)
		logx.Guard(func() {
			log.Error("async task panicked", zap.String("label", t.label),
				zap.String("panic", r.end.Message), zap.ByteString("stack", r.end.Stack))
		})
	default:
		r.end.Message = outcome(t, r.end.Err, log)
	}
	if len(r.ends) > 0 {
		ended(r.ends, &r.end, t.label, log)
	}
}

// start runs the middleware for a starting task, adding their end
// functions to ends as they run, and returns the task's context. Not
// inlined: its TaskStart would sit in runTask's frame for the whole task.
//
//go:noinline
func (o *runOptions) start(t *task, ends *[]func(TaskEnd), log *zap.Logger) context.Context {
	return around(o.middleware, t, TaskStart{Label: t.label,
		Submitted: o.epoch.Add(time.Duration(t.start.Load())), Started: time.Now()}, ends, &o.strayCtx, log)
}

// call runs the task's function with ctx, under a pprof label when
// configured, so a goroutine profile groups tasks by label.
func call(ctx context.Context, t *task, pprofLabels bool) error {
	if !pprofLabels {
		return t.fn(ctx)
	}
	return callLabelled(ctx, t)
}

// callLabelled is call under a pprof label. Not inlined: the label set would
// sit in call's frame, on the stack of every task, labelled or not.
//
//go:noinline
func callLabelled(ctx context.Context, t *task) (err error) {
	pprof.Do(ctx, pprof.Labels("fxasync_label", t.label), func(ctx context.Context) { err = t.fn(ctx) })
	return err
}

// outcome counts and logs a task that returned, and returns its error's
// rendering for the log ("" for nil).
func outcome(t *task, err error, log *zap.Logger) string {
	if err == nil {
		t.stats.succeeded.Add(1)
		return ""
	}
	t.stats.failed.Add(1)
	msg, verbose := logx.Error(err)
	logx.Guard(func() {
		fields := []zap.Field{zap.String("label", t.label), zap.String("error", msg)}
		if verbose != "" {
			fields = append(fields, zap.String("errorVerbose", verbose))
		}
		log.Error("async task failed", fields...)
	})
	return msg
}
