package fxasynctest

// This file holds the test's clock.

import (
	"sync"
	"time"

	"github.com/fxtools/background/fxasync"
	"github.com/fxtools/background/fxasync/internal/kit"
	"github.com/fxtools/background/internal/clock"
)

// A Clock is time that moves only when the test says: pass it to New with
// WithClock. It is safe for concurrent use.
type Clock struct {
	m clock.Manual

	mu     sync.Mutex
	scheds []attached
}

type attached struct {
	s     *fxasync.Scheduler
	bound time.Duration
}

// NewClock returns a Clock at its epoch with no timers.
func NewClock() *Clock { return &Clock{} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return c.m.Now() }

// Advance moves the clock on by d, running every timer that falls due on
// the way at its own time, in order — a batch delay, a retry's backoff, the
// drain's bound — and the timers those set: after each timer it waits (at
// most DrainTimeout, in wall time) for the tasks that timer started, so a
// retry that fails again sets its next backoff before the time moves on.
// It does not wait for work already under way when it is called: call Wait
// first when a task is about to fail and wait for its retry. What the last
// timer starts may still be running when Advance returns: call Wait to see
// it done.
func (c *Clock) Advance(d time.Duration) {
	target := c.m.Elapsed() + max(d, 0)
	before := c.busy()
	for c.m.StepTo(target) {
		c.settle(before)
	}
}

func (c *Clock) attach(s *fxasync.Scheduler, bound time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scheds = append(c.scheds, attached{s, bound})
}

// busy is, per scheduler on the clock, its tasks running or queued: what
// is pending and not waiting for a retry.
func (c *Clock) busy() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := make([]int, len(c.scheds))
	for i, a := range c.scheds {
		e := kit.Of(a.s).Engine()
		n[i] = e.Pending() - e.Retrying()
	}
	return n
}

// settle waits until no scheduler has more tasks running or queued than
// before: what a timer started has ended or waits for a retry.
func (c *Clock) settle(before []int) {
	c.mu.Lock()
	scheds := append([]attached(nil), c.scheds...)
	c.mu.Unlock()
	for i, a := range scheds {
		limit := 0
		if i < len(before) {
			limit = before[i]
		}
		e := kit.Of(a.s).Engine()
		poll(a.bound, func() bool { return e.Pending()-e.Retrying() <= limit })
	}
}

// release moves the clock on, an hour at a time, until done has a value
// (and puts it back): at the end of a test whose drain gave up in wall
// time, its grace waits on the clock.
func (c *Clock) release(done chan error) {
	for {
		select {
		case err := <-done:
			done <- err
			return
		case <-time.After(time.Millisecond):
			c.m.Advance(time.Hour)
		}
	}
}

// poll calls ready until it reports true or bound has passed, and reports
// which.
func poll(bound time.Duration, ready func() bool) bool {
	deadline := time.Now().Add(bound)
	for pause := 20 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		if ready() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
	}
}
