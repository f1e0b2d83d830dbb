package fxasync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Cache stands for any resource that tasks use and that stops on OnStop.
type Cache struct {
	mu     sync.Mutex
	closed bool
	data   map[string]string
}

var errCacheClosed = errors.New("cache closed")

func NewCache(lc fx.Lifecycle) *Cache {
	c := &Cache{data: map[string]string{}}
	lc.Append(fx.StopHook(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.closed = true
	}))
	return c
}

func (c *Cache) Set(k, v string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errCacheClosed
	}
	c.data[k] = v
	return nil
}

// Handler submits a task that is still using the cache when stop begins: it
// writes only once the drain has begun.
type Handler struct{ wrote chan error }

func (h *Handler) submit(s *fxasync.Scheduler, c *Cache) {
	s.Go(context.Background(), "cache-set", func(ctx context.Context) error {
		<-s.Draining()
		err := c.Set("k", "v")
		h.wrote <- err
		return err
	})
}

// The trap: parameters (scheduler, cache) build the scheduler first, so its
// drain hook is appended first and runs last, after the cache closed.
func NewHandlerSchedulerFirst(s *fxasync.Scheduler, c *Cache) *Handler {
	h := &Handler{wrote: make(chan error, 1)}
	h.submit(s, c)
	return h
}

func NewHandlerCacheFirst(c *Cache, s *fxasync.Scheduler) *Handler {
	h := &Handler{wrote: make(chan error, 1)}
	h.submit(s, c)
	return h
}

func runOrdering(t *testing.T, ctor any, opts ...fx.Option) error {
	t.Helper()
	var h *Handler
	app := fxtest.New(t, append(opts,
		fxasync.Module,
		fx.Provide(NewCache, ctor),
		fx.Populate(&h),
	)...)
	app.RequireStart().RequireStop()
	return <-h.wrote
}

// cacheThatRecordsStop provides a *Cache whose stop hook sets *stopped,
// drained before (DrainBefore) when the test says so.
func cacheThatRecordsStop(stopped *bool) fx.Option {
	return fx.Provide(func(lc fx.Lifecycle) *Cache {
		lc.Append(fx.StopHook(func() { *stopped = true }))
		return &Cache{}
	})
}

func TestOrderingTrapWithoutDrainBefore(t *testing.T) {
	err := runOrdering(t, NewHandlerSchedulerFirst)
	assert.ErrorIs(t, err, errCacheClosed, "the cache stopped before the drain")
}

func TestDrainBeforeFixesBothOrders(t *testing.T) {
	for name, ctor := range map[string]any{
		"scheduler first": NewHandlerSchedulerFirst,
		"cache first":     NewHandlerCacheFirst,
	} {
		t.Run(name, func(t *testing.T) {
			assert.NoError(t, runOrdering(t, ctor, fxasync.DrainBefore[*Cache]()))
		})
	}
}

// The module takes the logger and the config from the graph; a drain that
// times out is logged and the hooks after it still run.
func TestModuleTimedOutDrainLetsLaterHooksRun(t *testing.T) {
	obs, logs := observer.New(zap.DebugLevel)
	var cacheStopped bool
	stuck := make(chan struct{})
	defer close(stuck)
	app := fxtest.New(t,
		fx.Supply(zap.New(obs), fxasync.Config{DrainTimeout: 10 * time.Millisecond, Grace: time.Millisecond}),
		fxasync.Module,
		fxasync.DrainBefore[*Cache](),
		cacheThatRecordsStop(&cacheStopped),
		fx.Invoke(func(s *fxasync.Scheduler) {
			s.Go(context.Background(), "stuck", func(context.Context) error { <-stuck; return nil })
		}),
	)
	app.RequireStart()
	require.NoError(t, app.Stop(context.Background()), "a timed-out drain must not fail the stop")
	assert.True(t, cacheStopped)
	warns := logs.FilterMessage("async tasks did not drain in time").All()
	require.Len(t, warns, 1)
	assert.Equal(t, "async-task", warns[0].LoggerName)
}

// Inside fx's stop budget the drain uses at most StopShare of the time left,
// and the hooks after it still run.
func TestModuleDrainLeavesStopBudget(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	var s *fxasync.Scheduler
	var cacheStopped bool
	app := fxtest.New(t,
		fx.Supply(fxasync.Config{DrainTimeout: time.Hour, Grace: time.Millisecond, StopShare: 0.2}),
		fx.Supply(zap.NewNop()),
		fxasync.Module,
		fxasync.DrainBefore[*Cache](),
		cacheThatRecordsStop(&cacheStopped),
		fx.Populate(&s),
	)
	app.RequireStart()
	s.Go(context.Background(), "stuck", func(context.Context) error { <-stuck; return nil })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, app.Stop(ctx)) // the drain ends at 0.2 s, not at its hour
	assert.True(t, cacheStopped)
	assert.Equal(t, 1, s.LastDrain().Abandoned)
}

// Without a logger in the graph the module still works (failures go to stderr).
func TestModuleWithoutLogger(t *testing.T) {
	var s *fxasync.Scheduler
	app := fxtest.New(t, fxasync.Module, fx.Populate(&s))
	app.RequireStart()
	done := make(chan struct{})
	s.Go(context.Background(), "ok", func(context.Context) error { close(done); return nil })
	<-done
	app.RequireStop()
	assert.ErrorIs(t, s.TryGo(context.Background(), "late", ok), fxasync.ErrClosed)
}

// With a stop budget shorter than the grace (StopTimeout 200 ms, grace
// 250 ms), the drain and its grace fit in their share: the hooks after it
// run and the stop succeeds. The grace used to come on top of the share.
func TestModuleGraceFitsInsideStopBudget(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	defer close(stuck)
	var cacheStopped bool
	app := fxtest.New(t,
		fx.StopTimeout(200*time.Millisecond),
		fx.Supply(zap.NewNop()),
		fxasync.Module,
		fxasync.DrainBefore[*Cache](),
		cacheThatRecordsStop(&cacheStopped),
		fx.Invoke(func(s *fxasync.Scheduler) {
			s.Go(context.Background(), "ignores-ctx", func(context.Context) error { <-stuck; return nil })
		}),
	)
	app.RequireStart()
	ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	require.NoError(t, app.Stop(ctx), "fx's deadline passed: a hook was skipped")
	assert.True(t, cacheStopped)
}
