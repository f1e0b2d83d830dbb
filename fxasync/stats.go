package fxasync

// This file holds the figures a Scheduler reports: each type is the
// engine's own, re-exported.

import (
	"fmt"
	"time"

	"github.com/fxtools/background/internal/core"
)

type (
	// LabelStats are the figures of one label, or of all labels together.
	// Pending is admitted and not finished; InFlight is its deprecated name.
	LabelStats = core.LabelStats
	// Durations is the histogram of finished tasks' durations, from
	// submission to return; see DurationBounds.
	Durations = core.Durations
	// Stats is a snapshot of a scheduler's figures: Total, and Labels sorted
	// by label with OverflowLabel last if used.
	Stats = core.Stats
	// TaskInfo names a running task: Label, Age since submission, and Caller
	// (file:line) with WithCallSites.
	TaskInfo = core.TaskInfo
	// DrainError is returned by Drain when it reached its bound; it wraps
	// context.DeadlineExceeded or the drain context's error.
	DrainError = core.DrainError
	// DrainStats describes the last drain, with what the stop lost.
	DrainStats = core.DrainStats
	// LabelLoss is what one label lost in a stop: tasks running at the end,
	// queued and never started, refused since the drain began, or, for a
	// batcher's label, items accepted and not stored.
	LabelLoss = core.LabelLoss
	// Losses are a stop's losses per label; Total sums them.
	Losses = core.Losses
)

// LostError reports that a stop lost work: the Module's drain step returns
// it, so fxshutdown's summary says "async-tasks: lost N" and its Run exits
// with ExitLost.
type LostError struct{ Lost Losses }

func (e *LostError) Error() string {
	return fmt.Sprintf("fxasync: lost %d: [%s]", e.Lost.Total(), e.Lost)
}

// LostTotal is the number of tasks (and batcher items) lost.
func (e *LostError) LostTotal() int { return e.Lost.Total() }

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
	return s.engine().Stats()
}

// LastDrain returns the figures of the drain once it is over; before, Done
// is false.
func (s *Scheduler) LastDrain() DrainStats {
	if s == nil {
		return DrainStats{}
	}
	return s.engine().LastDrain()
}
