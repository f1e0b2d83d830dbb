package fxasync_test

// This file tests a batcher against writes that fail on some items, fail
// on all, panic, call runtime.Goexit or are missing, and against
// configurations at the edges of int.

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poisonStore refuses, as Postgres refuses a NUL byte, any write holding a
// poison item; it counts the writes.
type poisonStore struct {
	store
	poison map[int]bool
	writes int
}

var errPoison = errors.New("invalid byte sequence for encoding UTF8: 0x00")

func (p *poisonStore) write(ctx context.Context, items []int) error {
	p.mu.Lock()
	p.writes++
	bad := slices.ContainsFunc(items, func(it int) bool { return p.poison[it] })
	p.mu.Unlock()
	if bad {
		return errPoison
	}
	return p.store.write(ctx, items)
}

// One item the store refuses costs only itself: its batch-mates are
// written, once each, and Failed counts the poison items alone.
func TestBatcherPoisonItemsFailAlone(t *testing.T) {
	t.Parallel()
	for _, poison := range [][]int{{17}, {0, 199}, {100, 101}, {3, 60, 61, 62, 150}} {
		s, logs := newScheduler(t)
		ps := &poisonStore{poison: map[int]bool{}}
		for _, p := range poison {
			ps.poison[p] = true
		}
		b := fxasync.NewBatcher(s, "rows", ps.write, fxasync.BatcherConfig{MaxBatch: 200})
		for i := 0; i < 200; i++ {
			require.NoError(t, b.TryAdd(i))
		}
		require.NoError(t, s.Drain(context.Background()))
		st := b.Stats()
		assert.Equal(t, int64(len(poison)), st.Failed, "poison %v", poison)
		assert.Equal(t, int64(200-len(poison)), st.Flushed, "poison %v", poison)
		ps.mu.Lock()
		for i := 0; i < 200; i++ {
			want := 1
			if ps.poison[i] {
				want = 0
			}
			assert.Equal(t, want, ps.rows[i], "item %d, poison %v", i, poison)
		}
		ps.mu.Unlock()
		assert.Equal(t, 1, logs.FilterMessage("async task failed").Len(), "one line per batch")
		assert.LessOrEqual(t, s.LastDrain().Lost.Total(), len(poison), "a stop loses the poison items at most")
	}
}

// A store that refuses everything (it is down) costs a batch about log₂(n)
// writes, not 2n: the split stops after a run of failures.
func TestBatcherOutageDoesNotMultiplyWrites(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	var mu sync.Mutex
	writes := 0
	down := func(context.Context, []int) error {
		mu.Lock()
		writes++
		mu.Unlock()
		return errors.New("connection refused")
	}
	b := fxasync.NewBatcher(s, "rows", down, fxasync.BatcherConfig{MaxBatch: 1000, MaxPending: 1000, Retry: fxasync.Retry{MaxAttempts: 1}})
	for i := 0; i < 1000; i++ {
		require.NoError(t, b.TryAdd(i))
	}
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(1000), b.Stats().Failed)
	assert.LessOrEqual(t, writes, bits.Len(1000)+6)
}

// A write that panics, calls runtime.Goexit, or is nil cannot wedge the
// batcher: the batch is counted failed, later items are written, and the
// drain ends at once (it used to wait its whole bound, Pending stuck).
func TestBatcherWriteThatPanicsOrExitsSettles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, log string
		bad       func()
	}{
		{"panic", "async task failed", func() { panic("write broke") }},
		{"panic(nil)", "async task failed", func() { panic(nil) }},
		{"Goexit", "async task called runtime.Goexit", runtime.Goexit},
	} {
		name, bad := c.name, c.bad
		s, logs := newScheduler(t)
		st := &store{}
		b := fxasync.NewBatcher(s, "rows", func(ctx context.Context, items []int) error {
			if items[0] == 0 {
				bad()
			}
			return st.write(ctx, items)
		}, fxasync.BatcherConfig{MaxBatch: 1})
		require.NoError(t, b.TryAdd(0))
		waitUntil(t, func() bool { return b.Stats().Batches == 1 })
		require.NoError(t, b.TryAdd(1), name)
		require.NoError(t, s.Drain(context.Background()), name)
		stats := b.Stats()
		assert.Equal(t, int64(1), stats.Failed, name)
		assert.Equal(t, int64(1), stats.Flushed, name)
		assert.Zero(t, stats.Pending, name)
		assert.Equal(t, 1, st.rows[1], name)
		assert.Zero(t, s.Pending(), name)
		lines := logs.FilterMessage(c.log).All()
		require.Len(t, lines, 1, name)
		if name == "panic" {
			assert.Contains(t, lines[0].ContextMap()["errorVerbose"], "batcher_fault_test.go", "the write's stack")
		}
	}
}

// A nil write refuses every item (ErrNilFunc), and a batcher on a nil
// *Scheduler refuses every item (ErrClosed), as that scheduler refuses
// every task: neither panics.
func TestBatcherNilWriteAndNilScheduler(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	b := fxasync.NewBatcher[int](s, "rows", nil, fxasync.BatcherConfig{})
	assert.ErrorIs(t, b.TryAdd(1), fxasync.ErrNilFunc)
	assert.ErrorIs(t, b.Add(context.Background(), 1), fxasync.ErrNilFunc)
	var nilSched *fxasync.Scheduler
	nb := fxasync.NewBatcher(nilSched, "rows", (&store{}).write, fxasync.BatcherConfig{})
	assert.ErrorIs(t, nb.TryAdd(1), fxasync.ErrClosed)
	assert.ErrorIs(t, nb.Add(context.Background(), 1), fxasync.ErrClosed)
	assert.Equal(t, int64(2), nb.Stats().Rejected)
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(2), b.Stats().Rejected)
}

// No MaxBatch crashes the process or refuses every item: 1<<50 used to
// crash the timer goroutine allocating its buffer, and near MaxInt the
// limit overflowed to a negative number.
func TestBatcherExtremeMaxBatch(t *testing.T) {
	t.Parallel()
	for _, cfg := range []fxasync.BatcherConfig{
		{MaxBatch: 1 << 50}, {MaxBatch: math.MaxInt}, {MaxBatch: math.MaxInt, MaxPending: math.MaxInt},
		{MaxBatch: math.MaxInt / 9, MaxPending: math.MaxInt, MaxBacklog: math.MaxInt64},
	} {
		s, _ := newScheduler(t)
		st := &store{}
		b := fxasync.NewBatcher(s, "rows", st.write, cfg)
		for i := 0; i < 3; i++ {
			require.NoError(t, b.TryAdd(i), "%+v", cfg)
		}
		require.NoError(t, s.Drain(context.Background()))
		assert.Len(t, st.rows, 3, "%+v", cfg)
		assert.Positive(t, b.Stats().Limit, "%+v", cfg)
	}
}

// A write's buffers follow what is held, not MaxBatch: one item at
// MaxBatch 1<<18 used to allocate 32 MiB per write.
func TestBatcherBuffersFollowWhatIsHeld(t *testing.T) {
	s, _ := newScheduler(t)
	b := fxasync.NewBatcher(s, "rows", (&store{}).write, fxasync.BatcherConfig{MaxBatch: 1 << 18, MaxPending: 1 << 20})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		require.NoError(t, b.TryAdd(i))
		waitUntil(t, func() bool { return b.Stats().Flushed == int64(i+1) })
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "ten one-item writes")
}

// event is a Sizer: its size is its text's length; "panic" panics.
type event string

func (e event) Size() int {
	if e == "panic" {
		panic("Size broke")
	}
	return len(e)
}

// For Sizers, memory is bounded in bytes: an item larger than
// MaxPendingBytes is refused, room frees as writes settle, and a Size that
// panics refuses its item.
func TestBatcherBoundsBytes(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var written []event
	b := fxasync.NewBatcher(s, "events", func(_ context.Context, items []event) error {
		<-release
		mu.Lock()
		defer mu.Unlock()
		written = append(written, items...)
		return nil
	}, fxasync.BatcherConfig{MaxBatch: 1, MaxPendingBytes: 10})
	assert.ErrorIs(t, b.TryAdd("eleven byte"), fxasync.ErrFull, "larger than the bound")
	require.NoError(t, b.TryAdd("123456"))
	assert.ErrorIs(t, b.TryAdd("12345"), fxasync.ErrFull, "6 + 5 > 10")
	require.NoError(t, b.TryAdd("1234"))
	assert.Equal(t, int64(10), b.Stats().Bytes)
	assert.ErrorContains(t, b.TryAdd("panic"), "Size panicked")
	close(release)
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, []event{"123456", "1234"}, written)
	assert.Zero(t, b.Stats().Bytes)
	assert.Equal(t, int64(3), b.Stats().Rejected)
}
