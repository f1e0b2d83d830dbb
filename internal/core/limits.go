package core

// This file holds the limits: the slots that bound pending tasks, globally
// and per label, and how a submission waits for them.

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Invariant: a task holds one slot of its label and one global slot from its
// admission to its end; a refused submission holds none. The label's slot is
// taken first, so submitters waiting on a flooded label hold no global slot
// and a label under its bound never waits behind a full one. A follow-up (a
// submission from a running task of this engine) never waits: its parents
// may hold every slot, so it takes a free one or is refused at once.
type limits struct {
	global    *sema           // the gate's; limit 0: unbounded
	maxWait   time.Duration   // Unbounded: until the caller's context ends
	stop      <-chan struct{} // closed at the drain's bound
	draining  <-chan struct{} // closed when the drain begins: no new waits
	followsUp func(context.Context) bool
}

func newLimits(cfg Config, global *sema, stop, draining <-chan struct{}, followsUp func(context.Context) bool) limits {
	return limits{global: global, maxWait: cfg.MaxWait, stop: stop, draining: draining, followsUp: followsUp}
}

// acquire takes a slot of the label's and a global one, or neither. With
// wait it may wait for them, unless ctx is a follow-up's; waiting counts the
// label's submitters while they wait.
func (l *limits) acquire(label *sema, waiting *atomic.Int64, ctx context.Context, wait bool) error {
	if err := l.take(label, waiting, ctx, wait, "its label's"); err != nil {
		return err
	}
	if err := l.take(l.global, waiting, ctx, wait, "the scheduler's"); err != nil {
		label.give()
		return err
	}
	return nil
}

func (l *limits) release(label *sema) {
	label.give()
	l.global.give()
}

// take takes one of slots; which names them in a refusal.
func (l *limits) take(slots *sema, waiting *atomic.Int64, ctx context.Context, wait bool, which string) error {
	if slots.tryTake() {
		return nil
	}
	if !wait || l.followsUp(ctx) {
		return fmt.Errorf("%w: every one of %s %d slots is taken", ErrFull, which, slots.cap())
	}
	waiting.Add(1)
	defer waiting.Add(-1)
	return l.wait(slots, ctx, which)
}

func (l *limits) wait(slots *sema, ctx context.Context, which string) error {
	var timeout <-chan time.Time
	if l.maxWait > 0 {
		t := time.NewTimer(l.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-l.draining:
			return ErrClosed // the gate would refuse it
		default:
		}
		ch := slots.enqueue()
		if ch == nil {
			return nil
		}
		var err error
		select {
		case <-ch:
			slots.woken()
			if slots.tryTake() {
				return nil
			}
			continue
		case <-timeout:
			err = fmt.Errorf("%w: none of %s %d slots freed within %v", ErrFull, which, slots.cap(), l.maxWait)
		case <-ctx.Done():
			err = fmt.Errorf("%w: waiting for one of %s %d slots: %w", ErrFull, which, slots.cap(), context.Cause(ctx))
		case <-l.draining:
			err = fmt.Errorf("%w: the drain began while waiting for a slot", ErrClosed)
		case <-l.stop:
			err = fmt.Errorf("%w: waiting for a slot: the drain reached its bound", ErrClosed)
		}
		slots.leave(ch)
		return err
	}
}
