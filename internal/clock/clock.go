// Package clock is the timer source of the drain's bound and grace, injected
// so that tests move time on by hand instead of sleeping (as fx's fxclock).
package clock

import (
	"sync"
	"time"
)

// A Clock schedules functions.
type Clock interface {
	// AfterFunc calls f on its own goroutine once d has passed. stop
	// cancels the call if it has not started and reports whether it did.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Real is the wall clock.
var Real Clock = real{}

type real struct{}

func (real) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// Manual is a clock that moves only when Advance is called. Its zero value is
// at time zero with no timers.
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
	m.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
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
