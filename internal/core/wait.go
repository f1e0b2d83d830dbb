package core

// This file holds where tasks wait for their next attempt: one heap of
// tasks ordered by when they are due, and one timer armed for the earliest.
// A waiting task is its record in the heap, not a goroutine or a timer; it
// keeps its slots and its place in the drain's count, so the bounds stay
// the bounds and the drain waits for it.

import (
	"sync"
	"time"

	"github.com/fxtools/background/internal/clock"
)

// waits is the heap.
//
// Invariant: armed is the due time of the one armed timer, 0 when none;
// whenever the heap is not empty a timer is armed at or before its head's
// due time, so no task waits past its due time for want of a timer (unless
// the clock stops). Arming an earlier one stops the one before; one that
// fired as it was stopped finds nothing due, or re-arms.
type waits struct {
	mu     sync.Mutex
	heap   []*task // min-heap by ext.due
	armed  int64
	stop   func() bool // stops the armed timer
	closed bool        // the drain gave up: nothing waits any more

	clock func() clock.Clock
	now   func() int64
	run   func(*task) // back to the pool
}

// add makes t wait until t.ext.due, and reports whether it does: once the
// drain has given up, nothing waits.
func (w *waits) add(t *task) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.heap = append(w.heap, t)
	w.up(len(w.heap) - 1)
	w.armLocked(w.now())
	w.mu.Unlock()
	return true
}

// armLocked arms a timer for the head when none is armed early enough.
func (w *waits) armLocked(now int64) {
	if len(w.heap) == 0 {
		return
	}
	due := w.heap[0].ext.due
	if w.armed != 0 && w.armed <= due {
		return
	}
	if w.stop != nil {
		w.stop()
	}
	w.armed = due
	w.stop = w.clock().AfterFunc(time.Duration(max(0, due-now)), func() { w.fire(due) })
}

// fire runs every task due by the timer's time (or the clock's, if later)
// and arms the next timer.
func (w *waits) fire(at int64) {
	w.mu.Lock()
	if w.armed == at {
		w.armed, w.stop = 0, nil
	}
	now := max(w.now(), at)
	var due []*task
	for len(w.heap) > 0 && w.heap[0].ext.due <= now {
		due = append(due, w.pop())
	}
	w.armLocked(now)
	w.mu.Unlock()
	for _, t := range due {
		w.run(t)
	}
}

// takeAll empties the heap; with close, nothing may wait from then on.
func (w *waits) takeAll(close bool) []*task {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.heap
	w.heap = nil
	w.closed = w.closed || close
	return out
}

// Len is how many tasks wait.
func (w *waits) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.heap)
}

func (w *waits) pop() *task {
	h := w.heap
	t := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = nil
	w.heap = h[:last]
	w.down(0)
	return t
}

func (w *waits) up(i int) {
	h := w.heap
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].ext.due <= h[i].ext.due {
			return
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

func (w *waits) down(i int) {
	h := w.heap
	for {
		least := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(h) && h[c].ext.due < h[least].ext.due {
				least = c
			}
		}
		if least == i {
			return
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
}
