package core

import (
	"context"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"go.uber.org/zap"
)

// run calls the task on this worker, records how it ended and uncounts it.
// A panic is recovered and reported at once, with its stack. A task that
// calls runtime.Goexit ends this worker's goroutine; the deferred call still
// records it, and the worker's own defer retires it.
func (e *Engine) run(w *worker, t *task) {
	w.cur.Store(t)
	returned := false
	defer func() {
		if !returned {
			e.abnormal(t, recover())
		}
		w.cur.Store(nil)
		e.finish(t)
	}()
	err := e.call(t)
	returned = true
	e.outcome(t, err)
}

// call runs the task's function, under a pprof label when configured, so a
// goroutine profile groups tasks by label.
func (e *Engine) call(t *task) (err error) {
	if !e.cfg.PprofLabels {
		return t.fn(t)
	}
	pprof.Do(t, pprof.Labels("fxasync_label", t.label), func(ctx context.Context) { err = t.fn(ctx) })
	return err
}

func (e *Engine) outcome(t *task, err error) {
	if err == nil {
		t.stats.succeeded.Add(1)
		return
	}
	t.stats.failed.Add(1)
	e.log.Error("async task failed", zap.String("label", t.label), zap.Error(err))
}

func (e *Engine) abnormal(t *task, r any) {
	if r == nil { // since Go 1.21 panic(nil) recovers as *runtime.PanicNilError
		t.stats.failed.Add(1)
		e.log.Error("async task called runtime.Goexit", zap.String("label", t.label))
		return
	}
	t.stats.panicked.Add(1)
	e.log.Error("async task panicked", zap.String("label", t.label),
		zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
}

func (e *Engine) finish(t *task) {
	end := e.now()
	t.stats.durations.observe(time.Duration(end - t.start))
	if e.sem != nil {
		<-e.sem
	}
	if e.uncount() {
		e.finishDrain(end)
	}
}
