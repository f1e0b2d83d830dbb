package core

// This file holds the Engine: it wires the gate, the pool and the label
// table together and carries a task from submission to its end.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/clock"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Errors a submission is refused with.
var (
	ErrClosed  = errors.New("scheduler is draining or drained")
	ErrNilFunc = errors.New("task function is nil")
	ErrFull    = errors.New("scheduler is at its limit of tasks in flight")
)

// Engine runs and tracks tasks. Create it with New.
type Engine struct {
	gate   *gate
	pool   *pool
	labels labelTable
	slots  chan struct{} // with MaxInFlight: one per admitted task

	scope      scope // the stop context: Done of every task context
	cancelStop context.CancelCauseFunc
	shutOnce   sync.Once

	drainOnce  sync.Once
	drainErr   error
	drainStart atomic.Int64               // clock reading when Drain began
	gaveUp     atomic.Pointer[DrainStats] // set when Drain gave up

	clock clock.Clock
	log   *zap.Logger
	cfg   Config
	epoch time.Time
}

// New returns a running Engine.
func New(cfg Config) *Engine {
	cfg = cfg.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = logx.Stderr(zapcore.WarnLevel)
	}
	e := &Engine{clock: clock.Real, log: cfg.Logger, cfg: cfg, epoch: time.Now()}
	e.scope.stop, e.cancelStop = context.WithCancelCause(context.Background())
	e.gate = newGate(e.now, func() { e.shut(context.Canceled) })
	e.pool = newPool(e.execute, cfg.IdleTimeout)
	e.labels.init(cfg.MaxLabels)
	if cfg.MaxInFlight > 0 {
		e.slots = make(chan struct{}, cfg.MaxInFlight)
	}
	return e
}

// SetClock replaces the clock of the drain's bound and grace. For tests;
// call it before Drain.
func (e *Engine) SetClock(c clock.Clock) { e.clock = c }

func (e *Engine) now() int64 { return int64(time.Since(e.epoch)) }

// Config returns the engine's configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Go starts fn under label, waiting for a slot when MaxInFlight is set and
// every slot is taken; a refusal is logged at ERROR and returned. pc is where
// it was submitted, or 0.
func (e *Engine) Go(ctx context.Context, label string, fn Func, pc uintptr) error {
	return e.submit(ctx, label, fn, pc, true)
}

// TryGo is Go that never waits: a full engine refuses with ErrFull. It does
// not log a refusal.
func (e *Engine) TryGo(ctx context.Context, label string, fn Func, pc uintptr) error {
	return e.submit(ctx, label, fn, pc, false)
}

// submit admits, records and queues one task.
func (e *Engine) submit(ctx context.Context, label string, fn Func, pc uintptr, wait bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	label, c := e.labels.get(label)
	c.submitted.Add(1)
	err := e.admit(ctx, fn, wait)
	if err != nil {
		c.rejected.Add(1)
		if wait {
			logx.Guard(func() { e.log.Error("async task rejected", zap.String("label", label), zap.Error(err)) })
		}
		return err
	}
	t := &task{parent: ctx, scope: &e.scope, fn: fn, label: label, stats: c, pc: pc}
	t.start.Store(e.now())
	e.pool.push(t)
	return nil
}

// admit takes a slot, if slots are bounded, then passes the gate.
func (e *Engine) admit(ctx context.Context, fn Func, wait bool) error {
	if fn == nil {
		return ErrNilFunc
	}
	if err := e.acquire(ctx, wait); err != nil {
		return err
	}
	if e.gate.enter() || (e.followsUp(ctx) && e.gate.enterFollowUp()) {
		return nil
	}
	e.release()
	return ErrClosed
}

// followsUp reports whether ctx is, or derives from, the context of one of
// this engine's tasks that has not finished: work it spawns during a drain is
// waited for.
func (e *Engine) followsUp(ctx context.Context) bool {
	t := taskOf(ctx)
	return t != nil && t.scope == &e.scope && t.start.Load() != finished
}

// acquire takes a slot. Waiting ends when a slot frees, ctx ends, or the
// drain cancels running tasks.
func (e *Engine) acquire(ctx context.Context, wait bool) error {
	if e.slots == nil {
		return nil
	}
	select {
	case e.slots <- struct{}{}:
		return nil
	default:
	}
	if !wait {
		return ErrFull
	}
	select {
	case e.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a slot: %w", context.Cause(ctx))
	case <-e.scope.stop.Done():
		return fmt.Errorf("waiting for a slot: %w", context.Cause(e.scope.stop))
	}
}

func (e *Engine) release() {
	if e.slots != nil {
		<-e.slots
	}
}

// execute runs a task on a worker; the deferred end runs on Goexit too.
func (e *Engine) execute(t *task) {
	defer e.finish(t)
	runTask(t, e.log, e.cfg.PprofLabels)
}

func (e *Engine) finish(t *task) {
	end := e.now()
	t.stats.durations.observe(time.Duration(end - t.start.Swap(finished)))
	e.release()
	e.gate.leave(end)
}

// shut refuses every later submission, cancels the task contexts and lets
// idle workers exit, once: at the drain's end or when it gives up.
func (e *Engine) shut(cause error) {
	e.shutOnce.Do(func() {
		e.gate.close()
		e.cancelStop(cause)
		e.pool.close()
	})
}

// Pending returns the number of admitted tasks that have not finished. While
// a submission is being refused during a drain it may read one too many.
func (e *Engine) Pending() int { return e.gate.pending() }

// Draining returns a channel that is closed when Drain begins.
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
