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
// engine's stop context, which the drain cancels at its bound. One allocation
// serves as queue node, registry entry and context.
//
// Invariant: start is the clock reading at submission (≥ 0) until the task
// has finished, then finished (-1); from then on its context vouches for no
// follow-up (see Engine.followsUp). Folding the flag into start, and the
// engine's scope into the label's counters, keeps the record at 80 bytes,
// one size class below 96.
type task struct {
	parent context.Context
	ext    *taskExt // nil until the task fails once under a retry policy, or keeps
	fn     Func
	label  string
	stats  *Counters
	start  atomic.Int64
	pc     uintptr // where it was submitted, with Config.CallSites
	next   atomic.Pointer[task]
}

// spareTask is a task record for pool.fresh. After each task, a worker that
// finds the slot empty fills it, so that a submission one at a time finds a
// record there: the allocator's slow path (a new span every hundred records
// or so) and the first write to a page of fresh memory (a page fault,
// microseconds) fall on the worker, not on the caller of Go. The record is
// written once here for that page's sake. Submissions that find the slot
// empty allocate as before; two workers filling it at once waste one record.
// A record is never reused: a task is the context its function got, and that
// context may outlive the task.
func spareTask() *task {
	t := new(task)
	t.start.Store(finished)
	return t
}

// taskExt is what a task that has failed once carries on: its attempts and
// when the next is due. Tasks that never fail never allocate one.
type taskExt struct {
	attempts int32 // attempts that failed and counted (one the drain cut off does not)
	waiting  bool  // finish puts the task in the heap instead of ending it
	// classifying: its error is being classified for a retry, on the
	// worker; if that calls runtime.Goexit, finish counts the task failed.
	classifying bool
	due         int64 // clock reading of the next attempt
	// track, for a kept kind's task, is told of each retry it waits for
	// and, once, of how it ended: handed off (its work stays for the
	// keeper) or settled.
	track func(End)
}

// End is what a kept task's track hears: a retry it now waits for
// (Waiting), or its end, handed off or settled; with the attempts it has
// made and when its next is due (Due: the clock reading, see Engine.Time;
// 0 when it never waited).
type End struct {
	Waiting, HandedOff bool
	Attempts           int
	Due                int64
}

// end is t's End.
func (t *task) end(waiting, handedOff bool) End {
	return End{Waiting: waiting, HandedOff: handedOff, Attempts: int(t.ext.attempts), Due: t.ext.due}
}

// keeps reports whether t's work goes to a keeper when the drain cuts it.
func (t *task) keeps() bool { return t.ext != nil && t.ext.track != nil }

// finished is task.start once the task has ended.
const finished = -1

// unslotted is the pc of a task that holds no slot (a hold's): finish gives
// none back. No code lives at address 1.
const unslotted = 1

// taskKey finds the task behind a context derived from a task's context.
type taskKey struct{}

func (t *task) Deadline() (time.Time, bool) { return time.Time{}, false }
func (t *task) Done() <-chan struct{}       { return t.stats.scope.stop.Done() }
func (t *task) Err() error                  { return t.stats.scope.stop.Err() }

func (t *task) Value(key any) any {
	switch key {
	case taskKey{}:
		return t
	case cancelCtxKey:
		return t.stats.scope.stop.Value(key)
	}
	return t.parent.Value(key)
}

func (t *task) String() string { return "fxasync.task(" + t.label + ")" }

// taskOf returns the task whose context ctx is or derives from, or nil.
func taskOf(ctx context.Context) *task {
	if t, ok := ctx.(*task); ok {
		return t
	}
	t, _ := ctx.Value(taskKey{}).(*task)
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
