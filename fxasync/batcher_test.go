package fxasync_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

// store is a resource that a batcher writes to and that closes on stop.
type store struct {
	mu      sync.Mutex
	rows    map[int]int // item → times written
	batches []int
	closed  bool
}

var errStoreClosed = errors.New("store closed")

func (s *store) write(_ context.Context, items []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	if s.rows == nil {
		s.rows = map[int]int{}
	}
	for _, it := range items {
		s.rows[it]++
	}
	s.batches = append(s.batches, len(items))
	return nil
}

func (s *store) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

// Items are flushed by count, and the rest by the longest delay.
func TestBatcherFlushesByCountAndDelay(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	var st store
	b := fxasync.NewBatcher(s, "rows", st.write, fxasync.BatcherConfig{MaxBatch: 10, MaxDelay: time.Millisecond})
	for i := 0; i < 25; i++ {
		require.NoError(t, b.Add(context.Background(), i))
	}
	waitUntil(t, func() bool { return b.Stats().Flushed == 25 })
	st.mu.Lock()
	assert.Equal(t, []int{10, 10, 5}, st.batches, "two full batches, then the rest after the delay")
	st.mu.Unlock()
	bs := s.Batchers()
	require.Len(t, bs, 1)
	assert.Equal(t, int64(3), bs[0].Batches)
	assert.Equal(t, int64(0), bs[0].Pending)
	assert.Equal(t, int64(1), bs[0].Sizes[2], "one batch of 5 (the bucket up to 5)")
	assert.Equal(t, int64(2), bs[0].Sizes[3], "two of 10")
}

// With MaxPending items accepted and not stored, TryAdd refuses at once and
// Add refuses after MaxWait; nothing refused is counted as accepted.
func TestBatcherBoundedRoom(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	release := make(chan struct{})
	write := func(context.Context, []int) error { <-release; return nil }
	b := fxasync.NewBatcher(s, "slow", write, fxasync.BatcherConfig{MaxBatch: 2, MaxPending: 4, MaxWait: time.Nanosecond})
	for i := 0; i < 4; i++ {
		require.NoError(t, b.TryAdd(i))
	}
	assert.ErrorIs(t, b.TryAdd(5), fxasync.ErrFull)
	assert.ErrorIs(t, b.Add(context.Background(), 6), fxasync.ErrFull)
	close(release)
	require.NoError(t, s.Drain(context.Background()))
	st := b.Stats()
	assert.Equal(t, [6]int64{4, 2, 4, 0, 0, 2}, [6]int64{st.Added, st.Rejected, st.Flushed, st.Failed, st.Pending, st.Batches},
		"added, rejected, flushed, failed, pending, batches")
	assert.Equal(t, int64(4), st.Limit, "MaxPending")
}

// A slow writer shrinks the room: no more is accepted than it writes in
// MaxBacklog at its measured rate, so a stop can write everything accepted.
func TestBatcherRoomFollowsTheWriteRate(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	write := func(context.Context, []int) error { time.Sleep(10 * time.Millisecond); return nil } // ≤ 1,000 items/s
	b := fxasync.NewBatcher(s, "slow", write, fxasync.BatcherConfig{MaxBatch: 10, MaxBacklog: 50 * time.Millisecond})
	for i := 0; i < 10; i++ {
		require.NoError(t, b.TryAdd(i))
	}
	waitUntil(t, func() bool { return b.Stats().Batches == 1 }) // the rate is measured
	st := b.Stats()
	assert.LessOrEqual(t, st.Rate, 1000.0)
	assert.GreaterOrEqual(t, st.Limit, int64(10), "never below one batch")
	assert.LessOrEqual(t, st.Limit, int64(50), "1,000 items/s × 50 ms")
	accepted := 0
	for b.TryAdd(accepted) == nil {
		accepted++
	}
	assert.LessOrEqual(t, accepted, 50)
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(10+accepted), b.Stats().Flushed)
}

// A failed flush is logged once, with the label and the item count, and
// each of its items is counted as failed.
func TestBatcherFailedFlushLoggedOnce(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t)
	b := fxasync.NewBatcher(s, "rows", func(context.Context, []int) error { return errors.New("db down") },
		fxasync.BatcherConfig{MaxBatch: 3, Retry: fxasync.Retry{MaxAttempts: 1}})
	for i := 0; i < 3; i++ {
		require.NoError(t, b.Add(context.Background(), i))
	}
	require.NoError(t, s.Drain(context.Background()))
	lines := logs.FilterMessage("async task failed").All()
	require.Len(t, lines, 1)
	assert.Equal(t, "rows", lines[0].ContextMap()["label"])
	assert.Equal(t, "flush of 3 item(s): 3 failed, 0 written in 5 writes: db down", lines[0].ContextMap()["error"],
		"tried whole, in halves and alone, then the failure is the store's")
	assert.Equal(t, int64(3), b.Stats().Failed)
	assert.ErrorIs(t, b.Add(context.Background(), 9), fxasync.ErrClosed, "refused after the drain")
}

// Under concurrent Adds, a stop loses nothing the batcher accepted: the
// drain flushes what it holds before the store it writes to closes, every
// accepted item is written exactly once, and later items are refused.
func TestBatcherLosesNothingAcrossAStop(t *testing.T) {
	t.Parallel()
	for round := 0; round < 20; round++ {
		st := &store{}
		var b *fxasync.Batcher[int]
		app := fxtest.New(t,
			fx.Supply(zap.NewNop()),
			fxasync.Module,
			fxasync.DrainBefore[*store](),
			fx.Provide(func(lc fx.Lifecycle) *store {
				lc.Append(fx.StopHook(st.close))
				return st
			}),
			fx.Provide(func(s *fxasync.Scheduler, st *store) *fxasync.Batcher[int] {
				return fxasync.NewBatcher(s, "rows", st.write, fxasync.BatcherConfig{MaxBatch: 7, MaxDelay: time.Hour})
			}),
			fx.Populate(&b),
		)
		app.RequireStart()
		var accepted atomic.Int64
		var next atomic.Int64
		var adders sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 4; g++ {
			adders.Add(1)
			go func() {
				defer adders.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if b.Add(context.Background(), int(next.Add(1))) == nil {
						accepted.Add(1)
					}
				}
			}()
		}
		waitUntil(t, func() bool { return accepted.Load() > 100 })
		app.RequireStop() // while the adders run
		close(stop)
		adders.Wait()
		st.mu.Lock()
		require.Len(t, st.rows, int(accepted.Load()), "round %d", round)
		for item, n := range st.rows {
			require.Equal(t, 1, n, "item %d", item)
		}
		st.mu.Unlock()
		assert.Equal(t, accepted.Load(), b.Stats().Flushed)
		assert.Zero(t, b.Stats().Failed)
	}
}

// One figure has one value: with a batcher holding items and none being
// written, no task is pending — Pending and Stats agree, and the items are
// the batcher's own figure; while a write runs, both count that one task.
func TestPendingIsOneFigureWithABatcherOpen(t *testing.T) {
	s, _ := newScheduler(t)
	writing, release := make(chan struct{}), make(chan struct{})
	b := fxasync.NewBatcher(s, "usage-rows", func(context.Context, []int) error {
		close(writing)
		<-release
		return nil
	}, fxasync.BatcherConfig{MaxBatch: 2, MaxDelay: time.Hour})
	require.NoError(t, b.Add(context.Background(), 1))
	assert.Equal(t, 0, s.Pending())
	assert.Equal(t, int64(0), s.Stats().Total.Pending)
	assert.Equal(t, int64(1), b.Stats().Pending, "the item is the batcher's figure")

	require.NoError(t, b.Add(context.Background(), 2)) // a full batch: written now
	<-writing
	assert.Equal(t, 1, s.Pending())
	assert.Equal(t, int64(1), s.Stats().Total.Pending)
	close(release)
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, 0, s.Pending())
	assert.Equal(t, int64(0), s.Stats().Total.Pending)
}
