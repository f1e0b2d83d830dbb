package core

// This file holds the figures: per-label counters and their snapshot types.

import (
	"context"
	"sync/atomic"
)

// Counters are one label's running totals, its slots and the state of its
// rejection lines. The counters that both submitters and workers write, and
// the slots' count, share the first cache line: one line moves between cores
// per task, not two.
type Counters struct {
	submitted, rejected, succeeded, failed, panicked atomic.Int64
	waiting                                          atomic.Int64 // submitters waiting for a slot
	slots                                            sema         // bound on pending tasks; limit 0: none
	durations                                        histogram
	lastRejectLog                                    atomic.Int64 // clock reading of the last line; 0: none yet
	rejectLogged                                     atomic.Int64 // rejected, as of that line
	refusedAtDrain                                   atomic.Int64 // rejected when the drain began
	handedOff                                        atomic.Int64 // rare: only a stop's cut tasks
	// Retries, all rare: retries decided; tasks whose retries ended before
	// success (gaveUp), of them those the budget ended (overBudget) and
	// those the drain ended and no keeper kept (lostRetry).
	retries, gaveUp, overBudget, lostRetry atomic.Int64
	lostRetryAtBound                       atomic.Int64 // lostRetry when the drain gave up
	coalesced                              atomic.Int64 // replaced by a newer submission, unrun (tickets)
	retry                                  *labelRetry  // nil: the label's tasks are not retried
	scope                                  *scope       // the engine's: its tasks' stop context
	_                                      [64]byte
}

func newCounters(limit int, retry RetryPolicy, s *scope) *Counters {
	c := &Counters{retry: newLabelRetry(retry), scope: s}
	c.slots.limit = int64(max(limit, 0))
	return c
}

// LabelStats are the figures of one label, or of all labels together.
type LabelStats struct {
	Label      string // empty in Stats.Total
	Submitted  int64  // calls to Go and TryGo whose admission is decided, refused ones included
	Waiting    int64  // calls to Go waiting for a slot now: not yet submitted, not pending
	Rejected   int64  // refused: nil fn, draining, full
	Succeeded  int64  // returned nil
	Failed     int64  // returned an error, or called runtime.Goexit
	Panicked   int64
	HandedOff  int64     // cut off by the drain and handed to the keeper (ErrHandedOff)
	Coalesced  int64     // replaced by a newer submission of their key before they ran
	Retries    int64     // attempts after the first: failures tried again
	GaveUp     int64     // failed, panicked or handed off with retries left untried: past MaxAttempts, MaxElapsed, the budget or the drain's bound
	OverBudget int64     // of GaveUp, those the retry budget ended
	Pending    int64     // admitted and not finished
	Durations  Durations // of finished tasks, from submission to return
}

// snapshot reads outcomes before submissions, so Pending is never negative.
func (c *Counters) snapshot(label string) LabelStats {
	s := LabelStats{Label: label, Rejected: c.rejected.Load(), Succeeded: c.succeeded.Load(),
		Failed: c.failed.Load(), Panicked: c.panicked.Load(), HandedOff: c.handedOff.Load(), Waiting: c.waiting.Load(),
		Coalesced: c.coalesced.Load(),
		Retries:   c.retries.Load(), GaveUp: c.gaveUp.Load(), OverBudget: c.overBudget.Load(),
		Durations: c.durations.snapshot()}
	s.Submitted = c.submitted.Load()
	s.Pending = s.Submitted - s.Rejected - s.Succeeded - s.Failed - s.Panicked - s.HandedOff - s.Coalesced
	return s
}

func (s *LabelStats) add(o LabelStats) {
	s.Submitted += o.Submitted
	s.Rejected += o.Rejected
	s.Succeeded += o.Succeeded
	s.Failed += o.Failed
	s.Panicked += o.Panicked
	s.HandedOff += o.HandedOff
	s.Coalesced += o.Coalesced
	s.Retries += o.Retries
	s.GaveUp += o.GaveUp
	s.OverBudget += o.OverBudget
	s.Pending += o.Pending
	s.Waiting += o.Waiting
	s.Durations = s.Durations.add(o.Durations)
}

// Stats is a snapshot of a scheduler's figures.
type Stats struct {
	Total  LabelStats   // sums over all labels; Label is empty
	Labels []LabelStats // sorted by label; OverflowLabel last if used
}

// scope is what an engine's tasks share: the context the drain cancels.
type scope struct{ stop context.Context }
