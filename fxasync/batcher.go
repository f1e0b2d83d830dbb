package fxasync

// This file holds the Batcher: fire-and-forget items written in batches.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxtools/background/internal/clock"
	"github.com/fxtools/background/internal/core"
	"github.com/fxtools/background/internal/logx"
)

// Defaults of a zero BatcherConfig field.
const (
	defaultMaxBatch        = 100
	defaultMaxDelay        = 100 * time.Millisecond
	defaultMaxPending      = 10_000
	defaultMaxPendingBytes = 64 << 20
)

// BatcherConfig configures a Batcher. A zero field takes the default its
// comment gives; a zero BatcherConfig is valid.
type BatcherConfig struct {
	// MaxBatch is the most items one write gets. Default 100; at most
	// MaxPending.
	MaxBatch int
	// MaxDelay is the longest an item waits for its batch to fill. Default
	// 100 ms.
	MaxDelay time.Duration
	// MaxPending bounds the items accepted and not yet written. Default
	// 10,000.
	MaxPending int
	// MaxWait is the longest Add waits for room. Default 1 s; Unbounded:
	// until its context ends.
	MaxWait time.Duration
	// MaxBacklog bounds the backlog by time: no more items are accepted
	// than the batcher writes in MaxBacklog at its measured rate, so that a
	// stop can write everything accepted. Default: half the scheduler's
	// drain timeout.
	MaxBacklog time.Duration
	// MaxPendingBytes bounds, for items that are Sizers, the bytes
	// accepted and not yet written. Default 64 MiB.
	MaxPendingBytes int
	// Retry is how a failed write is tried again (see Retry): by default
	// without a bound on attempts, for up to 2 minutes from the first
	// failed write of a run, with backoffs of up to 5 s. Retry{MaxAttempts:
	// 1} turns it off.
	Retry Retry
	// Keep hands what a stop leaves unwritten — items not yet written, the
	// write the drain cut off, batches whose write failed once the drain
	// began — to the scheduler's Keeper (Config.Keeper), as the kind named
	// after the batcher's label: the drain counts what it kept, not as
	// lost. Without a Keeper it changes nothing. The Keeper gets the items
	// as they were added: they must be what it can store and run later
	// (for fxasyncriver, args of a registered kind).
	Keep bool
}

// A Sizer tells its size in bytes: its strings' lengths and a share for
// the rest, say. A Batcher whose items are Sizers bounds its memory as well
// as its items: no more is accepted than MaxPendingBytes, and an item
// larger than that is refused. Size runs in Add, outside the batcher's
// lock; one that panics refuses its item.
type Sizer interface{ Size() int }

// A Batcher collects items that callers hand over without waiting for them
// to be stored (usage rows, trace events) and writes them in batches, one
// write at a time, each a task of its scheduler under the batcher's label.
// It is safe for concurrent use.
//
// Contract:
//   - Add returns at once while there is room; otherwise it waits up to
//     MaxWait (or until ctx ends), then refuses with an error matching
//     ErrFull. TryAdd never waits. Every refusal is counted; nothing refused
//     was accepted.
//   - There is room while fewer items are pending (accepted, not yet
//     written) than both MaxPending and what the batcher writes in
//     MaxBacklog at the rate of its recent writes (before its first write:
//     ten batches), and, for items that are Sizers, while the item fits
//     in MaxPendingBytes. A database that slows down shrinks the room, so a
//     stop can still write everything accepted.
//   - A batch is written when MaxBatch items wait or the first has waited
//     MaxDelay, and the write before it is done. A write that fails (or
//     panics) is tried again in halves, down to the items that fail on
//     their own, so one item the store refuses does not take its
//     batch-mates with it; after a run of about log₂(MaxBatch) failed
//     writes the failure is taken as the store's (it is down), and the
//     rest of the batch fails without more writes.
//   - A write that failed as the store's — no item written, or a run of
//     failures at the end — is retried under BatcherConfig.Retry: its
//     failed items go back to the head of the queue, in order, and the
//     next write starts after the backoff; nothing is counted failed
//     meanwhile, and the batcher writes an item again only when a write
//     said it failed. While writes fail, the room shrinks with the time
//     left to the policy's MaxElapsed, so that callers are refused (Add's
//     error) rather than accepted and later lost. A Permanent error, or one
//     Retry.Retryable turns down, is not retried.
//   - A batch with failures past its retries is logged once by the
//     scheduler, with the label and the counts in its error; each failed
//     item is counted in Failed. A write that calls runtime.Goexit fails
//     what it had not written; later items are written as usual. So a
//     write must be all or nothing (one transaction): the items of a
//     failed write are written again, and a write whose commit was cut
//     off may have landed — make it idempotent (a unique key, ON CONFLICT
//     DO NOTHING) to write each item once.
//   - When the scheduler's drain begins, the batcher writes what it holds
//     at once (a write waiting for its retry too) and refuses later items
//     (ErrClosed); a failed write is retried only while its next attempt
//     starts before the drain's bound. The drain waits for those writes,
//     so everything accepted is written before the resources the scheduler
//     drains before (DrainBefore) stop. The drain's report counts a
//     batcher's losses in items.
type Batcher[T any] struct {
	e     *core.Engine
	label string
	write func(context.Context, []T) error
	cfg   BatcherConfig
	clock clock.Clock // the scheduler's: the delay's and the backoff's timers
	sized bool        // T is a Sizer: memory is bounded too

	mu       sync.Mutex
	buf      []T           // accepted, not yet handed to a write
	sizes    []int         // for Sizers: buf's items' sizes
	bytes    int           // for Sizers: bytes pending, written ones' included until settled
	writing  int           // items in the write in progress
	hold     *core.Hold    // held while anything is pending
	closed   bool          // the drain has begun
	rate     float64       // items per second of recent writes; 0 before the first
	freed    chan struct{} // closed and replaced when room frees
	timerSet bool
	stop     func() bool // stops the armed timer; nil when none
	timerGen uint64      // which arming a timer's call belongs to
	inWrite  []T         // the batch being written
	keep     bool        // Config.Keep with a Keeper: the keep takes what the stop leaves
	kept     []T         // batches whose write failed since the drain began, when keep
	taken    bool        // the keep has taken the unwritten items
	policy   core.RetryPolicy
	failing  failRun // the run of failed writes, if any
	backoff  bool    // the timer is armed for the next attempt, not for MaxDelay
	suspects int     // the head of buf: items on their second chance (batcher_retry.go)

	n batcherCounts
}

type batcherCounts struct {
	added, rejected, flushed, failed, lost, kept, batches atomic.Int64
	retries, gaveUp                                       atomic.Int64
	failedAtDrain                                         atomic.Int64
	sizes                                                 [len(BatchSizeBounds) + 1]atomic.Int64
}

// NewBatcher returns a Batcher that writes items with write, in tasks of s
// labelled label. Create it before the scheduler starts draining (in a
// constructor, with fx). A batcher with a nil write refuses every item with
// ErrNilFunc; one on a nil *Scheduler, with ErrClosed, as that scheduler
// refuses every task. Out-of-range fields take their defaults, and MaxBatch
// is at most MaxPending.
func NewBatcher[T any](s *Scheduler, label string, write func(ctx context.Context, items []T) error, cfg BatcherConfig) *Batcher[T] {
	_, sized := any(*new(T)).(Sizer)
	b := &Batcher[T]{label: core.CleanLabel(label), write: write, freed: make(chan struct{}), sized: sized}
	if s == nil {
		b.cfg, b.closed = cfg.withDefaults(core.DefaultDrainTimeout), true
		return b
	}
	e := s.engine()
	b.e, b.cfg, b.policy = e, cfg.withDefaults(e.Config().DrainTimeout), cfg.Retry.batchPolicy()
	b.clock = e.Clock()
	e.OnDrain(b.drainBegan)
	b.keep = cfg.Keep && s.keeper != nil
	e.CountLoss(b.label, b.lostInStop, false)
	if b.keep {
		s.addKeepable(keepable{kind: b.label, take: b.unwritten, settle: b.settleKept})
	}
	s.addBatcher(b)
	return b
}

func (c BatcherConfig) withDefaults(drainTimeout time.Duration) BatcherConfig {
	if c.MaxPending <= 0 {
		c.MaxPending = defaultMaxPending
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = defaultMaxBatch
	}
	c.MaxBatch = min(c.MaxBatch, c.MaxPending) // a batch never holds more than is pending
	if c.MaxDelay <= 0 {
		c.MaxDelay = defaultMaxDelay
	}
	if c.MaxWait == 0 {
		c.MaxWait = core.DefaultMaxWait
	}
	if c.MaxBacklog <= 0 {
		c.MaxBacklog = drainTimeout / 2
	}
	if c.MaxBacklog <= 0 { // a drain that does not wait: the default's backlog
		c.MaxBacklog = core.DefaultDrainTimeout / 2
	}
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = defaultMaxPendingBytes
	}
	return c
}

// Add hands item over to be stored, waiting for room as the contract says.
// A nil ctx means context.Background().
func (b *Batcher[T]) Add(ctx context.Context, item T) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return b.inline(b.add(ctx, item, true))
}

// TryAdd is Add that never waits.
func (b *Batcher[T]) TryAdd(item T) error { return b.inline(b.add(context.Background(), item, false)) }

// inline, under fxasynctest.Inline, writes what was just added before Add
// returns.
func (b *Batcher[T]) inline(err error) error {
	if err == nil && b.e.Inline() {
		b.flushWait()
	}
	return err
}

func (b *Batcher[T]) add(ctx context.Context, item T, wait bool) error {
	size, err := b.size(item)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.write == nil:
		err = ErrNilFunc
	case err == nil:
		err = b.roomLocked(ctx, wait, size)
	}
	if err != nil {
		b.n.rejected.Add(1)
		return fmt.Errorf("fxasync: batcher %q: %w", b.label, err)
	}
	b.buf = append(b.buf, item)
	if b.sized {
		b.sizes = append(b.sizes, size)
		b.bytes += size
	}
	b.n.added.Add(1)
	b.scheduleLocked()
	return nil
}

// flush: see flusher.
func (b *Batcher[T]) flush(backoffIdle bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writing == 0 && len(b.buf) > 0 && !b.backoff && b.hold != nil {
		b.stopTimerLocked()
		b.timerSet = false
		b.writeLocked()
	}
	return b.writing == 0 && (len(b.buf) == 0 || backoffIdle && b.backoff)
}

// flushWait, under fxasynctest.Inline, writes what is held and waits
// until no write is in progress: Add returns once its item is written, or
// failed, or waits for a retry's backoff.
func (b *Batcher[T]) flushWait() {
	for !b.flush(true) {
		b.mu.Lock()
		freed, writing := b.freed, b.writing > 0
		b.mu.Unlock()
		if writing {
			<-freed
		}
	}
}

// size is item's size when it is a Sizer (else 0), or why it is refused.
func (b *Batcher[T]) size(item T) (n int, err error) {
	if !b.sized {
		return 0, nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Size panicked: %s", logx.Value(p))
		}
	}()
	switch n = any(item).(Sizer).Size(); {
	case n > b.cfg.MaxPendingBytes:
		return 0, fmt.Errorf("%w: an item of %d bytes, more than MaxPendingBytes", ErrFull, n)
	case n < 0:
		return 0, nil
	}
	return n, nil
}

// roomLocked waits, unlocking while it does, until there is room and a
// hold, or says why not.
func (b *Batcher[T]) roomLocked(ctx context.Context, wait bool, size int) error {
	var timeout <-chan time.Time
	for {
		if b.closed {
			return ErrClosed
		}
		if b.pendingLocked() < b.limitLocked() && b.bytes <= b.cfg.MaxPendingBytes-size {
			return b.holdLocked()
		}
		if !wait {
			return fmt.Errorf("%w: %d items (%d bytes) pending", ErrFull, b.pendingLocked(), b.bytes)
		}
		if timeout == nil && b.cfg.MaxWait > 0 {
			t := time.NewTimer(b.cfg.MaxWait)
			defer t.Stop()
			timeout = t.C
		}
		freed := b.freed
		b.mu.Unlock()
		var err error
		select {
		case <-freed:
		case <-timeout:
			err = fmt.Errorf("%w: no room within %v", ErrFull, b.cfg.MaxWait)
		case <-ctx.Done():
			err = fmt.Errorf("%w: waiting for room: %w", ErrFull, context.Cause(ctx))
		}
		b.mu.Lock()
		if err != nil {
			return err
		}
	}
}

func (b *Batcher[T]) pendingLocked() int { return len(b.buf) + b.writing }

// limitLocked is how many items may be pending: what the batcher writes in
// MaxBacklog at its recent rate (before its first write, ten batches),
// within [MaxBatch, MaxPending]. Computed so that no setting overflows.
func (b *Batcher[T]) limitLocked() int {
	limit := b.cfg.MaxPending
	switch n := b.rate * b.cfg.MaxBacklog.Seconds(); {
	case b.rate == 0 && b.cfg.MaxBatch <= b.cfg.MaxPending/10:
		limit = 10 * b.cfg.MaxBatch
	case b.rate > 0 && n < float64(limit):
		limit = max(b.cfg.MaxBatch, int(n))
	}
	return b.failingLimit(limit)
}

// failingLimit shrinks limit while writes fail, with the time the retries
// have left: what is accepted late in an outage has the least time to be
// written before the retries give up.
func (b *Batcher[T]) failingLimit(limit int) int {
	if b.failing.attempts == 0 || b.policy.MaxElapsed == core.Unbounded {
		return limit
	}
	left := 1 - b.clock.Now().Sub(b.failing.since).Seconds()/b.policy.MaxElapsed.Seconds()
	return int(float64(limit) * min(max(left, 0), 1))
}

// holdLocked makes sure something pending has a hold.
func (b *Batcher[T]) holdLocked() error {
	if b.hold != nil {
		return nil
	}
	h, err := b.e.Hold(b.label)
	if err != nil {
		return err
	}
	b.hold = h
	return nil
}

// scheduleLocked starts a write when one is due, or arms the delay.
func (b *Batcher[T]) scheduleLocked() {
	switch {
	case b.writing > 0 || len(b.buf) == 0 || b.backoff:
	case len(b.buf) >= b.cfg.MaxBatch || b.closed:
		b.writeLocked()
	case !b.timerSet:
		b.armLocked(b.cfg.MaxDelay)
	}
}

// armLocked arms the timer for d from now, in place of any armed before.
func (b *Batcher[T]) armLocked(d time.Duration) {
	b.stopTimerLocked()
	b.timerSet = true
	gen := b.timerGen
	b.stop = b.clock.AfterFunc(d, func() { b.delayPassed(gen) })
}

// stopTimerLocked stops the armed timer; a call of it already under way
// finds its arming superseded and does nothing.
func (b *Batcher[T]) stopTimerLocked() {
	if b.stop != nil {
		b.stop()
		b.stop = nil
	}
	b.timerGen++
}

func (b *Batcher[T]) delayPassed(gen uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.timerGen {
		return // stopped or re-armed since
	}
	b.stop, b.timerSet, b.backoff = nil, false, false
	if b.writing == 0 && len(b.buf) > 0 {
		b.writeLocked()
	}
}

// writeLocked hands up to MaxBatch items to a task of the hold. The
// buffer left behind is sized from what is held, never from MaxBatch.
func (b *Batcher[T]) writeLocked() {
	n := min(len(b.buf), b.cfg.MaxBatch)
	batch := b.buf[:n:n]
	b.buf = append(make([]T, 0, max(len(b.buf)-n, min(2*n, b.cfg.MaxBatch))), b.buf[n:]...)
	var sizes []int
	if b.sized {
		sizes = b.sizes[:n:n]
		b.sizes = append(make([]int, 0, cap(b.buf)), b.sizes[n:]...)
	}
	b.writing, b.inWrite = n, batch
	suspects := min(b.suspects, n)
	b.suspects -= suspects
	if err := b.hold.Go(func(ctx context.Context) error { return b.store(ctx, batch, sizes, suspects) }); err != nil {
		w := newBatchWrite(b.write, batch, sizes) // the drain gave up: nothing can run it
		w.fail(batch)
		lost := &b.n.lost
		if b.keepLocked(w.failed) {
			lost = nil // counted by the keep
		}
		b.settleLocked(w, lost)
	}
}

// store writes one batch, split down to its poison items when it fails,
// and settles every item whatever the write does: returns, fails, panics,
// or calls runtime.Goexit.
func (b *Batcher[T]) store(ctx context.Context, batch []T, sizes []int, suspects int) (err error) {
	w := newBatchWrite(b.write, batch, sizes)
	w.suspects = suspects
	defer func() {
		if !b.settle(w) { // kept for the hand-off: not a failure
			err = w.result()
		}
	}()
	w.do(ctx, batch)
	return nil
}

// settleLocked counts a write's items — written, or failed into failed —
// learns the rate from the writes that succeeded, frees room and schedules
// what is next; with nothing pending, the hold goes.
func (b *Batcher[T]) settleLocked(w *batchWrite[T], failed *atomic.Int64) {
	b.n.flushed.Add(int64(w.written()))
	if failed != nil {
		failed.Add(int64(w.nFailed))
	}
	b.n.batches.Add(1)
	b.n.sizes[sizeBucket(len(w.batch))].Add(1)
	if w.took > 0 && w.written() > 0 {
		r := float64(w.written()) / w.took.Seconds()
		if b.rate == 0 {
			b.rate = r
		} else {
			b.rate = 0.7*b.rate + 0.3*r
		}
	}
	b.writing, b.inWrite, b.bytes = 0, nil, b.bytes-w.bytes
	close(b.freed)
	b.freed = make(chan struct{})
	b.scheduleLocked()
	if b.pendingLocked() == 0 && b.hold != nil {
		b.hold.Release()
		b.hold = nil
	}
}

// drainBegan writes what is held and refuses later items.
func (b *Batcher[T]) drainBegan() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed, b.backoff, b.timerSet = true, false, false
	b.n.failedAtDrain.Store(b.n.failed.Load())
	b.stopTimerLocked()
	close(b.freed) // waiters learn they are refused
	b.freed = make(chan struct{})
	b.scheduleLocked()
}

// lostInStop is what the stop lost of what this batcher accepted, and
// what the Keeper kept: items whose write failed since the drain began,
// could not be run, or is not done. When keeping, those wait for the keep
// (lost until it has kept them).
func (b *Batcher[T]) lostInStop() (lost, kept int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keep {
		waiting := 0
		if !b.taken {
			waiting = len(b.kept) + b.pendingLocked()
		}
		return int(b.n.lost.Load()) + waiting, int(b.n.kept.Load())
	}
	return int(b.n.failed.Load()-b.n.failedAtDrain.Load()+b.n.lost.Load()) + b.pendingLocked(), 0
}

// unwritten returns, once, what the stop left unwritten, and forgets it;
// the keep calls it after the drain. A write still in progress then (one
// that ignores its context) is included, and may yet commit: what the
// Keeper stores is at least once.
func (b *Batcher[T]) unwritten() []any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.taken {
		return nil
	}
	b.taken = true
	out := make([]any, 0, len(b.kept)+len(b.inWrite)+len(b.buf))
	for _, items := range [][]T{b.kept, b.inWrite, b.buf} {
		for _, it := range items {
			out = append(out, it)
		}
	}
	b.kept, b.buf, b.sizes = nil, nil, nil
	return out
}

// settleKept counts what the Keeper made of the unwritten items.
func (b *Batcher[T]) settleKept(kept, lost int) {
	b.n.kept.Add(int64(kept))
	b.n.lost.Add(int64(lost))
}

// keepLocked keeps the items a stop failed to write, when asked to, and
// reports whether it did.
func (b *Batcher[T]) keepLocked(failed [][]T) bool {
	if !b.keep || !b.closed || b.taken {
		return false
	}
	for _, items := range failed {
		b.kept = append(b.kept, items...)
	}
	return true
}
