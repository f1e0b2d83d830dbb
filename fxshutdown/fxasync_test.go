package fxshutdown_test

import (
	"context"
	"testing"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"go.uber.org/fx"
)

type cache struct{ rec *recorder }

// newCache registers its step in its constructor: built before the
// scheduler (DrainBefore), it stops after the drain.
func newCache(sd *fxshutdown.Shutdown, rec *recorder) *cache {
	sd.Add(fxshutdown.Step{Name: "cache", Run: rec.step("cache closed", nil)})
	return &cache{rec: rec}
}

type server struct{}

// newServer takes the scheduler, so it is built after it and its step runs
// before the drain: no new request can start a task once the drain begins.
func newServer(sd *fxshutdown.Shutdown, sched *fxasync.Scheduler, c *cache, rec *recorder) *server {
	sd.Add(fxshutdown.Step{Name: "http-server", Run: rec.step("http-server stopped", nil)})
	// A request's background write, still running when the stop begins.
	sched.Go(context.Background(), "cache-set", func(ctx context.Context) error {
		<-sched.Draining()
		return c.rec.step("task wrote to cache", nil)(ctx)
	})
	return &server{}
}

// The full sequence: the server stops taking requests, the tasks drain, and
// only then does the cache they write to close.
func TestFxasyncDrainSitsBetweenServerAndResources(t *testing.T) {
	rec := &recorder{}
	var sd *fxshutdown.Shutdown
	app, _ := newApp(t,
		fx.Populate(&sd),
		fx.Supply(rec),
		fxasync.Module,
		fxasync.DrainBefore[*cache](),
		fx.Provide(newCache, newServer),
		fx.Invoke(func(*server) {}),
	)
	app.RequireStart().RequireStop()
	assert.Equal(t, []string{"http-server stopped", "task wrote to cache", "cache closed"}, rec.got())
	var names []string
	for _, o := range sd.Outcomes() {
		names = append(names, o.Name)
	}
	assert.Equal(t, []string{"http-server", fxasync.StepName, "cache"}, names,
		"with fxshutdown in the graph the drain is a named step")
}
