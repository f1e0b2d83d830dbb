package fxasync

// This file holds what a Scheduler reports about running tasks and drains,
// and its conversion from the engine's.

import (
	"errors"
	"fmt"
	"time"

	"github.com/fxtools/background/internal/core"
)

// TaskInfo names a task: a running one (Running, a DrainError), or one
// starting (a Middleware's).
type TaskInfo struct {
	Label  string
	Age    time.Duration // since the task was submitted
	Caller string        // file:line that submitted it, with Config.CallSites
}

// DrainError is returned by Drain when it reached its bound. It wraps the
// cause: context.DeadlineExceeded, or the error of the drain's context.
type DrainError struct {
	Cause     error      // context.DeadlineExceeded, or the drain context's error
	Cancelled int        // tasks pending at the bound; their contexts were cancelled
	AtBound   []TaskInfo // tasks running at the bound, oldest first
	Running   []TaskInfo // still running after the grace, oldest first
	Queued    int        // admitted but not started after the grace
	Lost      Losses     // per label, as the drain gave up
}

func (e *DrainError) Error() string {
	return (&core.DrainError{Cause: e.Cause, Cancelled: e.Cancelled, AtBound: coreTasks(e.AtBound),
		Running: coreTasks(e.Running), Queued: e.Queued, Lost: coreLosses(e.Lost)}).Error()
}

// Unwrap returns Cause.
func (e *DrainError) Unwrap() error { return e.Cause }

// DrainStats describes the last drain.
type DrainStats struct {
	Done      bool          // a drain has finished
	Duration  time.Duration // from its start to the last task's end, or to giving up
	Abandoned int           // tasks still pending when it returned
	// Lost is what the stop lost, per label: what the drain left unfinished
	// and the Keeper did not keep (each entry says what it kept), and
	// everything rejected since it began (read when LastDrain is called, so
	// rejections after the drain count too).
	Lost Losses
}

// LabelLoss is what one label lost in a stop. For the label of a batcher
// or, with a Keeper, of a Kind, Items counts the work it accepted and
// neither did nor had kept, Kept what the Keeper kept (not a loss), and
// Running and Queued are zero.
type LabelLoss struct {
	Label    string
	Running  int // cancelled at the bound and still running when the drain gave up
	Queued   int // admitted and never started
	Rejected int // refused from the start of the drain on
	Items    int // a batcher's items or a Kind's tasks, neither done nor kept
	Kept     int // a batcher's items or a Kind's tasks the Keeper kept
	Retrying int // tasks that failed with a retry the drain's bound forestalled (see Retry)
}

// Total is every loss of the label; Kept is not one.
func (l LabelLoss) Total() int { return l.Running + l.Queued + l.Rejected + l.Items + l.Retrying }

func (l LabelLoss) String() string { return core.LabelLoss(l).String() }

// Losses are a stop's losses, one entry per label that lost anything, sorted
// by label.
type Losses []LabelLoss

// Total is the sum over labels.
func (ls Losses) Total() int { return coreLosses(ls).Total() }

func (ls Losses) String() string { return coreLosses(ls).String() }

// LostError reports that a stop lost work: the Module's drain step returns
// it, so fxshutdown's summary says "async-tasks: lost N" and its Run exits
// with ExitLost.
type LostError struct{ Lost Losses }

func (e *LostError) Error() string {
	return fmt.Sprintf("fxasync: lost %d: [%s]", e.Lost.Total(), e.Lost)
}

// LostTotal is the number of tasks (and batcher items) lost.
func (e *LostError) LostTotal() int { return e.Lost.Total() }

// Running lists the tasks running now (on a worker), oldest first.
func (s *Scheduler) Running() []TaskInfo {
	if s == nil {
		return nil
	}
	return tasks(s.engine().Running())
}

// LastDrain returns the figures of the drain once it is over; before, Done
// is false.
func (s *Scheduler) LastDrain() DrainStats {
	if s == nil {
		return DrainStats{}
	}
	d := s.engine().LastDrain()
	return DrainStats{Done: d.Done, Duration: d.Duration, Abandoned: d.Abandoned, Lost: losses(d.Lost)}
}

// drainError converts the engine's *DrainError in err, if any.
func drainError(err error) error {
	var d *core.DrainError
	if !errors.As(err, &d) {
		return err
	}
	return &DrainError{Cause: d.Cause, Cancelled: d.Cancelled, AtBound: tasks(d.AtBound),
		Running: tasks(d.Running), Queued: d.Queued, Lost: losses(d.Lost)}
}

func tasks(ts []core.TaskInfo) []TaskInfo {
	return convert(ts, func(t core.TaskInfo) TaskInfo { return TaskInfo(t) })
}

func coreTasks(ts []TaskInfo) []core.TaskInfo {
	return convert(ts, func(t TaskInfo) core.TaskInfo { return core.TaskInfo(t) })
}

func losses(ls core.Losses) Losses {
	return convert(ls, func(l core.LabelLoss) LabelLoss { return LabelLoss(l) })
}

func coreLosses(ls Losses) core.Losses {
	return convert(ls, func(l LabelLoss) core.LabelLoss { return core.LabelLoss(l) })
}

func convert[S ~[]E, E, F any](s S, f func(E) F) []F {
	if s == nil {
		return nil
	}
	out := make([]F, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

// lostStrings renders each label's loss for a log line.
func (ls Losses) lostStrings() []string { return coreLosses(ls).Strings() }
