package core

// This file runs one task and reports how it ended: returned, failed,
// panicked, or called runtime.Goexit.

import (
	"runtime/debug"

	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// runTask calls the task, through its middleware if any, and counts and
// logs its outcome. A panic is recovered and reported at once with its
// stack; panic(nil) is a panic under either GODEBUG panicnil setting. A
// task that calls runtime.Goexit ends the calling goroutine after the
// report.
//
// While the task runs, only runTask's and protect's frames lie between the
// worker's and the task's, both small: a blocked task fits in the smallest
// stack as a go statement's does (TestBlockedTaskFitsTheSmallestStack). The
// report runs after, in a frame of its own.
func runTask(t *task, log *zap.Logger, o *runOptions) {
	var r taskRun
	defer r.report(t, log, o) // also on runtime.Goexit, which never returns here
	r.protect(t, log, o)
	r.settled = true
}

// taskRun is how one run of a task ended.
type taskRun struct {
	err      error
	panic    any
	stack    []byte
	returned bool // the task (or its middleware) returned: no panic, no Goexit
	settled  bool // protect returned: it returned or panicked
}

// protect calls the task and recovers a panic into r. Under Goexit it
// never returns.
func (r *taskRun) protect(t *task, log *zap.Logger, o *runOptions) {
	defer func() {
		if !r.returned {
			r.panic, r.stack = recover(), debug.Stack()
		}
	}()
	if len(o.middleware) > 0 {
		r.err = o.wrapped(t, log)
	} else {
		r.err = call(t, t, o.pprofLabels)
	}
	r.returned = true
}

// report counts and logs how the task ended, unless its failure is tried
// again (o.again): then it waits, uncounted, for its next attempt.
func (r *taskRun) report(t *task, log *zap.Logger, o *runOptions) {
	if r.returned && r.err != nil && r.err != ErrHandedOff && len(o.middleware) > 0 {
		v, stack, panicked, handedOff := o.classify(r.err) // what the middleware passed on, maybe wrapped
		switch {
		case handedOff:
			r.err = ErrHandedOff
		case panicked:
			r.returned, r.panic, r.stack = false, v, stack
		}
	}
	v := settle
	switch {
	case r.returned && r.err != nil && r.err != ErrHandedOff:
		v = o.again(t, r.err, false)
	case r.settled && !r.returned:
		v = o.again(t, o.panicErr(r.panic, r.stack), true)
	}
	switch v {
	case retry:
		if t.keeps() {
			t.ext.track(t.end(true, false))
		}
		return
	case lost: // counted, and the drain's report says so
		return
	case handOff:
		r.returned, r.err = true, ErrHandedOff
	}
	r.count(t, log)
	if t.keeps() {
		t.ext.track(t.end(false, r.returned && r.err == ErrHandedOff))
	}
}

// count counts and logs the task's end.
func (r *taskRun) count(t *task, log *zap.Logger) {
	switch {
	case r.returned && r.err == ErrHandedOff:
		t.stats.handedOff.Add(1)
	case !r.settled:
		t.stats.failed.Add(1)
		logx.Guard(func() { log.Error("async task called runtime.Goexit", zap.String("label", t.label)) })
	case !r.returned:
		t.stats.panicked.Add(1)
		logx.Guard(func() {
			log.Error("async task panicked", zap.String("label", t.label), attemptsField(t),
				zap.String("panic", logx.Value(r.panic)), zap.ByteString("stack", r.stack))
		})
	default:
		outcome(t, r.err, log)
	}
}

// outcome counts and logs a task that returned. A failure after the drain
// cancelled the tasks' contexts at its bound is logged at WARN: the stop's
// report says what it cost, at ERROR, once.
func outcome(t *task, err error, log *zap.Logger) {
	if err == nil {
		t.stats.succeeded.Add(1)
		return
	}
	t.stats.failed.Add(1)
	msg, verbose := logx.Error(err)
	logx.Guard(func() {
		fields := []zap.Field{zap.String("label", t.label), attemptsField(t), zap.String("error", msg)}
		if verbose != "" {
			fields = append(fields, zap.String("errorVerbose", verbose))
		}
		if t.stats.scope.stop.Err() != nil {
			log.Warn("async task failed after the drain cancelled it", fields...)
			return
		}
		log.Error("async task failed", fields...)
	})
}

// attemptsField is how many attempts a retried task made, for its last
// line; nothing for a task tried once.
func attemptsField(t *task) zap.Field {
	if t.ext == nil || t.ext.attempts <= 1 {
		return zap.Skip()
	}
	return zap.Int32("attempts", t.ext.attempts)
}
