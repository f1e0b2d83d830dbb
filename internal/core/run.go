package core

import (
	"runtime/debug"

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
	err := t.fn(t)
	returned = true
	e.outcome(t, err)
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
	if e.sem != nil {
		<-e.sem
	}
	e.release()
}
