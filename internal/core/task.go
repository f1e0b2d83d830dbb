package core

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// Func is the body of a task.
type Func = func(ctx context.Context) error

// task is one submitted task. It is also the context.Context that Func
// receives: Value reads from the submitter's context, so trace IDs and
// request-scoped values flow through; Done, Err and the cause come from the
// engine, which cancels every running task at once at the drain bound. One
// allocation serves as queue node, registry entry and context.
type task struct {
	parent context.Context
	e      *Engine
	fn     Func
	label  string
	stats  *Counters
	start  int64   // nanoseconds since e.epoch, at submission
	pc     uintptr // where it was submitted, with Config.CallSites
	next   atomic.Pointer[task]
}

// taskKey finds the task behind a context derived from a task's context.
type taskKey struct{}

func (t *task) Deadline() (time.Time, bool) { return time.Time{}, false }
func (t *task) Done() <-chan struct{}       { return t.e.stop.Done() }
func (t *task) Err() error                  { return t.e.stop.Err() }

func (t *task) Value(key any) any {
	switch key {
	case taskKey{}:
		return t
	case cancelCtxKey:
		return t.e.stop.Value(key)
	}
	return t.parent.Value(key)
}

func (t *task) String() string { return "fxasync.task(" + t.label + ")" }

// taskOf returns the task of e whose context ctx is or derives from, or nil.
func (e *Engine) taskOf(ctx context.Context) *task {
	t, ok := ctx.(*task)
	if !ok {
		t, _ = ctx.Value(taskKey{}).(*task)
	}
	if t == nil || t.e != e {
		return nil
	}
	return t
}

// caller is "file:line" of the submission, or "" when not recorded.
func (t *task) caller() string {
	if t.pc == 0 {
		return ""
	}
	f, _ := runtime.CallersFrames([]uintptr{t.pc}).Next()
	return f.File + ":" + strconv.Itoa(f.Line)
}
