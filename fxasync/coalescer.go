package fxasync

// This file holds the Coalescer: per key, one write at a time and the
// newest value waiting behind it; a newer value replaces the waiting one.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fxtools/background/internal/core"
	"github.com/fxtools/background/internal/logx"
)

// CoalescerConfig is a Coalescer's configuration; the zero value is valid.
type CoalescerConfig struct {
	// Delay, when positive, writes a key at most once per Delay, with its
	// newest value: each write of a key waits Delay after it is due (a
	// debounce); the drain writes what waits at once. Default 0: a key's
	// value is written as soon as no write of the key runs.
	Delay time.Duration
}

// A Coalescer writes the newest value of each key, for work where only the
// latest value matters (a cache write, a presence flag): per key at most
// one write runs and at most one value waits; a newer Set replaces the
// waiting value (that Set counts in LabelStats.Coalesced — replaced, not
// lost), and when the running write ends, the waiting value is written
// next. So the value a key's last write stores is always its last Set's:
// an older value never overtakes a newer one.
//
// A written value is a task of the Coalescer's label, counted and logged
// as the scheduler's tasks are, and never retried: a retry could write an
// older value after a newer one (nor give the label Retry.Panics). A
// failed write's value is not written again: the key's next Set is. A
// waiting value holds a pending slot: a flood on one
// key costs one slot, and the keys waiting are bounded by the scheduler's
// bounds. Once the drain begins, Set is refused as Go is; the drain writes
// each key's waiting value, and what it cannot write is counted lost. The
// Keeper does not keep a Coalescer's values.
type Coalescer[K comparable, V any] struct {
	e     *core.Engine
	label string
	write func(context.Context, K, V) error
	cfg   CoalescerConfig

	mu   sync.Mutex
	keys map[K]*keyState[V] // keys with a write queued, running or delayed
}

// keyState is one key's: a write queued or running (or delayed), and the
// value waiting behind it.
type keyState[V any] struct {
	waiting *core.Ticket // nil: no value waits
	v       V
	ctx     context.Context // the waiting value's Set's: its values and trace reach the write
	stop    func() bool     // the delay's timer, while a write is delayed
	gen     uint64          // which delay a timer's call belongs to
}

// NewCoalescer returns a Coalescer that writes values with write, in tasks
// of s labelled label. A nil write refuses every Set with ErrNilFunc; a nil
// s, with ErrClosed.
func NewCoalescer[K comparable, V any](s *Scheduler, label string, write func(ctx context.Context, key K, v V) error, cfg CoalescerConfig) *Coalescer[K, V] {
	c := &Coalescer[K, V]{label: core.CleanLabel(label), write: write, cfg: cfg, keys: map[K]*keyState[V]{}}
	if s != nil {
		c.e = s.engine()
		c.e.OnDrain(c.drainBegan)
		s.addFlusher(c)
	}
	return c
}

// Set hands v over as key's newest value, waiting for a pending slot as Go
// does when the key has no value waiting. The write of v sees ctx's values
// (a trace, as Go's task does); a nil ctx means context.Background().
func (c *Coalescer[K, V]) Set(ctx context.Context, key K, v V) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return c.set(ctx, key, v, true)
}

// TrySet is Set that never waits.
func (c *Coalescer[K, V]) TrySet(key K, v V) error { return c.set(context.Background(), key, v, false) }

func (c *Coalescer[K, V]) set(ctx context.Context, key K, v V, wait bool) error {
	switch {
	case c.e == nil:
		return fmt.Errorf("fxasync: coalescer %q: nil *Scheduler: %w", c.label, ErrClosed)
	case c.write == nil:
		return fmt.Errorf("fxasync: coalescer %q: %w", c.label, ErrNilFunc)
	}
	if replaced, err := c.replace(ctx, key, v); replaced || err != nil {
		return err
	}
	ticket, err := c.e.Admit(ctx, c.label, c.noop, 0, wait) // may wait for room: outside the lock
	if err != nil {
		return fmt.Errorf("fxasync: coalescer %q: %w", c.label, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.keys[key]
	switch {
	case st == nil: // the key is idle: write now, or after the delay
		st = &keyState[V]{}
		c.keys[key] = st
		c.startLocked(key, st, ticket, ctx, v)
	case st.waiting != nil: // another Set came first while this one waited for room
		st.v, st.ctx = v, ctx
		ticket.Coalesce() // its slot goes back; the value waiting now is this one
	default:
		st.waiting, st.v, st.ctx = ticket, v, ctx
	}
	return nil
}

// replace makes v the value waiting for key if one already waits, and
// reports whether it did. It is the first to hash key: a key whose dynamic
// type cannot be hashed (K an interface holding a slice) is refused here,
// before anything is admitted, instead of panicking in the caller.
func (c *Coalescer[K, V]) replace(ctx context.Context, key K, v V) (replaced bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			replaced, err = true, fmt.Errorf("fxasync: coalescer %q: the key cannot be a map key: %s", c.label, logx.Value(p))
		}
	}()
	st := c.keys[key]
	if st == nil || st.waiting == nil {
		return false, nil
	}
	if err := c.e.Coalesced(ctx, c.label); err != nil {
		return true, fmt.Errorf("fxasync: coalescer %q: %w", c.label, err)
	}
	st.v, st.ctx = v, ctx
	return true, nil
}

func (c *Coalescer[K, V]) noop(context.Context) error { return nil }

// startLocked writes v with ticket's task, after the delay if any: while
// delayed, the value waits and newer Sets replace it.
func (c *Coalescer[K, V]) startLocked(key K, st *keyState[V], ticket *core.Ticket, ctx context.Context, v V) {
	if c.cfg.Delay <= 0 || isClosed(c.e.Draining()) { // the drain writes at once
		ticket.Go(ctx, c.run(key, st, v))
		return
	}
	st.waiting, st.v, st.ctx = ticket, v, ctx
	st.gen++
	gen := st.gen
	st.stop = c.e.Clock().AfterFunc(c.cfg.Delay, func() { c.delayPassed(key, st, gen) })
}

// delayPassed writes what waits for key once its delay has passed.
func (c *Coalescer[K, V]) delayPassed(key K, st *keyState[V], gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.gen != gen || st.stop == nil {
		return // superseded: the drain wrote it
	}
	st.stop = nil
	c.goWaitingLocked(key, st)
}

// goWaitingLocked queues the write of the waiting value.
func (c *Coalescer[K, V]) goWaitingLocked(key K, st *keyState[V]) {
	ticket, v, ctx := st.take()
	ticket.Go(ctx, c.run(key, st, v))
}

// take returns the waiting value, and forgets it.
func (st *keyState[V]) take() (*core.Ticket, V, context.Context) {
	ticket, v, ctx := st.waiting, st.v, st.ctx
	st.waiting, st.v, st.ctx = nil, *new(V), nil
	return ticket, v, ctx
}

// run is the write of v, then the key's next: the waiting value, or
// forgetting the key. Also when write panics or calls runtime.Goexit.
func (c *Coalescer[K, V]) run(key K, st *keyState[V], v V) func(context.Context) error {
	return func(ctx context.Context) error {
		defer c.written(key, st)
		if err := c.write(ctx, key, v); err != nil {
			return Permanent(err) // a retry could write v after a newer value
		}
		return nil
	}
}

func (c *Coalescer[K, V]) written(key K, st *keyState[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.waiting == nil {
		delete(c.keys, key)
		return
	}
	ticket, v, ctx := st.take()
	c.startLocked(key, st, ticket, ctx, v)
}

// drainBegan writes every delayed value now.
func (c *Coalescer[K, V]) drainBegan() { c.flush(false) }

// flush writes every delayed value now (the drain, fxasynctest.Wait); what
// it starts is pending in the engine, so it is always quiet.
func (c *Coalescer[K, V]) flush(bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, st := range c.keys {
		if st.stop != nil {
			st.stop()
			st.stop = nil
			st.gen++
			c.goWaitingLocked(key, st)
		}
	}
	return true
}
