package core

// This file holds what the engine reports about tasks and drains.

import (
	"fmt"
	"strings"
	"time"
)

// TaskInfo names a running task.
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
	var b strings.Builder
	fmt.Fprintf(&b, "fxasync: drain: %v: cancelled %d task(s)", e.Cause, e.Cancelled)
	if len(e.AtBound) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(byLabel(e.AtBound), ", "))
	}
	switch {
	case len(e.Running) > 0 || e.Queued > 0:
		fmt.Fprintf(&b, "; still running after the grace: [%s]", strings.Join(byLabel(e.Running), ", "))
		if e.Queued > 0 {
			fmt.Fprintf(&b, "; %d queued", e.Queued)
		}
	default:
		b.WriteString("; all returned within the grace")
	}
	if n := e.Lost.Total(); n > 0 {
		fmt.Fprintf(&b, "; lost %d: [%s]", n, e.Lost)
	}
	return b.String()
}

// Unwrap returns Cause.
func (e *DrainError) Unwrap() error { return e.Cause }

// DrainStats describes the last drain.
type DrainStats struct {
	Done      bool          // a drain has finished
	Duration  time.Duration // from its start to the last task's end, or to giving up
	Abandoned int           // tasks still pending when it returned
	// Lost is what the stop lost, per label: what the drain left unfinished
	// and everything refused since it began (read when LastDrain is called,
	// so refusals after the drain count too).
	Lost Losses
}

// byLabel summarises tasks per label, "label: count (oldest age)", in the
// order of each label's oldest task: a drain report stays one readable line
// however many tasks were cut short.
func byLabel(ts []TaskInfo) []string {
	type group struct {
		n      int
		oldest time.Duration
	}
	var order []string
	groups := map[string]*group{}
	for _, t := range ts { // oldest first, so a label's first task is its oldest
		g := groups[t.Label]
		if g == nil {
			g = &group{oldest: t.Age}
			groups[t.Label] = g
			order = append(order, t.Label)
		}
		g.n++
	}
	out := make([]string, len(order))
	for i, l := range order {
		out[i] = fmt.Sprintf("%s: %d (oldest %v)", l, groups[l].n, groups[l].oldest.Round(time.Millisecond))
	}
	return out
}

// LabelLoss is what one label lost in a stop. For a holder's label (a
// batcher's, a kind's) Items counts what it accepted and neither stored
// nor had kept, Kept what the keeper kept, and Running and Queued are zero.
type LabelLoss struct {
	Label    string
	Running  int // cancelled at the bound and still running when the drain gave up
	Queued   int // admitted and never started
	Rejected int // refused from the start of the drain on
	Items    int // a holder's accepted work neither done nor kept
	Kept     int // a holder's unfinished work the keeper kept: not lost
	Retrying int // failed, with a retry the drain's bound forestalled, and not kept
}

// Total is every loss of the label.
func (l LabelLoss) Total() int { return l.Running + l.Queued + l.Rejected + l.Items + l.Retrying }

func (l LabelLoss) String() string {
	var s string
	switch {
	case l.Total() == 0 && l.Kept > 0:
		return fmt.Sprintf("%s: kept %d", l.Label, l.Kept)
	case l.Items > 0 || l.Kept > 0:
		s = fmt.Sprintf("%s: %d item(s)", l.Label, l.Items)
		if l.Rejected > 0 {
			s += fmt.Sprintf(", rejected %d", l.Rejected)
		}
	default:
		s = fmt.Sprintf("%s: %d (running %d, queued %d, rejected %d)", l.Label, l.Total(), l.Running, l.Queued, l.Rejected)
	}
	if l.Retrying > 0 {
		s += fmt.Sprintf(", retries cut %d", l.Retrying)
	}
	if l.Kept > 0 {
		s += fmt.Sprintf(", kept %d", l.Kept)
	}
	return s
}

// Losses are a stop's losses, one entry per label that lost anything, sorted
// by label.
type Losses []LabelLoss

// Total is the sum over labels.
func (ls Losses) Total() int {
	n := 0
	for _, l := range ls {
		n += l.Total()
	}
	return n
}

// Strings renders each label's loss for a log line.
func (ls Losses) Strings() []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	return out
}

func (ls Losses) String() string { return strings.Join(ls.Strings(), ", ") }
