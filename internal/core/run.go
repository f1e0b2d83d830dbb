package core

// This file runs one task and reports how it ended: returned, failed,
// panicked, or called runtime.Goexit.

import (
	"context"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// runOptions are what runTask needs of the engine's configuration.
type runOptions struct {
	pprofLabels bool
	middleware  []Middleware
	epoch       time.Time // the clock's zero: a task's start is relative to it
}

// runTask calls the task and counts and logs its outcome. A panic is
// recovered and reported at once with its stack; panic(nil) is a panic under
// either GODEBUG panicnil setting. A task that calls runtime.Goexit ends the
// calling goroutine after the report. Middleware, if any, runs around it.
func runTask(t *task, log *zap.Logger, o runOptions) {
	var ctx context.Context = t
	var ends []func(TaskEnd)
	if len(o.middleware) > 0 {
		ctx, ends = around(o.middleware, t, TaskStart{Label: t.label,
			Submitted: o.epoch.Add(time.Duration(t.start.Load())), Started: time.Now()}, log)
	}
	returned, recovered := false, false
	defer func() {
		if !returned && !recovered {
			t.stats.failed.Add(1)
			logx.Guard(func() { log.Error("async task called runtime.Goexit", zap.String("label", t.label)) })
			ended(ends, TaskEnd{Goexit: true}, t.label, log)
		}
	}()
	var err error
	var value any
	var stack []byte
	func() {
		defer func() {
			if !returned {
				value, stack = recover(), debug.Stack()
			}
		}()
		err = call(ctx, t, o.pprofLabels)
		returned = true
	}()
	if !returned { // a panic was recovered; Goexit never gets here
		recovered = true
		t.stats.panicked.Add(1)
		logx.Guard(func() {
			log.Error("async task panicked", zap.String("label", t.label),
				zap.String("panic", logx.Value(value)), zap.ByteString("stack", stack))
		})
		ended(ends, TaskEnd{Panicked: true, Panic: value, Stack: stack}, t.label, log)
		return
	}
	outcome(t, err, log)
	ended(ends, TaskEnd{Err: err}, t.label, log)
}

// call runs the task's function with ctx, under a pprof label when
// configured, so a goroutine profile groups tasks by label.
func call(ctx context.Context, t *task, pprofLabels bool) (err error) {
	if !pprofLabels {
		return t.fn(ctx)
	}
	pprof.Do(ctx, pprof.Labels("fxasync_label", t.label), func(ctx context.Context) { err = t.fn(ctx) })
	return err
}

func outcome(t *task, err error, log *zap.Logger) {
	if err == nil {
		t.stats.succeeded.Add(1)
		return
	}
	t.stats.failed.Add(1)
	logx.Guard(func() {
		msg, verbose := logx.Error(err)
		fields := []zap.Field{zap.String("label", t.label), zap.String("error", msg)}
		if verbose != "" {
			fields = append(fields, zap.String("errorVerbose", verbose))
		}
		log.Error("async task failed", fields...)
	})
}
