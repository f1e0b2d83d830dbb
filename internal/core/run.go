package core

// This file runs one task and reports how it ended: returned, failed,
// panicked, or called runtime.Goexit.

import (
	"context"
	"runtime/debug"
	"runtime/pprof"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// runTask calls the task and counts and logs its outcome. A panic is
// recovered and reported at once with its stack; panic(nil) is a panic under
// either GODEBUG panicnil setting. A task that calls runtime.Goexit ends the
// calling goroutine after the report.
func runTask(t *task, log *zap.Logger, pprofLabels bool) {
	returned, recovered := false, false
	defer func() {
		if !returned && !recovered {
			t.stats.failed.Add(1)
			logx.Guard(func() { log.Error("async task called runtime.Goexit", zap.String("label", t.label)) })
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
		err = call(t, pprofLabels)
		returned = true
	}()
	if !returned { // a panic was recovered; Goexit never gets here
		recovered = true
		t.stats.panicked.Add(1)
		logx.Guard(func() {
			log.Error("async task panicked", zap.String("label", t.label),
				zap.String("panic", logx.Value(value)), zap.ByteString("stack", stack))
		})
		return
	}
	outcome(t, err, log)
}

// call runs the task's function, under a pprof label when configured, so a
// goroutine profile groups tasks by label.
func call(t *task, pprofLabels bool) (err error) {
	if !pprofLabels {
		return t.fn(t)
	}
	pprof.Do(t, pprof.Labels("fxasync_label", t.label), func(ctx context.Context) { err = t.fn(ctx) })
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
