package core

// This file holds Drain: wait for every task within a bound, then cancel,
// wait a grace, and report.

import (
	"context"
	"fmt"
	"time"

	"github.com/fxtools/background/internal/budget"
	"github.com/fxtools/background/internal/logx"
	"go.uber.org/zap"
)

// Drain stops admitting tasks from outside and waits for every admitted task,
// including follow-up tasks that running tasks submit. Its bound is the
// drain timeout and, when ctx has a deadline, ends with the grace within that
// deadline (see budget.Split). See package fxasync for the contract. Only the
// first call drains; every call returns its result once the drain is over.
func (e *Engine) Drain(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e.drainOnce.Do(func() { e.drainErr = e.drain(ctx) })
	return e.drainErr
}

// LastDrain returns the figures of the drain, once it is over.
func (e *Engine) LastDrain() DrainStats {
	if p := e.gaveUp.Load(); p != nil {
		d := *p
		d.Lost = e.losses(e.leftAtBound)
		return d
	}
	if e.gate.ended() {
		return DrainStats{Done: true, Duration: time.Duration(e.gate.endedAt.Load() - e.drainStart.Load()),
			Lost: e.losses(nil)}
	}
	return DrainStats{}
}

func (e *Engine) drain(ctx context.Context) error {
	wait, grace := e.bounds(ctx)
	e.markDrainStart()
	e.drainStart.Store(e.now())
	e.gate.beginDrain(e.now())
	e.retry.drainBegan(e.now() + int64(wait))
	e.holds.drainBegan()
	// One channel, closed by the last task, the bound or ctx: waking from a
	// plain receive is cheaper than from a select over three. On success the
	// woken Drain has nothing left to do but return.
	defer e.clock.AfterFunc(wait, e.gate.wake)()
	if ctx.Done() != nil {
		defer context.AfterFunc(ctx, e.gate.wake)()
	}
	<-e.gate.woken
	if e.gate.ended() {
		return nil
	}
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return e.abandon(cause, grace)
}

// bounds are how long the drain waits and then its grace: the configured
// ones, and the grace inside ctx's deadline when it has one.
func (e *Engine) bounds(ctx context.Context) (wait, grace time.Duration) {
	wait, grace = e.cfg.DrainTimeout, e.cfg.Grace
	if deadline, ok := ctx.Deadline(); ok {
		w, g := budget.Split(time.Until(deadline), grace)
		wait, grace = min(wait, w), g
	}
	return wait, grace
}

// abandon cancels the tasks still running at the bound, waits the grace, then
// reports what is left and shuts the engine.
func (e *Engine) abandon(cause error, grace time.Duration) error {
	err := &DrainError{Cause: cause, Cancelled: e.Pending(), AtBound: e.Running()}
	e.cancelStop(fmt.Errorf("fxasync: drain bound reached: %w", cause))
	for _, t := range e.retry.gaveUp() {
		e.endCut(t)
	}
	graceOver := make(chan struct{})
	stop := e.clock.AfterFunc(grace, func() { close(graceOver) })
	select {
	case <-e.gate.drained:
	case <-graceOver:
	}
	stop()
	err.Running = e.Running()
	err.Queued = max(e.Pending()-len(err.Running), 0)
	e.leftAtBound = e.unfinished()
	e.shut(cause)
	err.Lost = e.losses(e.leftAtBound)
	took := time.Duration(e.now() - e.drainStart.Load())
	e.gaveUp.Store(&DrainStats{Done: true, Duration: took, Abandoned: e.Pending()})
	logx.Guard(func() {
		e.log.Warn("async tasks did not drain in time",
			zap.Duration("took", took), zap.NamedError("cause", cause),
			zap.Int("cancelled", err.Cancelled), zap.Strings("running_at_bound", byLabel(err.AtBound)),
			zap.Strings("still_running", byLabel(err.Running)), zap.Int("queued", err.Queued),
			zap.Int("lost", err.Lost.Total()), zap.Strings("lost_by_label", err.Lost.Strings()))
	})
	return err
}
