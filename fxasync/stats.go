package fxasync

import (
	"time"

	"github.com/fxtools/background/internal/core"
)

// LabelStats are the figures of one label, or of all labels together.
type LabelStats struct {
	Label     string
	Submitted int64 // calls to Go and TryGo, refused ones included
	Rejected  int64 // refused: nil fn, draining, full
	Succeeded int64 // returned nil
	Failed    int64 // returned an error, or called runtime.Goexit
	Panicked  int64
	InFlight  int64 // admitted and not finished
	Durations Durations
}

// DurationBounds are the upper bounds of the buckets of Durations: from half
// a millisecond to a minute, fit for background I/O.
var DurationBounds = append([]time.Duration(nil), core.DurationBounds...)

// Durations is the histogram of finished tasks' durations, from submission
// to return. Counts[i] counts tasks that took at most DurationBounds[i] and
// more than the bound before it; the last count is the rest (+Inf).
type Durations struct {
	Counts []int64
	Sum    time.Duration
}

// Stats is a snapshot of a scheduler's figures.
type Stats struct {
	Total  LabelStats   // sums over all labels; Label is empty
	Labels []LabelStats // sorted by label; OverflowLabel last if used
}

// Stats returns totals and per-label figures. Each counter is read atomically;
// the snapshot as a whole is not, so figures read during activity may be off
// by the tasks that moved while it was taken (InFlight is never negative).
func (s *Scheduler) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	cs := s.engine().Stats()
	out := Stats{Total: labelStats(cs.Total), Labels: make([]LabelStats, len(cs.Labels))}
	for i, l := range cs.Labels {
		out.Labels[i] = labelStats(l)
	}
	return out
}

func labelStats(l core.LabelStats) LabelStats {
	return LabelStats{Label: l.Label, Submitted: l.Submitted, Rejected: l.Rejected,
		Succeeded: l.Succeeded, Failed: l.Failed, Panicked: l.Panicked, InFlight: l.Running,
		Durations: Durations(l.Durations)}
}

// TaskInfo names a running task.
type TaskInfo struct {
	Label  string
	Age    time.Duration // since the task was submitted
	Caller string        // file:line that submitted it, with WithCallSites
}

func taskInfos(ts []core.TaskInfo) []TaskInfo {
	out := make([]TaskInfo, len(ts))
	for i, t := range ts {
		out[i] = TaskInfo(t)
	}
	return out
}

// DrainError is returned by Drain when it reached its bound.
type DrainError struct {
	Cause     error      // context.DeadlineExceeded, or the drain context's error
	Cancelled int        // tasks pending at the bound; their contexts were cancelled
	AtBound   []TaskInfo // tasks running at the bound, oldest first
	Running   []TaskInfo // still running after the grace, oldest first
	Queued    int        // admitted but not started after the grace
	msg       string
}

func newDrainError(e *core.DrainError) *DrainError {
	return &DrainError{Cause: e.Cause, Cancelled: e.Cancelled, AtBound: taskInfos(e.AtBound), Running: taskInfos(e.Running),
		Queued: e.Queued, msg: "fxasync: " + e.Error()}
}

func (e *DrainError) Error() string { return e.msg }

// Unwrap returns Cause.
func (e *DrainError) Unwrap() error { return e.Cause }

// DrainStats describes the last drain.
type DrainStats struct {
	Done      bool          // a drain has finished
	Duration  time.Duration // from its start to the last task's end, or to giving up
	Abandoned int           // tasks still pending when it returned
}

// LastDrain returns the figures of the drain once it is over; before, Done
// is false.
func (s *Scheduler) LastDrain() DrainStats {
	if s == nil {
		return DrainStats{}
	}
	return DrainStats(s.engine().LastDrain())
}
