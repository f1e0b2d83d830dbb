package fxasynctest_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/fxasynctest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// store is what a handler's background work writes to.
type store struct {
	mu   sync.Mutex
	rows []string
}

func (s *store) add(r string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, r)
}

// batcher writes to s in batches of an hour's delay.
func (s *store) batcher(sched *fxasync.Scheduler) *fxasync.Batcher[string] {
	return fxasync.NewBatcher(sched, "rows", func(_ context.Context, items []string) error {
		for _, it := range items {
			s.add(it)
		}
		return nil
	}, fxasync.BatcherConfig{MaxDelay: time.Hour})
}

func (s *store) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rows...)
}

// A handler fires a write; the test asserts after Wait, submits again on
// the same scheduler and waits again.
func TestWaitThenAssertAndGoOn(t *testing.T) {
	s := fxasynctest.New(t)
	db := &store{}
	handle := func(id string) {
		s.Go(context.Background(), "usage", func(context.Context) error { time.Sleep(time.Millisecond); db.add(id); return nil })
	}
	handle("a")
	handle("b")
	fxasynctest.Wait(t, s)
	assert.ElementsMatch(t, []string{"a", "b"}, db.all())
	handle("c")
	fxasynctest.Wait(t, s)
	assert.Len(t, db.all(), 3)
	assert.EqualValues(t, 3, s.Stats().Total.Succeeded)
}

// Wait writes what a batcher holds at once, not after MaxDelay.
func TestWaitWritesBatchers(t *testing.T) {
	s := fxasynctest.New(t)
	db := &store{}
	b := db.batcher(s)
	require.NoError(t, b.Add(context.Background(), "x"))
	require.NoError(t, b.Add(context.Background(), "y"))
	fxasynctest.Wait(t, s)
	assert.Equal(t, []string{"x", "y"}, db.all())
}

// Under Inline, Go runs the task before it returns, in order; a panic is
// still recovered and counted; a batcher's Add writes before it returns.
func TestInlineRunsOnTheCaller(t *testing.T) {
	s := fxasynctest.New(t, fxasynctest.Inline(), fxasynctest.AllowFailures())
	var order []int
	for i := range 5 {
		s.Go(context.Background(), "step", func(context.Context) error { order = append(order, i); return nil })
		assert.Len(t, order, i+1, "ran before Go returned")
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4}, order)
	require.NoError(t, s.TryGo(context.Background(), "boom", func(context.Context) error { panic("boom") }))
	assert.EqualValues(t, 1, statsOf(s, "boom").Panicked, "recovered and counted before TryGo returned")

	db := &store{}
	b := db.batcher(s)
	require.NoError(t, b.Add(context.Background(), "x"))
	assert.Equal(t, []string{"x"}, db.all(), "written before Add returned")
	require.NoError(t, b.TryAdd("y"))
	assert.Equal(t, []string{"x", "y"}, db.all())
}

func statsOf(s *fxasync.Scheduler, label string) fxasync.LabelStats {
	for _, l := range s.Stats().Labels {
		if l.Label == label {
			return l
		}
	}
	return fxasync.LabelStats{}
}

// A 30 s batch delay and a 30 s backoff pass on the test's clock, in far
// less wall time than 30 s.
func TestClockMovesDelaysAndBackoff(t *testing.T) {
	began := time.Now()
	c := fxasynctest.NewClock()
	s := fxasynctest.New(t, fxasynctest.WithClock(c), fxasynctest.WithConfig(fxasync.Config{
		Retry: fxasync.Retry{MaxAttempts: 2, MinBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second},
	}))
	var writes atomic.Int32
	b := fxasync.NewBatcher(s, "rows", func(context.Context, []int) error { writes.Add(1); return nil },
		fxasync.BatcherConfig{MaxDelay: 30 * time.Second})
	require.NoError(t, b.Add(context.Background(), 1))
	c.Advance(29 * time.Second)
	assert.Zero(t, writes.Load(), "29 s: the delay has not passed")
	c.Advance(time.Second)
	fxasynctest.Wait(t, s)
	assert.EqualValues(t, 1, writes.Load(), "30 s: written")

	var attempts atomic.Int32
	s.Go(context.Background(), "flaky", func(context.Context) error {
		if attempts.Add(1) == 1 {
			return errors.New("down")
		}
		return nil
	})
	fxasynctest.Wait(t, s) // the first attempt failed; the retry waits for the clock
	assert.EqualValues(t, 1, attempts.Load())
	c.Advance(30 * time.Second)
	fxasynctest.Wait(t, s)
	assert.EqualValues(t, 2, attempts.Load())
	assert.EqualValues(t, 1, statsOf(s, "flaky").Succeeded)
	took := time.Since(began)
	t.Logf("a 30 s delay and a 30 s backoff took %v of wall time", took)
	assert.Less(t, took, 30*time.Second, "no real 30 s passed")
}

// CheckStuck's threshold and a task's age read the test's clock.
func TestClockAgesTasks(t *testing.T) {
	c := fxasynctest.NewClock()
	s := fxasynctest.New(t, fxasynctest.WithClock(c))
	release := make(chan struct{})
	started := make(chan struct{})
	s.Go(context.Background(), "slow", func(context.Context) error { close(started); <-release; return nil })
	<-started
	assert.NoError(t, s.CheckStuck(time.Minute))
	c.Advance(2 * time.Minute) // returns at once: a running task is not waited for
	var stuck *fxasync.StuckError
	require.ErrorAs(t, s.CheckStuck(time.Minute), &stuck)
	require.Len(t, stuck.Stuck, 1)
	assert.Equal(t, "slow", stuck.Stuck[0].Label)
	assert.Equal(t, 2*time.Minute, stuck.Stuck[0].Age)
	close(release)
}
