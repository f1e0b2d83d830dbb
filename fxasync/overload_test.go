package fxasync_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// documentedMaxPending is Config.MaxPending's default, as its doc says.
const documentedMaxPending = 10_000

// The scheduler is bounded by default, and so is every label.
func TestBoundedByDefault(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	release := make(chan struct{})
	defer close(release)
	block := func(context.Context) error { <-release; return nil }
	for i := 0; i < documentedMaxPending/2; i++ {
		require.NoError(t, s.TryGo(context.Background(), "flood", block))
	}
	assert.ErrorIs(t, s.TryGo(context.Background(), "flood", block), fxasync.ErrFull, "a label's default bound is half")
	for i := 0; i < documentedMaxPending/2; i++ {
		require.NoError(t, s.TryGo(context.Background(), "other", block))
	}
	err := s.TryGo(context.Background(), "third", block)
	assert.ErrorIs(t, err, fxasync.ErrFull, "the global default bound")
	assert.Contains(t, err.Error(), "the scheduler's 10000 slots")
}

// A flood on one label, with submitters waiting on it, does not delay a
// task of another label: it starts at once.
func TestFloodedLabelDoesNotDelayAnother(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, fxasync.Config{MaxPending: 100, MaxWait: fxasync.Unbounded})
	release := make(chan struct{})
	var waiters sync.WaitGroup
	for i := 0; i < 80; i++ { // 50 run, 30 wait for the label's slots
		waiters.Add(1)
		go func() {
			defer waiters.Done()
			s.Go(context.Background(), "flood", func(context.Context) error { <-release; return nil })
		}()
	}
	waitUntil(t, func() bool { return s.Stats().Total.Waiting == 30 && s.Pending() == 50 })
	ran := make(chan struct{})
	require.NoError(t, s.TryGo(context.Background(), "usage", func(context.Context) error { close(ran); return nil }),
		"a label under its bound never waits behind a full one")
	<-ran
	close(release)
	waiters.Wait()
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(81), s.Stats().Total.Succeeded)
}

// Running tasks that each submit a follow-up, while they hold every slot:
// the follow-ups are refused at once instead of waiting forever for slots
// that only their parents hold.
func TestFollowUpsUnderABoundNeverDeadlock(t *testing.T) {
	t.Parallel()
	s, logs := newScheduler(t, fxasync.Config{MaxPending: 4, LabelLimit: fxasync.Unbounded, MaxWait: fxasync.Unbounded})
	var started, submitted, finished sync.WaitGroup
	started.Add(4)
	submitted.Add(4)
	finished.Add(4)
	for i := 0; i < 4; i++ {
		s.Go(context.Background(), "parent", func(ctx context.Context) error {
			defer finished.Done()
			started.Done()
			started.Wait() // every slot is held by a parent
			s.Go(ctx, "child", ok)
			submitted.Done()
			submitted.Wait() // no parent gives its slot back before every child was submitted
			return nil
		})
	}
	finished.Wait() // before any drain: its start would end every wait and hide a deadlock
	require.NoError(t, s.Drain(context.Background()))
	st := byLabel(s.Stats())
	assert.Equal(t, int64(4), st["parent"].Succeeded)
	assert.Equal(t, int64(4), st["child"].Rejected)
	assert.Equal(t, 1, logs.FilterMessage("async task rejected").Len(), "one line for the label")
}

// Submitters waiting for a slot are not pending: only admitted tasks are.
func TestPendingExcludesWaiters(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, fxasync.Config{MaxPending: 1, MaxWait: fxasync.Unbounded})
	release := make(chan struct{})
	s.Go(context.Background(), "slot", func(context.Context) error { <-release; return nil })
	var waiters sync.WaitGroup
	for i := 0; i < 5; i++ {
		waiters.Add(1)
		go func() { defer waiters.Done(); s.Go(context.Background(), "slot", ok) }()
	}
	waitUntil(t, func() bool { return s.Stats().Total.Waiting == 5 })
	assert.Equal(t, 1, s.Pending())
	assert.Equal(t, int64(1), s.Stats().Total.Pending)
	assert.Equal(t, int64(1), s.Stats().Total.Submitted)
	close(release)
	waiters.Wait()
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(6), s.Stats().Total.Succeeded)
}

// Refusals are logged once per label per interval, with their count: the
// counts of the lines add up to every refusal, and a long interval gives one
// line for a thousand refusals.
func TestRejectionLogIsRateLimited(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		interval time.Duration
		lines    int
	}{{time.Hour, 1}, {time.Nanosecond, 1000}} {
		s, logs := newScheduler(t, fxasync.Config{MaxPending: 1, MaxWait: time.Nanosecond, RejectLogInterval: c.interval})
		release := make(chan struct{})
		s.Go(context.Background(), "full", func(context.Context) error { <-release; return nil })
		for i := 0; i < 1000; i++ {
			s.Go(context.Background(), "full", ok)
		}
		close(release)
		require.NoError(t, s.Drain(context.Background()))
		lines := logs.FilterMessage("async task rejected").All()
		require.Len(t, lines, c.lines)
		assert.Equal(t, zapcore.ErrorLevel, lines[0].Level)
		var sum int64
		for _, l := range lines {
			sum += l.ContextMap()["rejected"].(int64)
		}
		if c.lines == 1000 {
			assert.Equal(t, int64(1000), sum)
		}
		assert.Equal(t, int64(1000), s.Stats().Total.Rejected)
	}
}

// The drain's report states, per label, what was running at the end,
// queued and never started, and refused during the stop.
func TestDrainReportsLossesPerLabel(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t, fxasync.Config{DrainTimeout: time.Second, Grace: time.Second, MaxPending: 3, LabelLimit: 3, MaxWait: time.Nanosecond})
	var clk clock.Manual
	fxasync.SetClock(s, &clk)
	stuck := make(chan struct{})
	defer close(stuck)
	var started sync.WaitGroup
	started.Add(2)
	for i := 0; i < 2; i++ {
		s.Go(context.Background(), "write", func(context.Context) error { started.Done(); <-stuck; return nil })
	}
	started.Wait()
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.Background()) }()
	<-s.Draining()
	s.Go(context.Background(), "late", ok) // refused: lost
	clk.WaitForTimers(1)
	clk.Advance(time.Second)
	clk.WaitForTimers(1)
	clk.Advance(time.Second)
	err := <-drained
	var de *fxasync.DrainError
	require.ErrorAs(t, err, &de)
	want := fxasync.Losses{{Label: "late", Rejected: 1}, {Label: "write", Running: 2}}
	assert.Equal(t, want, de.Lost)
	assert.Equal(t, 3, s.LastDrain().Lost.Total())
	assert.Contains(t, err.Error(), "lost 3: [late: 1 (running 0, queued 0, rejected 1), write: 2 (running 2, queued 0, rejected 0)]")
}

func byLabel(st fxasync.Stats) map[string]fxasync.LabelStats {
	m := map[string]fxasync.LabelStats{}
	for _, l := range st.Labels {
		m[l.Label] = l
	}
	return m
}

// waitUntil polls cond: for states no event announces. The test's timeout is
// its bound.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(100 * time.Microsecond)
	}
}
