package core

import (
	"context"
	"fmt"
	"runtime"

	"go.uber.org/zap"
)

// UnlabeledLabel is recorded for a task submitted with an empty label.
const UnlabeledLabel = "(unlabeled)"

// Submit starts fn in the background under label and returns nil, or returns
// why it did not: ErrNilFunc, ErrClosed, ErrFull (only when block is false),
// or the error of ctx while waiting for a slot. A refused task is counted as
// rejected; Submit does not log it (Go does).
//
// ctx gives the task its values, not its cancellation; nil means
// context.Background(). While draining, only submissions from inside the
// engine's own running tasks (ctx derives from a task's context) are admitted.
//
// depth is the number of wrapper frames between Submit and the user's call,
// for Config.CallSites.
func (e *Engine) Submit(ctx context.Context, label string, fn Func, block bool, depth int) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if label == "" {
		label = UnlabeledLabel
	}
	c := e.labels.get(label)
	c.submitted.Add(1)
	if err := e.admit(ctx, fn, block); err != nil {
		c.rejected.Add(1)
		return err
	}
	t := &task{parent: ctx, e: e, fn: fn, label: label, stats: c, start: e.now()}
	if e.cfg.CallSites {
		var pc [1]uintptr
		runtime.Callers(2+depth, pc[:])
		t.pc = pc[0]
	}
	e.enqueue(t)
	return nil
}

// Go is Submit that logs a refusal at ERROR, naming the label.
func (e *Engine) Go(ctx context.Context, label string, fn Func, depth int) {
	if label == "" {
		label = UnlabeledLabel
	}
	if err := e.Submit(ctx, label, fn, true, depth+1); err != nil {
		e.log.Error("async task rejected", zap.String("label", label), zap.Error(err))
	}
}

// admit counts a task in, or explains why not.
func (e *Engine) admit(ctx context.Context, fn Func, block bool) error {
	if fn == nil {
		return ErrNilFunc
	}
	// Refuse without touching the count when the drain is already visible, so
	// Pending stays exact; the add below settles the race with a drain start.
	if s := e.state.Load(); s&(drainingBit|closedBit) != 0 && !e.admitDraining(ctx, s+1) {
		return ErrClosed
	}
	if s := e.state.Add(1); s&(drainingBit|closedBit) != 0 && !e.admitDraining(ctx, s) {
		e.release()
		return ErrClosed
	}
	if e.sem != nil {
		if err := e.acquire(ctx, block); err != nil {
			e.release()
			return err
		}
	}
	return nil
}

// admitDraining decides for a submission that raced with or followed the start
// of a drain; s is the state word after its provisional count. A task may
// spawn follow-up work while its drain runs: the submitter's own count keeps
// the drain from finishing, so the new task is waited for too.
func (e *Engine) admitDraining(ctx context.Context, s int64) bool {
	return s&closedBit == 0 && s&countMask > 1 && e.taskOf(ctx) != nil
}

// release uncounts a task; the last one out of a drain finishes it.
func (e *Engine) release() {
	if e.uncount() {
		e.finishDrain(e.now())
	}
}

// uncount reports whether it took the count to zero while draining.
func (e *Engine) uncount() bool { return e.state.Add(-1) == drainingBit }

// finishDrain closes the engine once the count is zero while draining; at is
// e.now() then. The compare-and-swap makes it happen once, and only at a true
// zero. Drain is woken first; the rest waits until it has run.
func (e *Engine) finishDrain(at int64) {
	if e.state.CompareAndSwap(drainingBit, drainingBit|closedBit) {
		e.drainEnd.Store(max(at, 1)) // non-zero: Drain reads it as "drained"
		e.wakeDrain()
		runtime.Gosched() // let the woken Drain run before this goroutine tidies up
		close(e.drained)
		e.close(context.Canceled)
	}
}

// acquire takes an in-flight slot. Blocking ends when a slot frees, ctx ends,
// or the drain cancels running tasks.
func (e *Engine) acquire(ctx context.Context, block bool) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	default:
	}
	if !block {
		return ErrFull
	}
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a slot: %w", context.Cause(ctx))
	case <-e.stop.Done():
		return fmt.Errorf("waiting for a slot: %w", context.Cause(e.stop))
	}
}
