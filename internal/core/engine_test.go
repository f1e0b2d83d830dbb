package core

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
					if err := e.Submit(context.Background(), "stress", body, false, 0); err != nil {
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
		assert.Equal(t, int64(0), st.Running)
		assert.Equal(t, 0, e.Pending())
	}
}

// Tasks that block hold their worker; the tasks queued behind them still
// start, because a spare worker is always there for a non-empty queue.
func TestBlockedTasksDoNotHoldBackOthers(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	const n = 100
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		e.Go(context.Background(), "block", func(context.Context) error {
			started.Done()
			<-release
			return nil
		}, 0)
	}
	started.Wait() // hangs (and the test times out) if a task waited behind another
	assert.Equal(t, n, e.Pending())
	assert.Len(t, e.Running(), n)
	close(release)
	require.NoError(t, e.Drain(context.Background()))
}

// Idle workers exit after the idle timeout and a later task still runs.
func TestIdleWorkersExitAndRestart(t *testing.T) {
	e, _ := newTestEngine(t, Config{IdleTimeout: time.Millisecond})
	for round := 0; round < 3; round++ {
		done := make(chan struct{})
		e.Go(context.Background(), "x", func(context.Context) error { close(done); return nil }, 0)
		<-done
		require.Eventually(t, func() bool { return e.workerCount() == 0 }, 5*time.Second, time.Millisecond)
	}
}

func (e *Engine) workerCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for w := e.workers.head; w != nil; w = w.next {
		n++
	}
	return n
}

// The task context answers context.Cause with the engine's cause, not the
// caller's, and contexts derived from it are cancelled with it.
func TestTaskContextCauseAndChildren(t *testing.T) {
	e, _ := newTestEngine(t, Config{DrainTimeout: time.Millisecond, Grace: time.Second})
	parent, cancelParent := context.WithCancelCause(context.Background())
	cancelParent(errors.New("request over"))
	type out struct{ causeBefore, causeAfter, childErr error }
	res := make(chan out, 1)
	started := make(chan struct{})
	e.Go(parent, "cause", func(ctx context.Context) error {
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		o := out{causeBefore: context.Cause(ctx)}
		close(started)
		<-child.Done()
		o.causeAfter, o.childErr = context.Cause(ctx), child.Err()
		res <- o
		return nil
	}, 0)
	<-started
	err := e.Drain(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	o := <-res
	assert.NoError(t, o.causeBefore, "the caller's cancellation must not show through")
	assert.ErrorIs(t, o.causeAfter, context.DeadlineExceeded)
	assert.ErrorIs(t, o.childErr, context.Canceled)
	assert.NotNil(t, cancelCtxKey)
}

func TestQueueFIFOAndEmpty(t *testing.T) {
	var q queue
	q.init()
	assert.True(t, q.empty())
	assert.Nil(t, q.pop())
	ts := make([]*task, 5)
	for i := range ts {
		ts[i] = &task{label: string(rune('a' + i))}
		q.push(ts[i])
		assert.False(t, q.empty())
	}
	for i := range ts {
		assert.Same(t, ts[i], q.pop())
	}
	assert.True(t, q.empty())
	assert.Nil(t, q.pop())
	last := &task{label: "z"} // a task is pushed once: nodes are never reused
	q.push(last)
	assert.Same(t, last, q.pop())
	assert.True(t, q.empty())
}

func TestLabelCapFoldsIntoOverflow(t *testing.T) {
	e, _ := newTestEngine(t, Config{MaxLabels: 3})
	for i := 0; i < 10; i++ {
		e.Go(context.Background(), "l"+string(rune('0'+i)), nop, 0)
	}
	require.NoError(t, e.Drain(context.Background()))
	s := e.Stats()
	require.Len(t, s.Labels, 4)
	assert.Equal(t, OverflowLabel, s.Labels[3].Label)
	assert.Equal(t, int64(7), s.Labels[3].Succeeded)
	assert.Equal(t, int64(10), s.Total.Succeeded)
}
