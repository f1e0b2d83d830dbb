package fxasync_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// newScheduler returns a scheduler configured by cfg, if given, that logs
// to the observer returned.
func newScheduler(t *testing.T, cfg ...fxasync.Config) (*fxasync.Scheduler, *observer.ObservedLogs) {
	t.Helper()
	obs, logs := observer.New(zap.DebugLevel)
	var c fxasync.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Logger = zap.New(obs)
	s := fxasync.New(c)
	t.Cleanup(func() { _ = s.Drain(context.Background()) })
	return s, logs
}

func ok(context.Context) error { return nil }

// 1. Go returns while fn is still blocked; fn runs on another goroutine.
func TestGoReturnsAtOnce(t *testing.T) {
	s, _ := newScheduler(t)
	release, started := make(chan struct{}), make(chan struct{})
	s.Go(context.Background(), "block", func(context.Context) error {
		close(started)
		<-release
		return nil
	})
	<-started // fn runs although the caller has not waited for it
	assert.Equal(t, 1, s.Pending())
	close(release)
	require.NoError(t, s.Drain(context.Background()))
}

type traceKey struct{}

// 2. The task keeps the caller's values, not its cancellation; the drain
// bound cancels it.
func TestContextKeepsValuesNotCancellation(t *testing.T) {
	s, _ := newScheduler(t, fxasync.Config{DrainTimeout: 10 * time.Millisecond})
	req, endRequest := context.WithCancel(context.WithValue(context.Background(), traceKey{}, "trace-1"))
	seen := make(chan [2]any, 1)
	cancelled := make(chan error, 1)
	s.Go(req, "log-usage", func(ctx context.Context) error {
		endRequest()
		seen <- [2]any{ctx.Value(traceKey{}), ctx.Err()}
		<-ctx.Done()
		cancelled <- ctx.Err()
		return nil
	})
	got := <-seen
	assert.Equal(t, "trace-1", got[0])
	assert.Nil(t, got[1], "the request ending must not cancel the task")
	require.ErrorIs(t, s.Drain(context.Background()), context.DeadlineExceeded)
	assert.ErrorIs(t, <-cancelled, context.Canceled)
}

// 3a. An error is logged once at ERROR with label and error, by the named logger.
func TestErrorIsLoggedWithLabel(t *testing.T) {
	s, logs := newScheduler(t)
	s.Go(context.Background(), "risky-operation", func(context.Context) error {
		return errors.New("Something went wrong")
	})
	require.NoError(t, s.Drain(context.Background()))
	entries := logs.FilterMessage("async task failed").All()
	require.Len(t, entries, 1)
	e := entries[0]
	assert.Equal(t, zapcore.ErrorLevel, e.Level)
	assert.Equal(t, "async-task", e.LoggerName)
	assert.Equal(t, "risky-operation", e.ContextMap()["label"])
	assert.Equal(t, "Something went wrong", e.ContextMap()["error"])
	assert.Equal(t, int64(1), s.Stats().Total.Failed)
}

// 3b. A panic is recovered and logged with label, value and stack.
func TestPanicIsRecoveredAndLogged(t *testing.T) {
	s, logs := newScheduler(t)
	s.Go(context.Background(), "boom", func(context.Context) error { panic("kaboom") })
	s.Go(context.Background(), "nil-panic", func(context.Context) error { panic(nil) })
	require.NoError(t, s.Drain(context.Background()))
	entries := logs.FilterMessage("async task panicked").All()
	require.Len(t, entries, 2)
	byLabel := map[any]map[string]any{}
	for _, e := range entries {
		assert.Equal(t, zapcore.ErrorLevel, e.Level)
		byLabel[e.ContextMap()["label"]] = e.ContextMap()
	}
	assert.Equal(t, "kaboom", byLabel["boom"]["panic"])
	assert.Contains(t, byLabel["boom"]["stack"], "scheduler_test.go")
	assert.Contains(t, byLabel, "nil-panic")
	assert.Equal(t, int64(2), s.Stats().Total.Panicked)
}

// 3c. runtime.Goexit ends the task, not the accounting.
func TestGoexitIsAccountedFor(t *testing.T) {
	s, logs := newScheduler(t)
	s.Go(context.Background(), "goexit", func(context.Context) error { runtime.Goexit(); return nil })
	s.Go(context.Background(), "after", ok)
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, 1, logs.FilterMessage("async task called runtime.Goexit").Len())
	st := s.Stats().Total
	assert.Equal(t, int64(1), st.Failed)
	assert.Equal(t, int64(1), st.Succeeded)
	assert.Equal(t, 0, s.Pending())
}

// 4. Pending counts exactly the tasks admitted and not finished.
func TestPendingIsExact(t *testing.T) {
	s, _ := newScheduler(t)
	const n = 50
	gates := make([]chan struct{}, n)
	var done sync.WaitGroup
	for i := range gates {
		gates[i] = make(chan struct{})
		done.Add(1)
		g := gates[i]
		s.Go(context.Background(), "gate", func(context.Context) error { defer done.Done(); <-g; return nil })
	}
	assert.Equal(t, n, s.Pending())
	for i := 0; i < n; i += 2 {
		close(gates[i])
	}
	require.Eventually(t, func() bool { return s.Pending() == n/2 }, 10*time.Second, time.Millisecond)
	for i := 1; i < n; i += 2 {
		close(gates[i])
	}
	done.Wait()
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, 0, s.Pending())
}

func zapLabel(l string) zapcore.Field { return zap.String("label", l) }

// 8. Bad input never crashes: nil fn is refused and logged, an empty label
// gets the placeholder, a nil context means Background.
func TestBadInput(t *testing.T) {
	s, logs := newScheduler(t)
	s.Go(context.Background(), "nil-fn", nil)
	assert.Equal(t, 1, logs.FilterMessage("async task rejected").FilterField(zapLabel("nil-fn")).Len())
	assert.ErrorIs(t, s.TryGo(context.Background(), "nil-fn", nil), fxasync.ErrNilFunc)

	ran := make(chan context.Context, 1)
	//lint:ignore SA1012 a nil context is the bad input under test
	s.Go(nil, "", func(ctx context.Context) error { ran <- ctx; return nil }) //nolint:staticcheck
	ctx := <-ran
	assert.NotNil(t, ctx)
	require.NoError(t, s.Drain(context.Background()))
	byLabel := map[string]fxasync.LabelStats{}
	for _, l := range s.Stats().Labels {
		byLabel[l.Label] = l
	}
	assert.Equal(t, int64(2), byLabel["nil-fn"].Rejected)
	assert.Equal(t, int64(1), byLabel[fxasync.UnlabeledLabel].Succeeded)
}

// 9. Stats: totals and per-label figures; distinct labels are capped.
func TestStats(t *testing.T) {
	s, _ := newScheduler(t, fxasync.Config{MaxLabels: 4})
	release := make(chan struct{})
	s.Go(context.Background(), "a", ok)
	s.Go(context.Background(), "a", func(context.Context) error { return errors.New("x") })
	s.Go(context.Background(), "b", func(context.Context) error { panic("p") })
	s.Go(context.Background(), "c", func(context.Context) error { <-release; return nil })
	require.Eventually(t, func() bool { return s.Pending() == 1 }, 10*time.Second, time.Millisecond)
	for i := 0; i < 100; i++ {
		s.Go(context.Background(), "tracing-stream-"+string(rune('A'+i%50)), ok)
	}
	st := s.Stats()
	assert.Equal(t, fxasync.LabelStats{Label: "c", Submitted: 1, Pending: 1}, counts(st.Labels[2]))
	close(release)
	require.NoError(t, s.Drain(context.Background()))
	st = s.Stats()
	want := fxasync.LabelStats{Submitted: 104, Succeeded: 102, Failed: 1, Panicked: 1}
	assert.Equal(t, want, counts(st.Total))
	require.Len(t, st.Labels, 5)
	assert.Equal(t, fxasync.LabelStats{Label: "a", Submitted: 2, Succeeded: 1, Failed: 1}, counts(st.Labels[0]))
	assert.Equal(t, fxasync.LabelStats{Label: "b", Submitted: 1, Panicked: 1}, counts(st.Labels[1]))
	assert.Equal(t, fxasync.OverflowLabel, st.Labels[4].Label)
	assert.Equal(t, int64(98), st.Labels[4].Submitted) // tracing-stream-A took the last place
}

// 10. Config.MaxPending: Go waits for a slot, TryGo refuses with ErrFull, and
// a waiting Go gives up when its context ends.
func TestMaxPending(t *testing.T) {
	s, logs := newScheduler(t, fxasync.Config{MaxPending: 2, LabelLimit: 2})
	release, started := make(chan struct{}), make(chan struct{}, 3)
	var running, peak atomic.Int64
	body := func(context.Context) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		started <- struct{}{}
		<-release
		running.Add(-1)
		return nil
	}
	s.Go(context.Background(), "slot", body)
	s.Go(context.Background(), "slot", body)
	<-started
	<-started
	assert.ErrorIs(t, s.TryGo(context.Background(), "slot", body), fxasync.ErrFull)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Go(ctx, "slot", body) // full and its context is over: refused, logged
	assert.Equal(t, 1, logs.FilterMessage("async task rejected").Len())

	third := make(chan struct{})
	go func() { s.Go(context.Background(), "slot", body); close(third) }()
	close(release) // frees slots; the blocked Go gets one
	<-third
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(2), peak.Load())
	assert.Equal(t, int64(3), s.Stats().Total.Succeeded)
	assert.Equal(t, int64(2), s.Stats().Total.Rejected, "%+v", s.Stats())
}

// The zero Scheduler works; a nil one refuses without crashing.
func TestZeroAndNilScheduler(t *testing.T) {
	var zero fxasync.Scheduler
	done := make(chan struct{})
	zero.Go(context.Background(), "zero", func(context.Context) error { close(done); return nil })
	<-done
	require.NoError(t, zero.Drain(context.Background()))

	var nilS *fxasync.Scheduler
	nilS.Go(context.Background(), "nil", ok)
	assert.ErrorIs(t, nilS.TryGo(context.Background(), "nil", ok), fxasync.ErrClosed)
	assert.Equal(t, 0, nilS.Pending())
	assert.NoError(t, nilS.Drain(context.Background()))
	assert.Equal(t, fxasync.Stats{}, nilS.Stats())
}

// counts drops the duration histogram, whose figures depend on timing.
func counts(l fxasync.LabelStats) fxasync.LabelStats {
	l.Durations = fxasync.Durations{}
	return l
}
