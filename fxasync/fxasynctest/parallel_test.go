package fxasynctest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasynctest"
	"github.com/stretchr/testify/assert"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

// Fifty parallel tests, each with its own scheduler: every count exact.
func TestParallelTests(t *testing.T) {
	for i := range 50 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			opts := []fxasynctest.Option{}
			if i%2 == 1 {
				opts = append(opts, fxasynctest.Inline())
			}
			s := fxasynctest.New(t, opts...)
			var ran atomic.Int64
			for range 200 {
				s.Go(context.Background(), "work", func(context.Context) error { ran.Add(1); return nil })
			}
			fxasynctest.Wait(t, s)
			assert.EqualValues(t, 200, ran.Load())
			assert.EqualValues(t, 200, s.Stats().Total.Succeeded)
		})
	}
}

// cache is a resource the tasks use; DrainBefore makes the drain run first.
type cache struct{ closed atomic.Bool }

// Module in an fxtest app: the app's Config configures the scheduler, the
// app's stop drains it before the cache closes.
func TestModuleInAnFxtestApp(t *testing.T) {
	var s *fxasync.Scheduler
	c := &cache{}
	var wroteOpen atomic.Bool
	app := fxtest.New(t,
		fx.Supply(fxasync.Config{MaxPending: 1}),
		fxasynctest.Module(t, fxasynctest.AllowFailures()), // the refusals below are meant
		fx.Provide(func(lc fx.Lifecycle) *cache {
			lc.Append(fx.StopHook(func() { c.closed.Store(true) }))
			return c
		}),
		fxasync.DrainBefore[*cache](),
		fx.Populate(&s),
	)
	app.RequireStart()
	release := make(chan struct{})
	s.Go(context.Background(), "cache-set", func(context.Context) error { <-release; wroteOpen.Store(!c.closed.Load()); return nil })
	assert.ErrorIs(t, s.TryGo(context.Background(), "cache-set", func(context.Context) error { return nil }), fxasync.ErrFull,
		"the app's Config: one pending task at most")
	go func() { <-s.Draining(); close(release) }()
	app.RequireStop()
	assert.True(t, wroteOpen.Load(), "the task ran before the cache closed")
	assert.EqualValues(t, 1, statsOf(s, "cache-set").Succeeded)
	assert.EqualValues(t, 1, statsOf(s, "cache-set").Rejected)
	for range 10 {
		_ = s.TryGo(context.Background(), "late", func(context.Context) error { return nil })
	}
	assert.EqualValues(t, 10, statsOf(s, "late").Rejected, "drained: later tasks are refused")
}
