package fxasync_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ctxKey string

// recorder is a middleware that records, per label, what next returned,
// and gives the task a context value.
type recorder struct {
	mu    sync.Mutex
	infos []fxasync.TaskInfo
	errs  map[string]error
	order []string
}

func (r *recorder) mw(name string) fxasync.Middleware {
	return func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		r.log(name+" before", t)
		err := next(context.WithValue(ctx, ctxKey(name), true))
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.errs == nil {
			r.errs = map[string]error{}
		}
		r.errs[t.Label] = err
		r.order = append(r.order, name+" after")
		return err
	}
}

func (r *recorder) log(event string, t fxasync.TaskInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.infos = append(r.infos, t)
	r.order = append(r.order, event)
}

// A middleware wraps each task: it learns its label, its context reaches
// the task, which keeps the drain's cancellation, and next returns the
// task's error, or its panic as a *PanicError with the stack. What the
// middleware returns is counted.
func TestMiddlewareWrapsTheTask(t *testing.T) {
	r := &recorder{}
	s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{r.mw("a")}})
	boom := errors.New("boom")
	var sawValue, sawCancel bool
	s.Go(context.Background(), "ok", func(ctx context.Context) error {
		sawValue = ctx.Value(ctxKey("a")) == true
		return nil
	})
	s.Go(context.Background(), "fails", func(context.Context) error { return boom })
	s.Go(context.Background(), "panics", func(context.Context) error { panic("bad") })
	s.Go(context.Background(), "cut", func(ctx context.Context) error { <-ctx.Done(); sawCancel = true; return ctx.Err() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.Drain(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	assert.True(t, sawValue, "the middleware's context reached the task")
	assert.True(t, sawCancel, "the task kept the drain's cancellation")
	require.Len(t, r.infos, 4)
	assert.NoError(t, r.errs["ok"])
	assert.ErrorIs(t, r.errs["fails"], boom)
	var p *fxasync.PanicError
	require.ErrorAs(t, r.errs["panics"], &p)
	assert.Equal(t, "bad", p.Value)
	assert.Contains(t, string(p.Stack), "middleware_test.go")
	assert.Equal(t, "fxasync: task panicked: bad", p.Error())
	assert.Error(t, r.errs["cut"])
	byLabel := labels(s.Stats())
	assert.Equal(t, int64(1), byLabel["ok"].Succeeded)
	assert.Equal(t, int64(1), byLabel["fails"].Failed)
	assert.Equal(t, int64(1), byLabel["panics"].Panicked)
	assert.Equal(t, 1, logs.FilterMessage("async task panicked").Len(), "logged once, with its stack")
	assert.Contains(t, logs.FilterMessage("async task panicked").All()[0].ContextMap()["stack"], "middleware_test.go")
}

func labels(st fxasync.Stats) map[string]fxasync.LabelStats {
	out := map[string]fxasync.LabelStats{}
	for _, l := range st.Labels {
		out[l.Label] = l
	}
	return out
}

// Middlewares run in the order configured, the first outermost; a nil one
// is skipped.
func TestMiddlewareOrder(t *testing.T) {
	r := &recorder{}
	s, _ := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{r.mw("a"), nil, r.mw("b")}})
	s.Go(context.Background(), "task", func(context.Context) error { r.log("task", fxasync.TaskInfo{}); return nil })
	require.NoError(t, s.Drain(context.Background()))
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Equal(t, []string{"a before", "b before", "task", "b after", "a after"}, r.order)
}

// retryOnce calls next again when it failed.
func retryOnce(ctx context.Context, _ fxasync.TaskInfo, next func(context.Context) error) error {
	if err := next(ctx); err != nil {
		return next(ctx)
	}
	return nil
}

// A middleware can call the task again: a task that fails once and then
// succeeds is one success; one that fails twice is one failure.
func TestMiddlewareThatRetriesOnce(t *testing.T) {
	s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{retryOnce}})
	var mu sync.Mutex
	runs := map[string]int{}
	run := func(label string, failures int) {
		s.Go(context.Background(), label, func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if runs[label]++; runs[label] <= failures {
				return fmt.Errorf("attempt %d failed", runs[label])
			}
			return nil
		})
	}
	run("flaky", 1)
	run("down", 2)
	run("panics-once", 0)
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, map[string]int{"flaky": 2, "down": 2, "panics-once": 1}, runs)
	byLabel := labels(s.Stats())
	assert.Equal(t, fxasync.LabelStats{Label: "flaky", Submitted: 1, Succeeded: 1}, withoutDurations(byLabel["flaky"]))
	assert.Equal(t, fxasync.LabelStats{Label: "down", Submitted: 1, Failed: 1}, withoutDurations(byLabel["down"]))
	require.Equal(t, 1, logs.FilterMessage("async task failed").Len())
	assert.Equal(t, "attempt 2 failed", logs.FilterMessage("async task failed").All()[0].ContextMap()["error"])
}

// A middleware can skip the task: what it returns is the outcome.
func TestMiddlewareThatSkips(t *testing.T) {
	refused := errors.New("skipped: quota")
	skip := func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		switch t.Label {
		case "skip-quietly":
			return nil
		case "skip-failing":
			return refused
		}
		return next(ctx)
	}
	s, _ := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{skip}})
	ran := 0
	for _, label := range []string{"skip-quietly", "skip-failing", "run"} {
		s.Go(context.Background(), label, func(context.Context) error { ran++; return nil })
	}
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, 1, ran, "only the task not skipped ran")
	byLabel := labels(s.Stats())
	assert.Equal(t, fxasync.LabelStats{Label: "skip-quietly", Submitted: 1, Succeeded: 1}, withoutDurations(byLabel["skip-quietly"]))
	assert.Equal(t, fxasync.LabelStats{Label: "skip-failing", Submitted: 1, Failed: 1}, withoutDurations(byLabel["skip-failing"]))
	assert.Equal(t, fxasync.LabelStats{Label: "run", Submitted: 1, Succeeded: 1}, withoutDurations(byLabel["run"]))
}

func withoutDurations(l fxasync.LabelStats) fxasync.LabelStats {
	l.Durations = fxasync.Durations{}
	return l
}

// A panic returned wrapped is still a panic; one the middleware swallows
// is whatever it returns instead; a middleware's own panic is the task's.
func TestMiddlewarePanics(t *testing.T) {
	mw := func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		switch t.Label {
		case "own-panic":
			panic("middleware")
		case "swallowed":
			_ = next(ctx)
			return nil
		}
		if err := next(ctx); err != nil {
			return fmt.Errorf("wrapped: %w", err)
		}
		return nil
	}
	s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{mw}})
	for _, label := range []string{"own-panic", "swallowed", "wrapped"} {
		s.Go(context.Background(), label, func(context.Context) error { panic(label) })
	}
	require.NoError(t, s.Drain(context.Background()))
	byLabel := labels(s.Stats())
	assert.Equal(t, int64(1), byLabel["own-panic"].Panicked)
	assert.Equal(t, int64(1), byLabel["swallowed"].Succeeded)
	assert.Equal(t, int64(1), byLabel["wrapped"].Panicked)
	assert.Equal(t, 2, logs.FilterMessage("async task panicked").Len())
}

// A middleware that returns an error whose methods panic or call
// runtime.Goexit costs a log line's detail, not a worker: the task is
// counted, the drain ends.
func TestMiddlewareReturningAHostileError(t *testing.T) {
	mw := func(context.Context, fxasync.TaskInfo, func(context.Context) error) error { return hostileError{} }
	s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{mw}})
	for i := 0; i < 3; i++ {
		s.Go(context.Background(), "hostile", ok)
	}
	require.NoError(t, s.Drain(context.Background()))
	assert.Equal(t, int64(3), s.Stats().Total.Failed)
	assert.Equal(t, 3, logs.FilterMessage("async task failed").Len())
}

// hostileError panics in Error and calls runtime.Goexit in Unwrap.
type hostileError struct{}

func (hostileError) Error() string { panic("Error") }
func (hostileError) Unwrap() error { runtime.Goexit(); return nil }

// A task started through middleware still submits follow-ups during the
// drain with its context.
func TestMiddlewareKeepsFollowUps(t *testing.T) {
	r := &recorder{}
	s, _ := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{r.mw("a")}})
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

// runtime.Goexit in a middleware or in the task is counted as failed and
// logged, and unwinds the middlewares' deferred calls: the books balance
// and the drain ends at once.
func TestMiddlewareGoexitIsCountedAndLogged(t *testing.T) {
	var mu sync.Mutex
	unwound := 0
	outer := func(ctx context.Context, _ fxasync.TaskInfo, next func(context.Context) error) error {
		defer func() { mu.Lock(); unwound++; mu.Unlock() }()
		return next(ctx)
	}
	exits := func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		if t.Label == "mw-exits" {
			runtime.Goexit()
		}
		return next(ctx)
	}
	s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{outer, exits}})
	ran := 0
	for i := 0; i < 3; i++ {
		s.Go(context.Background(), "mw-exits", func(context.Context) error { ran++; return nil })
		s.Go(context.Background(), "task-exits", func(context.Context) error { runtime.Goexit(); return nil })
	}
	require.NoError(t, s.Drain(context.Background()))
	assert.Zero(t, ran)
	st := s.Stats().Total
	assert.Equal(t, int64(6), st.Failed)
	assert.Equal(t, int64(0), st.Pending)
	assert.Equal(t, 6, logs.FilterMessage("async task called runtime.Goexit").Len())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 6, unwound, "the outer middleware's deferred calls ran")
}

// A context given to next that does not derive from the task's, or dropped
// its cancellation, would lose the drain's cancellation: the task runs
// with its own, and that is logged once.
func TestMiddlewareStrayContextIsIgnored(t *testing.T) {
	stray := func(_ context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		return next(context.WithValue(context.Background(), ctxKey("stray"), true))
	}
	uncancelled := func(ctx context.Context, _ fxasync.TaskInfo, next func(context.Context) error) error {
		return next(context.WithValue(context.WithoutCancel(ctx), ctxKey("stray"), true))
	}
	for _, mw := range []fxasync.Middleware{stray, uncancelled} {
		s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{mw}, DrainTimeout: time.Millisecond})
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
}

// A middleware that wraps a task's ErrHandedOff (a Kind's task cut off by
// the drain) passes it on: the task is counted handed off, not failed, and
// not logged as a failure.
func TestMiddlewareWrappingErrHandedOff(t *testing.T) {
	wrap := func(ctx context.Context, _ fxasync.TaskInfo, next func(context.Context) error) error {
		if err := next(ctx); err != nil {
			return fmt.Errorf("traced: %w", err)
		}
		return nil
	}
	s, logs := newScheduler(t, fxasync.Config{Middleware: []fxasync.Middleware{wrap}})
	s.Go(context.Background(), "cut", func(context.Context) error { return fxasync.ErrHandedOff })
	require.NoError(t, s.Drain(context.Background()))
	l := s.Stats().Labels[0]
	assert.Equal(t, []int64{1, 0}, []int64{l.HandedOff, l.Failed})
	assert.Zero(t, logs.FilterMessage("async task failed").Len())
}
