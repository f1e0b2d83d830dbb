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
	"go.uber.org/zap"
)

// memKeeper keeps items in memory, per kind; keepAtMost, when set, keeps
// that many of each call and fails the rest.
type memKeeper struct {
	mu         sync.Mutex
	items      map[string][]any
	keepAtMost int
}

func (m *memKeeper) Keep(_ context.Context, kind string, items []any) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string][]any{}
	}
	n := len(items)
	if m.keepAtMost > 0 && n > m.keepAtMost {
		n = m.keepAtMost
	}
	m.items[kind] = append(m.items[kind], items[:n]...)
	if n < len(items) {
		return n, errors.New("disk full")
	}
	return n, nil
}

func (m *memKeeper) kept(kind string) []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]any(nil), m.items[kind]...)
}

// With a Keeper and Keep, a stop whose bound cuts the writes short loses
// nothing: every accepted item is either written or kept, once — the batch
// cut off, the batches not started — and the drain reports them as kept.
func TestBatcherKeepsWhatTheStopLeavesUnwritten(t *testing.T) {
	keeper := &memKeeper{}
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 50 * time.Millisecond, Grace: 10 * time.Millisecond,
		Keeper: keeper})
	st := &store{}
	var writes atomic.Int64
	b := fxasync.NewBatcher(s, "rows", func(ctx context.Context, items []int) error {
		if writes.Add(1) > 2 { // the third write hangs until the bound cancels it
			<-ctx.Done()
			return ctx.Err()
		}
		return st.write(ctx, items)
	}, fxasync.BatcherConfig{MaxBatch: 10, MaxDelay: time.Hour, MaxPending: 1000, Keep: true})
	for i := range 95 {
		require.NoError(t, b.TryAdd(i))
	}
	var de *fxasync.DrainError
	require.ErrorAs(t, s.Drain(context.Background()), &de, "the bound cut the drain short")
	assert.Equal(t, fxasync.Losses{{Label: "rows", Kept: 75}}, s.LastDrain().Lost, "kept, not lost")
	assert.Equal(t, s.LastDrain().Lost, de.Lost, "the error tells what was kept too")
	assert.Zero(t, s.LastDrain().Lost.Total())

	seen := map[int]int{}
	st.mu.Lock()
	for item, n := range st.rows {
		seen[item] += n
	}
	st.mu.Unlock()
	for _, item := range keeper.kept("rows") {
		seen[item.(int)]++
	}
	require.Len(t, seen, 95)
	for item, n := range seen {
		require.Equal(t, 1, n, "item %d written or kept exactly once", item)
	}
	bst := b.Stats()
	assert.Equal(t, []int64{95, 20, 75, 0, 0}, []int64{bst.Added, bst.Flushed, bst.Kept, bst.Lost, bst.Failed})
}

// A batch kept is not a failure: not counted failed, not logged as one.
func TestBatcherKeptBatchIsNotAFailure(t *testing.T) {
	s, logs := newScheduler(t, fxasync.Config{DrainTimeout: 20 * time.Millisecond, Keeper: &memKeeper{}})
	b := fxasync.NewBatcher(s, "rows", func(ctx context.Context, _ []int) error { <-ctx.Done(); return ctx.Err() },
		fxasync.BatcherConfig{MaxBatch: 5, Keep: true})
	for i := range 5 {
		require.NoError(t, b.TryAdd(i))
	}
	_ = s.Drain(context.Background())
	st := b.Stats()
	assert.Zero(t, st.Failed)
	assert.Equal(t, int64(5), st.Kept)
	assert.Zero(t, s.Stats().Labels[0].Failed, "the task returned nil")
	assert.Zero(t, logs.FilterMessage("async task failed").Len())
	assert.Equal(t, 1, logs.FilterMessage("unfinished async work kept").Len())
}

// A Kind's tasks that the drain's bound cuts off — returned after its
// cancellation, or still running — are kept, each once, in submission
// order; the rest ran as usual. The books balance: HandedOff counts the
// tasks that returned cut off, and the drain reports what was kept.
func TestKindKeepsWhatTheStopCuts(t *testing.T) {
	keeper := &memKeeper{}
	s, logs := newScheduler(t, fxasync.Config{DrainTimeout: 30 * time.Millisecond, Grace: 20 * time.Millisecond, Keeper: keeper})
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 10)
	k := fxasync.NewKind(s, "usage-row", func(ctx context.Context, id int) error {
		switch {
		case id%3 == 0:
			return nil // done at once
		case id%3 == 1:
			started <- struct{}{}
			<-ctx.Done() // cut off by the bound
			return ctx.Err()
		}
		started <- struct{}{}
		<-release // ignores its context: still running at the keep
		return nil
	})
	for id := range 9 {
		require.NoError(t, k.Go(context.Background(), id))
	}
	for range 6 {
		<-started
	}
	var de *fxasync.DrainError
	require.ErrorAs(t, s.Drain(context.Background()), &de)
	var kept []int
	for _, v := range keeper.kept("usage-row") {
		kept = append(kept, v.(int))
	}
	assert.Equal(t, []int{1, 2, 4, 5, 7, 8}, kept, "the unfinished ones, in submission order")
	assert.Equal(t, fxasync.Losses{{Label: "usage-row", Kept: 6}}, s.LastDrain().Lost)
	l := s.Stats().Labels[0]
	assert.Equal(t, []int64{9, 3, 3, 0, 3}, []int64{l.Submitted, l.Succeeded, l.HandedOff, l.Failed, l.Pending},
		"submitted, succeeded, handed off, failed, pending (the three still running)")
	assert.Zero(t, logs.FilterMessage("async task failed").Len(), "a cut task is not a failure")
}

// What the Keeper does not keep is lost, counted and logged: a Keeper that
// keeps part, one that panics, one that never returns.
func TestKeeperFailuresAreCountedLost(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	for _, tc := range []struct {
		name   string
		keeper fxasync.Keeper
		kept   int
		reason string
	}{
		{"partial", &memKeeper{keepAtMost: 2}, 2, "disk full"},
		{"panics", keeperFunc(func(context.Context, string, []any) (int, error) { panic("keeper") }), 0, "Keep panicked"},
		{"hangs", keeperFunc(func(context.Context, string, []any) (int, error) { <-hang; return 5, nil }), 0, "did not return in time"},
		{"overclaims", keeperFunc(func(context.Context, string, []any) (int, error) { return 99, nil }), 5, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := newScheduler(t, fxasync.Config{DrainTimeout: -1, Grace: -1, Keeper: tc.keeper,
				KeepTimeout: 20 * time.Millisecond})
			b := fxasync.NewBatcher(s, "rows", func(ctx context.Context, _ []int) error { <-ctx.Done(); return ctx.Err() },
				fxasync.BatcherConfig{MaxBatch: 5, Keep: true})
			for i := range 5 {
				require.NoError(t, b.TryAdd(i))
			}
			_ = s.Drain(context.Background())
			assert.Equal(t, fxasync.Losses{{Label: "rows", Items: 5 - tc.kept, Kept: tc.kept}}, s.LastDrain().Lost)
			if tc.kept < 5 {
				lines := logs.FilterMessage("unfinished async work not kept").All()
				require.Len(t, lines, 1)
				assert.Contains(t, lines[0].ContextMap()["error"], tc.reason)
			}
		})
	}
}

type keeperFunc func(ctx context.Context, kind string, items []any) (int, error)

func (f keeperFunc) Keep(ctx context.Context, kind string, items []any) (int, error) {
	return f(ctx, kind, items)
}

// Without a Keeper, a Kind's tasks are plain tasks: a cut one fails and is
// counted lost as running, and BatcherConfig.Keep changes nothing.
func TestKindWithoutKeeper(t *testing.T) {
	s, _ := newScheduler(t, fxasync.Config{DrainTimeout: 10 * time.Millisecond, Grace: 10 * time.Millisecond})
	started := make(chan struct{})
	k := fxasync.NewKind(s, "usage-row", func(ctx context.Context, _ int) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	require.NoError(t, k.Go(context.Background(), 1))
	<-started
	_ = s.Drain(context.Background())
	assert.Equal(t, int64(1), s.Stats().Labels[0].Failed)
	assert.ErrorIs(t, k.Go(context.Background(), 2), fxasync.ErrClosed)
	assert.Equal(t, fxasync.Losses{{Label: "usage-row", Rejected: 1}}, s.LastDrain().Lost,
		"the cut task returned within the grace: failed; the late one is lost")
}

// A Kind refuses as TryGo does, with the error; a nil run or scheduler
// refuses everything.
func TestKindRefusals(t *testing.T) {
	s, _ := newScheduler(t, fxasync.Config{MaxPending: 1, MaxWait: time.Millisecond, Keeper: &memKeeper{}})
	release := make(chan struct{})
	k := fxasync.NewKind(s, "k", func(context.Context, int) error { <-release; return nil })
	require.NoError(t, k.Go(context.Background(), 1))
	assert.ErrorIs(t, k.Go(context.Background(), 2), fxasync.ErrFull)
	close(release)
	assert.ErrorIs(t, fxasync.NewKind[int](s, "nil", nil).Go(context.Background(), 1), fxasync.ErrNilFunc)
	assert.ErrorIs(t, fxasync.NewKind(nil, "k", func(context.Context, int) error { return nil }).Go(context.Background(), 1),
		fxasync.ErrClosed)
	require.NoError(t, s.Drain(context.Background()))
	assert.Empty(t, s.LastDrain().Lost, "nothing left: nothing kept, nothing lost")
}
