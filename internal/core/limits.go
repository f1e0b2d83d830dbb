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
	global    chan struct{}   // nil: unbounded
	maxWait   time.Duration   // Unbounded: until the caller's context ends
	stop      <-chan struct{} // closed at the drain's bound
	draining  <-chan struct{} // closed when the drain begins: no new waits
	followsUp func(context.Context) bool
}

func newLimits(cfg Config, stop, draining <-chan struct{}, followsUp func(context.Context) bool) limits {
	return limits{global: newSlots(cfg.MaxInFlight), maxWait: cfg.MaxWait, stop: stop, draining: draining,
		followsUp: followsUp}
}

// newSlots makes a label's slots for a bound n, or nil when unbounded.
func newSlots(n int) chan struct{} {
	if n <= 0 {
		return nil
	}
	return make(chan struct{}, n)
}

// acquire takes a slot of the label's and a global one, or neither. With
// wait it may wait for them, unless ctx is a follow-up's; waiting counts the
// label's submitters while they wait.
func (l *limits) acquire(label chan struct{}, waiting *atomic.Int64, ctx context.Context, wait bool) error {
	if err := l.take(label, waiting, ctx, wait, "its label's"); err != nil {
		return err
	}
	if err := l.take(l.global, waiting, ctx, wait, "the scheduler's"); err != nil {
		give(label)
		return err
	}
	return nil
}

func (l *limits) release(label chan struct{}) {
	give(label)
	give(l.global)
}

// take takes one of slots; which names them in a refusal.
func (l *limits) take(slots chan struct{}, waiting *atomic.Int64, ctx context.Context, wait bool, which string) error {
	if slots == nil {
		return nil
	}
	select {
	case slots <- struct{}{}:
		return nil
	default:
	}
	if !wait || l.followsUp(ctx) {
		return fmt.Errorf("%w: every one of %s %d slots is taken", ErrFull, which, cap(slots))
	}
	waiting.Add(1)
	defer waiting.Add(-1)
	return l.wait(slots, ctx, which)
}

func (l *limits) wait(slots chan struct{}, ctx context.Context, which string) error {
	select {
	case <-l.draining:
		return ErrClosed // the gate would refuse it
	default:
	}
	var timeout <-chan time.Time
	if l.maxWait > 0 {
		t := time.NewTimer(l.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case slots <- struct{}{}:
		return nil
	case <-timeout:
		return fmt.Errorf("%w: none of %s %d slots freed within %v", ErrFull, which, cap(slots), l.maxWait)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for one of %s %d slots: %w", ErrFull, which, cap(slots), context.Cause(ctx))
	case <-l.draining:
		return fmt.Errorf("%w: the drain began while waiting for a slot", ErrClosed)
	case <-l.stop:
		return fmt.Errorf("%w: waiting for a slot: the drain reached its bound", ErrClosed)
	}
}

func give(slots chan struct{}) {
	if slots != nil {
		<-slots
	}
}
