package fxasynctest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasynctest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

// exampleT stands in for the *testing.T of a test, so that the examples
// run: it prints failures and runs its cleanups at end.
type exampleT struct {
	testing.TB
	cleanups []func()
	quiet    bool     // keep failures in errs instead of printing them
	errs     []string // with quiet
}

func (t *exampleT) Helper()             {}
func (t *exampleT) Name() string        { return "Example" }
func (t *exampleT) Log(args ...any)     {}
func (t *exampleT) Logf(string, ...any) {}
func (t *exampleT) Cleanup(f func())    { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Errorf(format string, args ...any) {
	if t.quiet {
		t.errs = append(t.errs, fmt.Sprintf(format, args...))
		return
	}
	fmt.Printf("FAIL: "+format+"\n", args...)
}
func (t *exampleT) Fatalf(format string, args ...any) { t.Errorf(format, args...) }
func (t *exampleT) FailNow()                          {}
func (t *exampleT) Failed() bool                      { return false }

// end runs the cleanups, last first, as a test's end does.
func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// A handler's background write, asserted after Wait; the scheduler still
// takes tasks afterwards.
func ExampleWait() {
	t := &exampleT{}
	defer t.end()
	s := fxasynctest.New(t)
	var rows atomic.Int64
	handle := func() { s.Go(context.Background(), "usage", func(context.Context) error { rows.Add(1); return nil }) }

	handle()
	handle()
	fxasynctest.Wait(t, s)
	fmt.Println("rows:", rows.Load())
	handle()
	fxasynctest.Wait(t, s)
	fmt.Println("rows:", rows.Load(), "succeeded:", s.Stats().Total.Succeeded)
	// Output:
	// rows: 2
	// rows: 3 succeeded: 3
}

// A task that fails fails the test at its end, naming the label and the
// error.
func ExampleNew() {
	t := &exampleT{}
	s := fxasynctest.New(t)
	s.Go(context.Background(), "cache-set", func(context.Context) error { return errors.New("redis: connection refused") })
	t.end()
	// Output:
	// FAIL: fxasynctest: 1 task(s) failed, panicked or were refused: "cache-set": 1 failed, 0 panicked, 0 rejected
	// 	async task failed label="cache-set" error="redis: connection refused" (AllowFailures() allows them)
}

// AllowFailures, for a test whose failures are meant; Stats counts them.
func ExampleAllowFailures() {
	t := &exampleT{}
	defer t.end()
	s := fxasynctest.New(t, fxasynctest.AllowFailures())
	s.Go(context.Background(), "cache-set", func(context.Context) error { return errors.New("down") })
	fxasynctest.Wait(t, s)
	fmt.Println("failed:", s.Stats().Total.Failed)
	// Output: failed: 1
}

// DrainTimeout bounds the drain at the test's end: a stuck task fails the
// test, named with its label and where it was submitted.
func ExampleDrainTimeout() {
	t := &exampleT{quiet: true}
	s := fxasynctest.New(t, fxasynctest.DrainTimeout(50*time.Millisecond))
	release := make(chan struct{})
	defer close(release)
	s.Go(context.Background(), "stuck", func(context.Context) error { <-release; return nil })
	t.end()
	fmt.Println(len(t.errs), "failure, naming the task:", strings.Contains(t.errs[0], `stuck: label "stuck", running for`))
	fmt.Println(s.LastDrain().Lost)
	// Output:
	// 1 failure, naming the task: true
	// stuck: 1 (running 1, queued 0, rejected 0)
}

// Inline runs each task before Go returns: order is the submission's.
func ExampleInline() {
	t := &exampleT{}
	defer t.end()
	s := fxasynctest.New(t, fxasynctest.Inline())
	for i := range 3 {
		s.Go(context.Background(), "step", func(context.Context) error { fmt.Println("task", i); return nil })
		fmt.Println("returned", i)
	}
	// Output:
	// task 0
	// returned 0
	// task 1
	// returned 1
	// task 2
	// returned 2
}

// A 30 s retry backoff passes on the test's clock.
func ExampleClock_Advance() {
	t := &exampleT{}
	defer t.end()
	c := fxasynctest.NewClock()
	s := fxasynctest.New(t, fxasynctest.WithClock(c), fxasynctest.WithConfig(fxasync.Config{
		Retry: fxasync.Retry{MaxAttempts: 2, MinBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second},
	}))
	var attempts atomic.Int32
	s.Go(context.Background(), "flaky", func(context.Context) error {
		if attempts.Add(1) == 1 {
			return errors.New("down")
		}
		return nil
	})
	fxasynctest.Wait(t, s) // the first attempt failed; the retry waits for the clock
	fmt.Println("attempts:", attempts.Load())
	c.Advance(30 * time.Second)
	fxasynctest.Wait(t, s)
	fmt.Println("attempts:", attempts.Load(), "succeeded:", s.Stats().Total.Succeeded)
	// Output:
	// attempts: 1
	// attempts: 2 succeeded: 1
}

// WithClock: a batch delay of a minute passes when the test says.
func ExampleWithClock() {
	t := &exampleT{}
	defer t.end()
	c := fxasynctest.NewClock()
	s := fxasynctest.New(t, fxasynctest.WithClock(c))
	var written atomic.Int64
	b := fxasync.NewBatcher(s, "rows", func(_ context.Context, items []int) error { written.Add(int64(len(items))); return nil },
		fxasync.BatcherConfig{MaxDelay: time.Minute})
	_ = b.Add(context.Background(), 1)
	c.Advance(59 * time.Second)
	fmt.Println("after 59 s:", written.Load())
	c.Advance(time.Second)
	fxasynctest.Wait(t, s)
	fmt.Println("after 60 s:", written.Load())
	// Output:
	// after 59 s: 0
	// after 60 s: 1
}

// Module in an fxtest app, in place of fxasync.Module.
func ExampleModule() {
	t := &exampleT{}
	defer t.end()
	var s *fxasync.Scheduler
	app := fxtest.New(t, fx.NopLogger, fxasynctest.Module(t), fx.Populate(&s))
	app.RequireStart()
	s.Go(context.Background(), "usage", func(context.Context) error { return nil })
	app.RequireStop() // drains, as fxasync.Module does
	fmt.Println("succeeded:", s.Stats().Total.Succeeded)
	// Output: succeeded: 1
}

// A Clock moves only when the test advances it.
func ExampleNewClock() {
	c := fxasynctest.NewClock()
	start := c.Now()
	c.Advance(90 * time.Second)
	fmt.Println(c.Now().Sub(start))
	// Output: 1m30s
}

// WithConfig passes the scheduler's own settings.
func ExampleWithConfig() {
	t := &exampleT{}
	defer t.end()
	s := fxasynctest.New(t, fxasynctest.AllowFailures(), fxasynctest.WithConfig(fxasync.Config{MaxPending: 1}))
	release := make(chan struct{})
	s.Go(context.Background(), "slow", func(context.Context) error { <-release; return nil })
	err := s.TryGo(context.Background(), "slow", func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, fxasync.ErrFull))
	close(release)
	// Output: true
}
