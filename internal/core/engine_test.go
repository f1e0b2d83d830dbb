package core

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/internal/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func newTestEngine(t *testing.T, cfg Config) (*Engine, *observer.ObservedLogs) {
	t.Helper()
	obs, logs := observer.New(zap.DebugLevel)
	if cfg.Logger == nil {
		cfg.Logger = zap.New(obs)
	}
	e := New(cfg)
	t.Cleanup(func() { _ = e.Drain(context.Background()) })
	return e, logs
}

func nop(context.Context) error { return nil }

// Submitters race with Drain, round after round: every admitted task runs
// exactly once, every refused one is counted, and nothing runs after Drain
// returned.
func TestStressSubmitDuringDrain(t *testing.T) {
	t.Parallel()
	rounds, submitters, perSubmitter := 50, 8, 200
	if testing.Short() {
		rounds = 10
	}
	for r := 0; r < rounds; r++ {
		e, _ := newTestEngine(t, Config{})
		var ran, admitted, refused atomic.Int64
		var drained atomic.Bool
		body := func(context.Context) error {
			if drained.Load() {
				t.Error("task ran after Drain returned")
			}
			ran.Add(1)
			return nil
		}
		var wg sync.WaitGroup
		for s := 0; s < submitters; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perSubmitter; i++ {
					if err := e.TryGo(context.Background(), "stress", body, 0); err != nil {
						assert.ErrorIs(t, err, ErrClosed) // not require: this is not the test goroutine
						refused.Add(1)
					} else {
						admitted.Add(1)
					}
				}
			}()
		}
		runtime.Gosched()
		require.NoError(t, e.Drain(context.Background()))
		drained.Store(true)
		wg.Wait()
		assert.Equal(t, admitted.Load(), ran.Load(), "round %d", r)
		assert.Equal(t, int64(submitters*perSubmitter), admitted.Load()+refused.Load())
		st := e.Stats().Total
		assert.Equal(t, admitted.Load(), st.Succeeded)
		assert.Equal(t, refused.Load(), st.Rejected)
		assert.Equal(t, int64(0), st.Pending)
		assert.Equal(t, 0, e.Pending())
	}
}

// The task context answers context.Cause with the engine's cause, not the
// caller's, and contexts derived from it are cancelled with it.
func TestTaskContextCauseAndChildren(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{DrainTimeout: 1, Grace: 1 << 40})
	parent, cancelParent := context.WithCancelCause(context.Background())
	cancelParent(errors.New("request over"))
	type out struct{ causeBefore, causeAfter, childErr error }
	res := make(chan out, 1)
	started := make(chan struct{})
	require.NoError(t, e.Go(parent, "cause", func(ctx context.Context) error {
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		o := out{causeBefore: context.Cause(ctx)}
		close(started)
		<-child.Done()
		o.causeAfter, o.childErr = context.Cause(ctx), child.Err()
		res <- o
		return nil
	}, 0))
	<-started
	err := e.Drain(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	o := <-res
	assert.NoError(t, o.causeBefore, "the caller's cancellation must not show through")
	assert.ErrorIs(t, o.causeAfter, context.DeadlineExceeded)
	assert.ErrorIs(t, o.childErr, context.Canceled)
}

// The probe of package context's private key must find it: if a Go release
// changes package context, this fails in CI instead of degrading silently.
func TestCancelCtxKeyFound(t *testing.T) {
	t.Parallel()
	assert.True(t, cancelCtxFound, "context.Cause no longer looks up a key through Value; see ctxkey.go")
}

// A task that has finished vouches for nothing: a goroutine it left behind
// cannot submit during a drain, even while other tasks keep the drain open.
func TestFinishedTaskContextAdmitsNothing(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{})
	kept := make(chan context.Context, 1)
	require.NoError(t, e.Go(context.Background(), "short", func(ctx context.Context) error { kept <- ctx; return nil }, 0))
	ctx := <-kept
	release, started := make(chan struct{}), make(chan struct{})
	require.NoError(t, e.Go(context.Background(), "long", func(context.Context) error {
		close(started)
		<-release
		return nil
	}, 0))
	<-started
	waitFor(t, func() bool { return e.Pending() == 1 }) // "short" has finished
	drained := make(chan error, 1)
	go func() { drained <- e.Drain(context.Background()) }()
	<-e.Draining()
	err := e.TryGo(ctx, "late-follow-up", nop, 0)
	assert.ErrorIs(t, err, ErrClosed)
	close(release)
	require.NoError(t, <-drained)
}

// A running task's follow-ups are admitted during the drain and waited for.
func TestRunningTaskFollowUpsAreWaitedFor(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{})
	var ran atomic.Int64
	release := make(chan struct{})
	require.NoError(t, e.Go(context.Background(), "parent", func(ctx context.Context) error {
		<-release
		for i := 0; i < 10; i++ {
			assert.NoError(t, e.TryGo(ctx, "child", func(context.Context) error { ran.Add(1); return nil }, 0))
		}
		return nil
	}, 0))
	drained := make(chan error, 1)
	go func() { drained <- e.Drain(context.Background()) }()
	<-e.Draining()
	assert.ErrorIs(t, e.TryGo(context.Background(), "outsider", nop, 0), ErrClosed)
	close(release)
	require.NoError(t, <-drained)
	assert.Equal(t, int64(10), ran.Load())
}

// waitFor polls cond until it holds. For states that no event announces
// (a counter reaching a value); it has no deadline of its own: the test's
// timeout is the bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		runtime.Gosched()
	}
}

// Inline: a submission runs its task on the caller before it returns,
// counted as on a worker; a failure's retry waits on the clock and runs on
// a worker.
func TestInlineRunsOnTheCaller(t *testing.T) {
	t.Parallel()
	e, logs := newTestEngine(t, Config{Retry: RetryPolicy{MaxAttempts: 2, MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxElapsed: Unbounded, Budget: -1}})
	var clk clock.Manual
	e.SetClock(&clk)
	e.SetInline()
	ran := false
	require.NoError(t, e.Go(context.Background(), "a", func(context.Context) error { ran = true; return nil }, 0))
	assert.True(t, ran, "ran before Go returned")
	require.NoError(t, e.Go(context.Background(), "b", func(context.Context) error { panic("boom") }, 0))
	assert.Equal(t, 1, logs.FilterMessage("async task panicked").Len(), "recovered and logged before Go returned")
	attempts := make(chan struct{}, 2)
	require.NoError(t, e.Go(context.Background(), "c", func(context.Context) error { attempts <- struct{}{}; return errors.New("down") }, 0))
	<-attempts
	assert.Equal(t, 1, e.Retrying(), "waits for its retry")
	for clk.StepTo(time.Hour) {
	}
	<-attempts
	waitFor(t, func() bool { return e.Pending() == 0 })
	assert.Equal(t, 1, logs.FilterMessage("async task failed").Len(), "the retry failed too, on a worker")
}
