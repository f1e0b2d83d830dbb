package fxasync

// This file holds the figures a Scheduler reports, and their conversion
// from the engine's.

import (
	"time"

	"github.com/fxtools/background/internal/core"
)

// Stats is a snapshot of a scheduler's figures.
type Stats struct {
	Total  LabelStats   // sums over all labels; Label is empty
	Labels []LabelStats // sorted by label; OverflowLabel last if used
}

// LabelStats are the figures of one label, or of all labels together.
// Once no task is pending, Submitted = Rejected + Succeeded + Failed +
// Panicked + HandedOff + Coalesced.
type LabelStats struct {
	Label     string // empty in Stats.Total
	Submitted int64  // calls to Go and TryGo whose admission is decided, rejected ones included
	Waiting   int64  // calls to Go waiting for a slot now: not yet submitted, not pending
	Rejected  int64  // refused: nil fn, draining, full
	Succeeded int64  // returned nil
	Failed    int64  // returned an error, or called runtime.Goexit
	Panicked  int64
	HandedOff int64 // cut off by the drain's bound, their work kept elsewhere (ErrHandedOff)
	Coalesced int64 // a Coalescer's values replaced by a newer one of their key before being written
	Pending   int64 // admitted and not finished, those waiting for a retry included
	// Retries counts attempts after the first (see Retry): a label's
	// attempts are Submitted - Rejected - the never started + Retries.
	Retries int64
	// GaveUp counts tasks that ended failed, panicked or handed off while
	// their error was retryable: past MaxAttempts or MaxElapsed, over the
	// budget (OverBudget counts those), or at the drain's bound.
	GaveUp     int64
	OverBudget int64
	Durations  Durations // of finished tasks, from submission to return
}

// Durations is the histogram of finished tasks' durations, from submission
// to return: Counts[i] tasks took at most DurationBounds[i] (and more than
// the bound before), the last count those longer than every bound.
type Durations struct {
	Counts []int64
	Sum    time.Duration
}

// DurationBounds are the upper bounds of the buckets of Durations: from half
// a millisecond to a minute, fit for background I/O.
var DurationBounds = append([]time.Duration(nil), core.DurationBounds...)

// Stats returns totals and per-label figures. Each counter is read atomically;
// the snapshot as a whole is not, so figures read during activity may be off
// by the tasks that moved while it was taken (Pending is never negative).
func (s *Scheduler) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	st := s.engine().Stats()
	out := Stats{Total: labelStats(st.Total), Labels: make([]LabelStats, len(st.Labels))}
	for i, l := range st.Labels {
		out.Labels[i] = labelStats(l)
	}
	return out
}

func labelStats(l core.LabelStats) LabelStats {
	return LabelStats{Label: l.Label, Submitted: l.Submitted, Waiting: l.Waiting, Rejected: l.Rejected,
		Succeeded: l.Succeeded, Failed: l.Failed, Panicked: l.Panicked, HandedOff: l.HandedOff, Coalesced: l.Coalesced, Pending: l.Pending,
		Retries: l.Retries, GaveUp: l.GaveUp, OverBudget: l.OverBudget, Durations: Durations(l.Durations)}
}
