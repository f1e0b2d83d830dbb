package core

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// TaskInfo names a running task.
type TaskInfo struct {
	Label  string
	Age    time.Duration // since submission
	Caller string        // file:line of the submission, with Config.CallSites
}

// DrainError reports a drain that reached its bound. It wraps the cause:
// context.DeadlineExceeded, or the error of the caller's context.
type DrainError struct {
	Cause     error
	Cancelled int        // tasks pending at the bound, whose contexts were cancelled
	AtBound   []TaskInfo // tasks running at the bound, oldest first
	Running   []TaskInfo // still running after the grace, oldest first
	Queued    int        // admitted but not started after the grace
}

func (e *DrainError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "drain: %v: cancelled %d task(s)", e.Cause, e.Cancelled)
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
	return b.String()
}

func (e *DrainError) Unwrap() error { return e.Cause }

// Drain stops admitting tasks from outside and waits for every admitted task,
// including follow-up tasks that running tasks submit. See package fxasync for
// the contract. Only the first call drains; every call returns its result once
// the drain is over.
func (e *Engine) Drain(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e.drainOnce.Do(func() { e.drainErr = e.drain(ctx) })
	return e.drainErr
}

// DrainStats describes the last drain.
type DrainStats struct {
	Done      bool          // a drain has finished
	Duration  time.Duration // from its start to the last task's end, or to giving up
	Abandoned int           // tasks still pending when it returned
}

// LastDrain returns the figures of the drain, once it is over.
func (e *Engine) LastDrain() DrainStats {
	if p := e.lastDrain.Load(); p != nil {
		return *p // it gave up
	}
	if end := e.drainEnd.Load(); end != 0 { // it reached zero
		return DrainStats{Done: true, Duration: time.Duration(end - e.drainStart.Load())}
	}
	return DrainStats{}
}

func (e *Engine) drain(ctx context.Context) error {
	e.drainStart.Store(e.now())
	close(e.draining)
	if e.state.Or(drainingBit)&countMask == 0 {
		e.finishDrain(e.now())
	}
	// One channel, closed by the last task, the bound or ctx: waking from a
	// plain receive is cheaper than from a select over three. On success the
	// woken Drain has nothing left to do but return.
	bound := time.AfterFunc(e.cfg.DrainTimeout, e.wakeDrain)
	defer bound.Stop()
	if ctx.Done() != nil {
		defer context.AfterFunc(ctx, e.wakeDrain)()
	}
	<-e.drainWake
	if e.drainEnd.Load() != 0 {
		return nil
	}
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return e.abandon(cause)
}

func (e *Engine) wakeDrain() {
	if e.woken.CompareAndSwap(false, true) {
		close(e.drainWake)
	}
}

// abandon cancels the tasks still running at the bound, waits the grace, then
// reports what is left and closes the engine.
func (e *Engine) abandon(cause error) error {
	err := &DrainError{Cause: cause, Cancelled: e.Pending(), AtBound: e.Running()}
	e.cancelStop(fmt.Errorf("fxasync: drain bound reached: %w", cause))
	grace := time.NewTimer(e.cfg.Grace)
	defer grace.Stop()
	select {
	case <-e.drained:
	case <-grace.C:
	}
	err.Running = e.Running()
	err.Queued = max(e.Pending()-len(err.Running), 0)
	e.close(cause)
	took := time.Duration(e.now() - e.drainStart.Load())
	e.lastDrain.Store(&DrainStats{Done: true, Duration: took, Abandoned: e.Pending()})
	e.log.Warn("async tasks did not drain in time",
		zap.Duration("took", took), zap.NamedError("cause", cause),
		zap.Int("cancelled", err.Cancelled), zap.Strings("running_at_bound", byLabel(err.AtBound)),
		zap.Strings("still_running", byLabel(err.Running)), zap.Int("queued", err.Queued))
	return err
}

// close refuses every later submission, releases task contexts and lets the
// spare workers exit: at the true zero of a drain, or when Drain gives up,
// whichever comes first.
func (e *Engine) close(cause error) {
	e.closeOnce.Do(func() {
		e.state.Or(closedBit)
		e.cancelStop(cause)
		close(e.quit)
	})
}

// Running lists the tasks running now, oldest first.
func (e *Engine) Running() []TaskInfo {
	now := e.now()
	var out []TaskInfo
	e.mu.Lock()
	for w := e.workers.head; w != nil; w = w.next {
		if t := w.cur.Load(); t != nil {
			out = append(out, TaskInfo{Label: t.label, Age: time.Duration(now - t.start), Caller: t.caller()})
		}
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Age > out[j].Age })
	return out
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
