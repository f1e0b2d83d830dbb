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
	"time"

	"github.com/fxtools/background/fxasync"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

func ExampleScheduler_Go() {
	sched := fxasync.New(fxasync.WithLogger(zap.NewNop()))

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
	sched := fxasync.New(
		fxasync.WithLogger(zap.NewNop()),
		fxasync.WithDrainTimeout(50*time.Millisecond),
		fxasync.WithGrace(10*time.Millisecond),
	)
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

// Example shows the Module in an fx application: the handler takes the
// scheduler first, and DrainBefore still drains before the usage log closes.
func Example() {
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

// A Config is an Option: supply one, or the With* options, which are Configs
// with one field set.
func ExampleConfig() {
	sched := fxasync.New(fxasync.Config{MaxInFlight: 1, Logger: zap.NewNop()})
	release := make(chan struct{})
	sched.Go(context.Background(), "slow", func(context.Context) error { <-release; return nil })
	err := sched.TryGo(context.Background(), "more", func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, fxasync.ErrFull))
	fmt.Println(fxasync.WithMaxInFlight(1) == fxasync.Option(fxasync.Config{MaxInFlight: 1}))
	close(release)
	_ = sched.Drain(context.Background())
	// Output:
	// true
	// true
}

// A Batcher writes items in batches, as tasks of the scheduler; the drain
// writes everything it accepted.
func ExampleNewBatcher() {
	sched := fxasync.New(fxasync.WithLogger(zap.NewNop()))
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

// WithLabelLimit gives one label its own bound: a flood on it cannot take
// the slots of the others.
func ExampleWithLabelLimit() {
	sched := fxasync.New(fxasync.WithLogger(zap.NewNop()), fxasync.WithLabelLimit("tracing-stream", 1))
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

// A hand-off to a durable queue (fxasyncriver) registers its figures with
// the scheduler, where exporters read them without depending on the queue.
func ExampleScheduler_HandOffs() {
	s := fxasync.New()
	s.AddHandOff(func() []fxasync.HandOffStats {
		return []fxasync.HandOffStats{{Kind: "usage-row", Fast: 41, ClaimsLost: 1, ByQueue: 1}}
	})
	for _, h := range s.HandOffs() {
		fmt.Printf("%s: fast %d, by the queue %d\n", h.Kind, h.Fast, h.ByQueue)
	}
	// Output:
	// usage-row: fast 41, by the queue 1
}

// A middleware runs around every task: here it times each one by label.
func ExampleWithMiddleware() {
	timing := func(ctx context.Context, t fxasync.TaskStart) (context.Context, func(fxasync.TaskEnd)) {
		return ctx, func(e fxasync.TaskEnd) {
			fmt.Printf("%s ended: err=%v panicked=%v\n", t.Label, e.Err, e.Panicked)
		}
	}
	s := fxasync.New(fxasync.WithLogger(zap.NewNop()), fxasync.WithMiddleware(timing))
	s.Go(context.Background(), "log-usage", func(context.Context) error { return nil })
	_ = s.Drain(context.Background())
	// Output:
	// log-usage ended: err=<nil> panicked=false
}

// With log/slog: the same messages and keys as with zap.
func ExampleWithSlog() {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	l := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelWarn}))
	s := fxasync.New(fxasync.WithSlog(l))
	s.Go(context.Background(), "log-usage", func(context.Context) error { return errors.New("db down") })
	_ = s.Drain(context.Background())
	// Output:
	// level=ERROR msg="async task failed" logger=async-task error="db down" label=log-usage
}

// DebugHandler serves a scheduler's figures: a page for a browser, JSON for
// a program.
func ExampleDebugHandler() {
	sched := fxasync.New(fxasync.WithLogger(zap.NewNop()))
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
