// Package clock is the time source of everything time-based in the library
// (the drain's bound and grace, retry backoff, a batcher's delay, task ages),
// injected so that tests move time on by hand instead of sleeping (as fx's
// fxclock).
package clock

import (
	"sync"
	"time"
)

// A Clock tells the time and schedules functions.
type Clock interface {
	// Now is the current time; only differences between readings count.
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed. stop
	// cancels the call if it has not started and reports whether it did.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Real is the wall clock.
var Real Clock = real{}

type real struct{}

func (real) Now() time.Time                                  { return time.Now() }
func (real) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// Manual is a clock that moves only when Advance is called. Its zero value is
// at its epoch (the Unix epoch) with no timers.
type Manual struct {
	mu      sync.Mutex
	now     time.Duration
	timers  []*manualTimer
	changed chan struct{} // closed and replaced when a timer is added
}

type manualTimer struct {
	at time.Duration
	f  func()
}

// Now is the epoch plus every Advance so far.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Unix(0, 0).Add(m.now)
}

// AfterFunc schedules f at now + d.
func (m *Manual) AfterFunc(d time.Duration, f func()) func() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTimer{at: m.now + d, f: f}
	m.timers = append(m.timers, t)
	m.notify()
	return func() bool { return m.remove(t) }
}

func (m *Manual) notify() {
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

func (m *Manual) remove(t *manualTimer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.timers {
		if x == t {
			m.timers = append(m.timers[:i], m.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock on by d and runs, on its own goroutine each, every
// timer that is then due.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.now += d
	due := m.takeDueLocked()
	m.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
}

// takeDueLocked removes and returns the timers due by now, in the order
// they were set.
func (m *Manual) takeDueLocked() []*manualTimer {
	var due []*manualTimer
	kept := m.timers[:0]
	for _, t := range m.timers {
		if t.at <= m.now {
			due = append(due, t)
		} else {
			kept = append(kept, t)
		}
	}
	m.timers = kept
	return due
}

// WaitForTimers blocks until at least n timers are scheduled: a test's way
// to know that the code under test has reached the point where it waits.
func (m *Manual) WaitForTimers(n int) {
	for {
		m.mu.Lock()
		if len(m.timers) >= n {
			m.mu.Unlock()
			return
		}
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		ch := m.changed
		m.mu.Unlock()
		<-ch
	}
}

// StepTo moves the clock to its earliest timer due by target, runs every
// timer due then on the caller's goroutine, in the order they were set, and
// reports true; with none due by target it moves the clock to target (if
// later) and reports false. Calling it until it reports false runs each
// timer at its own time, and the timers those set, in time order.
func (m *Manual) StepTo(target time.Duration) bool {
	m.mu.Lock()
	at, found := target, false
	for _, t := range m.timers {
		if t.at <= at {
			at, found = t.at, true
		}
	}
	if !found {
		m.now = max(m.now, target)
		m.mu.Unlock()
		return false
	}
	m.now = max(m.now, at)
	due := m.takeDueLocked()
	m.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return true
}

// Elapsed is the time Advance and StepTo have moved the clock on.
func (m *Manual) Elapsed() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}
