package core

// This file holds the Engine: it wires the gate, the pool and the label
// table together and carries a task from submission to its end.

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/clock"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Engine runs and tracks tasks. Create it with New.
type Engine struct {
	gate   *gate
	pool   *pool
	labels labelTable
	limits limits
	holds  holds
	retry  retrier
	// holdsLive counts the holds not released: the gate counts them as
	// pending, Pending and Stats do not.
	holdsLive atomic.Int64

	scope      scope // the stop context: Done of every task context
	cancelStop context.CancelCauseFunc
	shutOnce   sync.Once

	drainOnce   sync.Once
	drainErr    error
	drainStart  atomic.Int64               // clock reading when Drain began
	gaveUp      atomic.Pointer[DrainStats] // set when Drain gave up
	leftAtBound map[string]LabelLoss       // unfinished when it gave up; written before gaveUp

	clock  clock.Clock
	manual bool // clock is not the wall clock: now reads it
	inline bool // submissions run on the caller (SetInline)
	log    *zap.Logger
	cfg    Config
	epoch  time.Time
	run    runOptions
}

// New returns a running Engine.
func New(cfg Config) *Engine {
	cfg = cfg.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = logx.Stderr(zapcore.WarnLevel)
	}
	e := &Engine{clock: clock.Real, log: cfg.Logger, cfg: cfg, epoch: time.Now()}
	e.pool = newPool(e.execute, cfg.IdleTimeout)
	e.scope.stop, e.cancelStop = context.WithCancelCause(context.Background())
	e.retry = retrier{stop: e.scope.stop, log: cfg.Logger, interval: cfg.RejectLogInterval}
	e.retry.waits = waits{clock: func() clock.Clock { return e.clock }, now: e.now, run: e.pool.push}
	e.run = runOptions{pprofLabels: cfg.PprofLabels, middleware: cfg.Middleware, panic: cfg.Panic, panicOf: cfg.PanicOf,
		now: e.now, again: e.retry.again}
	e.gate = newGate(cfg.MaxPending, e.now, func() { e.shut(context.Canceled) })
	e.labels.init(cfg.MaxLabels, func(label string) *Counters {
		return newCounters(cfg.limitOf(label), cfg.retryOf(label), &e.scope)
	})
	e.limits = newLimits(cfg, &e.gate.global, e.scope.stop.Done(), e.gate.draining, e.followsUp)
	return e
}

// SetClock replaces the wall clock: the drain's bound and grace, retry
// backoff and the task ages read it. For tests; call it before the first
// submission.
func (e *Engine) SetClock(c clock.Clock) {
	e.clock, e.manual, e.epoch = c, c != clock.Real, c.Now()
}

// Clock is the engine's clock: a batcher's timers and times use it too.
func (e *Engine) Clock() clock.Clock { return e.clock }

// now is the clock's reading: nanoseconds since the engine's epoch. The
// wall clock's is read without the interface, on every submission.
func (e *Engine) now() int64 {
	if e.manual {
		return int64(e.clock.Now().Sub(e.epoch))
	}
	return int64(time.Since(e.epoch))
}

// Config returns the engine's configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// CallSites reports whether submissions record where they were made.
func (e *Engine) CallSites() bool { return e.cfg.CallSites }

// Go starts fn under label, waiting for a slot when the label's or the
// engine's slots are all taken (see limits.go); a refusal is counted, logged
// at most once per label per RejectLogInterval, and returned. pc is where it
// was submitted, or 0.
func (e *Engine) Go(ctx context.Context, label string, fn Func, pc uintptr) error {
	return e.submit(ctx, label, fn, pc, true)
}

// TryGo is Go that never waits: a full engine refuses with ErrFull. It does
// not log a refusal.
func (e *Engine) TryGo(ctx context.Context, label string, fn Func, pc uintptr) error {
	return e.submit(ctx, label, fn, pc, false)
}

// GoKept is Go for a task whose work a keeper takes when the drain cuts it
// short (a kept kind's): track is told of each retry it waits for and,
// once, of how it ended — handed off (ErrHandedOff, or retries the
// drain's bound forestalled) or settled.
func (e *Engine) GoKept(ctx context.Context, label string, fn Func, pc uintptr, track func(End)) error {
	return e.submitExt(ctx, label, fn, pc, true, &taskExt{track: track})
}

// submit admits, records and queues one task.
func (e *Engine) submit(ctx context.Context, label string, fn Func, pc uintptr, wait bool) error {
	return e.submitExt(ctx, label, fn, pc, wait, nil)
}

// submitExt is submit with x, if not nil, the task's retry state from the
// start (a kept task's).
func (e *Engine) submitExt(ctx context.Context, label string, fn Func, pc uintptr, wait bool, x *taskExt) error {
	if ctx == nil {
		ctx = context.Background()
	}
	label, c := e.labels.get(label)
	err := e.admit(ctx, c, fn, wait)
	c.submitted.Add(1) // once admission is decided: a waiting submitter is not pending
	if err != nil {
		c.rejected.Add(1)
		if wait {
			e.logRejected(label, c, err)
		}
		return err
	}
	if e.inline {
		e.execute(e.newTask(ctx, label, c, fn, pc, x)) // recovered, counted and logged as on a worker
		return nil
	}
	e.push(ctx, label, c, fn, pc, x)
	return nil
}

// push queues a task that has passed the gate.
func (e *Engine) push(ctx context.Context, label string, c *Counters, fn Func, pc uintptr, x *taskExt) {
	e.pool.push(e.newTask(ctx, label, c, fn, pc, x))
}

// newTask is a task that has passed the gate, started now.
func (e *Engine) newTask(ctx context.Context, label string, c *Counters, fn Func, pc uintptr, x *taskExt) *task {
	t := e.pool.fresh.Swap(nil)
	if t == nil {
		t = new(task)
	}
	t.parent, t.ext, t.fn, t.label, t.stats, t.pc = ctx, x, fn, label, c, pc
	t.start.Store(e.now())
	return t
}

// SetInline makes every submission from outside run its task on the
// caller's goroutine before it returns (a hold's, a batcher's write, and a
// retry still run on a worker). For tests; call it before the first
// submission.
func (e *Engine) SetInline() { e.inline = true }

// Inline reports whether SetInline was called.
func (e *Engine) Inline() bool { return e.inline }

// admit takes the label's slot and a global one, then passes the gate.
func (e *Engine) admit(ctx context.Context, c *Counters, fn Func, wait bool) error {
	if fn == nil {
		return ErrNilFunc
	}
	if err := e.limits.acquire(&c.slots, &c.waiting, ctx, wait); err != nil {
		return err
	}
	if e.gate.enter() || (e.followsUp(ctx) && e.gate.enterFollowUp()) {
		return nil
	}
	e.limits.release(&c.slots)
	return ErrClosed
}

// followsUp reports whether ctx is, or derives from, the context of one of
// this engine's tasks (or holds) that has not finished: work it spawns during
// a drain is waited for.
func (e *Engine) followsUp(ctx context.Context) bool {
	t := taskOf(ctx)
	return t != nil && t.stats.scope == &e.scope && t.start.Load() != finished
}

// logRejected logs a label's refusals at most once per interval, with how
// many there were (Go's and TryGo's) since its last line.
func (e *Engine) logRejected(label string, c *Counters, err error) {
	now := e.now()
	last := c.lastRejectLog.Load()
	if last != 0 && now-last < int64(e.cfg.RejectLogInterval) {
		return // logged within the interval: the next line counts this one
	}
	if !c.lastRejectLog.CompareAndSwap(last, max(now, 1)) {
		return // another refusal is logging now
	}
	n := c.rejected.Load()
	count := n - c.rejectLogged.Swap(n)
	logx.Guard(func() {
		e.log.Error("async task rejected", zap.String("label", label), zap.Error(err), zap.Int64("rejected", count),
			zap.Duration("interval", e.cfg.RejectLogInterval))
	})
}

// execute runs a task on a worker; the deferred end runs on Goexit too.
func (e *Engine) execute(t *task) {
	defer e.finish(t)
	runTask(t, e.log, &e.run)
}

func (e *Engine) finish(t *task) {
	if x := t.ext; x != nil && x.classifying { // its error's methods called runtime.Goexit
		x.classifying = false
		t.stats.failed.Add(1)
		logx.Guard(func() {
			e.log.Error("async task's error called runtime.Goexit while classified for a retry", zap.String("label", t.label))
		})
		if t.keeps() {
			x.track(t.end(false, false)) // settled: failed
		}
	}
	if x := t.ext; x != nil && x.waiting {
		x.waiting = false
		t.next.Store(nil) // the queue's link, from its last time in it
		if e.retry.waits.add(t) {
			return // not finished: it waits for its next attempt
		}
		e.endCut(t) // the drain gave up meanwhile
		return
	}
	end := e.now()
	t.stats.durations.observe(time.Duration(end - t.start.Swap(finished)))
	if t.pc != unslotted {
		e.limits.release(&t.stats.slots)
	}
	e.gate.leave(end)
}

// endCut ends a task whose next attempt the drain's end forestalled: its
// work goes to the keeper if it keeps, else it is lost, and counted.
func (e *Engine) endCut(t *task) {
	if e.retry.cut(t) == handOff {
		t.stats.handedOff.Add(1)
		t.ext.track(t.end(false, true))
	}
	e.finish(t)
}

// PastDrainBound reports whether something starting after d would start
// past the drain's bound, once the drain has begun: a batcher's retry.
func (e *Engine) PastDrainBound(d time.Duration) bool { return e.retry.pastBound(e.now() + int64(d)) }

// Time is the wall-clock time of the engine's clock reading r.
func (e *Engine) Time(r int64) time.Time { return e.epoch.Add(time.Duration(r)) }

// Retrying is how many tasks wait for their next attempt now.
func (e *Engine) Retrying() int { return e.retry.waits.Len() }

// shut refuses every later submission, cancels the task contexts and lets
// idle workers exit, once: at the drain's end or when it gives up.
func (e *Engine) shut(cause error) {
	e.shutOnce.Do(func() {
		e.gate.close()
		e.cancelStop(cause)
		e.pool.close()
	})
}

// Pending returns the number of admitted tasks that have not finished, as
// Stats counts them: holds keep the drain open but are not tasks. While a
// submission is being refused during a drain it may read one too many.
func (e *Engine) Pending() int { return max(e.gate.pending()-int(e.holdsLive.Load()), 0) }

// Draining returns a channel that is closed when Drain begins, once new
// submissions are refused.
func (e *Engine) Draining() <-chan struct{} { return e.gate.draining }

// Stats returns the figures now.
func (e *Engine) Stats() Stats { return e.labels.snapshot() }

// Running lists the tasks running now, oldest first.
func (e *Engine) Running() []TaskInfo {
	now := e.now()
	var out []TaskInfo
	e.pool.running(func(t *task) {
		if start := t.start.Load(); start != finished {
			out = append(out, TaskInfo{Label: t.label, Age: time.Duration(now - start), Caller: t.caller()})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Age > out[j].Age })
	return out
}
