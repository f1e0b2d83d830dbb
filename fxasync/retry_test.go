package fxasync_test

// This file tests retries as a user sets them: per scheduler, label,
// batcher and kind, Permanent errors, and the drain's bound over backoffs.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// fast retries at once: tests wait on counts, not time.
var fast = fxasync.Retry{MaxAttempts: 4, MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond}

func statsOf(s *fxasync.Scheduler, label string) fxasync.LabelStats {
	for _, l := range s.Stats().Labels {
		if l.Label == label {
			return l
		}
	}
	return fxasync.LabelStats{}
}

func TestRetryPerSchedulerAndPerLabel(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t, fxasync.Config{Retry: fast,
		LabelRetries: map[string]fxasync.Retry{"once": {MaxAttempts: 1}}})
	var all, once, perm atomic.Int32
	ctx := context.Background()
	s.Go(ctx, "all", func(context.Context) error { all.Add(1); return errRefused })
	s.Go(ctx, "once", func(context.Context) error { once.Add(1); return errRefused })
	s.Go(ctx, "perm", func(context.Context) error {
		perm.Add(1)
		return fmt.Errorf("insert: %w", fxasync.Permanent(errRefused))
	})
	require.NoError(t, s.Drain(ctx))
	assert.Equal(t, [3]int32{4, 1, 1}, [3]int32{all.Load(), once.Load(), perm.Load()})
	l := statsOf(s, "all")
	assert.Equal(t, [3]int64{3, 1, 1}, [3]int64{l.Retries, l.GaveUp, l.Failed})
	assert.Zero(t, statsOf(s, "perm").GaveUp, "a Permanent error gives nothing up: it was never retryable")
	assert.True(t, errors.Is(fxasync.Permanent(errRefused), errRefused), "Permanent wraps")
	assert.Nil(t, fxasync.Permanent(nil))
	assert.Equal(t, 3, logs.FilterMessage("async task failed").Len(), "each task's last failure at ERROR")
}

// A middleware wraps each attempt: a tracing span per attempt.
func TestMiddlewareWrapsEachAttempt(t *testing.T) {
	t.Parallel()
	var wrapped atomic.Int32
	mw := func(ctx context.Context, _ fxasync.TaskInfo, next func(context.Context) error) error {
		wrapped.Add(1)
		return next(ctx)
	}
	s, _ := newScheduler(t, fxasync.Config{Retry: fast, Middleware: []fxasync.Middleware{mw}})
	s.Go(context.Background(), "x", func(context.Context) error { return errRefused })
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int32(4), wrapped.Load())
}

// A Kind's task whose retries the drain's bound cuts goes to the Keeper;
// one that failed for good does not.
func TestKindRetriesCutByTheDrainAreKept(t *testing.T) {
	t.Parallel()
	k := &memKeeper{}
	s, _ := newScheduler(t, fxasync.Config{Keeper: k, DrainTimeout: -1, Grace: -1, LabelRetries: map[string]fxasync.Retry{
		"usage": {MaxAttempts: fxasync.Unbounded, MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxElapsed: fxasync.Unbounded}}})
	kind := fxasync.NewKind(s, "usage", func(_ context.Context, id int) error {
		if id < 0 {
			return fxasync.Permanent(errRefused)
		}
		return errRefused
	})
	for id := -2; id < 5; id++ {
		require.NoError(t, kind.Go(context.Background(), id))
	}
	require.Eventually(t, func() bool { return statsOf(s, "usage").Failed == 2 && statsOf(s, "usage").Retries == 5 },
		5*time.Second, time.Millisecond)
	_ = s.Drain(context.Background()) // a DrainError or not: the cut may come before the bound's cancellation
	assert.ElementsMatch(t, []any{0, 1, 2, 3, 4}, k.kept("usage"))
	// A task queued when the drain gave up runs after it, cut off: wait.
	require.Eventually(t, func() bool { return s.Pending() == 0 }, 5*time.Second, time.Millisecond)
	l := statsOf(s, "usage")
	assert.Equal(t, [2]int64{5, 2}, [2]int64{l.HandedOff, l.Failed})
	assert.LessOrEqual(t, l.GaveUp, int64(5), "cut before the cancellation: gave up; after: the attempt did not count")
	assert.Zero(t, s.LastDrain().Lost.Total())
}

// flakyStore is down for its first downFor writes, then writes.
type flakyStore struct {
	store
	mu      sync.Mutex
	downFor int
	calls   int
}

func (f *flakyStore) write(ctx context.Context, items []int) error {
	f.mu.Lock()
	f.calls++
	down := f.calls <= f.downFor
	f.mu.Unlock()
	if down {
		return errRefused
	}
	return f.store.write(ctx, items)
}

// An outage costs nothing: each accepted item is written once, after it.
func TestBatcherRetriesThroughAnOutage(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t)
	fs := &flakyStore{downFor: 40}
	b := fxasync.NewBatcher(s, "rows", fs.write, fxasync.BatcherConfig{MaxBatch: 50, MaxDelay: time.Millisecond,
		Retry: fxasync.Retry{MinBackoff: time.Microsecond, MaxBackoff: time.Millisecond}})
	const n = 1000
	for i := 0; i < n; i++ {
		require.NoError(t, b.Add(context.Background(), i))
	}
	require.NoError(t, s.Drain(context.Background()))
	st := b.Stats()
	assert.Equal(t, [4]int64{n, 0, 0, 0}, [4]int64{st.Flushed, st.Failed, st.Lost, st.GaveUp})
	assert.Positive(t, st.Retries)
	for i := 0; i < n; i++ {
		require.Equal(t, 1, fs.rows[i], "item %d written once", i)
	}
	assert.Zero(t, logs.FilterMessage("async task failed").Len())
}

// While writes fail, the room shrinks with the time the retries have left:
// late callers are refused, not accepted and lost.
func TestBatcherRoomShrinksWhileWritesFail(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, fxasync.Config{DrainTimeout: -1})
	release := make(chan struct{})
	var calls atomic.Int32
	down := func(ctx context.Context, items []int) error {
		if calls.Add(1) > 1 {
			<-release
		}
		return errRefused
	}
	b := fxasync.NewBatcher(s, "rows", down, fxasync.BatcherConfig{MaxBatch: 1, MaxPending: 1000,
		Retry: fxasync.Retry{MaxElapsed: 200 * time.Millisecond, MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond}})
	before := b.Stats().Limit
	require.NoError(t, b.TryAdd(1))
	require.Eventually(t, func() bool { return b.Stats().Limit < before }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return b.Stats().Limit == 0 }, 5*time.Second, time.Millisecond,
		"at MaxElapsed nothing more is accepted")
	require.ErrorIs(t, b.TryAdd(2), fxasync.ErrFull)
	close(release)
	_ = s.Drain(context.Background())
	st := b.Stats()
	assert.Equal(t, st.Added, st.Failed+st.Lost+st.Flushed, "every accepted item accounted for")
}

// A drain during an outage: the stop ends within its bound; with a
// Keeper, what was not written is kept, without, it is lost and counted,
// to the item.
func TestBatcherDrainDuringAnOutage(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			t.Parallel()
			k := &memKeeper{}
			cfg := fxasync.Config{DrainTimeout: 100 * time.Millisecond}
			if keep {
				cfg.Keeper = k
			}
			s, _ := newScheduler(t, cfg)
			b := fxasync.NewBatcher(s, "rows", func(context.Context, []int) error { return errRefused },
				fxasync.BatcherConfig{MaxBatch: 10, Keep: keep, Retry: fxasync.Retry{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
			const n = 95
			for i := 0; i < n; i++ {
				require.NoError(t, b.TryAdd(i))
			}
			if err := s.Drain(context.Background()); err != nil {
				var de *fxasync.DrainError // the last retry may run at the bound, and be cut
				require.ErrorAs(t, err, &de)
			}
			st := b.Stats()
			lost := s.LastDrain().Lost
			if keep {
				assert.Len(t, k.kept("rows"), n)
				assert.Equal(t, int64(n), st.Kept)
				assert.Zero(t, lost.Total())
				return
			}
			assert.Equal(t, n, lost.Total())
			assert.Equal(t, int64(n), st.Failed)
		})
	}
}

// retryKeeper is a memKeeper that keeps retry state.
type retryKeeper struct{ memKeeper }

func (*retryKeeper) KeepsRetryState() {}

// A RetryKeeper gets a cut task's retry state: the value, its attempts,
// when the next was due; a task never tried gets there bare.
func TestRetryKeeperGetsTheRetryState(t *testing.T) {
	t.Parallel()
	k := &retryKeeper{}
	block := make(chan struct{})
	s, _ := newScheduler(t, fxasync.Config{Keeper: k, DrainTimeout: -1, Grace: -1, MaxPending: 2, LabelLimit: 2,
		LabelRetries: map[string]fxasync.Retry{"usage": {MaxAttempts: fxasync.Unbounded, MinBackoff: time.Hour,
			MaxBackoff: time.Hour, MaxElapsed: fxasync.Unbounded}}})
	kind := fxasync.NewKind(s, "usage", func(ctx context.Context, id int) error {
		if id == 0 {
			return errRefused
		}
		<-block // still running when the drain gives up
		return ctx.Err()
	})
	before := time.Now()
	require.NoError(t, kind.Go(context.Background(), 0))
	require.Eventually(t, func() bool { return statsOf(s, "usage").Retries == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, kind.Go(context.Background(), 1))
	_ = s.Drain(context.Background()) // gives up at once: id 1 still runs, and is kept
	close(block)
	byValue := map[any]any{}
	for _, it := range k.kept("usage") {
		if r, ok := it.(*fxasync.Retried); ok {
			byValue[r.Value] = r
			assert.Contains(t, []int{1, 2}, r.Attempts, "the first, and the drain's at once unless its cancellation cut it")
			assert.True(t, !r.NotBefore.Before(before), "due after the test began: %v", r.NotBefore)
			continue
		}
		byValue[it] = it
	}
	assert.IsType(t, &fxasync.Retried{}, byValue[0], "%#v %+v", k.kept("usage"), statsOf(s, "usage"))
	assert.Equal(t, 1, byValue[1], "never retried: bare")
}
