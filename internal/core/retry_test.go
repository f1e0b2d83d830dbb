package core

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errDown = errors.New("database is down")

// quick retries at once, so that tests wait on counts, not on time.
var quick = RetryPolicy{MaxAttempts: 5, MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond}

func labelStats(e *Engine, label string) LabelStats {
	for _, l := range e.Stats().Labels {
		if l.Label == label {
			return l
		}
	}
	return LabelStats{}
}

func TestRetryUntilSuccess(t *testing.T) {
	t.Parallel()
	e, logs := newTestEngine(t, Config{Retry: quick})
	var calls atomic.Int32
	require.NoError(t, e.Go(context.Background(), "flaky", func(context.Context) error {
		if calls.Add(1) < 3 {
			return errDown
		}
		return nil
	}, 0))
	require.NoError(t, e.Drain(context.Background()))
	l := labelStats(e, "flaky")
	assert.Equal(t, int32(3), calls.Load())
	assert.Equal(t, LabelStats{Label: "flaky", Submitted: 1, Succeeded: 1, Retries: 2, Durations: l.Durations}, l)
	assert.Equal(t, 1, logs.FilterMessage("async task failed; retrying").Len(), "one WARN line per label per interval")
	assert.Zero(t, logs.FilterMessage("async task failed").Len())
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e, logs := newTestEngine(t, Config{Retry: quick})
	var calls atomic.Int32
	require.NoError(t, e.Go(context.Background(), "down", func(context.Context) error { calls.Add(1); return errDown }, 0))
	require.NoError(t, e.Drain(context.Background()))
	l := labelStats(e, "down")
	assert.Equal(t, int32(5), calls.Load())
	assert.Equal(t, [4]int64{1, 4, 1, 1}, [4]int64{l.Failed, l.Retries, l.GaveUp, l.Submitted})
	lines := logs.FilterMessage("async task failed").All()
	require.Len(t, lines, 1)
	assert.EqualValues(t, 5, lines[0].ContextMap()["attempts"])
}

func TestRetryNeverRetriesPermanentGoexitOrPanicUnlessAsked(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{Retry: quick, LabelRetries: map[string]RetryPolicy{"panics": {MaxAttempts: 3,
		MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond, Panics: true}}})
	var perm, exit, pan, panRetried atomic.Int32
	ctx := context.Background()
	require.NoError(t, e.Go(ctx, "permanent", func(context.Context) error {
		perm.Add(1)
		return fmt.Errorf("row refused: %w", &PermanentError{Err: errDown})
	}, 0))
	require.NoError(t, e.Go(ctx, "goexit", func(context.Context) error { exit.Add(1); runtime.Goexit(); return nil }, 0))
	require.NoError(t, e.Go(ctx, "panic", func(context.Context) error { pan.Add(1); panic("boom") }, 0))
	require.NoError(t, e.Go(ctx, "panics", func(context.Context) error { panRetried.Add(1); panic("boom") }, 0))
	require.NoError(t, e.Drain(ctx))
	assert.Equal(t, [4]int32{1, 1, 1, 3}, [4]int32{perm.Load(), exit.Load(), pan.Load(), panRetried.Load()})
	assert.Equal(t, int64(2), labelStats(e, "panics").Retries)
	assert.Equal(t, int64(1), labelStats(e, "panics").Panicked)
}

// A user's Retryable that panics, or an error whose Unwrap does, means no
// retry, and the process lives on.
func TestRetryableThatPanicsMeansNo(t *testing.T) {
	t.Parallel()
	p := quick
	p.Retryable = func(error) bool { panic("classifier bug") }
	e, _ := newTestEngine(t, Config{Retry: p})
	require.NoError(t, e.Go(context.Background(), "x", func(context.Context) error { return errDown }, 0))
	require.NoError(t, e.Go(context.Background(), "y", func(context.Context) error { return panickyUnwrap{} }, 0))
	require.NoError(t, e.Drain(context.Background()))
	assert.Equal(t, int64(0), e.Stats().Total.Retries)
	assert.Equal(t, int64(2), e.Stats().Total.Failed)
}

type panickyUnwrap struct{}

func (panickyUnwrap) Error() string { return "panicky" }
func (panickyUnwrap) Unwrap() error { panic("unwrap") }

// The budget, counted exactly: tasks submitted one after another, each
// failing for good, may retry while the bucket holds a token; the bucket
// starts at BudgetBurst and each admission earns Budget.
func TestRetryBudgetCountsExactly(t *testing.T) {
	t.Parallel()
	const n = 200
	p := RetryPolicy{MaxAttempts: 2, MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond, Budget: 0.1, BudgetBurst: 10}
	e, logs := newTestEngine(t, Config{Retry: p})
	for i := 0; i < n; i++ {
		require.NoError(t, e.Go(context.Background(), "dead", func(context.Context) error { return errDown }, 0))
		waitFor(t, func() bool { return e.Pending() == 0 })
	}
	want := 0
	tokens := 10.0
	for i := 0; i < n; i++ { // the bucket's rule, step by step
		tokens = min(tokens+0.1, 10)
		if tokens >= 1 {
			tokens--
			want++
		}
	}
	l := labelStats(e, "dead")
	assert.Equal(t, int64(want), l.Retries)
	assert.Equal(t, int64(n), l.GaveUp, "every task gave up: past MaxAttempts or over budget")
	assert.Equal(t, int64(n-want), l.OverBudget)
	assert.LessOrEqual(t, float64(l.Retries), 10+0.1*n)
	assert.Equal(t, 1, logs.FilterMessage("async task retry budget exhausted: failures end without a retry").Len())
}

// A flood of failures on one label keeps its retries within the budget and
// leaves another label's tasks alone.
func TestRetryBudgetUnderAFlood(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: Unbounded, MaxElapsed: Unbounded, MinBackoff: time.Microsecond, MaxBackoff: time.Millisecond}
	e, _ := newTestEngine(t, Config{Retry: p.Resolve(), MaxPending: Unbounded})
	const n = 5000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				_ = e.Go(context.Background(), "dead", func(context.Context) error { return errDown }, 0)
				_ = e.Go(context.Background(), "live", nop, 0)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, e.Drain(context.Background()))
	dead, live := labelStats(e, "dead"), labelStats(e, "live")
	assert.LessOrEqual(t, float64(dead.Retries), float64(DefaultBudgetBurst)+DefaultBudget*n)
	assert.Equal(t, int64(n), dead.Failed)
	assert.Equal(t, int64(n), dead.GaveUp)
	assert.Equal(t, dead.GaveUp, dead.OverBudget, "unbounded attempts and time: only the budget ends them")
	assert.Equal(t, int64(n), live.Succeeded)
}

// When the drain begins, a task waiting for its next attempt makes it at
// once: one waiting an hour does not hold the drain.
func TestDrainRunsWaitingRetriesAtOnce(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: 3, MaxElapsed: Unbounded, MinBackoff: time.Hour, MaxBackoff: time.Hour, Budget: Unbounded}
	e, _ := newTestEngine(t, Config{Retry: p})
	var clk clock.Manual
	e.SetClock(&clk)
	const n = 1000
	var calls atomic.Int32
	for i := 0; i < n; i++ {
		require.NoError(t, e.Go(context.Background(), "w", func(context.Context) error {
			if calls.Add(1) <= n {
				return errDown
			}
			return nil
		}, 0))
	}
	waitFor(t, func() bool { return e.Retrying() == n || labelStats(e, "w").Succeeded+int64(e.Retrying()) == n })
	require.NoError(t, e.Drain(context.Background()), "no timer moved: the drain ran them")
	l := labelStats(e, "w")
	assert.Equal(t, int64(n), l.Succeeded)
	assert.Equal(t, int64(n), l.Retries)
	assert.Zero(t, e.Retrying())
}

// During the drain a failure is retried only if its next attempt starts
// before the bound; the rest, and those waiting at the bound, are lost and
// counted exactly.
func TestDrainCutsRetriesPastItsBound(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: Unbounded, MaxElapsed: Unbounded, MinBackoff: time.Second, MaxBackoff: time.Hour, Budget: Unbounded}
	e, _ := newTestEngine(t, Config{Retry: p.Resolve(), DrainTimeout: time.Minute, Grace: time.Millisecond})
	var clk clock.Manual
	e.SetClock(&clk)
	const n = 500
	for i := 0; i < n; i++ {
		require.NoError(t, e.Go(context.Background(), "d", func(context.Context) error { return errDown }, 0))
	}
	waitFor(t, func() bool { return e.Retrying() == n })
	done := make(chan error)
	go func() { done <- e.Drain(context.Background()) }()
	err := advanceUntil(&clk, done)
	var de *DrainError
	require.ErrorAs(t, err, &de)
	waitFor(t, func() bool { return e.Pending() == 0 }) // those still running after the grace end too
	l := labelStats(e, "d")
	assert.Equal(t, int64(n), l.Failed)
	assert.Equal(t, int64(n), l.GaveUp)
	require.Len(t, de.Lost, 1)
	l0 := de.Lost[0]
	assert.Positive(t, l0.Retrying)
	assert.Equal(t, n, l0.Retrying+l0.Running+l0.Queued, "each task counted once: cut while waiting, or still running or queued after the grace")
	assert.Equal(t, n, de.Lost.Total())
	assert.Equal(t, n, e.LastDrain().Lost.Total())
	assert.Zero(t, e.Pending())
}

// A kept task (GoKept) whose retries the drain cuts is handed off: final
// hears it, and it is not lost.
func TestDrainHandsOffKeptRetries(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MaxAttempts: Unbounded, MaxElapsed: Unbounded, MinBackoff: time.Hour, MaxBackoff: time.Hour, Budget: Unbounded}
	e, _ := newTestEngine(t, Config{Retry: p.Resolve(), DrainTimeout: -1})
	var handed, settled atomic.Int32
	var attempts atomic.Int32
	final := func(end End) {
		switch {
		case end.Waiting:
		case end.HandedOff:
			attempts.Add(int32(end.Attempts))
			handed.Add(1)
		default:
			settled.Add(1)
		}
	}
	for i := 0; i < 10; i++ {
		require.NoError(t, e.GoKept(context.Background(), "k", func(context.Context) error { return errDown }, 0, final))
	}
	require.NoError(t, e.GoKept(context.Background(), "k", nop, 0, final))
	waitFor(t, func() bool { return e.Retrying() == 10 && settled.Load() == 1 })
	_ = e.Drain(context.Background()) // a DrainError or not: the drain's start may settle them all first
	waitFor(t, func() bool { return e.Pending() == 0 })
	l := labelStats(e, "k")
	assert.Equal(t, [3]int32{10, 1, 0}, [3]int32{handed.Load(), settled.Load(), int32(l.Failed)})
	assert.Equal(t, int64(10), l.HandedOff)
	assert.True(t, attempts.Load() >= 10 && attempts.Load() <= 20, "each cut task made one attempt, and one more at the drain's start unless its cancellation cut it: %d", attempts.Load())
	assert.Zero(t, e.LastDrain().Lost.Total())
}

// Holds' tasks (a batcher's writes) retry on their own: the engine never
// retries them.
func TestHoldTasksAreNotRetried(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{Retry: quick})
	h, err := e.Hold("batch")
	require.NoError(t, err)
	var calls atomic.Int32
	done := make(chan struct{})
	require.NoError(t, h.Go(func(context.Context) error { defer close(done); calls.Add(1); return errDown }))
	<-done
	h.Release()
	require.NoError(t, e.Drain(context.Background()))
	assert.Equal(t, int32(1), calls.Load())
}

func TestBackoffIsFullJitterWithinBounds(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n := 1; n < 100; n++ {
		ceil := min(time.Second, 100*time.Millisecond<<min(n-1, 20))
		for i := 0; i < 20; i++ {
			d := p.Backoff(n)
			require.True(t, d >= 0 && d <= ceil, "attempt %d: %v not in [0, %v]", n, d, ceil)
		}
	}
	var sum time.Duration
	for i := 0; i < 1000; i++ {
		sum += p.Backoff(1)
	}
	assert.InDelta(t, 50*time.Millisecond, sum/1000, float64(10*time.Millisecond), "uniform over [0, 100ms]")
}

// advanceUntil moves clk on a minute at a time until done yields.
func advanceUntil(clk *clock.Manual, done <-chan error) error {
	for {
		select {
		case err := <-done:
			return err
		default:
			clk.Advance(time.Minute)
			runtime.Gosched()
		}
	}
}

// Settings at the edges of their types neither panic nor overflow.
func TestRetryPolicyAtTheEdges(t *testing.T) {
	t.Parallel()
	for _, p := range []RetryPolicy{
		{MaxAttempts: math.MaxInt, MinBackoff: math.MaxInt64, MaxBackoff: math.MaxInt64},
		{MaxAttempts: math.MinInt, MinBackoff: -1, MaxBackoff: -1, MaxElapsed: math.MinInt64, Budget: math.NaN()},
		{MaxAttempts: 3, MinBackoff: 1, MaxBackoff: math.MaxInt64, Budget: math.Inf(1), BudgetBurst: math.MaxInt},
	} {
		r := p.Resolve()
		for _, n := range []int{1, 2, 62, 63, 64, math.MaxInt32} {
			d := r.Backoff(n)
			require.True(t, d >= 0 && d <= r.MaxBackoff, "%+v attempt %d: %v", r, n, d)
		}
	}
}

// An error whose Unwrap calls runtime.Goexit, on a retrying label: the
// task is counted failed, the books balance, the drain ends.
func TestRetryClassifyingAGoexitErrorKeepsTheBooks(t *testing.T) {
	t.Parallel()
	e, logs := newTestEngine(t, Config{Retry: quick})
	require.NoError(t, e.Go(context.Background(), "x", func(context.Context) error { return goexitUnwrap{} }, 0))
	require.NoError(t, e.Drain(context.Background()))
	l := labelStats(e, "x")
	assert.Equal(t, [3]int64{1, 1, 0}, [3]int64{l.Submitted, l.Failed, l.Pending})
	assert.Equal(t, 1, logs.FilterMessage("async task's error called runtime.Goexit while classified for a retry").Len())
}

type goexitUnwrap struct{}

func (goexitUnwrap) Error() string { return "goexit" }
func (goexitUnwrap) Unwrap() error { runtime.Goexit(); return nil }
