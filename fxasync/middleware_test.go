package fxasync_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

type ctxKey string

// recorder is a middleware that records every start and end, and gives the
// task a context value.
type recorder struct {
	mu     sync.Mutex
	starts []fxasync.TaskStart
	ends   map[string]fxasync.TaskEnd
	order  []string
}

func (r *recorder) mw(name string) fxasync.Middleware {
	return func(ctx context.Context, t fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		r.mu.Lock()
		r.starts = append(r.starts, t)
		r.order = append(r.order, name+" start")
		r.mu.Unlock()
		return context.WithValue(ctx, ctxKey(name), true), func(e fxasync.TaskEnd) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.ends == nil {
				r.ends = map[string]fxasync.TaskEnd{}
			}
			r.ends[t.Label] = e
			r.order = append(r.order, name+" end")
		}
	}
}

// A middleware learns each task's label, wait and outcome — error, panic
// with its stack, Goexit — and its context reaches the task, which keeps
// the scheduler's cancellation.
func TestMiddlewareSeesStartAndEnd(t *testing.T) {
	r := &recorder{}
	s := fxasync.New(fxasync.WithLogger(zap.NewNop()), fxasync.WithMiddleware(r.mw("a")))
	boom := errors.New("boom")
	var sawValue, sawCancel bool
	s.Go(context.Background(), "ok", func(ctx context.Context) error {
		sawValue = ctx.Value(ctxKey("a")) == true
		return nil
	})
	s.Go(context.Background(), "fails", func(context.Context) error { return boom })
	s.Go(context.Background(), "panics", func(context.Context) error { panic("bad") })
	s.Go(context.Background(), "exits", func(context.Context) error { runtime.Goexit(); return nil })
	s.Go(context.Background(), "cut", func(ctx context.Context) error { <-ctx.Done(); sawCancel = true; return ctx.Err() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.Drain(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	assert.True(t, sawValue, "the middleware's context reached the task")
	assert.True(t, sawCancel, "the task kept the drain's cancellation")
	require.Len(t, r.starts, 5)
	for _, st := range r.starts {
		assert.False(t, st.Started.Before(st.Submitted), "%s started before it was submitted", st.Label)
	}
	assert.NoError(t, r.ends["ok"].Err)
	assert.ErrorIs(t, r.ends["fails"].Err, boom)
	assert.Equal(t, "boom", r.ends["fails"].Message, "the log line's rendering")
	assert.True(t, r.ends["panics"].Panicked)
	assert.Equal(t, "bad", r.ends["panics"].Panic)
	assert.Equal(t, "bad", r.ends["panics"].Message)
	assert.Empty(t, r.ends["ok"].Message)
	assert.Contains(t, string(r.ends["panics"].Stack), "middleware_test.go")
	assert.True(t, r.ends["exits"].Goexit)
	assert.Error(t, r.ends["cut"].Err)
}

// Middlewares run in order, their ends in reverse; one that panics, at the
// start or at the end, is skipped and the task runs and is counted.
func TestMiddlewareOrderAndPanics(t *testing.T) {
	r := &recorder{}
	panicky := func(context.Context, fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) { panic("mw") }
	panicAtEnd := func(ctx context.Context, _ fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		return ctx, func(fxasync.TaskEnd) { panic("end") }
	}
	s := fxasync.New(fxasync.WithLogger(zap.NewNop()), fxasync.WithMiddleware(r.mw("a"), panicky),
		fxasync.WithMiddleware(panicAtEnd, r.mw("b"), nil))
	ran := make(chan struct{})
	s.Go(context.Background(), "task", func(context.Context) error { close(ran); return nil })
	require.NoError(t, s.Drain(context.Background()))
	<-ran
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Equal(t, []string{"a start", "b start", "b end", "a end"}, r.order)
	assert.Equal(t, int64(1), s.Stats().Labels[0].Succeeded)
}

// A task started through middleware still submits follow-ups during the
// drain with its context.
func TestMiddlewareKeepsFollowUps(t *testing.T) {
	r := &recorder{}
	s := fxasync.New(fxasync.WithLogger(zap.NewNop()), fxasync.WithMiddleware(r.mw("a")))
	release := make(chan struct{})
	followed := make(chan error, 1)
	s.Go(context.Background(), "parent", func(ctx context.Context) error {
		<-release
		followed <- s.TryGo(ctx, "child", func(context.Context) error { return nil })
		return nil
	})
	done := make(chan error)
	go func() { done <- s.Drain(context.Background()) }()
	<-s.Draining()
	close(release)
	require.NoError(t, <-followed, "the follow-up is admitted during the drain")
	require.NoError(t, <-done)
}

// A middleware that calls runtime.Goexit ends its task unrun — counted
// failed and logged — and the middlewares before it are told: the books
// balance and the drain ends at once. It used to run before the report
// was deferred: the task was never counted, pending forever.
func TestMiddlewareGoexitIsCountedAndLogged(t *testing.T) {
	r := &recorder{}
	exits := func(context.Context, fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		runtime.Goexit()
		return nil, nil
	}
	s, logs := newScheduler(t, fxasync.WithMiddleware(r.mw("a"), exits))
	ran := false
	for i := 0; i < 3; i++ {
		s.Go(context.Background(), "task", func(context.Context) error { ran = true; return nil })
	}
	require.NoError(t, s.Drain(context.Background()))
	assert.False(t, ran)
	st := s.Stats().Total
	assert.Equal(t, int64(3), st.Failed)
	assert.Equal(t, int64(0), st.Pending)
	assert.Equal(t, 3, logs.FilterMessage("async task middleware called runtime.Goexit: task not run").Len())
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.True(t, r.ends["task"].Goexit, "the middleware before it learns how the task ended")
}

// A middleware whose context does not derive from the task's, or dropped
// its cancellation, would lose the drain's cancellation: its context is
// ignored, logged once.
func TestMiddlewareStrayContextIsIgnored(t *testing.T) {
	stray := func(context.Context, fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		return context.WithValue(context.Background(), ctxKey("stray"), true), nil
	}
	uncancelled := func(ctx context.Context, _ fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		return context.WithValue(context.WithoutCancel(ctx), ctxKey("stray"), true), nil
	}
	s, logs := newScheduler(t, fxasync.WithMiddleware(stray, uncancelled), fxasync.WithDrainTimeout(time.Millisecond))
	cancelled := make(chan bool, 2)
	for i := 0; i < 2; i++ {
		s.Go(context.Background(), "task", func(ctx context.Context) error {
			<-ctx.Done() // the drain's bound cancels it: the stray context would never end
			cancelled <- ctx.Value(ctxKey("stray")) == nil
			return nil
		})
	}
	_ = s.Drain(context.Background())
	for i := 0; i < 2; i++ {
		select {
		case clean := <-cancelled:
			assert.True(t, clean, "the task runs with its own context")
		case <-time.After(5 * time.Second):
			t.Fatal("the drain's cancellation never reached the task")
		}
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("not derived from the task's").Len())
}
