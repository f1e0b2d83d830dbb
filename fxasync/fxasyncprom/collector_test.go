package fxasyncprom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasyncprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ok(context.Context) error { return nil }

// The metrics match what the scheduler did: known successes, failures,
// panics and rejections, the histogram count, and the drain.
func TestCollectorMatchesBehaviour(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxLabels: 3})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(fxasyncprom.NewCollector(s)))

	for i := 0; i < 3; i++ {
		s.Go(context.Background(), "log-usage", ok)
	}
	s.Go(context.Background(), "log-usage", func(context.Context) error { return errors.New("db down") })
	s.Go(context.Background(), "cache-set", func(context.Context) error { panic("boom") })
	s.Go(context.Background(), "cache-set", nil) // rejected
	for _, l := range []string{"tracing-stream-a", "tracing-stream-b", "tracing-stream-c"} {
		s.Go(context.Background(), l, ok) // past the cap of 3: folded
	}
	require.NoError(t, s.Drain(context.Background()))

	want := `
# HELP fxasync_tasks_total Tasks submitted, by how they ended.
# TYPE fxasync_tasks_total counter
fxasync_tasks_total{label="(other)",outcome="coalesced"} 0
fxasync_tasks_total{label="(other)",outcome="failed"} 0
fxasync_tasks_total{label="(other)",outcome="handed_off"} 0
fxasync_tasks_total{label="(other)",outcome="panicked"} 0
fxasync_tasks_total{label="(other)",outcome="rejected"} 0
fxasync_tasks_total{label="(other)",outcome="succeeded"} 2
fxasync_tasks_total{label="cache-set",outcome="coalesced"} 0
fxasync_tasks_total{label="cache-set",outcome="failed"} 0
fxasync_tasks_total{label="cache-set",outcome="handed_off"} 0
fxasync_tasks_total{label="cache-set",outcome="panicked"} 1
fxasync_tasks_total{label="cache-set",outcome="rejected"} 1
fxasync_tasks_total{label="cache-set",outcome="succeeded"} 0
fxasync_tasks_total{label="log-usage",outcome="coalesced"} 0
fxasync_tasks_total{label="log-usage",outcome="failed"} 1
fxasync_tasks_total{label="log-usage",outcome="handed_off"} 0
fxasync_tasks_total{label="log-usage",outcome="panicked"} 0
fxasync_tasks_total{label="log-usage",outcome="rejected"} 0
fxasync_tasks_total{label="log-usage",outcome="succeeded"} 3
fxasync_tasks_total{label="tracing-stream-a",outcome="coalesced"} 0
fxasync_tasks_total{label="tracing-stream-a",outcome="failed"} 0
fxasync_tasks_total{label="tracing-stream-a",outcome="handed_off"} 0
fxasync_tasks_total{label="tracing-stream-a",outcome="panicked"} 0
fxasync_tasks_total{label="tracing-stream-a",outcome="rejected"} 0
fxasync_tasks_total{label="tracing-stream-a",outcome="succeeded"} 1
# HELP fxasync_tasks_pending Tasks admitted and not finished.
# TYPE fxasync_tasks_pending gauge
fxasync_tasks_pending{label="(other)"} 0
fxasync_tasks_pending{label="cache-set"} 0
fxasync_tasks_pending{label="log-usage"} 0
fxasync_tasks_pending{label="tracing-stream-a"} 0
# HELP fxasync_drain_abandoned_tasks Tasks still pending when the last drain returned.
# TYPE fxasync_drain_abandoned_tasks gauge
fxasync_drain_abandoned_tasks 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"fxasync_tasks_total", "fxasync_tasks_pending", "fxasync_drain_abandoned_tasks"))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]uint64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "fxasync_task_duration_seconds":
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
				require.Len(t, m.GetHistogram().GetBucket(), len(fxasync.DurationBounds))
			}
		case "fxasync_drain_duration_seconds":
			assert.Positive(t, mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	assert.Equal(t, map[string]uint64{"log-usage": 4, "cache-set": 1, "tracing-stream-a": 1, "(other)": 2}, counts)
}

func TestModuleRegistersWhenARegistererIsInTheGraph(t *testing.T) {
	reg := prometheus.NewRegistry()
	app := fxtest.New(t,
		fx.Supply(zap.NewNop(), fx.Annotate(reg, fx.As(new(prometheus.Registerer)))),
		fxasync.Module, fxasyncprom.Module,
		fx.Invoke(func(s *fxasync.Scheduler) { s.Go(context.Background(), "x", ok) }),
	)
	app.RequireStart().RequireStop()
	n, err := testutil.GatherAndCount(reg, "fxasync_tasks_total")
	require.NoError(t, err)
	assert.Equal(t, 6, n, "one series per outcome")
}

// A graph with only a *prometheus.Registry is enough; with neither it and
// a Registerer, the application refuses to start, saying what to provide
// (it used to start and export nothing, silently).
func TestModuleFindsARegistryOrRefusesToStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	fxtest.New(t, fx.Supply(zap.NewNop(), reg), fxasync.Module, fxasyncprom.Module,
		fx.Invoke(func(s *fxasync.Scheduler) { s.Go(context.Background(), "x", ok) })).RequireStart().RequireStop()
	n, err := testutil.GatherAndCount(reg, "fxasync_tasks_total")
	require.NoError(t, err)
	assert.Equal(t, 6, n, "one series per outcome")

	app := fx.New(fx.NopLogger, fx.Supply(zap.NewNop()), fxasync.Module, fxasyncprom.Module)
	require.ErrorIs(t, app.Err(), fxasyncprom.ErrNoRegisterer)
	assert.ErrorContains(t, app.Err(), "provide one")
}

// Hostile labels never make a scrape panic or fail: a label with invalid
// UTF-8 (a URL path with %ff), one equal to a placeholder, and a very long
// one are cleaned at submission, so every scrape succeeds with one series
// per label.
func TestScrapeSurvivesHostileLabels(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), MaxLabels: 4})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(fxasyncprom.NewCollector(s)))
	for _, l := range []string{"/v1/\xff\xfe", fxasync.OverflowLabel, fxasync.UnlabeledLabel, "",
		strings.Repeat("x", 10_000), "a", "b", "c"} {
		s.Go(context.Background(), l, ok)
	}
	require.NoError(t, s.Drain(context.Background()))
	var mfs []*dto.MetricFamily
	assert.NotPanics(t, func() {
		var err error
		mfs, err = reg.Gather()
		require.NoError(t, err)
	})
	for _, mf := range mfs {
		if mf.GetName() != "fxasync_tasks_pending" {
			continue
		}
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			l := m.GetLabel()[0].GetValue()
			assert.False(t, seen[l], "series %q twice", l)
			seen[l] = true
			assert.LessOrEqual(t, len(l), fxasync.MaxLabelBytes)
		}
		assert.Contains(t, seen, "/v1/\uFFFD", "a run of invalid bytes becomes one U+FFFD")
	}
}

// A batcher's figures and the last stop's losses are exported.
func TestCollectorBatcherAndLosses(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(fxasyncprom.NewCollector(s)))
	b := fxasync.NewBatcher(s, "rows", func(context.Context, []int) error { return nil }, fxasync.BatcherConfig{MaxBatch: 2})
	for i := 0; i < 4; i++ {
		require.NoError(t, b.Add(context.Background(), i))
	}
	require.NoError(t, s.Drain(context.Background()))
	s.Go(context.Background(), "late", ok) // refused after the drain: lost
	want := `
# HELP fxasync_batch_items_total Items handed to a batcher, by what became of them.
# TYPE fxasync_batch_items_total counter
fxasync_batch_items_total{batcher="rows",outcome="added"} 4
fxasync_batch_items_total{batcher="rows",outcome="failed"} 0
fxasync_batch_items_total{batcher="rows",outcome="flushed"} 4
fxasync_batch_items_total{batcher="rows",outcome="kept"} 0
fxasync_batch_items_total{batcher="rows",outcome="lost"} 0
fxasync_batch_items_total{batcher="rows",outcome="rejected"} 0
# HELP fxasync_batch_size Items per flush.
# TYPE fxasync_batch_size histogram
fxasync_batch_size_bucket{batcher="rows",le="1"} 0
fxasync_batch_size_bucket{batcher="rows",le="2"} 2
fxasync_batch_size_bucket{batcher="rows",le="5"} 2
fxasync_batch_size_bucket{batcher="rows",le="10"} 2
fxasync_batch_size_bucket{batcher="rows",le="20"} 2
fxasync_batch_size_bucket{batcher="rows",le="50"} 2
fxasync_batch_size_bucket{batcher="rows",le="100"} 2
fxasync_batch_size_bucket{batcher="rows",le="200"} 2
fxasync_batch_size_bucket{batcher="rows",le="500"} 2
fxasync_batch_size_bucket{batcher="rows",le="1000"} 2
fxasync_batch_size_bucket{batcher="rows",le="+Inf"} 2
fxasync_batch_size_sum{batcher="rows"} 4
fxasync_batch_size_count{batcher="rows"} 2
# HELP fxasync_drain_lost What the last stop lost: tasks running at its end, queued or refused; a batcher's items.
# TYPE fxasync_drain_lost gauge
fxasync_drain_lost{label="late"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"fxasync_batch_items_total", "fxasync_batch_size", "fxasync_drain_lost"))
}

// A hand-off's figures are exported per kind and outcome; a kind that is not
// keeper keeps everything it is given.
type keeper struct{}

func (keeper) Keep(_ context.Context, _ string, items []any) (int, error) { return len(items), nil }

// What a stop handed to the Keeper is exported: the Kind's cut tasks as
// handed_off, what was kept per label, and a keeping batcher's kept items.
func TestCollectorKept(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: -1, Grace: -1, Keeper: keeper{}})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(fxasyncprom.NewCollector(s)))
	untilCut := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	started := make(chan struct{}, 3)
	k := fxasync.NewKind(s, "usage-row", func(ctx context.Context, _ int) error { started <- struct{}{}; return untilCut(ctx) })
	b := fxasync.NewBatcher(s, "stream-events", func(ctx context.Context, _ []int) error { return untilCut(ctx) },
		fxasync.BatcherConfig{MaxBatch: 2, Keep: true})
	for i := range 3 {
		require.NoError(t, k.Go(context.Background(), i))
		require.NoError(t, b.Add(context.Background(), i))
	}
	for range 3 {
		<-started
	}
	_ = s.Drain(context.Background())
	want := `
# HELP fxasync_drain_kept What the last stop left unfinished and the Keeper kept: a Kind's tasks, a batcher's items.
# TYPE fxasync_drain_kept gauge
fxasync_drain_kept{label="stream-events"} 3
fxasync_drain_kept{label="usage-row"} 3
# HELP fxasync_drain_lost What the last stop lost: tasks running at its end, queued or refused; a batcher's items.
# TYPE fxasync_drain_lost gauge
fxasync_drain_lost{label="stream-events"} 0
fxasync_drain_lost{label="usage-row"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "fxasync_drain_kept", "fxasync_drain_lost"))
	assert.Equal(t, 3.0, counter(t, reg, "fxasync_tasks_total", map[string]string{"label": "usage-row", "outcome": "handed_off"})+
		counter(t, reg, "fxasync_tasks_total", map[string]string{"label": "usage-row", "outcome": "failed"}),
		"the cut tasks returned after the drain's cancellation: handed off (or, past the grace, still running)")
	assert.Equal(t, 3.0, counter(t, reg, "fxasync_batch_items_total", map[string]string{"batcher": "stream-events", "outcome": "kept"}))
}

// counter reads one counter of reg.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// One figure has one value: with a batcher holding items, the pending
// gauge, Pending and Stats agree (no task is pending; the items are the
// batcher's gauge), and while its write runs all three count that task.
func TestPendingGaugeIsPendingWithABatcherOpen(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(fxasyncprom.NewCollector(s)))
	writing, release := make(chan struct{}), make(chan struct{})
	b := fxasync.NewBatcher(s, "usage-rows", func(context.Context, []int) error {
		close(writing)
		<-release
		return nil
	}, fxasync.BatcherConfig{MaxBatch: 2, MaxDelay: time.Hour})
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		sum := 0.0
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					sum += m.GetGauge().GetValue()
				}
			}
		}
		return sum
	}
	require.NoError(t, b.Add(context.Background(), 1))
	assert.Equal(t, []float64{0, 0, 0}, []float64{gauge("fxasync_tasks_pending"), float64(s.Pending()), float64(s.Stats().Total.Pending)})
	assert.Equal(t, 1.0, gauge("fxasync_batch_items_pending"))
	require.NoError(t, b.Add(context.Background(), 2))
	<-writing
	assert.Equal(t, []float64{1, 1, 1}, []float64{gauge("fxasync_tasks_pending"), float64(s.Pending()), float64(s.Stats().Total.Pending)})
	close(release)
	require.NoError(t, s.Drain(context.Background()))
}

// Retries are counted: a task retried until MaxAttempts, one turned down
// by the budget, a batcher's write retried through an outage.
func TestCollectorRetries(t *testing.T) {
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Retry: fxasync.Retry{MaxAttempts: 3, MinBackoff: time.Microsecond,
		MaxBackoff: time.Microsecond, BudgetBurst: 2, Budget: -1}, LabelRetries: map[string]fxasync.Retry{
		"dead": {MaxAttempts: 5, MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond, BudgetBurst: 1}}})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(fxasyncprom.NewCollector(s)))
	down := func(context.Context) error { return errors.New("db down") }
	s.Go(context.Background(), "limited", down)
	require.Eventually(t, func() bool { return s.Pending() == 0 }, 5*time.Second, time.Millisecond)
	s.Go(context.Background(), "dead", down)
	calls := 0
	b := fxasync.NewBatcher(s, "rows", func(context.Context, []int) error {
		if calls++; calls <= 2 {
			return errors.New("db down")
		}
		return nil
	}, fxasync.BatcherConfig{MaxDelay: time.Millisecond, Retry: fxasync.Retry{MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond}})
	require.NoError(t, b.TryAdd(1))
	require.NoError(t, s.Drain(context.Background()))
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fxasync_task_retries_total", map[string]string{"label": "limited"}, 2},
		{"fxasync_task_gave_up_total", map[string]string{"label": "limited", "reason": "limit"}, 1},
		{"fxasync_task_gave_up_total", map[string]string{"label": "limited", "reason": "budget"}, 0},
		{"fxasync_task_retries_total", map[string]string{"label": "dead"}, 1},
		{"fxasync_task_gave_up_total", map[string]string{"label": "dead", "reason": "budget"}, 1},
		{"fxasync_batch_retries_total", map[string]string{"batcher": "rows"}, 2},
		{"fxasync_batch_gave_up_items_total", map[string]string{"batcher": "rows"}, 0},
	} {
		assert.Equal(t, c.want, counter(t, reg, c.name, c.labels), "%s%v", c.name, c.labels)
	}
}
