package fxshutdown_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fxtools/background/fxshutdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type recorder struct {
	mu    sync.Mutex
	order []string
}

func (r *recorder) step(name string, err error) func(context.Context) error {
	return func(context.Context) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.order = append(r.order, name)
		return err
	}
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

func newApp(t *testing.T, opts ...fx.Option) (*fxtest.App, *observer.ObservedLogs) {
	obs, logs := observer.New(zap.DebugLevel)
	app := fxtest.New(t, append([]fx.Option{fx.Supply(zap.New(obs)), fxshutdown.Module}, opts...)...)
	return app, logs
}

// The seed's example done right: the pool is built first, then the cache,
// then the scheduler, so stop runs the drain, then the cache, then the pool.
func TestStepsRunInReverseRegistrationOrder(t *testing.T) {
	rec := &recorder{}
	app, logs := newApp(t, fx.Invoke(func(sd *fxshutdown.Shutdown) {
		sd.Add(fxshutdown.Step{Name: "runtime-pool", Run: rec.step("runtime-pool", nil)})
		sd.Add(fxshutdown.Step{Name: "cache", Run: rec.step("cache", nil)})
		sd.Add(fxshutdown.Step{Name: "async-tasks", Run: rec.step("async-tasks", nil)})
	}))
	app.RequireStart().RequireStop()
	assert.Equal(t, []string{"async-tasks", "cache", "runtime-pool"}, rec.got())

	sum := logs.FilterMessage("shutdown finished").All()
	require.Len(t, sum, 1)
	steps := sum[0].ContextMap()["steps"].([]any)
	require.Len(t, steps, 3)
	assert.Contains(t, steps[0], "async-tasks: ok in ")
	assert.Contains(t, steps[2], "runtime-pool: ok in ")
	assert.Equal(t, 3, logs.FilterMessage("shutdown step started").Len())
	assert.Equal(t, 3, logs.FilterMessage("shutdown step done").Len())
}

// A step that blocks forever is abandoned at its bound with an ERROR naming
// it, and the next step still runs; errors come back joined, by name.
func TestStuckStepIsAbandonedAndErrorsJoined(t *testing.T) {
	rec := &recorder{}
	stuck := make(chan struct{})
	defer close(stuck)
	errCache := errors.New("flush failed")
	app, logs := newApp(t, fx.Invoke(func(sd *fxshutdown.Shutdown) {
		sd.Add(fxshutdown.Step{Name: "database", Run: rec.step("database", nil)})
		sd.Add(fxshutdown.Step{Name: "cache", Run: rec.step("cache", errCache)})
		sd.Add(fxshutdown.Step{Name: "stuck-flush", Run: func(context.Context) error { <-stuck; return nil }, Timeout: 20 * time.Millisecond})
	}))
	app.RequireStart()
	err := app.Stop(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, fxshutdown.ErrStepTimeout)
	assert.ErrorIs(t, err, errCache)
	assert.Contains(t, err.Error(), "stuck-flush: ")
	assert.Contains(t, err.Error(), "cache: flush failed")
	assert.Equal(t, []string{"cache", "database"}, rec.got(), "the steps after the stuck one ran")

	abandoned := logs.FilterMessage("shutdown step abandoned").All()
	require.Len(t, abandoned, 1)
	assert.Equal(t, "stuck-flush", abandoned[0].ContextMap()["step"])
	assert.Equal(t, 1, logs.FilterMessage("shutdown finished").Len())
}

// An early step with a long timeout cannot eat the budget of the later ones.
func TestBoundLeavesLaterStepsTheirShare(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	rec := &recorder{}
	sd := fxshutdown.New(fxshutdown.Config{StepTimeout: time.Hour, Logger: zap.NewNop()})
	sd.Add(fxshutdown.Step{Name: "db", Run: rec.step("db", nil)})
	sd.Add(fxshutdown.Step{Name: "cache", Run: rec.step("cache", nil)})
	sd.Add(fxshutdown.Step{Name: "greedy", Run: func(context.Context) error { <-stuck; return nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := sd.Stop(ctx)
	assert.ErrorIs(t, err, fxshutdown.ErrStepTimeout)
	assert.Equal(t, []string{"cache", "db"}, rec.got())
	out := sd.Outcomes()
	require.Len(t, out, 3)
	assert.LessOrEqual(t, out[0].Bound, 100*time.Millisecond, "greedy got at most its third of 300 ms")
	for _, o := range out[1:] {
		assert.LessOrEqual(t, o.Bound, 300*time.Millisecond-out[0].Bound, "%s's bound ends within the budget", o.Name)
	}
}

func TestReadinessAndLiveness(t *testing.T) {
	var ready *fxshutdown.Readiness
	var sd *fxshutdown.Shutdown
	seen := make(chan int, 1)
	get := func(h http.Handler) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code
	}
	app, logs := newApp(t, fx.Populate(&ready, &sd), fx.Invoke(func(sd *fxshutdown.Shutdown) {
		sd.Add(fxshutdown.Step{Name: "http-server", Run: func(context.Context) error { seen <- get(ready.Handler()); return nil }})
	}))
	app.RequireStart()
	assert.Equal(t, http.StatusOK, get(ready.Handler()))
	sd.Add(fxshutdown.Step{Name: "too-late", Run: func(context.Context) error { return nil }})
	assert.Equal(t, 1, logs.FilterMessage("shutdown step added after the application started; fx will not run it: add steps in constructors").Len())
	app.RequireStop()
	assert.Equal(t, http.StatusServiceUnavailable, <-seen, "not ready before the first step runs")
	assert.Equal(t, http.StatusServiceUnavailable, get(ready.Handler()))
	assert.Equal(t, http.StatusOK, get(fxshutdown.LivenessHandler()))
}

func TestNilStepIsLoggedAndIgnored(t *testing.T) {
	obs, logs := observer.New(zap.DebugLevel)
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.New(obs)})
	sd.Add(fxshutdown.Step{Name: "nothing", Run: nil})
	require.NoError(t, sd.Stop(context.Background()))
	assert.Equal(t, 1, logs.FilterMessage("shutdown step has no function; ignored").Len())
	assert.Empty(t, sd.Outcomes())
}

// A step's note reaches its outcome and the summary line, bounded and valid
// UTF-8; Note outside a step does nothing.
func TestNoteIsShownInTheSummary(t *testing.T) {
	obs, logs := observer.New(zap.DebugLevel)
	sd := fxshutdown.New(fxshutdown.Config{Logger: zap.New(obs)})
	fxshutdown.Note(context.Background(), "ignored")
	sd.Add(fxshutdown.Step{Name: "hostile", Run: func(ctx context.Context) error {
		fxshutdown.Note(ctx, "\xff"+strings.Repeat("é", 300))
		return nil
	}})
	sd.Add(fxshutdown.Step{Name: "handoff", Run: func(ctx context.Context) error {
		fxshutdown.Note(ctx, "first")
		fxshutdown.Note(ctx, "handed off 12 task(s)")
		return nil
	}})
	require.NoError(t, sd.Stop(context.Background()))
	outs := sd.Outcomes()
	require.Len(t, outs, 2)
	assert.Equal(t, "handed off 12 task(s)", outs[0].Note)
	assert.True(t, utf8.ValidString(outs[1].Note))
	assert.LessOrEqual(t, len(outs[1].Note), 256)
	assert.True(t, strings.HasPrefix(outs[1].Note, "\uFFFDé"), outs[1].Note)
	summary := logs.FilterMessage("shutdown finished").All()
	require.Len(t, summary, 1)
	steps := fmt.Sprint(summary[0].ContextMap()["steps"])
	assert.Contains(t, steps, "handoff: ok (handed off 12 task(s)) in ")
}

// With only a *slog.Logger in the graph, the sequence and the summary go
// to it.
func TestModuleLogsToSlog(t *testing.T) {
	var buf strings.Builder
	l := slog.New(slog.NewTextHandler(&buf, nil))
	app := fxtest.New(t, fx.NopLogger, fx.Supply(l), fxshutdown.Module,
		fx.Invoke(func(sd *fxshutdown.Shutdown) {
			sd.Add(fxshutdown.Step{Name: "cache", Run: func(context.Context) error { return nil }})
		}))
	app.RequireStart()
	app.RequireStop()
	assert.Contains(t, buf.String(), `msg="shutdown step done" logger=shutdown step=cache`)
	assert.Contains(t, buf.String(), `msg="shutdown finished"`)
}

// lostThree is a step error that reports three items lost.
type lostThree struct{}

func (lostThree) Error() string  { return "lost 3" }
func (lostThree) LostTotal() int { return 3 }

// Stopped by fx itself, a stop that only lost work still returns the loss,
// so app.Run exits non-zero; the summary says it at ERROR.
func TestPlainFxStopReturnsTheLoss(t *testing.T) {
	app, logs := newApp(t, fx.Invoke(func(sd *fxshutdown.Shutdown) {
		sd.Add(fxshutdown.Step{Name: "drain", Run: func(context.Context) error { return lostThree{} }})
	}))
	app.RequireStart()
	err := app.Stop(context.Background())
	require.Error(t, err)
	assert.ErrorAs(t, err, new(lostThree))
	summary := logs.FilterMessage("shutdown finished").All()
	require.Len(t, summary, 1)
	assert.Equal(t, zapcore.ErrorLevel, summary[0].Level)
	assert.EqualValues(t, 3, summary[0].ContextMap()["lost"])
}
