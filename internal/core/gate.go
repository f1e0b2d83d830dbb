package core

import (
	"runtime"
	"sync/atomic"
)

// The gate admits tasks and ends the drain. It owns the state word:
//
//	        Drain begins               the count reaches zero
//	open ────────────────▶ draining ──────────────────────────▶ closed
//	                           │       or the drain gives up        ▲
//	                           └────────────────────────────────────┘
//
// Invariant: the low bits of the state word count admitted, unfinished
// tasks; a task is counted from its admission to its end, so a count of zero
// while draining means every admitted task has finished. The drain ends
// exactly once, at that zero (the compare-and-swap in endAtZero) or when it gives
// up (close). While open, admission is one load and one add. While draining,
// only follow-ups are admitted: the caller vouches (see enterFollowUp).
//
// The gate also holds the engine's global slots (see limits.go) beside the
// state word: a task's admission and its end each move that one cache line
// between cores, not two.
type gate struct {
	state  atomic.Int64
	global sema // the limits' global slots; exactly fills the state's line

	draining  chan struct{} // closed when the drain begins
	woken     chan struct{} // closed to wake Drain: drained, bound or ctx
	isWoken   atomic.Bool
	drained   chan struct{} // closed when the count reached zero while draining
	endedAt   atomic.Int64  // clock reading at that zero; 0 before
	onDrained func()        // runs once after the drain ended at zero
	now       func() int64  // the engine's clock reading, for a refused submission's leave
}

const (
	drainingBit = int64(1) << 62
	closedBit   = int64(1) << 61
	countMask   = closedBit - 1
)

// newGate returns an open gate whose global slots number limit (0: unbounded).
func newGate(limit int, now func() int64, onDrained func()) *gate {
	return &gate{global: sema{limit: int64(max(limit, 0))}, draining: make(chan struct{}),
		woken: make(chan struct{}), drained: make(chan struct{}), onDrained: onDrained, now: now}
}

// enter counts a task in while the gate is open, and reports whether it did.
func (g *gate) enter() bool {
	// A visible drain refuses without touching the count, so Pending stays
	// exact; the add settles a race with the drain's start.
	if g.state.Load()&(drainingBit|closedBit) != 0 {
		return false
	}
	if g.state.Add(1)&(drainingBit|closedBit) == 0 {
		return true
	}
	g.leave(g.now())
	return false
}

// enterFollowUp counts in a task submitted during the drain by a task that
// is still running. That task's own count keeps the drain from ending while
// this one is added, so the new task is waited for too.
func (g *gate) enterFollowUp() bool {
	if g.state.Add(1)&closedBit == 0 {
		return true
	}
	g.leave(g.now())
	return false
}

// leave counts a task out; at is the clock reading when it ended. The last
// one out of a drain ends it: it wakes Drain, lets it run, then tidies up.
func (g *gate) leave(at int64) {
	if g.state.Add(-1) == drainingBit {
		g.endAtZero(at)
	}
}

// endAtZero ends the drain if the count is zero and it has not ended: the
// compare-and-swap lets exactly one caller through.
func (g *gate) endAtZero(at int64) {
	if !g.state.CompareAndSwap(drainingBit, drainingBit|closedBit) {
		return
	}
	g.endedAt.Store(max(at, 1))
	g.wake()
	runtime.Gosched() // let the woken Drain return before this goroutine tidies up
	close(g.drained)
	g.onDrained()
}

// beginDrain moves the gate to draining; at is the clock reading. With
// nothing pending the drain ends at once. The count is never raised here,
// so Pending read meanwhile stays exact: a task that leaves after the bit
// is set ends the drain itself, and one count of zero is ended here.
func (g *gate) beginDrain(at int64) {
	g.state.Or(drainingBit)
	close(g.draining) // after the bit: whoever sees it closed is refused
	g.endAtZero(at)
}

// close refuses every later submission, whatever the count.
func (g *gate) close() { g.state.Or(closedBit) }

// wake wakes Drain, once.
func (g *gate) wake() {
	if g.isWoken.CompareAndSwap(false, true) {
		close(g.woken)
	}
}

// pending is the number of admitted, unfinished tasks. While a submission is
// being refused during a drain it may read one too many.
func (g *gate) pending() int { return int(g.state.Load() & countMask) }

// ended reports whether the drain ended at zero.
func (g *gate) ended() bool { return g.endedAt.Load() != 0 }
