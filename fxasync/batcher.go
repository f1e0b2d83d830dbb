package fxasync

// This file holds the Batcher: fire-and-forget items written in batches.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/core"
)

// Defaults of a zero BatcherConfig field.
const (
	DefaultMaxBatch   = 100
	DefaultMaxDelay   = 100 * time.Millisecond
	DefaultMaxPending = 10_000
)

// BatcherConfig configures a Batcher. Zero fields take the defaults.
type BatcherConfig struct {
	MaxBatch   int           // items per flush; default 100
	MaxDelay   time.Duration // longest an item waits for its batch to fill; default 100 ms
	MaxPending int           // items accepted and not yet stored; default 10,000
	MaxWait    time.Duration // longest Add waits for room; default DefaultMaxWait; Unbounded: until ctx ends
}

// A Batcher collects items that callers hand over without waiting for them
// to be stored (usage rows, trace events) and writes them in batches, each
// batch one task of its scheduler under the batcher's label. It is safe for
// concurrent use.
//
// Contract:
//   - Add returns at once while there is room; when MaxPending items are
//     accepted and not yet stored, it waits up to MaxWait (or until ctx
//     ends), then refuses with an error matching ErrFull. TryAdd never
//     waits. Every refusal is counted; nothing refused was accepted.
//   - A batch is flushed when it holds MaxBatch items or its first item has
//     waited MaxDelay. A failed flush is logged once by the scheduler, with
//     the label and the item count in its error, and each of its items is
//     counted as failed.
//   - When the scheduler's drain begins, the batcher flushes what it holds
//     and refuses later items (ErrClosed); the drain waits for those flushes,
//     so everything accepted is written before the resources the scheduler
//     drains before (DrainBefore) stop. The drain's report counts a
//     batcher's losses in items.
type Batcher[T any] struct {
	e     *core.Engine
	label string
	write func(context.Context, []T) error
	cfg   BatcherConfig
	room  chan struct{} // one per item accepted and not yet stored
	timer *time.Timer

	mu     sync.Mutex
	buf    []T
	hold   *core.Hold // held while buf is not empty
	closed bool

	n batcherCounts
}

type batcherCounts struct {
	added, rejected, flushed, failed, lost, batches atomic.Int64
	failedAtDrain                                   atomic.Int64
	sizes                                           [len(BatchSizeBounds) + 1]atomic.Int64
}

// NewBatcher returns a Batcher that writes items with write, in tasks of s
// labelled label. Create it before the scheduler starts draining (in a
// constructor, with fx).
func NewBatcher[T any](s *Scheduler, label string, write func(ctx context.Context, items []T) error, cfg BatcherConfig) *Batcher[T] {
	cfg = cfg.withDefaults()
	b := &Batcher[T]{e: s.engine(), label: core.CleanLabel(label), write: write, cfg: cfg,
		room: make(chan struct{}, cfg.MaxPending)}
	b.timer = time.AfterFunc(time.Hour, b.flushDue)
	b.timer.Stop()
	b.e.OnDrain(b.drainBegan)
	b.e.CountLoss(b.label, b.lostInStop)
	s.addBatcher(b)
	return b
}

func (c BatcherConfig) withDefaults() BatcherConfig {
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	return c
}

// Add hands item over to be stored, waiting for room as the contract says.
// A nil ctx means context.Background().
func (b *Batcher[T]) Add(ctx context.Context, item T) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return b.add(ctx, item, true)
}

// TryAdd is Add that never waits.
func (b *Batcher[T]) TryAdd(item T) error { return b.add(context.Background(), item, false) }

func (b *Batcher[T]) add(ctx context.Context, item T, wait bool) error {
	if err := b.reserve(ctx, wait); err != nil {
		b.n.rejected.Add(1)
		return fmt.Errorf("fxasync: batcher %q: %w", b.label, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.holdLocked(); err != nil {
		<-b.room
		b.n.rejected.Add(1)
		return fmt.Errorf("fxasync: batcher %q: %w", b.label, err)
	}
	b.buf = append(b.buf, item)
	b.n.added.Add(1)
	if len(b.buf) >= b.cfg.MaxBatch {
		b.flushLocked()
	}
	return nil
}

// reserve takes room for one item.
func (b *Batcher[T]) reserve(ctx context.Context, wait bool) error {
	select {
	case b.room <- struct{}{}:
		return nil
	default:
	}
	if !wait {
		return ErrFull
	}
	var timeout <-chan time.Time
	if b.cfg.MaxWait > 0 {
		t := time.NewTimer(b.cfg.MaxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case b.room <- struct{}{}:
		return nil
	case <-timeout:
		return fmt.Errorf("%w: no room within %v", ErrFull, b.cfg.MaxWait)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for room: %w", ErrFull, context.Cause(ctx))
	case <-b.e.Draining():
		return ErrClosed
	}
}

// holdLocked makes sure the buffer has a hold before it gets an item.
func (b *Batcher[T]) holdLocked() error {
	if b.closed {
		return ErrClosed
	}
	if b.hold != nil {
		return nil
	}
	h, err := b.e.Hold(b.label)
	if err != nil {
		return err
	}
	b.hold = h
	b.timer.Reset(b.cfg.MaxDelay)
	return nil
}

// flushLocked hands the buffer to a task and lets the hold go.
func (b *Batcher[T]) flushLocked() {
	batch, hold := b.buf, b.hold
	b.buf, b.hold = make([]T, 0, b.cfg.MaxBatch), nil
	b.timer.Stop()
	if err := hold.Go(func(ctx context.Context) error { return b.store(ctx, batch) }); err != nil {
		b.settle(len(batch), &b.n.lost) // the drain gave up: nothing can run it
	}
	hold.Release()
}

// store writes one batch and settles its items.
func (b *Batcher[T]) store(ctx context.Context, batch []T) error {
	done := &b.n.failed
	defer func() { b.settle(len(batch), done) }()
	if err := b.write(ctx, batch); err != nil {
		return fmt.Errorf("flush of %d item(s): %w", len(batch), err)
	}
	done = &b.n.flushed
	return nil
}

// settle counts n items as done and gives their room back.
func (b *Batcher[T]) settle(n int, done *atomic.Int64) {
	done.Add(int64(n))
	b.n.batches.Add(1)
	b.n.sizes[sizeBucket(n)].Add(1)
	for i := 0; i < n; i++ {
		<-b.room
	}
}

func (b *Batcher[T]) flushDue() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > 0 {
		b.flushLocked()
	}
}

// drainBegan flushes what is held and refuses later items.
func (b *Batcher[T]) drainBegan() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.n.failedAtDrain.Store(b.n.failed.Load())
	if len(b.buf) > 0 {
		b.flushLocked()
	}
	b.timer.Stop()
}

// lostInStop is what the stop lost of what this batcher accepted: items
// whose flush failed since the drain began, could not be run, or has not
// finished.
func (b *Batcher[T]) lostInStop() int {
	return int(b.n.failed.Load()-b.n.failedAtDrain.Load()+b.n.lost.Load()) + len(b.room)
}
