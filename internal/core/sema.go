package core

// This file holds the counting semaphore behind the limits.

import (
	"sync"
	"sync/atomic"
)

// sema is a counting semaphore whose uncontended take is one compare-and-swap
// and give one atomic add (a channel's are a lock each). Waiting is the slow path:
// waiters queue in order and each give wakes at most one.
//
// Invariant (no lost wake-up): a waiter counts itself in waiting, then tries
// again, then sleeps; a giver gives its slot back, then reads waiting. Each
// side writes, then reads the other's word, so either the waiter's retry
// sees the slot or the giver sees the waiter and wakes one. A waiter that
// was woken but leaves without a slot (timeout, ctx) passes the wake on.
type sema struct {
	taken   atomic.Int64 // first: it shares a cache line with what precedes it
	limit   int64        // 0: unbounded
	waiting atomic.Int64
	mu      sync.Mutex
	queue   []chan struct{} // sleeping waiters, oldest first; each closed at most once
}

// bounded reports whether s bounds anything: a limit of 0 does not.
func (s *sema) bounded() bool { return s.limit > 0 }

// tryTake takes a slot if one is free. A compare-and-swap, not an add and
// an undo: a failed take never counts, so it neither refuses another taker
// spuriously nor has a wake-up to make.
func (s *sema) tryTake() bool {
	if !s.bounded() {
		return true
	}
	for {
		n := s.taken.Load()
		if n >= s.limit {
			return false
		}
		if s.taken.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// give returns a slot and wakes one waiter, if any.
func (s *sema) give() {
	if !s.bounded() {
		return
	}
	s.taken.Add(-1)
	if s.waiting.Load() > 0 {
		s.wakeOne()
	}
}

func (s *sema) wakeOne() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		close(s.queue[0])
		s.queue = s.queue[1:]
	}
}

// enqueue counts a waiter in and returns its wake channel, or nil when a
// slot was free after all (it is then taken).
func (s *sema) enqueue() chan struct{} {
	s.waiting.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tryTake() {
		s.waiting.Add(-1)
		return nil
	}
	ch := make(chan struct{})
	s.queue = append(s.queue, ch)
	return ch
}

// leave counts a waiter out that gives up: it leaves the queue, or, woken
// already, passes the wake on.
func (s *sema) leave(ch chan struct{}) {
	s.waiting.Add(-1)
	s.mu.Lock()
	for i, c := range s.queue {
		if c == ch {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	s.wakeOne() // it was woken: the wake was for a slot it will not take
}

// woken counts a waiter out that was woken; it then tries again.
func (s *sema) woken() { s.waiting.Add(-1) }

// cap is the bound, for messages.
func (s *sema) cap() int { return int(s.limit) }
