package fxasync

// This file holds kinds: tasks whose work is a value, so that what a stop
// leaves unfinished of them can go to the Keeper.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/fxtools/background/internal/core"
)

// A Kind is a kind of task whose work is a value of T, run by one function:
// unlike a closure, a value can be kept. With a Keeper (Config.Keeper),
// what a stop leaves unfinished of a Kind's tasks — never started, cut off
// by the drain's bound — goes to the Keeper instead of being lost, and the
// drain's report counts it as kept. Without one, a Kind's tasks are plain
// tasks. It is safe for concurrent use.
type Kind[T any] struct {
	s     *Scheduler
	name  string
	run   func(ctx context.Context, v T) error
	keeps bool // the scheduler has a Keeper: live holds the unsettled work

	mu   sync.Mutex
	seq  uint64
	live map[uint64]liveItem[T] // submitted, not yet settled
	kept struct{ kept, lost int }
	// retryState: the Keeper keeps retry state (RetryKeeper), so a task
	// whose retries the drain cut goes to it as a *Retried.
	retryState bool
}

// liveItem is a kept kind's unsettled work and, once the drain cut its
// retries, what they had done.
type liveItem[T any] struct {
	v         T
	attempts  int
	notBefore time.Time
}

// NewKind returns the Kind name of scheduler s, whose tasks run run and
// are labelled name. Create it before the drain begins (in a constructor,
// with fx); a nil run refuses every task with ErrNilFunc.
func NewKind[T any](s *Scheduler, name string, run func(ctx context.Context, v T) error) *Kind[T] {
	k := &Kind[T]{s: s, name: core.CleanLabel(name), run: run}
	if s == nil || s.keeper == nil {
		return k
	}
	k.keeps, k.live = true, map[uint64]liveItem[T]{}
	_, k.retryState = s.keeper.(RetryKeeper)
	s.engine().CountLoss(k.name, k.lostInStop, true)
	s.addKeepable(keepable{kind: k.name, take: k.take, settle: k.settle})
	return k
}

// Go runs run(ctx, v) in the background, as Scheduler.Go does (waiting up
// to Config.MaxWait for a slot), and returns the refusal, matching ErrFull,
// ErrClosed or ErrNilFunc, instead of only logging it. A task cut off by
// the drain's bound — run returned an error once its context was
// cancelled — is handed to the Keeper, not counted as failed
// (LabelStats.HandedOff).
func (k *Kind[T]) Go(ctx context.Context, v T) error {
	if k.s == nil {
		return fmt.Errorf("fxasync: nil *Scheduler: %w", ErrClosed)
	}
	if k.run == nil {
		return fmt.Errorf("fxasync: kind %q: %w", k.name, ErrNilFunc)
	}
	e := k.s.engine()
	if !k.keeps {
		if err := e.Go(ctx, k.name, func(ctx context.Context) error { return k.run(ctx, v) }, callSite(e)); err != nil {
			return fmt.Errorf("fxasync: kind %q: %w", k.name, err)
		}
		return nil
	}
	id := k.hold(v)
	track := func(end core.End) {
		switch {
		case end.Waiting || end.HandedOff && end.Attempts > 0:
			k.retried(id, end.Attempts, e.Time(end.Due))
		case !end.HandedOff:
			k.drop(id) // settled: its work is done or failed for good
		}
	}
	if err := e.GoKept(ctx, k.name, func(ctx context.Context) error { return k.runKept(ctx, v) }, callSite(e), track); err != nil {
		k.drop(id)
		return fmt.Errorf("fxasync: kind %q: %w", k.name, err)
	}
	return nil
}

// runKept runs one attempt of a kept kind's task: one cut off by the
// drain is handed off, its work left for the keep.
func (k *Kind[T]) runKept(ctx context.Context, v T) error {
	err := k.run(ctx, v)
	if err != nil && ctx.Err() != nil {
		return ErrHandedOff
	}
	return err
}

func (k *Kind[T]) hold(v T) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seq++
	k.live[k.seq] = liveItem[T]{v: v}
	return k.seq
}

// retried records what a handed-off task's retries had done.
func (k *Kind[T]) retried(id uint64, attempts int, notBefore time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if it, ok := k.live[id]; ok {
		it.attempts, it.notBefore = attempts, notBefore
		k.live[id] = it
	}
}

func (k *Kind[T]) drop(id uint64) {
	k.mu.Lock()
	delete(k.live, id)
	k.mu.Unlock()
}

// take returns the unsettled work, in submission order, and forgets it.
func (k *Kind[T]) take() []any {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]any, 0, len(k.live))
	for _, id := range slices.Sorted(maps.Keys(k.live)) {
		it := k.live[id]
		if k.retryState && it.attempts > 0 {
			out = append(out, &Retried{Value: it.v, Attempts: it.attempts, NotBefore: it.notBefore})
			continue
		}
		out = append(out, it.v)
	}
	clear(k.live)
	return out
}

func (k *Kind[T]) settle(kept, lost int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kept.kept += kept
	k.kept.lost += lost
}

// lostInStop is what the stop lost of this kind, and what was kept: before
// the keep, everything unsettled is lost.
func (k *Kind[T]) lostInStop() (lost, kept int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kept.lost + len(k.live), k.kept.kept
}
