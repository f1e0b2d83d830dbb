package fxasync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

func ExampleScheduler_Go() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop()})

	// In a handler: answer first, log usage in the background.
	reqCtx := context.Background() // r.Context() in an HTTP handler
	sched.Go(reqCtx, "log-usage", func(ctx context.Context) error {
		fmt.Println("usage logged")
		return nil
	})
	sched.Go(reqCtx, "risky-operation", func(ctx context.Context) error {
		return errors.New("something went wrong") // logged with the label, never returned to the caller
	})

	_ = sched.Drain(context.Background())
	st := sched.Stats().Total
	fmt.Printf("succeeded=%d failed=%d pending=%d\n", st.Succeeded, st.Failed, sched.Pending())
	// Output:
	// usage logged
	// succeeded=1 failed=1 pending=0
}

func ExampleScheduler_Drain() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 50 * time.Millisecond, Grace: 10 * time.Millisecond})
	stuck := make(chan struct{})
	defer close(stuck)
	started := make(chan struct{})
	sched.Go(context.Background(), "stuck-write", func(ctx context.Context) error {
		close(started)
		<-stuck // ignores ctx: still running after the grace
		return nil
	})
	<-started

	err := sched.Drain(context.Background())
	var de *fxasync.DrainError
	if errors.As(err, &de) {
		fmt.Println("deadline exceeded:", errors.Is(err, context.DeadlineExceeded))
		fmt.Println("still running:", de.Running[0].Label)
	}
	fmt.Println("after drain:", sched.TryGo(context.Background(), "late", func(context.Context) error { return nil }))
	// Output:
	// deadline exceeded: true
	// still running: stuck-write
	// after drain: fxasync: task "late": scheduler is draining or drained
}

// UsageLog is a resource that background tasks write to.
type UsageLog struct{ closed bool }

func NewUsageLog(lc fx.Lifecycle) *UsageLog {
	u := &UsageLog{}
	lc.Append(fx.StopHook(func() { u.closed = true; fmt.Println("usage log closed") }))
	return u
}

// DrainBefore makes the drain run before a resource that tasks use stops:
// here the handler takes the scheduler first, and the drain still runs
// before the usage log closes.
func ExampleDrainBefore() {
	app := fx.New(
		fx.NopLogger,
		fx.Supply(zap.NewNop()),
		fxasync.Module,
		fxasync.DrainBefore[*UsageLog](),
		fx.Provide(NewUsageLog),
		fx.Invoke(func(sched *fxasync.Scheduler, log *UsageLog) {
			sched.Go(context.Background(), "log-usage", func(ctx context.Context) error {
				<-sched.Draining() // still writing when stop begins
				fmt.Println("usage written; log closed:", log.closed)
				return nil
			})
		}),
	)
	_ = app.Start(context.Background())
	_ = app.Stop(context.Background())
	// Output:
	// usage written; log closed: false
	// usage log closed
}

// The Module provides the scheduler to an fx application, configured by
// the Config supplied to the graph, and drains it on stop.
func ExampleModule() {
	var sched *fxasync.Scheduler
	app := fx.New(
		fx.NopLogger,
		fx.Supply(zap.NewNop(), fxasync.Config{MaxPending: 1_000}),
		fxasync.Module,
		fx.Invoke(func(sched *fxasync.Scheduler) {
			sched.Go(context.Background(), "log-usage", func(context.Context) error { return nil })
		}),
		fx.Populate(&sched), // for the example: read the figures after the stop
	)
	_ = app.Start(context.Background())
	_ = app.Stop(context.Background())
	fmt.Println("drained:", sched.LastDrain().Done, "succeeded:", sched.Stats().Total.Succeeded)
	// Output:
	// drained: true succeeded: 1
}

// A Config sets every bound at once; a zero field is its default, and
// Unbounded turns a bound off.
func ExampleConfig() {
	sched := fxasync.New(fxasync.Config{MaxPending: 1, MaxWait: fxasync.Unbounded, Logger: zap.NewNop()})
	release := make(chan struct{})
	sched.Go(context.Background(), "slow", func(context.Context) error { <-release; return nil })
	err := sched.TryGo(context.Background(), "more", func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, fxasync.ErrFull))
	close(release)
	_ = sched.Drain(context.Background())
	// Output:
	// true
}

// TryGo reports a refusal instead of logging it: answer the request 503
// when the work must not be dropped silently.
func ExampleScheduler_TryGo() {
	sched := fxasync.New(fxasync.Config{MaxPending: 1, Logger: zap.NewNop()})
	release := make(chan struct{})
	_ = sched.TryGo(context.Background(), "cache-set", func(context.Context) error { <-release; return nil })
	if err := sched.TryGo(context.Background(), "cache-set", func(context.Context) error { return nil }); err != nil {
		fmt.Println("503:", errors.Is(err, fxasync.ErrFull))
	}
	close(release)
	_ = sched.Drain(context.Background())
	fmt.Println(sched.Stats().Total.Rejected, "rejected")
	// Output:
	// 503: true
	// 1 rejected
}

// A Batcher writes items in batches, as tasks of the scheduler; the drain
// writes everything it accepted.
func ExampleNewBatcher() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	var written [][]string
	writeRows := func(_ context.Context, rows []string) error { // one transaction per batch
		written = append(written, rows)
		return nil
	}
	usage := fxasync.NewBatcher(sched, "usage-rows", writeRows, fxasync.BatcherConfig{MaxBatch: 2, MaxDelay: time.Hour})
	for _, id := range []string{"req-1", "req-2", "req-3"} {
		if err := usage.Add(context.Background(), id); err != nil {
			fmt.Println("refused:", err) // answer 503: the row was not accepted
		}
	}
	_ = sched.Drain(context.Background()) // writes req-3 too, before the database closes
	fmt.Println(written)
	fmt.Println(errors.Is(usage.TryAdd("late"), fxasync.ErrClosed))
	// Output:
	// [[req-1 req-2] [req-3]]
	// true
}

// LabelLimits gives one label its own bound: a flood on it cannot take the
// slots of the others.
func ExampleConfig_labelLimits() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop(), LabelLimits: map[string]int{"tracing-stream": 1}})
	release := make(chan struct{})
	sched.Go(context.Background(), "tracing-stream", func(context.Context) error { <-release; return nil })
	err := sched.TryGo(context.Background(), "tracing-stream", func(context.Context) error { return nil })
	fmt.Println("second tracing-stream task:", errors.Is(err, fxasync.ErrFull))
	fmt.Println("log-usage task:", sched.TryGo(context.Background(), "log-usage", func(context.Context) error { return nil }))
	close(release)
	_ = sched.Drain(context.Background())
	// Output:
	// second tracing-stream task: true
	// log-usage task: <nil>
}

// printKeeper is a Keeper for the example: it says what it would store.
type printKeeper struct{}

func (printKeeper) Keep(_ context.Context, kind string, items []any) (int, error) {
	fmt.Printf("keeping %d %s: %v\n", len(items), kind, items)
	return len(items), nil
}

// A Keeper takes what a stop leaves unfinished of a Kind's tasks (and of a
// batcher with Keep): here the drain's bound cuts off a slow write, which
// is kept, not lost.
func ExampleKeeper() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop(), DrainTimeout: 10 * time.Millisecond, Grace: -1,
		Keeper: printKeeper{}})
	usage := fxasync.NewKind(sched, "usage-row", func(ctx context.Context, requestID string) error {
		if requestID == "req-2" {
			<-ctx.Done() // the database is slow: the drain's bound cuts it off
			return ctx.Err()
		}
		return nil
	})
	for _, id := range []string{"req-1", "req-2"} {
		_ = usage.Go(context.Background(), id)
	}
	_ = sched.Drain(context.Background())
	fmt.Println(sched.LastDrain().Lost, "- lost:", sched.LastDrain().Lost.Total())
	// Output:
	// keeping 1 usage-row: [req-2]
	// usage-row: kept 1 - lost: 0
}

// A middleware wraps every task: this one tries a failed task once more,
// and the scheduler counts the task once, by what the middleware returns.
func ExampleMiddleware() {
	retryOnce := func(ctx context.Context, t fxasync.TaskInfo, next func(context.Context) error) error {
		if err := next(ctx); err != nil {
			fmt.Printf("%s failed (%v): once more\n", t.Label, err)
			return next(ctx)
		}
		return nil
	}
	s := fxasync.New(fxasync.Config{Logger: zap.NewNop(), Middleware: []fxasync.Middleware{retryOnce}})
	attempts := 0
	s.Go(context.Background(), "cache-set", func(context.Context) error {
		if attempts++; attempts == 1 {
			return errors.New("connection reset")
		}
		return nil
	})
	_ = s.Drain(context.Background())
	st := s.Stats().Total
	fmt.Printf("attempts=%d succeeded=%d failed=%d\n", attempts, st.Succeeded, st.Failed)
	// Output:
	// cache-set failed (connection reset): once more
	// attempts=2 succeeded=1 failed=0
}

// HealthHandler answers 503, naming the label, while a task runs longer
// than the threshold.
func ExampleHealthHandler() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	release := make(chan struct{})
	started := make(chan struct{})
	sched.Go(context.Background(), "stuck-write", func(context.Context) error { close(started); <-release; return nil })
	<-started
	rec := httptest.NewRecorder()
	fxasync.HealthHandler(sched, time.Nanosecond).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var body struct{ Status, Error string }
	_ = json.NewDecoder(rec.Body).Decode(&body)
	fmt.Println(rec.Code, body.Status, strings.Contains(body.Error, `"stuck-write" running for`))
	close(release)
	_ = sched.Drain(context.Background())
	// Output:
	// 503 stuck true
}

// With log/slog: the same messages and keys as with zap.
func ExampleConfig_slog() {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	l := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelWarn}))
	s := fxasync.New(fxasync.Config{Slog: l})
	s.Go(context.Background(), "log-usage", func(context.Context) error { return errors.New("db down") })
	_ = s.Drain(context.Background())
	// Output:
	// level=ERROR msg="async task failed" logger=async-task error="db down" label=log-usage
}

// DebugHandler serves a scheduler's figures: a page for a browser, JSON for
// a program.
func ExampleDebugHandler() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	sched.Go(context.Background(), "usage-rows", func(context.Context) error { return nil })
	_ = sched.Drain(context.Background())

	rec := httptest.NewRecorder()
	fxasync.DebugHandler(sched).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/tasks?format=json", nil))
	var d struct {
		Draining bool `json:"draining"`
		Labels   []struct {
			Label     string `json:"label"`
			Succeeded int64  `json:"succeeded"`
		} `json:"labels"`
	}
	_ = json.NewDecoder(rec.Body).Decode(&d)
	fmt.Println(d.Draining, d.Labels[0].Label, d.Labels[0].Succeeded)
	// Output: true usage-rows 1
}

// A Coalescer writes each key's newest value: while one write of a key
// runs, later values replace each other, and the last one is written next.
func ExampleNewCoalescer() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	first := make(chan struct{})
	release := make(chan struct{})
	cache := map[string]string{}
	set := fxasync.NewCoalescer(sched, "cache-set", func(_ context.Context, key, value string) error {
		if value == "v1" {
			close(first)
			<-release // a slow write: the values after it wait
		}
		cache[key] = value
		fmt.Println("wrote", key, value)
		return nil
	}, fxasync.CoalescerConfig{})
	_ = set.Set(context.Background(), "greeting", "v1")
	<-first
	for _, v := range []string{"v2", "v3", "v4"} {
		_ = set.Set(context.Background(), "greeting", v) // v2 and v3 are replaced
	}
	close(release)
	_ = sched.Drain(context.Background())
	st := sched.Stats().Total
	fmt.Println("cache:", cache["greeting"], "submitted:", st.Submitted, "written:", st.Succeeded, "coalesced:", st.Coalesced)
	// Output:
	// wrote greeting v1
	// wrote greeting v4
	// cache: v4 submitted: 4 written: 2 coalesced: 2
}

// GoKeyed runs one key's tasks one at a time, in order; other keys run
// beside them.
func ExampleScheduler_GoKeyed() {
	sched := fxasync.New(fxasync.Config{Logger: zap.NewNop()})
	var log []string
	for _, step := range []string{"create", "update", "delete"} {
		sched.GoKeyed(context.Background(), "account-sync", "account-42", func(context.Context) error {
			log = append(log, step) // one at a time: no lock needed for one key
			return nil
		})
	}
	_ = sched.Drain(context.Background())
	fmt.Println(strings.Join(log, " → "))
	// Output: create → update → delete
}
